package htmlreport

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kdlaunch/kdlaunch/report"
	"github.com/kdlaunch/kdlaunch/stacks"
)

func sampleReport() *report.Report {
	a := report.NewAggregator()
	for i := 0; i < 6; i++ {
		a.Add(stacks.Stack{Frames: []string{"nt!MmAllocateSpecialPool", "nt!ExAllocatePoolWithTag+0x4e", "leakydrv!LeakyAllocateBuffer+0x2c", "nt!IofCallDriver+0x55"}})
	}
	a.Add(stacks.Stack{Frames: []string{"nt!MmAllocateSpecialPool", "nt!ExAllocatePoolWithTag+0x4e", "avscan+0x424e", "nt!IofCallDriver+0x55"}})
	a.AddHits(8)
	r := a.Report(nil)
	r.Tag, r.Strategy = "Ddk", "special-pool"
	return r
}

func render(t *testing.T, in Input) string {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, in); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestPage(t *testing.T) {
	page := render(t, Input{Report: sampleReport(), Sources: []Source{{Path: `c:\debug\debug.log`, Bytes: 2048}}})
	for _, want := range []string{
		`<dd id="tag">Ddk</dd>`,
		`<dd id="strategy">special-pool</dd>`,
		`<dd id="total">7</dd>`,
		`<dd id="hits">8</dd>`,
		`<code>c:\debug\debug.log</code> (2.0 KiB)`,
		`data-frame="leakydrv!LeakyAllocateBuffer&#43;0x2c"`,
		`1 breakpoint hit has no readable stack`,
		"hint: avscan has no symbols",
		"<code>.reload /f avscan.sys</code>",
		"</b> 1 hit (14.29%)",
		`"all stacks: 7 hits"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, absent := range []string{`id="bugchecks"`, `id="leaks"`, `id="unresolved-warning"`, "<script src", "<link"} {
		if strings.Contains(page, absent) {
			t.Errorf("page holds %q", absent)
		}
	}
}

// The page must not depend on anything outside itself; a page made twice
// from the same input is the same bytes (so size tests mean something).
func TestPageDeterministic(t *testing.T) {
	first := render(t, Input{Report: sampleReport()})
	second := render(t, Input{Report: sampleReport()})
	if first != second {
		t.Error("two renders of the same report differ")
	}
}

func TestOptionalSections(t *testing.T) {
	in := Input{
		Report: sampleReport(),
		BugChecks: []BugCheck{{
			Code: "0x000000C4", Name: "DRIVER_VERIFIER_DETECTED_VIOLATION", Args: []string{"0x62", "0xffffa001`23456789", "0x1", "0x0"},
			Count: 1, Culprit: "leakydrv!LeakyUnload+0x10", Frames: []string{"nt!KeBugCheckEx", "leakydrv!LeakyUnload+0x10"},
		}},
		Leaks: &Leaks{
			Stacks: []LeakStack{
				{Culprit: "small!Alloc+0x1", Allocs: 10, Frees: 9, Outstanding: 1, AllocBytes: 1000, OutstandingBytes: 100},
				{Culprit: "leakydrv!LeakyAllocateBuffer+0x2c", Allocs: 50, Frees: 2, Outstanding: 48, AllocBytes: 50 << 12, OutstandingBytes: 48 << 12},
			},
			Growth: []GrowthPoint{{Hit: 1, Outstanding: 1, OutstandingBytes: 4096}, {Hit: 25, Outstanding: 20, OutstandingBytes: 81920}, {Hit: 52, Outstanding: 49, OutstandingBytes: 200704}},
		},
		Start: time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC),
		End:   time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC),
	}
	page := render(t, in)
	for _, want := range []string{
		`id="bugchecks"`, "DRIVER_VERIFIER_DETECTED_VIOLATION", "0xffffa001`23456789", "leakydrv!LeakyUnload&#43;0x10",
		`id="leaks"`, `<svg id="growth"`, "hit 52: 49 outstanding, 196.0 KiB", "192.0 KiB",
		"2026-12-01T08:00:00Z to 2026-12-01T09:30:00Z (1h30m0s, target clock)",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// Largest outstanding first.
	if i, j := strings.Index(page, "192.0 KiB"), strings.Index(page, "100 B"); i < 0 || j < 0 || i > j {
		t.Errorf("leak rows not sorted by outstanding bytes (%d, %d)", i, j)
	}
	// An empty leak view is no section.
	if p := render(t, Input{Report: sampleReport(), Leaks: &Leaks{}}); strings.Contains(p, `id="leaks"`) {
		t.Error("empty leak view rendered")
	}
}

