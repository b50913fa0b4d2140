package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/pprof/profile"
	"github.com/kdlaunch/kdlaunch/leaks"
	"github.com/kdlaunch/kdlaunch/leaks/records"
)

func leakResult() leaks.Result {
	busy := []string{"nt!MmAllocateSpecialPool", "nt!ExAllocatePoolWithTag+0x4e", "busydrv!Alloc+0x10"}
	leaker := []string{"nt!MmAllocateSpecialPool", "nt!ExAllocatePoolWithTag+0x4e", "leakydrv!LeakyAllocateBuffer+0x2c"}
	return leaks.Result{
		Arch: records.ArchX64, Family: records.FamilyLegacy,
		Stacks: []leaks.StackStat{
			{Frames: busy, AllocCount: 1000, AllocBytes: 64000, FreeCount: 998, FreeBytes: 63872, OutstandingCount: 2, OutstandingBytes: 128},
			{Frames: leaker, AllocCount: 50, AllocBytes: 50 * 512, OutstandingCount: 49, OutstandingBytes: 49 * 512, Unpaired: 1, UnpairedBytes: 512},
		},
		Totals: leaks.Totals{Allocs: 1050, AllocBytes: 64000 + 50*512, Frees: 998, FreeBytes: 63872, Outstanding: 51, OutstandingBytes: 128 + 49*512,
			Unpaired: 1, UnpairedBytes: 512, CutReturns: 1, FreesUntracked: 7},
		Growth: leaks.Growth{Every: 16, ByAllocs: []leaks.Point{{Allocs: 16, OutstandingBytes: 100}, {Allocs: 32, OutstandingBytes: 9000}, {Allocs: 48, OutstandingBytes: 25216}}, Shape: leaks.ShapeSteady},
	}
}

func TestLeakReportOrderAndNotes(t *testing.T) {
	r := NewLeakReport(leakResult(), nil)
	if r.Stacks[0].Culprit != "leakydrv!LeakyAllocateBuffer+0x2c" || r.Modules[0].Module != "leakydrv" {
		t.Errorf("the leaker is not first: %+v", r.Stacks[0])
	}
	if !r.Reconciled || !strings.HasPrefix(r.Notes[0], "totals reconcile: 1050 allocated = 998 freed + 51 outstanding + 1 unpaired") {
		t.Errorf("notes %q", r.Notes)
	}
	joined := strings.Join(r.Notes, "\n")
	for _, want := range []string{"1 allocations were still waiting", "7 frees of addresses with no allocation"} {
		if !strings.Contains(joined, want) {
			t.Errorf("notes lack %q: %q", want, r.Notes)
		}
	}
	bad := leakResult()
	bad.Totals.Frees++
	if r := NewLeakReport(bad, nil); r.Reconciled || !strings.Contains(r.Notes[0], "do NOT reconcile") {
		t.Errorf("unreconciled totals: %v %q", r.Reconciled, r.Notes[0])
	}
}

func TestLeakTable(t *testing.T) {
	var b bytes.Buffer
	if err := WriteLeakTable(&b, NewLeakReport(leakResult(), nil), WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, l := range strings.Split(out, "\n") {
		if len([]rune(l)) > 80 {
			t.Errorf("wider than 80: %q", l)
		}
	}
	for _, want := range []string{"leak log (x64 mm-special-pool): 1050 allocations", "49 outstanding (24.5 KB)", "(steady): ▂▄█", "note: 7 frees"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Index(out, "leakydrv") > strings.Index(out, "busydrv") {
		t.Errorf("busy driver before the leaker:\n%s", out)
	}
}

func TestLeakProfileValid(t *testing.T) {
	var b bytes.Buffer
	if err := WriteLeak(&b, NewLeakReport(leakResult(), nil), "pprof", LeakWriteOptions{}); err != nil {
		t.Fatal(err)
	}
	p, err := profile.Parse(&b)
	if err != nil {
		t.Fatal(err)
	}
	if p.DefaultSampleType != "inuse_space" || len(p.Sample) != 2 || p.Sample[0].Value[3] != 49*512 {
		t.Errorf("profile: default %q, %d samples, first %v", p.DefaultSampleType, len(p.Sample), p.Sample[0].Value)
	}
}

func TestLeakFoldedValue(t *testing.T) {
	r := NewLeakReport(leakResult(), nil)
	for value, want := range map[string]string{
		"":                     "nt!ExAllocatePoolWithTag+0x4e;nt!MmAllocateSpecialPool 25088\n",
		FoldedAllocs:           "nt!MmAllocateSpecialPool 1000\n",
		FoldedOutstandingBytes: "busydrv!Alloc+0x10;nt!ExAllocatePoolWithTag+0x4e;nt!MmAllocateSpecialPool 128\n",
	} {
		var b bytes.Buffer
		if err := WriteLeakFolded(&b, r, value); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), want) {
			t.Errorf("folded %q lacks %q:\n%s", value, want, b.String())
		}
	}
	if err := WriteLeakFolded(&bytes.Buffer{}, r, "bogus"); err == nil {
		t.Error("unknown folded value: no error")
	}
}

func TestSparklineAndWrap(t *testing.T) {
	ps := []leaks.Point{{OutstandingBytes: 0}, {OutstandingBytes: 50}, {OutstandingBytes: 100}}
	for _, tc := range []struct {
		ps    []leaks.Point
		width int
		want  string
	}{
		{ps, 3, "▁▅█"},
		{ps, 10, "▁▅█"},
		{ps, 1, "█"},
		{nil, 5, ""},
		{[]leaks.Point{{}, {}}, 2, "▁▁"},
	} {
		if got := Sparkline(tc.ps, tc.width); got != tc.want {
			t.Errorf("Sparkline(%v, %d) = %q, want %q", tc.ps, tc.width, got, tc.want)
		}
	}
	for _, l := range wrap(strings.Repeat("word ", 40)+strings.Repeat("x", 100), 30) {
		if len(l) > 30 && strings.Contains(l, " ") {
			t.Errorf("wrap left %q", l)
		}
	}
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KB", 3 << 20: "3.0 MB", 5 << 30: "5.0 GB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}
