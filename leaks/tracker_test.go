package leaks

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/kdlaunch/kdlaunch/leaks/records"
	"github.com/kdlaunch/kdlaunch/stacks"
)

// kb returns an x64 kb stack whose culprit frame is drv.
func kb(drv string) string {
	return " # RetAddr           : Args to Child                                                           : Call Site\n" +
		"00 fffff801`d1f0a3b2 : 00000000`00000200 00000000`206b6444 00000000`00000001 00000000`00000000 : nt!MmAllocateSpecialPool\n" +
		"01 fffff801`d1e71a27 : ffffe001`d1182000 00000000`00000200 00000000`206b6444 00000000`00000000 : nt!ExAllocatePoolWithTag+0x4e\n" +
		"02 fffff801`d1e6f1c4 : ffffe001`d4776d20 00000000`00000000 ffffe001`d4776bc8 00000000`00000000 : " + drv + "\n"
}

func alloc(thread, size, ra uint64, drv string) string {
	s := fmt.Sprintf("Breakpoint 0 hit\nnt!MmAllocateSpecialPool:\nfffff801`d1efb1b0 48895c2410      mov     qword ptr [rsp+10h],rbx\nKDLK1 A %x %x 206b6444 %x\n", thread, size, ra)
	if drv != "" {
		s += kb(drv)
	}
	return s
}

func ret(thread, ra, addr uint64) string {
	return fmt.Sprintf("Breakpoint 2 hit\nnt!ExAllocatePoolWithTag+0x4e:\nfffff801`d1f0a3b2 4885c0 test rax,rax\nKDLK1 R %x %x %x\n", thread, ra, addr)
}

func free(thread, addr uint64) string {
	return fmt.Sprintf("Breakpoint 1 hit\nnt!MmFreeSpecialPool:\nfffff801`d1efc000 48895c2408 mov qword ptr [rsp+8],rbx\nKDLK1 F %x %x\n", thread, addr)
}

type want struct {
	allocs, frees, out, outBytes, unpaired, untracked int64
	perStack                                          map[string]int64 // culprit frame -> outstanding bytes
	check                                             func(Totals) bool
}

