package report

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/google/pprof/profile"
	"github.com/kdlaunch/kdlaunch/leaks"
)

// Folded values for a leak report.
const (
	FoldedOutstandingBytes = "outstanding-bytes" // the default: what a leak flame graph shows
	FoldedAllocs           = "allocs"            // allocation counts, as the plain report
)

// LeakWriteOptions tune the leak outputs.
type LeakWriteOptions struct {
	WriteOptions
	Folded string // FoldedOutstandingBytes (default) or FoldedAllocs
}

// WriteLeak writes r in format (one of Formats).
func WriteLeak(w io.Writer, r *LeakReport, format string, opt LeakWriteOptions) error {
	switch format {
	case "table", "":
		return WriteLeakTable(w, r, opt.WriteOptions)
	case "json":
		return WriteLeakJSON(w, r)
	case "folded":
		return WriteLeakFolded(w, r, opt.Folded)
	case "pprof":
		p := LeakProfile(r)
		if err := p.CheckValid(); err != nil {
			return fmt.Errorf("pprof: %w", err)
		}
		return p.Write(w)
	}
	return fmt.Errorf("unknown format %q (want %s)", format, strings.Join(Formats, ", "))
}

// WriteLeakJSON writes the leak JSON contract, indented.
func WriteLeakJSON(w io.Writer, r *LeakReport) error {
	out := *r
	if out.Stacks == nil {
		out.Stacks = []LeakStack{}
	}
	if out.Modules == nil {
		out.Modules = []LeakModule{}
	}
	if out.Notes == nil {
		out.Notes = []string{}
	}
	if out.Growth.ByAllocs == nil {
		out.Growth.ByAllocs = []leaks.Point{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}

// WriteLeakFolded writes collapsed stacks whose value is the outstanding
// bytes (stacks with nothing outstanding are left out), or with value
// FoldedAllocs the allocation count of every stack.
func WriteLeakFolded(w io.Writer, r *LeakReport, value string) error {
	switch value {
	case "", FoldedOutstandingBytes, FoldedAllocs:
	default:
		return fmt.Errorf("unknown folded value %q (want %s or %s)", value, FoldedOutstandingBytes, FoldedAllocs)
	}
	bw := bufio.NewWriter(w)
	for _, s := range r.Stacks {
		v := s.OutstandingBytes
		if value == FoldedAllocs {
			v = s.AllocCount
		}
		if v <= 0 {
			continue
		}
		for i := len(s.Frames) - 1; i >= 0; i-- {
			bw.WriteString(foldedFrame(s.Frames[i]))
			if i > 0 {
				bw.WriteByte(';')
			}
		}
		fmt.Fprintf(bw, " %d\n", v)
	}
	return bw.Flush()
}

// LeakProfile converts r to a pprof profile with the sample types of a Go
// heap profile (alloc_objects, alloc_space, inuse_objects, inuse_space;
// inuse_space by default), so `go tool pprof -sample_index=inuse_space`
// reads it as it reads a Go heap profile.
func LeakProfile(r *LeakReport) *profile.Profile {
	p := &profile.Profile{
		SampleType: []*profile.ValueType{
			{Type: "alloc_objects", Unit: "count"},
			{Type: "alloc_space", Unit: "bytes"},
			{Type: "inuse_objects", Unit: "count"},
			{Type: "inuse_space", Unit: "bytes"},
		},
		DefaultSampleType: "inuse_space",
		PeriodType:        &profile.ValueType{Type: "space", Unit: "bytes"},
		Period:            1,
		Comments:          []string{"kdlaunch report: outstanding pool allocations by stack, from kd's leak records"},
	}
	b := newProfileBuilder(p)
	for _, s := range r.Stacks {
		sample := &profile.Sample{
			Value: []int64{s.AllocCount, s.AllocBytes, s.OutstandingCount, s.OutstandingBytes},
			Label: map[string][]string{"culprit": {s.Culprit}},
		}
		for _, f := range s.Frames {
			sample.Location = append(sample.Location, b.location(f))
		}
		p.Sample = append(p.Sample, sample)
	}
	return p
}

// profileBuilder makes one Location and Function per distinct frame and one
// Mapping per module, as Profile does.
type profileBuilder struct {
	p    *profile.Profile
	locs map[string]*profile.Location
	maps map[string]*profile.Mapping
}

func newProfileBuilder(p *profile.Profile) *profileBuilder {
	return &profileBuilder{p: p, locs: map[string]*profile.Location{}, maps: map[string]*profile.Mapping{}}
}

func (b *profileBuilder) location(f string) *profile.Location {
	if loc := b.locs[f]; loc != nil {
		return loc
	}
	p := b.p
	fn := &profile.Function{ID: uint64(len(p.Function) + 1), Name: f, SystemName: f, Filename: Module(f)}
	p.Function = append(p.Function, fn)
	m := b.maps[fn.Filename]
	if m == nil {
		m = &profile.Mapping{ID: uint64(len(p.Mapping) + 1), File: fn.Filename, HasFunctions: true}
		p.Mapping = append(p.Mapping, m)
		b.maps[fn.Filename] = m
	}
	loc := &profile.Location{ID: uint64(len(p.Location) + 1), Mapping: m, Line: []profile.Line{{Function: fn}}}
	p.Location = append(p.Location, loc)
	b.locs[f] = loc
	return loc
}

// WriteLeakTable writes the leak summary for a person: totals and whether
// they reconcile, the growth chart, the stacks with the most outstanding
// bytes (culprit marked '>'), the culprits' modules and the notes. No line
// is wider than opt.Width (80 by default).
func WriteLeakTable(w io.Writer, r *LeakReport, opt WriteOptions) error {
	width := opt.Width
	if width <= 0 {
		width = 80
	}
	width = max(width, 40)
	bw := bufio.NewWriter(w)
	line := func(format string, args ...any) {
		bw.WriteString(fit(fmt.Sprintf(format, args...), width))
		bw.WriteByte('\n')
	}
	what := "leak log"
	if r.Arch != "" {
		what = fmt.Sprintf("leak log (%s %s)", r.Arch, r.Family)
	}
	line("%s: %d allocations (%s), %d freed (%s)", what, r.AllocCount, Bytes(r.AllocBytes), r.FreeCount, Bytes(r.FreeBytes))
	line("%d outstanding (%s), %d unpaired, %d frees untracked", r.OutstandingCount, Bytes(r.OutstandingBytes), r.UnpairedAllocs, r.FreesUntracked)
	if len(r.Notes) > 0 {
		line("%s", r.Notes[0]) // whether the totals reconcile
	}
	if g := r.Growth; len(g.ByAllocs) > 1 {
		line("")
		line("outstanding bytes, every %d allocations (%s): %s", g.Every, g.Shape, Sparkline(g.ByAllocs, min(len(g.ByAllocs), width-50)))
		if len(g.ByMinute) > 1 {
			line("outstanding bytes, every %g min: %s", g.MinuteStep, Sparkline(g.ByMinute, min(len(g.ByMinute), width-40)))
		}
	}
	shown := r.Stacks
	if opt.Top > 0 && len(shown) > opt.Top {
		shown = shown[:opt.Top]
	}
	for i, s := range shown {
		line("")
		line("#%-3d %d outstanding (%s); %d allocated, %d freed, %d unpaired",
			i+1, s.OutstandingCount, Bytes(s.OutstandingBytes), s.AllocCount, s.FreeCount, s.UnpairedAllocs)
		head := "     culprit "
		line("%s%s", head, fitFrame(s.Culprit, width-len(head)))
		culprit := 0
		for culprit < len(s.Frames)-1 && s.Frames[culprit] != s.Culprit {
			culprit++
		}
		n := len(s.Frames)
		if opt.Compact && n-(culprit+2) >= 2 {
			n = culprit + 2
		}
		for j, f := range s.Frames[:n] {
			mark := "   "
			if j == culprit {
				mark = " > "
			}
			prefix := fmt.Sprintf("   %s%02x  ", mark, j)
			line("%s%s", prefix, fitFrame(f, width-len(prefix)))
		}
		if n < len(s.Frames) {
			line("          ... %d more frames", len(s.Frames)-n)
		}
	}
	if rest := r.Stacks[len(shown):]; len(rest) > 0 {
		var c, b int64
		for _, s := range rest {
			c += s.OutstandingCount
			b += s.OutstandingBytes
		}
		line("")
		line("... %d more stacks, %d outstanding (%s); --top 0 shows all", len(rest), c, Bytes(b))
	}
	line("")
	line("Culprit modules")
	line("%12s %12s %10s  %s", "OUTSTANDING", "BYTES", "ALLOCS", "MODULE")
	for _, m := range r.Modules {
		line("%12d %12d %10d  %s", m.OutstandingCount, m.OutstandingBytes, m.AllocCount, m.Module)
	}
	if len(r.Notes) > 1 {
		line("")
		for _, n := range r.Notes[1:] {
			for i, l := range wrap(n, width-6) {
				if i == 0 {
					line("note: %s", l)
				} else {
					line("      %s", l)
				}
			}
		}
	}
	return bw.Flush()
}

// Bytes writes n for a person: 512 B, 3.2 KB, 1.5 MB (powers of 1024).
func Bytes(n int64) string {
	switch {
	case n < 1024:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KB", float64(n)/1024)
	case n < 1<<30:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
}

// Sparkline draws the outstanding bytes of ps as width block characters
// (each the largest value of its share of the points), scaled from zero to
// the largest value.
func Sparkline(ps []leaks.Point, width int) string {
	if len(ps) == 0 || width <= 0 {
		return ""
	}
	width = min(width, len(ps))
	levels := []rune("▁▂▃▄▅▆▇█")
	var top int64
	for _, p := range ps {
		top = max(top, p.OutstandingBytes)
	}
	var b strings.Builder
	for i := 0; i < width; i++ {
		lo, hi := i*len(ps)/width, (i+1)*len(ps)/width
		var v int64
		for _, p := range ps[lo:max(hi, lo+1)] {
			v = max(v, p.OutstandingBytes)
		}
		k := 0
		if top > 0 && v > 0 {
			k = int((v*int64(len(levels)-1) + top - 1) / top)
		}
		b.WriteRune(levels[k])
	}
	return b.String()
}

// wrap breaks s into lines of at most width runes at spaces (a longer word
// is cut by the caller's fit).
func wrap(s string, width int) []string {
	var out []string
	for len(s) > 0 {
		if len([]rune(s)) <= width {
			out = append(out, s)
			break
		}
		r := []rune(s)
		cut := strings.LastIndexByte(string(r[:width+1]), ' ')
		if cut <= 0 {
			cut = len(string(r[:width]))
		}
		out = append(out, strings.TrimRight(s[:cut], " "))
		s = strings.TrimLeft(s[cut:], " ")
	}
	return out
}
