// Package htmlreport writes `kdlaunch report --format html`: one
// self-contained page (every script and style inside, no network) with the
// summary, the culprit and module tables, an interactive icicle of the
// stacks, the top stacks, and optional bug check and leak sections.
//
// The icicle is drawn by d3-flame-graph on d3 (assets/, their licences
// beside them): a kept library, so zoom, search and hover behave as people
// know them from other flame graphs. The tables are rendered in Go, so the
// page answers the question even with scripts disabled.
package htmlreport

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kdlaunch/kdlaunch/report"
)

var (
	//go:embed assets/d3.v7.9.2.min.js
	d3JS string
	//go:embed assets/d3-flamegraph.v5.0.0.umd.min.js
	flameJS string
	//go:embed assets/d3-flamegraph.v5.0.0.css
	flameCSS string
	//go:embed assets/page.css
	pageCSS string
	//go:embed assets/page.js
	pageJS string
	//go:embed assets/page.html.tmpl
	pageTmpl string
)

var page = template.Must(template.New("page").Funcs(template.FuncMap{
	"pct":   func(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) + "%" },
	"bytes": humanBytes,
	"add1":  func(i int) int { return i + 1 },
	"hits":  func(n int) string { return plural(n, "hit") },
	"hint":  hintHTML,
}).Parse(pageTmpl))

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

// hintHTML escapes a hint and shows its `commands` as code. A backtick
// between two hex digits is part of a kd address (fffff800`12345678), not
// a quote.
func hintHTML(h string) template.HTML {
	isHex := func(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }
	var b, seg strings.Builder
	code := false
	flush := func() {
		t := template.HTMLEscapeString(seg.String())
		if code {
			t = "<code>" + t + "</code>"
		}
		b.WriteString(t)
		seg.Reset()
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if c == '`' && !(i > 0 && i+1 < len(h) && isHex(h[i-1]) && isHex(h[i+1])) {
			flush()
			code = !code
			continue
		}
		seg.WriteByte(c)
	}
	if code {
		// An unmatched quote: show it as it was.
		code = false
		b.WriteString("`")
	}
	flush()
	return template.HTML(b.String())
}

// Source is one log the report was made from.
type Source struct {
	Path  string // as given on the command line ("-" for standard input)
	Bytes int64
}

// BugCheck is one bug check found in the logs (the optional "Bug checks"
// section).
type BugCheck struct {
	Code    string   // 0x000000C4
	Name    string   // DRIVER_VERIFIER_DETECTED_VIOLATION
	Args    []string // the four parameters, as kd printed them
	Count   int      // times seen
	Culprit string   // the culprit of its stack, if one was printed
	Frames  []string // innermost first
	Advice  string   // what to do next, one line
}

// Leaks is the optional leak view: allocations not yet freed, by stack, and
// how the outstanding total grew.
type Leaks struct {
	Stacks []LeakStack
	Growth []GrowthPoint
	// Axis names the growth chart's x axis: "hit" (the default) or
	// "allocation".
	Axis string
}

// LeakStack is one allocation stack with its allocations and frees.
type LeakStack struct {
	Culprit          string
	Frames           []string // innermost first
	Allocs, Frees    int
	Outstanding      int
	AllocBytes       int64
	OutstandingBytes int64
}

// GrowthPoint is the outstanding total after Hit breakpoint hits (and at
// Time, when the log tells).
type GrowthPoint struct {
	Hit              int
	Time             time.Time
	Outstanding      int
	OutstandingBytes int64
}

// Input is everything the page shows; only Report is required.
type Input struct {
	Report  *report.Report
	Skip    *report.Skip // frames shown as kernel/allocator; nil = report.DefaultSkip()
	Sources []Source
	// Start and End are the first and last time kd printed the target's
	// clock (Debug session time), zero when the logs do not tell.
	Start, End time.Time
	BugChecks  []BugCheck
	Leaks      *Leaks
	// TopStacks is how many stacks are listed with their frames (0 = 25);
	// the icicle always holds every stack.
	TopStacks int
	// Outstanding says the stack counts are outstanding allocations (a
	// leak log), not breakpoint hits.
	Outstanding bool
}

// secret matches the values of kd's password= and key= options (a kd log
// may hold kd's command line or a -remote line): the page masks them even
// though run already keeps them out of the log, because a page is made to
// be passed around.
var secret = regexp.MustCompile(`(?i)\b(password|key|pwd)=[^,\s;"']+`)

func scrub(s string) string {
	if !strings.Contains(s, "=") {
		return s
	}
	return secret.ReplaceAllString(s, "$1=***")
}

// Write writes the page for in to w.
func Write(w io.Writer, in Input) error {
	if in.Report == nil {
		return fmt.Errorf("html report: no report")
	}
	v, err := build(in)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := page.Execute(&buf, v); err != nil {
		return fmt.Errorf("html report: %w", err)
	}
	_, err = w.Write(buf.Bytes())
	return err
}

