package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/kdlaunch/kdlaunch/stacks"
)

func bcStack(frames ...string) stacks.Stack { return stacks.Stack{Frames: frames} }

var (
	allocStack = bcStack("nt!ExAllocateHeapSpecialPool", "nt!ExAllocateHeapPool+0x1bd", "leakydrv!Alloc+0x2c", "nt!IofCallDriver+0x55")
	freeStack  = bcStack("nt!ExFreeHeapPool+0x3c1", "nt!ExFreePool+0x9", "leakydrv!Free+0x1e", "nt!IofCallDriver+0x55")
	crash      = bcStack("nt!DbgBreakPointWithStatus", "nt!KiBugCheckDebugBreak+0x12", "nt!KeBugCheck2+0x952", "nt!KeBugCheckEx+0x107", "nt!VerifierBugCheckIfAppropriate+0x6d", "nt!VfCheckUserHandle+0x1ad", "leakydrv!Ioctl+0x5d")
	kernelOnly = bcStack("nt!KeBugCheckEx+0x107", "nt!VfPoolCheckForLeaks+0x49", "nt!IopUnloadDriver+0x251")
)

// event is a stack or a noted line, in log order.
type event struct {
	stack *stacks.Stack
	note  string
}

func S(s stacks.Stack) event { return event{stack: &s} }
func N(l string) event       { return event{note: l} }

func TestBugChecksAndFrees(t *testing.T) {
	fatal := []event{N("*** Fatal System Error: 0x000000c4"), N("(0x00000000000000F6,0x0000000000000F88,0xFFFFB00D4E2B2080,0xFFFFF8036F2B12A8)")}
	type want struct {
		code, name, culprit string
		params              int
	}
	tests := []struct {
		name          string
		events        []event
		allocs, frees int
		bugChecks     []want
		allocFrames0  string
	}{
		{"allocations only", []event{S(allocStack), S(allocStack)}, 2, 0, nil, "nt!ExAllocateHeapSpecialPool"},
		{"frees apart", []event{S(allocStack), S(freeStack), S(freeStack), S(allocStack)}, 2, 2, nil, "nt!ExAllocateHeapSpecialPool"},
		{"bug check with kb and !analyze's stack", append(append([]event{S(allocStack)}, fatal...), S(crash), N("BugCheck C4, {f6, f88, ffffb00d4e2b2080, fffff8036f2b12a8}"), S(crash)), 1, 0,
			[]want{{"0x000000C4", "DRIVER_VERIFIER_DETECTED_VIOLATION", "leakydrv!Ioctl+0x5d", 4}}, ""},
		{"bug check stack without announcement", []event{S(crash)}, 0, 0, []want{{"unknown", "", "leakydrv!Ioctl+0x5d", 0}}, ""},
		{"announcement without stack", []event{N("A fatal system error has occurred."), N("BugCheck D5, {1, 0, 2, 0}")}, 0, 0, []want{{"0x000000D5", "DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL", "", 4}}, ""},
		{"kernel-only crash names the raiser", []event{N("BugCheck C4, {62, 1, 2, 3}"), S(kernelOnly)}, 0, 0, []want{{"0x000000C4", "DRIVER_VERIFIER_DETECTED_VIOLATION", "nt!VfPoolCheckForLeaks+0x49", 4}}, ""},
		{"two crashes across a reboot", append(append(append([]event{}, fatal...), S(crash), N("Shutdown occurred at (...)...unloading all symbol tables."), N("Kernel Debugger connection established.")), append(fatal, S(crash))...), 0, 0,
			[]want{{"0x000000C4", "DRIVER_VERIFIER_DETECTED_VIOLATION", "leakydrv!Ioctl+0x5d", 4}, {"0x000000C4", "DRIVER_VERIFIER_DETECTED_VIOLATION", "leakydrv!Ioctl+0x5d", 4}}, ""},
	}
	for _, tc := range tests {
		a := NewAggregator()
		for _, e := range tc.events {
			if e.stack != nil {
				a.Add(*e.stack)
			} else {
				a.Note(e.note)
			}
		}
		r := a.Clone().Report(nil)
		if r.StacksTotal != tc.allocs || r.FreesTotal != tc.frees || len(r.BugChecks) != len(tc.bugChecks) {
			t.Errorf("%s: %d allocations, %d frees, %d bug checks", tc.name, r.StacksTotal, r.FreesTotal, len(r.BugChecks))
			continue
		}
		for i, w := range tc.bugChecks {
			b := r.BugChecks[i]
			if b.Code != w.code || b.Name != w.name || b.Culprit != w.culprit || len(b.Params) != w.params || b.Advice == "" {
				t.Errorf("%s: bug check %d = %+v", tc.name, i, b)
			}
		}
		for _, f := range r.FreeStacks {
			if f.Frames[0] != freeStack.Frames[0] {
				t.Errorf("%s: free stack %v", tc.name, f.Frames)
			}
		}
		for _, s := range r.Stacks {
			if stacks.RoleOf(s.Frames) != stacks.RoleAllocation {
				t.Errorf("%s: %v counted as an allocation", tc.name, s.Frames)
			}
		}
	}
}

