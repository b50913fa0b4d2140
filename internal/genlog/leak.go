package genlog

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/kdlaunch/kdlaunch/leaks/records"
)

// LeakOptions describe a leak log: what kd writes under the leak recipe
// (docs/leaks.md) while several CPUs allocate and free through shared call
// sites.
type LeakOptions struct {
	Size    int64  // stop after the event that reaches Size bytes
	Allocs  int    // or after this many allocations (one of Size/Allocs is needed)
	Arch    string // "x64" (default) or "x86"
	Family  string // "mm-special-pool" (default) or "heap-special-pool" (script.Families)
	Seed    uint64
	Stacks  int  // distinct stacks (default 6); stack 0 leaks everything, stack 1 frees everything
	Threads int  // threads allocating at once (default 4)
	CRLF    bool // "\r\n" line ends
	// LostPerMille is how many returns in a thousand are missing from the
	// log (a return-site breakpoint that was not there yet, say).
	LostPerMille int
	// EarlyFrees is how many frees of addresses allocated before tracking
	// began are mixed in.
	EarlyFrees int
	// Burst makes the leaker allocate only during one tenth of the run
	// (a one-off burst) instead of all along (a steady leak).
	Burst bool
	// Start, when set, writes a kdlaunch transcript (every line stamped
	// with its time, kd's lines marked "<") starting then; Step is the time
	// between events.
	Start time.Time
	Step  time.Duration
}

// StackTruth is what the generator knows happened to one stack's
// allocations.
type StackTruth struct {
	Frames           []string
	Allocs           int
	Frees            int
	OutstandingCount int
	OutstandingBytes int64
	Unpaired         int
}

// LeakStats is the truth about a generated leak log.
type LeakStats struct {
	Bytes          int64
	Allocs         int
	Frees          int // frees of tracked allocations
	FreesUntracked int // frees of addresses the log has no allocation for
	Unpaired       int // allocations whose return is not in the log
	Stacks         []StackTruth
}

type live struct {
	addr  uint64
	size  uint64
	stack int // -1: its return is not in the log
}

type inFlight struct {
	stack int
	size  uint64
	addr  uint64
	ra    uint64
	lost  bool
	free  bool
}