func TestTrackerBadInput(t *testing.T) {
	const ra, ra2 = 0xfffff801d1f0a3b2, 0xfffff801d1e71a27
	for _, tc := range []struct {
		name string
		log  string
		want want
	}{
		{"alloc, return, free", alloc(1, 0x100, ra, "a!A") + ret(1, ra, 0x5000) + free(1, 0x5000),
			want{allocs: 1, frees: 1, perStack: map[string]int64{"a!A": 0}}},
		{"a leak", alloc(1, 0x100, ra, "a!A") + ret(1, ra, 0x5000),
			want{allocs: 1, out: 1, outBytes: 0x100, perStack: map[string]int64{"a!A": 0x100}}},
		{"two CPUs through one call site, returns crossed",
			alloc(1, 0x100, ra, "a!A") + alloc(2, 0x200, ra, "b!B") + ret(2, ra, 0x6000) + ret(1, ra, 0x5000) + free(3, 0x6000),
			want{allocs: 2, frees: 1, out: 1, outBytes: 0x100, perStack: map[string]int64{"a!A": 0x100, "b!B": 0}}},
		{"log cut mid-record", alloc(1, 0x100, ra, "a!A") + ret(1, ra, 0x5000) + alloc(1, 0x300, ra, "a!A") + "KDLK1 R 1 fffff801d1f0a3b2 60", // "600" cut short
			want{allocs: 2, out: 1, outBytes: 0x100, unpaired: 1, check: func(t Totals) bool { return t.BadRecords == 1 && t.CutReturns == 1 }}},
		{"log cut mid-stack", alloc(1, 0x100, ra, "a!A") + ret(1, ra, 0x5000) + alloc(2, 0x300, ra, "") + " # RetAddr : Args to Child : Call Site\n00 fffff801`d1f0a3b2 : 00000000`00000200 000",
			want{allocs: 2, out: 1, outBytes: 0x100, unpaired: 1}},
		{"record without a stack", alloc(1, 0x100, ra, "") + ret(1, ra, 0x5000),
			want{allocs: 1, out: 1, outBytes: 0x100, perStack: map[string]int64{NoStack: 0x100}, check: func(t Totals) bool { return t.NoStack == 1 }}},
		{"free of an unknown address", free(1, 0x7000) + alloc(1, 0x100, ra, "a!A") + ret(1, ra, 0x5000),
			want{allocs: 1, out: 1, outBytes: 0x100, untracked: 1}},
		{"double free", alloc(1, 0x100, ra, "a!A") + ret(1, ra, 0x5000) + free(1, 0x5000) + free(1, 0x5000),
			want{allocs: 1, frees: 1, untracked: 1}},
		{"address reused after a free", alloc(1, 0x100, ra, "a!A") + ret(1, ra, 0x5000) + free(1, 0x5000) + alloc(1, 0x80, ra, "b!B") + ret(1, ra, 0x5000),
			want{allocs: 2, frees: 1, out: 1, outBytes: 0x80, perStack: map[string]int64{"a!A": 0, "b!B": 0x80}}},
		{"address allocated again without a free", alloc(1, 0x100, ra, "a!A") + ret(1, ra, 0x5000) + alloc(1, 0x80, ra, "b!B") + ret(1, ra, 0x5000),
			want{allocs: 2, frees: 1, out: 1, outBytes: 0x80, perStack: map[string]int64{"a!A": 0, "b!B": 0x80}, check: func(t Totals) bool { return t.InferredFrees == 1 }}},
		{"a lost return", alloc(1, 0x100, ra, "a!A") + alloc(1, 0x200, ra, "a!A") + ret(1, ra, 0x5000),
			want{allocs: 2, out: 1, outBytes: 0x200, unpaired: 1, check: func(t Totals) bool { return t.LostReturns == 1 }}},
		{"NULL returned", alloc(1, 0x100, ra, "a!A") + ret(1, ra, 0),
			want{allocs: 1, unpaired: 1, check: func(t Totals) bool { return t.NullReturns == 1 }}},
		{"a return without its allocation", ret(1, ra, 0x5000) + free(1, 0x5000),
			want{untracked: 1, check: func(t Totals) bool { return t.OrphanReturns == 1 }}},
		{"nested allocation on one thread, other call site", alloc(1, 0x100, ra, "a!A") + alloc(1, 0x40, ra2, "b!B") + ret(1, ra2, 0x6000) + ret(1, ra, 0x5000),
			want{allocs: 2, out: 2, outBytes: 0x140, perStack: map[string]int64{"a!A": 0x100, "b!B": 0x40}}},
		{"glued DbgPrint and CRLF", strings.ReplaceAll(alloc(1, 0x100, ra, "a!A")+"usbcam: frame queued"+ret(1, ra, 0x5000), "\n", "\r\n"),
			want{allocs: 1, out: 1, outBytes: 0x100, perStack: map[string]int64{"a!A": 0x100}}},
		{"the echo of the recipe is not a record", `0: kd> bp1 nt!MmFreeSpecialPool ".printf \"KDLK1 F %p %p\\n\", @$thread, @rcx; g"` + "\n" + alloc(1, 0x100, ra, "a!A") + ret(1, ra, 0x5000),
			want{allocs: 1, out: 1, outBytes: 0x100, check: func(t Totals) bool { return t.BadRecords == 0 }}},
		{"a target reboot", alloc(1, 0x100, ra, "a!A") + ret(1, ra, 0x5000) + alloc(2, 0x10, ra, "a!A") + "KDLK1 Z\n" + alloc(1, 0x80, ra, "b!B") + ret(1, ra, 0x5000) + free(1, 0x5000),
			want{allocs: 3, frees: 1, out: 1, outBytes: 0x100, unpaired: 1, perStack: map[string]int64{"a!A": 0x100, "b!B": 0}, check: func(t Totals) bool { return t.Reboots == 1 && t.InferredFrees == 0 }}},
		{"a log from another architecture", "KDLK1 H x64 mm-special-pool\n" + alloc(1, 0x100, ra, "a!A") + ret(1, ra, 0x5000) + "KDLK1 H x86 mm-special-pool\n" + alloc(0x86a1c020, 0x20, 0x82a1c3a5, "c!C") + ret(0x86a1c020, 0x82a1c3a5, 0x9a001e40),
			want{allocs: 2, out: 2, outBytes: 0x120, check: func(t Totals) bool { return t.ArchChanges == 1 }}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewTracker()
			if _, err := Scan(strings.NewReader(tc.log), tr); err != nil {
				t.Fatal(err)
			}
			res := tr.Result()
			tt := res.Totals
			w := tc.want
			if tt.Allocs != w.allocs || tt.Frees != w.frees || tt.Outstanding != w.out || tt.OutstandingBytes != w.outBytes || tt.Unpaired != w.unpaired || tt.FreesUntracked != w.untracked {
				t.Errorf("totals %+v\nwant allocs %d frees %d outstanding %d (%d bytes) unpaired %d untracked %d", tt, w.allocs, w.frees, w.out, w.outBytes, w.unpaired, w.untracked)
			}
			if !tt.Reconciled() {
				t.Errorf("totals do not reconcile: %+v", tt)
			}
			for culprit, b := range w.perStack {
				found := false
				for _, s := range res.Stacks {
					if s.Frames[len(s.Frames)-1] == culprit {
						found = true
						if s.OutstandingBytes != b {
							t.Errorf("%s: %d bytes outstanding, want %d", culprit, s.OutstandingBytes, b)
						}
					}
				}
				if !found {
					t.Errorf("no stack ending in %s: %+v", culprit, res.Stacks)
				}
			}
			if w.check != nil && !w.check(tt) {
				t.Errorf("check failed: %+v", tt)
			}
		})
	}
}

