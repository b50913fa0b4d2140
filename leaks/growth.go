package leaks

import "time"

// Point is the outstanding set at one moment of the session.
type Point struct {
	Allocs           int64   `json:"allocs"`           // allocation records so far
	Minute           float64 `json:"minute,omitempty"` // minutes since the first timed record (ByMinute only)
	OutstandingCount int64   `json:"outstanding_count"`
	OutstandingBytes int64   `json:"outstanding_bytes"`
}

// Growth is outstanding bytes over the session: every Every allocation
// records, and every MinuteStep minutes where the log's lines carry times
// (a transcript). Both series stay short: when one grows past MaxPoints its
// step doubles and every other point is dropped.
type Growth struct {
	Every      int64   `json:"every_allocs"`
	ByAllocs   []Point `json:"by_allocs"`
	MinuteStep float64 `json:"minute_step,omitempty"`
	ByMinute   []Point `json:"by_minute,omitempty"`
	Shape      string  `json:"shape"` // see Shape
}

// MaxPoints bounds each growth series.
const MaxPoints = 64

type growthState struct {
	every  int64
	allocs int64
	byA    []Point

	t0      time.Time
	step    float64 // minutes
	nextMin float64
	byM     []Point
	timed   bool
}

func newGrowthState() growthState { return growthState{every: 1, step: 1} }

func (g *growthState) now(t *Tracker) Point {
	return Point{Allocs: g.allocs, OutstandingCount: t.res.Totals.Outstanding, OutstandingBytes: t.res.Totals.OutstandingBytes}
}

func (g *growthState) alloc(t *Tracker, at time.Time) {
	g.allocs++
	if g.allocs%g.every == 0 {
		g.byA = append(g.byA, g.now(t))
		if len(g.byA) > MaxPoints {
			g.byA = halve(g.byA)
			g.every *= 2
		}
	}
	g.change(t, at)
}

// change notes the time of a change of the outstanding set: a point is
// taken for every minute step that has passed, before the change.
func (g *growthState) change(t *Tracker, at time.Time) {
	if at.IsZero() {
		return
	}
	if !g.timed {
		g.timed, g.t0 = true, at
		g.nextMin = g.step
		return
	}
	m := at.Sub(g.t0).Minutes()
	for m >= g.nextMin {
		p := g.now(t)
		p.Minute = g.nextMin
		g.byM = append(g.byM, p)
		g.nextMin += g.step
		if len(g.byM) > MaxPoints {
			g.byM = halve(g.byM)
			g.step *= 2
			g.nextMin = g.byM[len(g.byM)-1].Minute + g.step
		}
	}
}

// halve keeps every second point (those at multiples of the doubled step).
func halve(ps []Point) []Point {
	out := ps[:0]
	for i := 1; i < len(ps); i += 2 {
		out = append(out, ps[i])
	}
	return out
}

func (g *growthState) series(t *Tracker) Growth {
	gr := Growth{Every: g.every, ByAllocs: append([]Point(nil), g.byA...)}
	end := g.now(t)
	if n := len(gr.ByAllocs); n == 0 || gr.ByAllocs[n-1].Allocs != end.Allocs {
		gr.ByAllocs = append(gr.ByAllocs, end)
	} else {
		gr.ByAllocs[n-1] = end // the cut returns made the last point's figures final
	}
	if g.timed {
		gr.MinuteStep = g.step
		gr.ByMinute = append([]Point(nil), g.byM...)
	}
	gr.Shape = Shape(gr.ByAllocs)
	return gr
}

// The shapes Shape tells apart.
const (
	ShapeNone   = "none"   // nothing outstanding at the end
	ShapeSteady = "steady" // outstanding bytes grew over most of the session
	ShapeBurst  = "burst"  // most of what is outstanding came in one step
)

// Shape classifies a series by where the final outstanding bytes came from:
// a burst has at least half of them arrive within one tenth of the series;
// a steady leak spreads them out. A decision, kept pure for its table test.
func Shape(ps []Point) string {
	if len(ps) == 0 || ps[len(ps)-1].OutstandingBytes <= 0 {
		return ShapeNone
	}
	final := ps[len(ps)-1].OutstandingBytes
	w := max(1, len(ps)/10)
	best := int64(0)
	for i := range ps {
		lo := int64(0)
		if i >= w {
			lo = ps[i-w].OutstandingBytes
		}
		if d := ps[i].OutstandingBytes - lo; d > best {
			best = d
		}
	}
	if len(ps) >= 10 && 2*best >= final {
		return ShapeBurst
	}
	return ShapeSteady
}
