package report

import (
	"bufio"
	"encoding/json"
	"fmt"
	"github.com/kdlaunch/kdlaunch/plural"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/google/pprof/profile"
)

// Formats are the output formats Write accepts.
var Formats = []string{"table", "json", "folded", "pprof"}

// WriteOptions tune the table.
type WriteOptions struct {
	Top   int // stacks shown in the table; 0 shows all
	Width int // table width in columns; 0 means 80
	// Compact shows each stack only down to two frames below its culprit
	// (the live --follow view).
	Compact bool
}

// Write writes r in format (one of Formats).
func Write(w io.Writer, r *Report, format string, opt WriteOptions) error {
	switch format {
	case "table", "":
		return WriteTable(w, r, opt)
	case "json":
		return WriteJSON(w, r)
	case "folded":
		return WriteFolded(w, r)
	case "pprof":
		return WritePprof(w, r)
	}
	return fmt.Errorf("unknown format %q (want %s)", format, strings.Join(Formats, ", "))
}

// WriteJSON writes the JSON contract (see Report), indented.
func WriteJSON(w io.Writer, r *Report) error {
	out := *r
	if out.Stacks == nil {
		out.Stacks = []StackCount{}
	}
	if out.Modules == nil {
		out.Modules = []ModuleCount{}
	}
	if out.BugChecks == nil {
		out.BugChecks = []BugCheckReport{}
	}
	if out.FreeStacks == nil {
		out.FreeStacks = []FreeStack{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}

// WriteFolded writes Brendan Gregg's collapsed stacks: one line per distinct
// stack, frames from the root (outermost) to the leaf (innermost) joined by
// ';', a space and the count. flamegraph.pl, speedscope and inferno read it.
// The counts add up to stacks_total. A ';' inside a frame becomes ':'.
func WriteFolded(w io.Writer, r *Report) error {
	bw := bufio.NewWriter(w)
	for _, s := range r.Stacks {
		for i := len(s.Frames) - 1; i >= 0; i-- {
			bw.WriteString(foldedFrame(s.Frames[i]))
			if i > 0 {
				bw.WriteByte(';')
			}
		}
		fmt.Fprintf(bw, " %d\n", s.Count)
	}
	return bw.Flush()
}

func foldedFrame(f string) string {
	if strings.ContainsAny(f, ";\r\n") {
		f = strings.NewReplacer(";", ":", "\r", " ", "\n", " ").Replace(f)
	}
	return f
}

// Profile converts r to a pprof profile: sample type hits/count, one sample
// per distinct stack (value = its count, labels "culprit" and "module", for
// go tool pprof -tags and -tagfocus), one Location and
// Function per distinct frame (Function.Name is the frame, Function.Filename
// its module) and one Mapping per module (already symbolized).
func Profile(r *Report) *profile.Profile {
	p := &profile.Profile{
		SampleType:        []*profile.ValueType{{Type: "hits", Unit: "count"}},
		DefaultSampleType: "hits",
		PeriodType:        &profile.ValueType{Type: "hits", Unit: "count"},
		Period:            1,
		Comments:          []string{"kdlaunch report: pool allocation stacks from kd breakpoint hits"},
	}
	p.Comments = append(p.Comments, bugCheckComments(r)...)
	locs := map[string]*profile.Location{}
	maps := map[string]*profile.Mapping{}
	for _, s := range r.Stacks {
		sample := &profile.Sample{
			Value: []int64{int64(s.Count)},
			Label: map[string][]string{"culprit": {s.Culprit}, "module": {Module(s.Culprit)}},
		}
		for _, f := range s.Frames {
			loc := locs[f]
			if loc == nil {
				fn := &profile.Function{
					ID:         uint64(len(p.Function) + 1),
					Name:       f,
					SystemName: f,
					Filename:   Module(f),
				}
				p.Function = append(p.Function, fn)
				m := maps[fn.Filename]
				if m == nil {
					m = &profile.Mapping{ID: uint64(len(p.Mapping) + 1), File: fn.Filename, HasFunctions: true}
					p.Mapping = append(p.Mapping, m)
					maps[fn.Filename] = m
				}
				loc = &profile.Location{
					ID:      uint64(len(p.Location) + 1),
					Mapping: m,
					Line:    []profile.Line{{Function: fn}},
				}
				p.Location = append(p.Location, loc)
				locs[f] = loc
			}
			sample.Location = append(sample.Location, loc)
		}
		p.Sample = append(p.Sample, sample)
	}
	return p
}

// WritePprof writes r as a gzipped pprof protobuf (go tool pprof reads it).
func WritePprof(w io.Writer, r *Report) error {
	p := Profile(r)
	if err := p.CheckValid(); err != nil {
		return fmt.Errorf("pprof: %w", err)
	}
	return p.Write(w)
}

// WriteTable writes a summary for a person: the top stacks with count,
// share, culprit and frames (the culprit marked with '>'), then the
// culprits' modules. No line is wider than opt.Width (80 by default).
func WriteTable(w io.Writer, r *Report, opt WriteOptions) error {
	width := opt.Width
	if width <= 0 {
		width = 80
	}
	if width < 40 {
		width = 40
	}
	bw := bufio.NewWriter(w)
	line := func(format string, args ...any) {
		bw.WriteString(fit(fmt.Sprintf(format, args...), width))
		bw.WriteByte('\n')
	}
	hits := ""
	if r.Hits > 0 {
		hits = ", " + plural.N(int64(r.Hits), "breakpoint hit", "breakpoint hits")
	}
	line("%s, %d unique%s", plural.S(int64(r.StacksTotal), "stack"), r.UniqueStacks, hits)
	if read := r.StacksTotal + r.FreesTotal; r.Hits > read {
		line("note: %s no readable stack (cut off, or not kb output)", plural.N(int64(r.Hits-read), "hit has", "hits have"))
	}
	if warn := UnresolvedWarning(r); warn != "" {
		line("%s", warn)
	}
	if r.StacksTotal == 0 {
		if r.FreesTotal == 0 && len(r.BugChecks) == 0 {
			line("No stacks found: expected kb/kv/kn output (ChildEBP/Child-SP RetAddr headers).")
		} else {
			line("No allocation stacks found.")
		}
		writeExtras(line, r, opt, width)
		return bw.Flush()
	}
	shown := r.Stacks
	if opt.Top > 0 && len(shown) > opt.Top {
		shown = shown[:opt.Top]
	}
	for i, s := range shown {
		line("")
		head := fmt.Sprintf("#%-3d %7d %7.2f%%  culprit ", i+1, s.Count, s.Percent)
		line("%s%s", head, fitFrame(s.Culprit, width-len(head)))
		if hint := UnresolvedHint(s.Culprit); hint != "" {
			wrapHint(line, "      hint: ", hint, width)
		}
		culprit := 0
		for culprit < len(s.Frames)-1 && s.Frames[culprit] != s.Culprit {
			culprit++
		}
		shown := len(s.Frames)
		if opt.Compact && shown-(culprit+2) >= 2 {
			shown = culprit + 2 // the culprit and its caller
		}
		for j, f := range s.Frames[:shown] {
			mark := "   "
			if j == culprit {
				mark = " > "
			}
			prefix := fmt.Sprintf("   %s%02x  ", mark, j)
			line("%s%s", prefix, fitFrame(f, width-len(prefix)))
		}
		if shown < len(s.Frames) {
			line("          ... %s", plural.N(int64(len(s.Frames)-shown), "more frame", "more frames"))
		}
	}
	if rest := r.Stacks[len(shown):]; len(rest) > 0 {
		n := 0
		for _, s := range rest {
			n += s.Count
		}
		line("")
		line("... %s, seen %s (%.2f%%); --top 0 shows all", plural.N(int64(len(rest)), "more stack", "more stacks"), plural.Times(int64(n)), percent(n, r.StacksTotal))
	}
	line("")
	line("Culprit modules")
	line("%8s %8s  %s", "COUNT", "%", "MODULE")
	for _, m := range r.Modules {
		line("%8d %7.2f%%  %s", m.Count, percent(m.Count, r.StacksTotal), m.Module)
	}
	writeExtras(line, r, opt, width)
	return bw.Flush()
}

// wrapHint writes text after prefix, broken at spaces so no line is wider
// than width; continuation lines are indented like the first.
func wrapHint(line func(string, ...any), prefix, text string, width int) {
	indent := strings.Repeat(" ", len(prefix))
	cur := prefix
	for _, word := range strings.Fields(text) {
		if len(cur) > len(indent) && len(cur)+1+len(word) > width {
			line("%s", cur)
			cur = indent
		}
		if len(cur) > len(indent) && cur != prefix {
			cur += " "
		}
		cur += word
	}
	line("%s", cur)
}

// fit cuts s to width runes.
func fit(s string, width int) string {
	if utf8.RuneCountInString(s) <= width {
		return s
	}
	r := []rune(s)
	return string(r[:width])
}

// fitFrame shortens a frame to width runes by eliding its middle, keeping
// the module and the offset readable.
func fitFrame(f string, width int) string {
	if width < 8 {
		width = 8
	}
	r := []rune(f)
	if len(r) <= width {
		return f
	}
	tail := (width - 3) / 2
	head := width - 3 - tail
	return string(r[:head]) + "..." + string(r[len(r)-tail:])
}