func TestBugChecksInEveryFormat(t *testing.T) {
	a := NewAggregator()
	a.Add(allocStack)
	a.Add(freeStack)
	a.Note("*** Fatal System Error: 0x000000c4")
	a.Note("(0xF6,0xF88,0xFFFFB00D4E2B2080,0xFFFFF8036F2B12A8)")
	a.Add(crash)
	r := a.Report(nil)

	var j bytes.Buffer
	if err := WriteJSON(&j, r); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		StacksTotal int `json:"stacks_total"`
		BugChecks   []struct {
			Code    string   `json:"code"`
			Name    string   `json:"name"`
			Params  []string `json:"params"`
			Culprit string   `json:"culprit"`
		} `json:"bugchecks"`
		FreesTotal int              `json:"frees_total"`
		FreeStacks []map[string]any `json:"free_stacks"`
	}
	if err := json.Unmarshal(j.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.StacksTotal != 1 || doc.FreesTotal != 1 || len(doc.BugChecks) != 1 || doc.BugChecks[0].Params[3] != "0xFFFFF8036F2B12A8" || doc.BugChecks[0].Culprit != "leakydrv!Ioctl+0x5d" {
		t.Errorf("json %s", j.String())
	}
	if _, ok := doc.FreeStacks[0]["culprit"]; ok {
		t.Error("a free stack has a culprit")
	}

	var tab bytes.Buffer
	WriteTable(&tab, r, WriteOptions{})
	for _, w := range []string{"Bug checks (1;", "0x000000C4 DRIVER_VERIFIER_DETECTED_VIOLATION", "culprit leakydrv!Ioctl+0x5d", "Free stacks: 1, 1 unique", "nt!ExFreeHeapPool+0x3c1"} {
		if !strings.Contains(tab.String(), w) {
			t.Errorf("table lacks %q:\n%s", w, tab.String())
		}
	}
	for _, l := range strings.Split(tab.String(), "\n") {
		if len([]rune(l)) > 80 {
			t.Errorf("line wider than 80: %q", l)
		}
	}

	var folded bytes.Buffer
	WriteFolded(&folded, r)
	if strings.Count(folded.String(), "\n") != 1 || strings.Contains(folded.String(), "KeBugCheckEx") || strings.Contains(folded.String(), "ExFreeHeapPool") {
		t.Errorf("folded:\n%s", folded.String())
	}
	p := Profile(r)
	if len(p.Sample) != 1 || !strings.Contains(strings.Join(p.Comments, "\n"), "bug check 0x000000C4 DRIVER_VERIFIER_DETECTED_VIOLATION (0xF6, 0xF88, 0xFFFFB00D4E2B2080, 0xFFFFF8036F2B12A8) culprit leakydrv!Ioctl+0x5d") {
		t.Errorf("pprof: %d samples, comments %q", len(p.Sample), p.Comments)
	}

	// No allocations at all: the table still lists them.
	b := NewAggregator()
	b.Add(crash)
	tab.Reset()
	WriteTable(&tab, b.Report(nil), WriteOptions{})
	if !strings.Contains(tab.String(), "No allocation stacks found.") || !strings.Contains(tab.String(), "Bug checks (1;") {
		t.Errorf("table:\n%s", tab.String())
	}
}

// Breakpoint hits on a free routine have their stacks: no "no readable
// stack" note for them.
func TestHitsOnFreesHaveStacks(t *testing.T) {
	a := NewAggregator()
	a.Add(allocStack)
	a.Add(freeStack)
	a.AddHits(2)
	var tab bytes.Buffer
	WriteTable(&tab, a.Report(nil), WriteOptions{})
	if strings.Contains(tab.String(), "no readable stack") {
		t.Errorf("table:\n%s", tab.String())
	}
	a.AddHits(1)
	tab.Reset()
	WriteTable(&tab, a.Report(nil), WriteOptions{})
	if !strings.Contains(tab.String(), "note: 1 hit has no readable stack") {
		t.Errorf("table:\n%s", tab.String())
	}
}