func TestUnresolvedWarningShown(t *testing.T) {
	a := report.NewAggregator()
	a.Add(stacks.Stack{Frames: []string{"nt!MmAllocateSpecialPool", "fffff800`12345678", "nt!Caller"}})
	page := render(t, Input{Report: a.Report(nil)})
	if !strings.Contains(page, `id="unresolved-warning"`) || !strings.Contains(page, "<code>lm a fffff800`12345678</code>") {
		t.Error("no unresolved warning or hint")
	}
}

func TestEmptyReport(t *testing.T) {
	page := render(t, Input{Report: report.NewAggregator().Report(nil)})
	if !strings.Contains(page, `id="no-stacks"`) {
		t.Error("an empty report does not say there are no stacks")
	}
	if err := Write(&bytes.Buffer{}, Input{}); err == nil {
		t.Error("no report accepted")
	}
}

func TestScrub(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"-remote npipe:server=BOX,pipe=livedebug,password=hunter2", "-remote npipe:server=BOX,pipe=livedebug,password=***"},
		{"net:port=50000,key=1.2.3.4", "net:port=50000,key=***"},
		{"KEY=abc def", "KEY=*** def"},
		{"nt!ExAllocatePoolWithTag+0x4e", "nt!ExAllocatePoolWithTag+0x4e"},
		{"monkey=1", "monkey=1"},
	} {
		if got := scrub(tc.in); got != tc.want {
			t.Errorf("scrub(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// manyStacks is n distinct stacks of 24 frames shaped like a busy kd log's:
// a shared allocator head, a culprit out of 40 drivers, then callers drawn
// from a few hundred call sites (a call site always has the same offset),
// combined so that every stack differs from the others from its fourth
// frame on.
func manyStacks(n int) *report.Report {
	a := report.NewAggregator()
	for i := 0; i < n; i++ {
		f := []string{"nt!MmAllocateSpecialPool", "nt!ExAllocatePoolWithTag+0x4e"}
		f = append(f, fmt.Sprintf("drv%02d!Allocate%d+0x%x", i%40, i%7, 0x20+i%7))
		h := uint32(i)*2654435761 + 1
		for j := 0; j < 21; j++ {
			h = h*1103515245 + 12345
			fn := (h >> 16) % 60
			f = append(f, fmt.Sprintf("mod%d!Function%d+0x%x", j%7, fn, 0x10+fn*0x13))
		}
		a.AddN(stacks.Stack{Frames: f}, 1+i%5)
	}
	return a.Report(nil)
}

func TestSize10000Stacks(t *testing.T) {
	r := manyStacks(10000)
	if r.UniqueStacks != 10000 {
		t.Fatalf("%d unique stacks", r.UniqueStacks)
	}
	page := render(t, Input{Report: r})
	const limit = 2 << 20
	if len(page) >= limit {
		t.Errorf("page for 10,000 unique stacks is %d bytes, want under %d", len(page), limit)
	}
	t.Logf("10,000 unique stacks: %d bytes", len(page))
}

func TestDeepStack(t *testing.T) {
	f := make([]string, 20000)
	for i := range f {
		f[i] = fmt.Sprintf("m!f%d", i)
	}
	a := report.NewAggregator()
	a.Add(stacks.Stack{Frames: f})
	if page := render(t, Input{Report: a.Report(nil)}); !strings.Contains(page, "m!f19999") {
		t.Error("deepest frame missing")
	}
}

func BenchmarkHTML(b *testing.B) {
	r := manyStacks(10000)
	for b.Loop() {
		if err := Write(&bytes.Buffer{}, Input{Report: r}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkJSON(b *testing.B) {
	r := manyStacks(10000)
	for b.Loop() {
		if err := report.WriteJSON(&bytes.Buffer{}, r); err != nil {
			b.Fatal(err)
		}
	}
}

func TestHintHTML(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"run `lm a fffff800`12345678` in kd", "run <code>lm a fffff800`12345678</code> in kd"},
		{"`.reload /f a.sys` then <b>", "<code>.reload /f a.sys</code> then &lt;b&gt;"},
		{"an odd ` quote", "an odd ` quote"},
		{"plain", "plain"},
	} {
		if got := string(hintHTML(tc.in)); got != tc.want {
			t.Errorf("hintHTML(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
