package report

// Bug checks and free stacks: what the report keeps apart from the
// allocation stacks. A bug check's stack is the crash, not an allocation;
// a free's stack (pool-hit-tag breaks on frees too) is neither counted as
// an allocation nor given a culprit. See docs/kd-protocol.md, sections
// "Bug checks" and "Free stacks".

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/kdlaunch/kdlaunch/plural"
	"github.com/kdlaunch/kdlaunch/script"
	"github.com/kdlaunch/kdlaunch/stacks"
)

// BugCheckReport is one bug check found in the logs.
type BugCheckReport struct {
	Code     string   `json:"code"`   // "0x000000C4", or "unknown"
	Name     string   `json:"name"`   // "DRIVER_VERIFIER_DETECTED_VIOLATION", or ""
	Params   []string `json:"params"` // the four parameters, "0xF6"; [] when kd did not print them
	Culprit  string   `json:"culprit"`
	CausedBy string   `json:"caused_by,omitempty"` // kd's "Probably caused by" guess
	Advice   string   `json:"advice"`
	Frames   []string `json:"frames"` // its stack, innermost first; [] when none was printed
}

// FreeStack is one distinct stack of a free.
type FreeStack struct {
	Count   int      `json:"count"`
	Percent float64  `json:"percent"` // of frees_total
	Frames  []string `json:"frames"`
}

// bugCheckEntry is a bug check while the logs are read.
type bugCheckEntry struct {
	bc     script.BugCheck
	frames []string
}

// extras is what the Aggregator keeps besides allocations.
type extras struct {
	frees     map[string]*entry
	freeOrder []*entry
	freeTotal int

	bcr       script.BugCheckRecognizer
	bugChecks []*bugCheckEntry
}

func (x *extras) clone() extras {
	c := extras{frees: make(map[string]*entry, len(x.frees)), freeOrder: make([]*entry, len(x.freeOrder)), freeTotal: x.freeTotal, bcr: x.bcr}
	for i, e := range x.freeOrder {
		d := *e
		c.freeOrder[i] = &d
		c.frees[stacks.Stack{Frames: e.frames}.Key()] = &d
	}
	for _, b := range x.bugChecks {
		d := *b
		c.bugChecks = append(c.bugChecks, &d)
	}
	return c
}

// addOther counts s if it is a free's or a bug check's stack and reports
// whether it was. The caller has found s among no allocations.
func (x *extras) addOther(s stacks.Stack, key string, n int) bool {
	if _, ok := x.frees[key]; ok {
		x.addFree(s, key, n)
		return true
	}
	switch stacks.RoleOf(s.Frames) {
	case stacks.RoleFree:
		x.addFree(s, key, n)
		return true
	case stacks.RoleBugCheck:
		x.addBugCheckStack(s)
		return true
	}
	return false
}

func (x *extras) addFree(s stacks.Stack, key string, n int) {
	if x.frees == nil {
		x.frees = make(map[string]*entry)
	}
	e := x.frees[key]
	if e == nil {
		e = &entry{frames: s.Frames, first: len(x.freeOrder)}
		x.frees[key] = e
		x.freeOrder = append(x.freeOrder, e)
	}
	e.count += n
	x.freeTotal += n
}

// addBugCheckStack gives the current bug check its stack (the first one
// printed: kb, before !analyze -v repeats it); a crash stack with no
// announcement in the log is a bug check of unknown code.
func (x *extras) addBugCheckStack(s stacks.Stack) {
	if n := len(x.bugChecks); n > 0 && x.bcr.Active() {
		if last := x.bugChecks[n-1]; last.frames == nil {
			last.frames = s.Frames
		}
		return
	}
	x.bugChecks = append(x.bugChecks, &bugCheckEntry{frames: s.Frames})
}

// Note takes a line stacks.ScanNotes picked out of the log, in log order
// with the stacks given to Add.
func (a *Aggregator) Note(line string) {
	x := &a.x
	switch x.bcr.Line(line) {
	case script.BugCheckAnnounced:
		bc, _ := x.bcr.Current()
		x.bugChecks = append(x.bugChecks, &bugCheckEntry{bc: bc})
	case script.BugCheckDetail:
		if n := len(x.bugChecks); n > 0 {
			x.bugChecks[n-1].bc, _ = x.bcr.Current()
		}
	}
}

// EndLog marks the end of one log: a bug check does not carry over into
// the next.
func (a *Aggregator) EndLog() { a.x.bcr.Reset() }

// Frees returns the number of free stacks counted.
func (a *Aggregator) Frees() int { return a.x.freeTotal }

// BugChecks returns the number of bug checks found.
func (a *Aggregator) BugChecks() int { return len(a.x.bugChecks) }

