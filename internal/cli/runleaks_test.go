package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/kdlaunch/kdlaunch/launcher"
	"github.com/kdlaunch/kdlaunch/report"
)

func TestRunDryRunLeaks(t *testing.T) {
	log := filepath.Join(t.TempDir(), "debug.log")
	code, out, stderr := runMain(t, "run", "--dry-run", "--kd", fakeKD(t), "--tag", "Ddk", "--strategy", "leaks", "--server", "none", "--log", log)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"x nt!ExAllocateHeapSpecialPool", ".echo KDLK1 H x64 mm-special-pool", `bp1 nt!MmFreeSpecialPool ".printf`,
		"bp2 0xfffff8021d61c3a5", ".if ((@$ra == 0xfffff8021d61c3a5))", "!poolused 2 Ddk"} {
		if !strings.Contains(out, want) {
			t.Errorf("the dry run does not show %q:\n%s", want, out)
		}
	}
	// bc * comes before the cross-check, the cross-check before the g.
	stop := out[strings.Index(out, "typed to stop safely:"):]
	if b, p, g := strings.Index(stop, "bc *"), strings.Index(stop, "!poolused"), strings.Index(stop, ". g"); !(b < p && p < g) {
		t.Errorf("stop order wrong:\n%s", stop)
	}
	wantOneLine(t, []string{"run", "--dry-run", "--kd", fakeKD(t), "--strategy", "leaks", "--log", log}, "needs a tag")
	wantOneLine(t, []string{"run", "--dry-run", "--kd", fakeKD(t), "--tag", "Ddk", "--strategy", "leak", "--log", log}, "leaks")
}

func leakStack(culprit string, allocs, frees, out, unpaired, size int64) report.LeakStack {
	return report.LeakStack{Count: allocs, AllocCount: allocs, AllocBytes: allocs * size, FreeCount: frees, FreeBytes: frees * size,
		OutstandingCount: out, OutstandingBytes: out * size, UnpairedAllocs: unpaired, Culprit: culprit, Percent: 0}
}

func TestLeakSummaryLines(t *testing.T) {
	busy := leakStack("netfltx!FilterReceive+0x1b2", 120, 118, 2, 0, 256)
	busy.Percent = 80
	leaker := leakStack("leakydrv!LeakyAllocateBuffer+0x2c", 30, 0, 29, 1, 1024)
	leaker.Percent = 20
	r := &report.LeakReport{AllocCount: 150, AllocBytes: 120*256 + 30*1024, FreeCount: 118, FreeBytes: 118 * 256,
		OutstandingCount: 31, OutstandingBytes: 2*256 + 29*1024, UnpairedAllocs: 1, FreesUntracked: 4, Reconciled: true,
		Stacks: []report.LeakStack{leaker, busy}}
	lr := leakRun{Report: r, LiveCount: 31, LiveBytes: 2*256 + 29*1024}
	poolused := " Ddk        37    36352         0        0UNKNOWN pooltag 'Ddk ', please update pooltag.txt"
	for _, tc := range []struct {
		name     string
		halts    launcher.LeakHalts
		poolused string
		want     []string
	}{
		{"the leaker by bytes, the busy driver by count", launcher.LeakHalts{Entry: 150, Return: 149, Free: 122}, poolused, []string{
			"  leaker:   leakydrv!LeakyAllocateBuffer+0x2c (module leakydrv): 29 allocations outstanding (29.0 KB) of 31 allocations (29.5 KB)",
			"  by count: netfltx!FilterReceive+0x1b2 allocates most: 120 of 150 allocations (80%), 2 outstanding",
			"  totals:   150 allocated (60.0 KB) = 118 freed + 31 outstanding + 1 unpaired; 4 frees of allocations made before tracking",
			"  halts:    1.99 per tracked allocation (150 at the allocator, 149 at its return sites), 1.00 per free (122 halts, 122 frees)",
			"  kd:       !poolused Ddk: 37 outstanding (35.5 KB); kdlaunch tracked 31 (29.5 KB) this boot: kd counts 6 more (6.0 KB): allocations made before tracking began or while nothing was armed (a reboot, a kd restart), 1 unpaired allocation whose return was lost, and the tag's allocations outside special pool (larger than a page, or once special pool is full) count in kd's figure only",
		}},
		{"no cross-check asked, no halts counted", launcher.LeakHalts{}, "", []string{
			"  leaker:   leakydrv!LeakyAllocateBuffer+0x2c (module leakydrv): 29 allocations outstanding (29.0 KB) of 31 allocations (29.5 KB)",
			"  by count: netfltx!FilterReceive+0x1b2 allocates most: 120 of 150 allocations (80%), 2 outstanding",
			"  totals:   150 allocated (60.0 KB) = 118 freed + 31 outstanding + 1 unpaired; 4 frees of allocations made before tracking",
		}},
		{"kd could not count the tag", launcher.LeakHalts{}, "unable to get PoolTrackTable", []string{
			"  leaker:   leakydrv!LeakyAllocateBuffer+0x2c (module leakydrv): 29 allocations outstanding (29.0 KB) of 31 allocations (29.5 KB)",
			"  by count: netfltx!FilterReceive+0x1b2 allocates most: 120 of 150 allocations (80%), 2 outstanding",
			"  totals:   150 allocated (60.0 KB) = 118 freed + 31 outstanding + 1 unpaired; 4 frees of allocations made before tracking",
			`  kd:       no cross-check: !poolused printed no line for tag "Ddk" (kd: "unable to get PoolTrackTable"); kdlaunch tracked 31 outstanding (29.5 KB)`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := leakSummaryLines(lr, tc.halts, tc.poolused, "Ddk")
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestCrossCheckLine(t *testing.T) {
	r := &report.LeakReport{Reconciled: true}
	for _, tc := range []struct {
		name     string
		live     int64
		poolused string
		want     string
	}{
		{"the same", 3, " Ddk         3      300         0        0", ": the same"},
		{"kd counts more", 1, " Ddk         3      300         0        0", ": kd counts 2 more (200 B)"},
		{"kdlaunch counts more", 4, " Ddk         3      300         0        0", ": kdlaunch counts 1 more (100 B): frees kd made while nothing was armed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := crossCheckLine(leakRun{Report: r, LiveCount: tc.live, LiveBytes: tc.live * 100}, tc.poolused, "Ddk")
			if !strings.Contains(got, tc.want) {
				t.Errorf("%q does not say %q", got, tc.want)
			}
		})
	}
}