// GenerateLeaks writes a leak log to w and returns its truth.
func GenerateLeaks(w io.Writer, o LeakOptions) (LeakStats, error) {
	if o.Size <= 0 && o.Allocs <= 0 {
		return LeakStats{}, fmt.Errorf("genlog: need a size or a number of allocations")
	}
	arch, family := records.ArchX64, records.FamilyLegacy
	switch o.Arch {
	case "", "x64", "amd64":
	case "x86", "i386":
		arch = records.ArchX86
	default:
		return LeakStats{}, fmt.Errorf("genlog: unknown arch %q (want x64 or x86)", o.Arch)
	}
	if o.Family != "" {
		family = records.Family(o.Family)
	}
	recipe, err := records.NewRecipe(arch, family)
	if err != nil {
		return LeakStats{}, fmt.Errorf("genlog: %w", err)
	}
	if o.Stacks <= 0 {
		o.Stacks = 6
	}
	if o.Threads <= 0 {
		o.Threads = 4
	}
	if o.Step <= 0 {
		o.Step = 50 * time.Millisecond
	}
	cw := &countWriter{w: w}
	var out io.Writer = cw
	var sw *stampWriter
	if !o.Start.IsZero() {
		sw = &stampWriter{w: cw, at: o.Start, bol: true}
		out = sw
	}
	g := &gen{
		w:   bufio.NewWriterSize(out, 1<<20),
		cw:  cw,
		rng: rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15)),
		nl:  "\n",
		x86: arch == records.ArchX86,
	}
	if o.CRLF {
		g.nl = "\r\n"
	}
	sts := distinct(o.Stacks)
	allocSite := recipe.AllocRoutine()
	st := LeakStats{Stacks: make([]StackTruth, len(sts))}
	ras := map[string]uint64{}
	ra := make([]uint64, len(sts))
	for i, s := range sts {
		s = append([]Frame{{Site: allocSite}}, s[1:]...)
		sts[i] = s
		for _, f := range s {
			st.Stacks[i].Frames = append(st.Stacks[i].Frames, f.Site)
		}
		// Stacks through the same caller of the allocator share its return
		// site, as in a real kernel.
		if ras[s[1].Site] == 0 {
			ras[s[1].Site] = 0xfffff8021d600000 + uint64(len(ras)+1)*0x1c3a5
			if g.x86 {
				ras[s[1].Site] = 0x82a00000 + uint64(len(ras)+1)*0x1c3a5
			}
		}
		ra[i] = ras[s[1].Site]
	}
	wide := !g.x86
	threads := make([]uint64, o.Threads)
	flight := make([]*inFlight, o.Threads)
	for i := range threads {
		threads[i] = 0xffffe00123456080 + uint64(i)*0x1c0
		if g.x86 {
			threads[i] = 0x86a1c020 + uint64(i)*0x1c0
		}
	}
	var lives []live
	var freePages []uint64
	// Tracked addresses are 16-byte aligned; the early frees' end in 8, so
	// they can never match one.
	nextPage, stride, earlyBase := uint64(0xffffe00200000000), uint64(0x2000), uint64(0xffffe00100000000)
	if g.x86 {
		nextPage, stride, earlyBase = 0x80000000, 0x1000, 0x70000000
	}
	page := func() uint64 {
		if n := len(freePages); n > 0 && g.rng.IntN(2) == 0 {
			i := g.rng.IntN(n)
			p := freePages[i]
			freePages[i] = freePages[n-1]
			freePages = freePages[:n-1]
			return p
		}
		p := nextPage
		nextPage += stride // on x64 a guard page after each
		return p
	}
	rec := make([]byte, 0, 128)
	record := func(r records.Record) {
		rec = records.AppendRecord(rec[:0], r, wide)
		g.w.Write(rec)
		g.w.WriteString(g.nl)
	}
	disasm := func(site string) {
		g.put(site + ":")
		if g.x86 {
			g.put("82b2f88c 8bff            mov     edi,edi")
		} else {
			g.put("fffff802`1d7f0a40 48895c2410      mov     qword ptr [rsp+10h],rbx")
		}
	}
	// The session: the recipe typed at the prompt (its echo carries the
	// prefix and format text, which is not a record), then hits.
	g.preambleLeak(recipe, ra)
	written := func() int64 { return cw.n + int64(g.w.Buffered()) }
	done := func() bool {
		return o.Allocs > 0 && st.Allocs >= o.Allocs || o.Size > 0 && written() >= o.Size
	}
	progress := func() float64 {
		if o.Allocs > 0 {
			return float64(st.Allocs) / float64(o.Allocs)
		}
		return float64(written()) / float64(o.Size)
	}
	early := o.EarlyFrees
	for !done() {
		if g.x86 && nextPage >= 0xfffff000 {
			return st, fmt.Errorf("genlog: more live allocations than a 32-bit target has pages: ask for a smaller x86 log")
		}
		if sw != nil {
			// Each event is stamped with its own time.
			if err := g.w.Flush(); err != nil {
				return st, err
			}
			sw.at = sw.at.Add(o.Step)
		}
		ti := g.rng.IntN(len(threads))
		th := threads[ti]
		if f := flight[ti]; f != nil {
			flight[ti] = nil
			// Only a returned allocation can be freed.
			if f.lost {
				// The target has the memory; the log does not know it.
				if f.free {
					lives = append(lives, live{addr: f.addr, size: f.size, stack: -1})
				}
				continue
			}
			if f.free {
				lives = append(lives, live{addr: f.addr, size: f.size, stack: f.stack})
			}
			g.put(fmt.Sprintf("Breakpoint %d hit", 2+f.stack%3))
			disasm(st.Stacks[f.stack].Frames[1])
			record(records.Record{Kind: records.KindReturn, Thread: th, RA: f.ra, Addr: f.addr})
			continue
		}
		switch x := g.rng.IntN(100); {
		case early > 0 && x < 3:
			early--
			g.put("Breakpoint 1 hit")
			disasm(recipe.FreeRoutine())
			record(records.Record{Kind: records.KindFree, Thread: th, Addr: earlyBase | uint64(g.rng.IntN(1<<16))<<12 | 0xf88})
			st.FreesUntracked++
		case x < 60 && len(lives) > 0:
			// Only what will be freed is on the list: a leak stays live.
			i := g.rng.IntN(len(lives))
			l := lives[i]
			lives[i] = lives[len(lives)-1]
			lives = lives[:len(lives)-1]
			g.put("Breakpoint 1 hit")
			disasm(recipe.FreeRoutine())
			record(records.Record{Kind: records.KindFree, Thread: th, Addr: l.addr})
			freePages = append(freePages, l.addr&^0xfff)
			if l.stack < 0 {
				st.FreesUntracked++
			} else {
				st.Frees++
				s := &st.Stacks[l.stack]
				s.Frees++
				s.OutstandingCount--
				s.OutstandingBytes -= int64(l.size)
			}
		default:
			si := g.rng.IntN(len(sts))
			if p := progress(); o.Burst && p >= 0.45 && p <= 0.55 && g.rng.IntN(2) == 0 {
				si = 0 // the burst
			}
			leak := false
			switch si {
			case 0:
				if o.Burst {
					if p := progress(); p < 0.45 || p > 0.55 {
						si = 1 + g.rng.IntN(len(sts)-1)
					}
				} else if g.rng.IntN(3) != 0 {
					// the leaker allocates less often than the busy driver
					si = 1
				}
			}
			switch si {
			case 0:
				leak = true
			case 1:
			default:
				leak = g.rng.IntN(20) == 0
			}
			size := uint64(16 + g.rng.IntN(0xfd0))
			addr := page() + (0x1000-size)&^0xf
			f := &inFlight{stack: si, size: size, addr: addr, ra: ra[si], free: !leak}
			f.lost = o.LostPerMille > 0 && g.rng.IntN(1000) < o.LostPerMille
			flight[ti] = f
			g.put("Breakpoint 0 hit")
			disasm(allocSite)
			record(records.Record{Kind: records.KindAlloc, Thread: th, Size: size, Tag: 0x206b6444, RA: f.ra})
			g.stack(sts[si])
			st.Allocs++
			s := &st.Stacks[si]
			s.Allocs++
			if f.lost {
				st.Unpaired++
				s.Unpaired++
				continue
			}
			s.OutstandingCount++
			s.OutstandingBytes += int64(size)
		}
	}
	// Allocations still in flight at the end: their returns are not in the
	// log either.
	for _, f := range flight {
		if f != nil && !f.lost {
			st.Unpaired++
			s := &st.Stacks[f.stack]
			s.Unpaired++
			s.OutstandingCount--
			s.OutstandingBytes -= int64(f.size)
		}
	}
	if err := g.w.Flush(); err != nil {
		return st, err
	}
	st.Bytes = cw.n
	return st, nil
}