type view struct {
	Title       string
	Tag         string
	Strategy    string
	Total       int
	StacksLabel string
	Leak        bool // counts are outstanding allocations
	Unique      int
	Hits        int
	NoStack     int
	Span        string
	Sources     []Source
	Warning     string
	Culprits    []culpritRow
	Modules     []moduleRow
	Stacks      []stackRow
	More        int
	BugChecks   []BugCheck
	Leaks       *leakView

	CSS  template.CSS
	JS   template.JS
	Data template.JS
}

type culpritRow struct {
	Culprit string
	Module  string
	Count   int
	Percent float64
	Stacks  int
	Hint    string
}

type moduleRow struct {
	Module  string
	Count   int
	Percent float64
}

type stackRow struct {
	Count   int
	Percent float64
	Culprit string
	Hint    string
	Frames  []frameRow
}

type frameRow struct {
	Frame   string
	Culprit bool
	Kernel  bool
}

type leakView struct {
	Stacks []LeakStack
	Chart  template.HTML
}

func build(in Input) (*view, error) {
	r := in.Report
	skip := in.Skip
	if skip == nil {
		skip = report.DefaultSkip()
	}
	top := in.TopStacks
	if top <= 0 {
		top = 25
	}
	v := &view{
		Title:       "kdlaunch report",
		Tag:         scrub(r.Tag),
		Strategy:    scrub(r.Strategy),
		Total:       r.StacksTotal,
		Unique:      r.UniqueStacks,
		Hits:        r.Hits,
		Warning:     report.UnresolvedWarning(r),
		StacksLabel: "Stacks",
		Span:        span(in.Start, in.End),
	}
	if r.Tag != "" {
		v.Title = "kdlaunch report: pool tag " + scrub(r.Tag)
	}
	if r.Hits > r.StacksTotal {
		v.NoStack = r.Hits - r.StacksTotal
	}
	for _, s := range in.Sources {
		v.Sources = append(v.Sources, Source{Path: scrub(s.Path), Bytes: s.Bytes})
	}
	v.Culprits = culprits(r)
	for _, m := range r.Modules {
		v.Modules = append(v.Modules, moduleRow{Module: scrub(m.Module), Count: m.Count, Percent: pctOf(m.Count, r.StacksTotal)})
	}
	for i, s := range r.Stacks {
		if i == top {
			v.More = len(r.Stacks) - top
			break
		}
		row := stackRow{Count: s.Count, Percent: s.Percent, Culprit: scrub(s.Culprit), Hint: report.UnresolvedHint(s.Culprit)}
		marked := false
		for _, f := range s.Frames {
			c := !marked && f == s.Culprit
			marked = marked || c
			row.Frames = append(row.Frames, frameRow{Frame: scrub(f), Culprit: c, Kernel: skip.Skipped(f)})
		}
		v.Stacks = append(v.Stacks, row)
	}
	bugChecks := in.BugChecks
	for _, b := range r.BugChecks {
		bugChecks = append(bugChecks, BugCheck{Code: b.Code, Name: b.Name, Args: b.Params, Count: 1, Culprit: b.Culprit, Frames: b.Frames, Advice: b.Advice})
	}
	for _, b := range bugChecks {
		c := b
		c.Name, c.Culprit, c.Advice = scrub(b.Name), scrub(b.Culprit), scrub(b.Advice)
		c.Args = scrubAll(b.Args)
		c.Frames = scrubAll(b.Frames)
		v.BugChecks = append(v.BugChecks, c)
	}
	if in.Leaks != nil && (len(in.Leaks.Stacks) > 0 || len(in.Leaks.Growth) > 0) {
		lv := &leakView{Chart: growthChart(in.Leaks.Growth, in.Leaks.Axis)}
		for _, s := range in.Leaks.Stacks {
			c := s
			c.Culprit = scrub(s.Culprit)
			c.Frames = scrubAll(s.Frames)
			lv.Stacks = append(lv.Stacks, c)
		}
		sort.SliceStable(lv.Stacks, func(i, j int) bool {
			if lv.Stacks[i].OutstandingBytes != lv.Stacks[j].OutstandingBytes {
				return lv.Stacks[i].OutstandingBytes > lv.Stacks[j].OutstandingBytes
			}
			return lv.Stacks[i].Outstanding > lv.Stacks[j].Outstanding
		})
		v.Leaks = lv
	}
	unit := "hits"
	if in.Outstanding {
		unit = "outstanding"
		v.Title = strings.Replace(v.Title, "kdlaunch report", "kdlaunch leak report", 1)
		v.StacksLabel = "Outstanding allocations"
		v.Leak = true
	}
	data, err := flameData(r, skip, unit)
	if err != nil {
		return nil, err
	}
	v.Data = template.JS(data)
	v.CSS = template.CSS(flameCSS + "\n" + pageCSS)
	v.JS = template.JS(d3JS + "\n;\n" + flameJS + "\n;\n" + pageJS)
	return v, nil
}

func scrubAll(in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = scrub(s)
	}
	return out
}

func pctOf(n, total int) float64 {
	if total == 0 {
		return 0
	}
	return float64(int(float64(n)*10000/float64(total)+0.5)) / 100
}

