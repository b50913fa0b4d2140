// Package report groups the stacks found in kd logs, names the culprit of
// each (the first frame, from the innermost, outside the kernel and the
// allocator), and writes the result as a table, JSON, folded stacks or a
// pprof profile.
package report

import (
	"math"
	"sort"
	"strings"

	"github.com/kdlaunch/kdlaunch/stacks"
)

// Aggregator counts identical stacks. Memory grows with the number of
// distinct stacks only.
type Aggregator struct {
	m     map[string]*entry
	order []*entry
	total int
	hits  int
	x     extras // bug checks and frees (bugchecks.go)
}

type entry struct {
	frames []string
	count  int
	first  int // order of first appearance
}

// NewAggregator returns an empty Aggregator.
func NewAggregator() *Aggregator {
	return &Aggregator{m: make(map[string]*entry)}
}

// Add counts one occurrence of s.
func (a *Aggregator) Add(s stacks.Stack) { a.AddN(s, 1) }

// AddN counts n occurrences of s.
func (a *Aggregator) AddN(s stacks.Stack, n int) {
	if len(s.Frames) == 0 || n <= 0 {
		return
	}
	key := s.Key()
	e := a.m[key]
	if e == nil {
		// A stack seen for the first time: is it an allocation at all?
		if a.x.addOther(s, key, n) {
			return
		}
		e = &entry{frames: s.Frames, first: len(a.order)}
		a.m[key] = e
		a.order = append(a.order, e)
	}
	e.count += n
	a.total += n
}

// AddHits records "Breakpoint N hit" lines (shown next to the stack count as
// a sanity check).
func (a *Aggregator) AddHits(n int) { a.hits += n }

// Clone returns an independent copy (for a provisional view).
func (a *Aggregator) Clone() *Aggregator {
	b := &Aggregator{m: make(map[string]*entry, len(a.m)), order: make([]*entry, len(a.order)), total: a.total, hits: a.hits, x: a.x.clone()}
	for i, e := range a.order {
		c := *e
		b.order[i] = &c
		b.m[strings.Join(e.frames, "\n")] = &c
	}
	return b
}

// Report is the result, in the shape of the JSON contract:
//
//	{"stacks_total": N, "unique_stacks": U, "breakpoint_hits": H,
//	 "tag": "Ddk", "strategy": "special-pool",
//	 "stacks": [{"count": n, "percent": p, "culprit": "mod!fn+0x12",
//	             "frames": ["innermost", "...", "outermost"]}],
//	 "modules": [{"module": "mod", "count": n}],
//	 "bugchecks": [{"code": "0x000000C4", "name": "...", "params": [...4], "culprit": "...", ...}],
//	 "frees_total": F, "free_stacks": [{"count": n, "percent": p, "frames": [...]}]}
//
// Allocation stacks only are in stacks and stacks_total: a bug check's
// stack and a free's are reported apart.
//
// Stacks are sorted by count, then by first appearance in the log; modules
// (the culprits' modules) likewise. Percentages are of stacks_total,
// rounded to two decimals.
type Report struct {
	StacksTotal  int `json:"stacks_total"`
	UniqueStacks int `json:"unique_stacks"`
	// Hits counts "Breakpoint N hit" lines: more hits than stacks means
	// stacks were cut off or not printed with kb.
	Hits int `json:"breakpoint_hits"`
	// Tag and Strategy are what the hunt was for and how it broke in, when
	// the log (HeadFacts) or a flag tells.
	Tag      string        `json:"tag,omitempty"`
	Strategy string        `json:"strategy,omitempty"`
	Stacks   []StackCount  `json:"stacks"`
	Modules  []ModuleCount `json:"modules"`

	BugChecks  []BugCheckReport `json:"bugchecks"`
	FreesTotal int              `json:"frees_total"`
	FreeStacks []FreeStack      `json:"free_stacks"`
}

// StackCount is one distinct stack.
type StackCount struct {
	Count   int      `json:"count"`
	Percent float64  `json:"percent"`
	Culprit string   `json:"culprit"`
	Frames  []string `json:"frames"`
}

// ModuleCount is the number of stacks whose culprit is in Module.
type ModuleCount struct {
	Module string `json:"module"`
	Count  int    `json:"count"`
}

// Report builds the report, naming culprits with skip (nil means
// DefaultSkip).
func (a *Aggregator) Report(skip *Skip) *Report {
	if skip == nil {
		skip = DefaultSkip()
	}
	r := &Report{
		StacksTotal:  a.total,
		UniqueStacks: len(a.order),
		Stacks:       make([]StackCount, 0, len(a.order)),
		Modules:      []ModuleCount{},
		Hits:         a.hits,
	}
	sorted := make([]*entry, len(a.order))
	copy(sorted, a.order)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].count > sorted[j].count })
	modIndex := map[string]int{}
	for _, e := range sorted {
		culprit := skip.Culprit(e.frames)
		r.Stacks = append(r.Stacks, StackCount{
			Count:   e.count,
			Percent: percent(e.count, a.total),
			Culprit: culprit,
			Frames:  e.frames,
		})
	}
	// Modules in order of first appearance, then sorted by count.
	byFirst := make([]*entry, len(a.order))
	copy(byFirst, a.order)
	for _, e := range byFirst {
		// kd's module names are case-insensitive (NT!Foo, nt!Foo): the
		// first spelling seen names the module.
		mod := Module(skip.Culprit(e.frames))
		i, ok := modIndex[strings.ToLower(mod)]
		if !ok {
			i = len(r.Modules)
			modIndex[strings.ToLower(mod)] = i
			r.Modules = append(r.Modules, ModuleCount{Module: mod})
		}
		r.Modules[i].Count += e.count
	}
	sort.SliceStable(r.Modules, func(i, j int) bool { return r.Modules[i].Count > r.Modules[j].Count })
	a.x.report(r, skip)
	return r
}

func percent(n, total int) float64 {
	if total == 0 {
		return 0
	}
	return math.Round(float64(n)*10000/float64(total)) / 100
}

// UnknownModule is the module of frames kd could not attribute to one
// (bare addresses, "?").
const UnknownModule = "(unknown)"

// Module returns the module part of a frame: "nt" for "nt!Foo+0x12",
// "avscan" for "avscan+0x424e", UnknownModule for "0xfffff800`12345678".
func Module(frame string) string {
	if i := strings.IndexByte(frame, '!'); i > 0 {
		return frame[:i]
	}
	if frame == "" || frame == "?" || strings.HasPrefix(frame, "0x") || strings.HasPrefix(frame, "0X") {
		return UnknownModule
	}
	if i := strings.Index(frame, "+0x"); i > 0 {
		return frame[:i]
	}
	return frame
}

// Symbol returns a frame without its offset: "nt!Foo" for "nt!Foo+0x12".
func Symbol(frame string) string {
	if i := strings.LastIndex(frame, "+0x"); i > 0 {
		return frame[:i]
	}
	return frame
}