func TestShape(t *testing.T) {
	series := func(f func(i int) int64) []Point {
		var ps []Point
		for i := 0; i < 40; i++ {
			ps = append(ps, Point{Allocs: int64(i), OutstandingBytes: f(i)})
		}
		return ps
	}
	for _, tc := range []struct {
		name string
		ps   []Point
		want string
	}{
		{"empty", nil, ShapeNone},
		{"all freed", series(func(i int) int64 { return int64(i%3) * 10 * int64(1-i/39) }), ShapeNone},
		{"steady", series(func(i int) int64 { return int64(i) * 100 }), ShapeSteady},
		{"burst", series(func(i int) int64 {
			if i < 20 {
				return 10
			}
			return 5000
		}), ShapeBurst},
		{"burst then steady churn", series(func(i int) int64 {
			if i < 10 {
				return int64(i)
			}
			return 4000 + int64(i%2)*50
		}), ShapeBurst},
	} {
		if got := Shape(tc.ps); got != tc.want {
			t.Errorf("%s: Shape = %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestGrowthBounded(t *testing.T) {
	tr := NewTracker()
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	for i := uint64(0); i < 100000; i++ {
		at := t0.Add(time.Duration(i) * time.Second)
		tr.Add(records.Record{Kind: records.KindAlloc, Thread: 1, Size: 16, RA: 2}, at)
		tr.Add(records.Record{Kind: records.KindReturn, Thread: 1, RA: 2, Addr: 0x1000 + i*16}, at)
	}
	g := tr.Result().Growth
	if len(g.ByAllocs) > MaxPoints+1 || len(g.ByMinute) > MaxPoints+1 {
		t.Fatalf("%d and %d points, want at most %d", len(g.ByAllocs), len(g.ByMinute), MaxPoints+1)
	}
	last := g.ByAllocs[len(g.ByAllocs)-1]
	if last.Allocs != 100000 || last.OutstandingBytes != 1600000 {
		t.Errorf("last point %+v", last)
	}
	for i := 1; i < len(g.ByAllocs); i++ {
		if g.ByAllocs[i].Allocs-g.ByAllocs[i-1].Allocs != g.Every && i < len(g.ByAllocs)-1 {
			t.Fatalf("uneven steps at %d: %+v", i, g.ByAllocs[i-1:i+1])
		}
	}
	if g.MinuteStep*float64(len(g.ByMinute)) > 100000/60+2*g.MinuteStep || g.Shape != ShapeSteady {
		t.Errorf("minutes: step %g, %d points, shape %s", g.MinuteStep, len(g.ByMinute), g.Shape)
	}
}

// outstandingMemory measures the heap per outstanding allocation.
func outstandingMemory(n int) float64 {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	tr := NewTracker()
	st := stacks.Stack{Frames: []string{"nt!MmAllocateSpecialPool", "a!A"}}
	for i := 0; i < n; i++ {
		tr.Add(records.Record{Kind: records.KindAlloc, Thread: uint64(i % 8), Size: 0x100, RA: 2}, time.Time{})
		tr.Stack(st)
		tr.Add(records.Record{Kind: records.KindReturn, Thread: uint64(i % 8), RA: 2, Addr: 0xffffe00200000000 + uint64(i)*0x2000}, time.Time{})
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if tr.Outstanding() != n {
		panic("lost allocations")
	}
	runtime.KeepAlive(tr)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
}

// At most ~150 bytes per outstanding allocation (1 M under 150 MB).
func TestMemoryPerOutstanding(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 200k outstanding allocations")
	}
	if b := outstandingMemory(200000); b > 150 {
		t.Errorf("%.0f bytes per outstanding allocation, want at most 150", b)
	}
}

func BenchmarkOutstanding1M(b *testing.B) {
	for b.Loop() {
		b.ReportMetric(outstandingMemory(1<<20), "bytes/outstanding")
	}
}

func TestTrackerLive(t *testing.T) {
	tr := NewTracker()
	add := func(line string) {
		rec, ok := records.Parse([]byte(line))
		if !ok {
			t.Fatalf("not a record: %q", line)
		}
		tr.Add(rec, time.Time{})
	}
	add("KDLK1 A 1 100 206b6444 fffff80000001000")
	add("KDLK1 R 1 fffff80000001000 ffffa00000001000")
	add("KDLK1 A 1 40 206b6444 fffff80000001000")
	add("KDLK1 R 1 fffff80000001000 ffffa00000002000")
	if c, b := tr.Live(); c != 2 || b != 0x140 {
		t.Fatalf("Live = %d, %d; want 2, 320", c, b)
	}
	add("KDLK1 F 1 ffffa00000001000")
	if c, b := tr.Live(); c != 1 || b != 0x40 {
		t.Fatalf("after a free: Live = %d, %d; want 1, 64", c, b)
	}
	add("KDLK1 Z")
	if c, b := tr.Live(); c != 0 || b != 0 {
		t.Fatalf("after a reboot: Live = %d, %d; want 0, 0", c, b)
	}
	if r := tr.Result(); r.Totals.Outstanding != 1 {
		t.Fatalf("the totals forgot the earlier boot: %+v", r.Totals)
	}
}