// culprits groups the stacks by culprit (the same call site reached from
// different callers is one row).
func culprits(r *report.Report) []culpritRow {
	idx := map[string]int{}
	var rows []culpritRow
	for _, s := range r.Stacks {
		i, ok := idx[s.Culprit]
		if !ok {
			i = len(rows)
			idx[s.Culprit] = i
			rows = append(rows, culpritRow{Culprit: scrub(s.Culprit), Module: scrub(report.Module(s.Culprit)), Hint: report.UnresolvedHint(s.Culprit)})
		}
		rows[i].Count += s.Count
		rows[i].Stacks++
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Count > rows[j].Count })
	for i := range rows {
		rows[i].Percent = pctOf(rows[i].Count, r.StacksTotal)
	}
	if len(rows) > 20 {
		rows = rows[:20]
	}
	return rows
}

func span(start, end time.Time) string {
	switch {
	case start.IsZero() && end.IsZero():
		return "not recorded in the log"
	case end.IsZero() || end.Equal(start):
		return start.UTC().Format(time.RFC3339) + " (target clock)"
	}
	return fmt.Sprintf("%s to %s (%s, target clock)", start.UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339), end.Sub(start).Round(time.Second))
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return strconv.FormatFloat(float64(n)/(1<<30), 'f', 1, 64) + " GiB"
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
	case n >= 1<<10:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 1, 64) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " B"
}

// node is the icicle's tree: the root is every stack, its children the
// innermost frames (the allocator), theirs the callers, down to the
// outermost frame. Read top down, the allocator is at the top and the
// culprit one or two rows below, as wide as its share.
type node struct {
	name  int
	value int
	kids  []*node
	index map[int]*node
}

func (n *node) child(name int) *node {
	if n.index == nil {
		n.index = map[int]*node{}
	}
	c := n.index[name]
	if c == nil {
		c = &node{name: name}
		n.index[name] = c
		n.kids = append(n.kids, c)
	}
	return c
}

// flameData is the JSON the page's script reads: a string table of frames
// (names), which of them are kernel/allocator frames (kernel), and the tree
// as nested arrays [name, value, child...] that refer to the table (see
// writeNode), which keeps 10,000 distinct stacks under 2 MB.
func flameData(r *report.Report, skip *report.Skip, unit string) ([]byte, error) {
	names := []string{fmt.Sprintf("all stacks: %d %s", r.StacksTotal, unit)}
	nameIdx := map[string]int{}
	var kernel []int
	intern := func(f string) int {
		if i, ok := nameIdx[f]; ok {
			return i
		}
		i := len(names)
		nameIdx[f] = i
		names = append(names, scrub(f))
		if skip.Skipped(f) {
			kernel = append(kernel, i)
		}
		return i
	}
	root := &node{name: 0}
	for _, s := range r.Stacks {
		root.value += s.Count
		n := root
		for _, f := range s.Frames {
			n = n.child(intern(f))
			n.value += s.Count
		}
	}
	var buf bytes.Buffer
	buf.WriteString(`{"unit":"` + unit + `","names":`)
	nj, err := json.Marshal(names)
	if err != nil {
		return nil, fmt.Errorf("html report: %w", err)
	}
	buf.Write(nj)
	buf.WriteString(`,"kernel":`)
	if kernel == nil {
		kernel = []int{}
	}
	kj, _ := json.Marshal(kernel)
	buf.Write(kj)
	buf.WriteString(`,"tree":`)
	writeNode(&buf, root)
	buf.WriteString("}")
	return buf.Bytes(), nil
}

// writeNode writes the tree without recursion, so a stack thousands of
// frames deep cannot exhaust the Go stack. A chain of frames with one
// caller each and the same count (most of a stack once it differs from
// the others) is one node whose name is the list of its frames:
// [[name, name, ...], value, child...].
func writeNode(buf *bytes.Buffer, root *node) {
	type item struct {
		n    *node // the chain's last node, whose kids follow
		next int
	}
	var num [20]byte
	open := func(n *node) *node {
		buf.WriteByte('[')
		if len(n.kids) == 1 && n.kids[0].value == n.value {
			buf.WriteByte('[')
			buf.Write(strconv.AppendInt(num[:0], int64(n.name), 10))
			for len(n.kids) == 1 && n.kids[0].value == n.value {
				n = n.kids[0]
				buf.WriteByte(',')
				buf.Write(strconv.AppendInt(num[:0], int64(n.name), 10))
			}
			buf.WriteByte(']')
		} else {
			buf.Write(strconv.AppendInt(num[:0], int64(n.name), 10))
		}
		buf.WriteByte(',')
		buf.Write(strconv.AppendInt(num[:0], int64(n.value), 10))
		return n
	}
	stack := []item{{n: open(root)}}
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		if top.next == len(top.n.kids) {
			buf.WriteByte(']')
			stack = stack[:len(stack)-1]
			continue
		}
		c := top.n.kids[top.next]
		top.next++
		buf.WriteByte(',')
		stack = append(stack, item{n: open(c)})
	}
}