func (g *gen) preambleLeak(r records.Recipe, ras []uint64) {
	g.preamble()
	seen := map[uint64]bool{}
	var known []uint64
	for _, ra := range ras {
		if !seen[ra] {
			seen[ra] = true
			known = append(known, ra)
		}
	}
	g.put("0: kd> " + r.Header())
	g.put(strings.TrimPrefix(r.Header(), ".echo "))
	entry, _ := r.EntryBreakpoint(0, known)
	g.put("0: kd> " + entry)
	g.put("0: kd> " + r.FreeBreakpoint(1))
	for i, ra := range known {
		g.put("0: kd> " + r.ReturnBreakpoint(2+i, ra))
	}
	g.put("0: kd> g")
}

// stampWriter turns kd output into a kdlaunch transcript: each line starts
// with its time and "< ".
type stampWriter struct {
	w   io.Writer
	at  time.Time
	bol bool
}

func (s *stampWriter) Write(p []byte) (int, error) {
	n := len(p)
	var b bytes.Buffer
	for len(p) > 0 {
		if s.bol {
			b.WriteString(s.at.UTC().Format("2006-01-02T15:04:05.000Z"))
			b.WriteString(" < ")
			s.bol = false
		}
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			b.Write(p)
			break
		}
		b.Write(p[:i+1])
		p = p[i+1:]
		s.bol = true
	}
	_, err := s.w.Write(b.Bytes())
	return n, err
}