func (x *extras) report(r *Report, skip *Skip) {
	r.FreesTotal = x.freeTotal
	r.FreeStacks = make([]FreeStack, 0, len(x.freeOrder))
	sorted := append([]*entry(nil), x.freeOrder...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].count > sorted[j].count })
	for _, e := range sorted {
		r.FreeStacks = append(r.FreeStacks, FreeStack{Count: e.count, Percent: percent(e.count, x.freeTotal), Frames: e.frames})
	}
	r.BugChecks = make([]BugCheckReport, 0, len(x.bugChecks))
	for _, b := range x.bugChecks {
		br := BugCheckReport{
			Code:     b.bc.CodeString(),
			Name:     b.bc.Name(),
			Params:   b.bc.ParamStrings(),
			CausedBy: b.bc.CausedBy,
			Advice:   b.bc.Advice(),
			Frames:   b.frames,
		}
		if br.Params == nil {
			br.Params = []string{}
		}
		if br.Frames == nil {
			br.Frames = []string{}
		} else {
			br.Culprit = skip.Culprit(pastBugCheck(b.frames))
		}
		r.BugChecks = append(r.BugChecks, br)
	}
}

// bugCheckComments are the bug checks as pprof comments: the profile's
// samples are allocations only.
func bugCheckComments(r *Report) []string {
	var c []string
	for _, b := range r.BugChecks {
		c = append(c, "bug check "+bugCheckLine(b))
	}
	if r.FreesTotal > 0 {
		c = append(c, "frees not in the samples: "+itoa(r.FreesTotal))
	}
	return c
}

func bugCheckLine(b BugCheckReport) string {
	s := b.Code
	if b.Name != "" {
		s += " " + b.Name
	}
	if len(b.Params) > 0 {
		s += " (" + joinComma(b.Params) + ")"
	}
	if b.Culprit != "" {
		s += " culprit " + b.Culprit
	}
	return s
}

// writeExtras writes the table's sections for bug checks and frees.
func writeExtras(line func(string, ...any), r *Report, opt WriteOptions, width int) {
	if len(r.BugChecks) > 0 {
		line("")
		line("Bug checks (%d; their stacks are not counted as allocations)", len(r.BugChecks))
		for i, b := range r.BugChecks {
			name := b.Name
			if name == "" {
				name = "(no name known)"
			}
			line("#%-3d %s %s", i+1, b.Code, name)
			if len(b.Params) > 0 {
				line("     parameters %s", joinComma(b.Params))
			}
			switch {
			case b.Culprit != "":
				line("     culprit %s", fitFrame(b.Culprit, width-13))
			case b.CausedBy != "":
				line("     probably caused by %s (kd's guess; no stack in the log)", b.CausedBy)
			default:
				line("     no stack in the log (type kb at the bug check)")
			}
			for _, l := range wrapWords("     next: ", b.Advice, width) {
				line("%s", l)
			}
		}
	}
	if r.FreesTotal > 0 {
		line("")
		line("Free stacks: %d, %d unique (frees, not allocations: no culprit)", r.FreesTotal, len(r.FreeStacks))
		shown := r.FreeStacks
		if opt.Top > 0 && len(shown) > opt.Top {
			shown = shown[:opt.Top]
		}
		for i, s := range shown {
			line("#%-3d %7d %7.2f%%", i+1, s.Count, s.Percent)
			n := len(s.Frames)
			if n > 4 {
				n = 4
			}
			for j, f := range s.Frames[:n] {
				prefix := "      " + twoHex(j) + "  "
				line("%s%s", prefix, fitFrame(f, width-len(prefix)))
			}
			if n < len(s.Frames) {
				line("          ... %s", plural.N(int64(len(s.Frames)-n), "more frame", "more frames"))
			}
		}
		if len(shown) < len(r.FreeStacks) {
			line("... %s; --top 0 shows all", plural.N(int64(len(r.FreeStacks)-len(shown)), "more free stack", "more free stacks"))
		}
	}
}

func joinComma(s []string) string { return strings.Join(s, ", ") }

func itoa(n int) string { return strconv.Itoa(n) }

func twoHex(n int) string { return fmt.Sprintf("%02x", n) }

// pastBugCheck drops the bug check's own frames (the break-in routine,
// KeBugCheckEx and its helpers) from the top of its stack: when the rest
// is the kernel's alone, the culprit is then the kernel routine that
// raised it, not the routine that raises every bug check.
func pastBugCheck(frames []string) []string {
	last := -1
	for i, f := range frames {
		if i >= 8 {
			break
		}
		if script.RoleOf(f) == script.BugCheckRoutine {
			last = i
		}
	}
	if last+1 >= len(frames) {
		return frames
	}
	return frames[last+1:]
}

// wrapWords breaks text into lines of at most width runes, the first
// starting with prefix and the rest indented as deep.
func wrapWords(prefix, text string, width int) []string {
	indent := strings.Repeat(" ", len(prefix))
	var lines []string
	cur := prefix
	for _, w := range strings.Fields(text) {
		if len(cur) > len(indent) && len(cur)+1+len(w) > width {
			lines = append(lines, cur)
			cur = indent
		}
		if len(cur) > len(indent) {
			cur += " "
		}
		cur += w
	}
	return append(lines, cur)
}
