//go:build !windows

package kdalike

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kdlaunch/kdlaunch/leaks"
	"github.com/kdlaunch/kdlaunch/leaks/records"
)

var (
	newSite    = regexp.MustCompile("KDLK1 N ([0-9a-f`]+)\r?\n")
	allocRecRE = regexp.MustCompile("KDLK1 A [0-9a-f]")
)

// recipeRun types the leak recipe into kdalike as kdlaunch would (header,
// free and entry breakpoints, g; at each halt for a new return site its
// breakpoint, the entry breakpoint again with the longer list, or bs, and
// g) until stopAt allocations were tracked or the workload is done, then
// breaks in and returns kd's log and the state.
func recipeRun(t *testing.T, arch records.Arch, family records.Family, env map[string]string, useBs bool, stopAt int) (string, State) {
	t.Helper()
	log := filepath.Join(t.TempDir(), "debug.log")
	full := map[string]string{"KDA_LEAKS": "1", "KDA_HIT_INTERVAL": "0s", "KDA_ARCH": string(arch),
		"_NT_DEBUG_LOG_FILE_OPEN": log}
	if family == records.FamilySegmentHeap {
		full["KDA_KERNEL"] = "segment-heap"
	}
	for k, v := range env {
		full[k] = v
	}
	p := startKD(t, full)
	p.breakIn()
	r, err := records.NewRecipe(arch, family)
	if err != nil {
		t.Fatal(err)
	}
	typed := func(l string) string {
		t.Helper()
		p.send(l)
		return p.prompt()
	}
	arm := func(first bool) {
		t.Helper()
		if first {
			typed(r.Header())
		} else {
			typed(r.Reboot())
		}
		typed(r.FreeBreakpoint(1))
		entry, err := r.EntryBreakpoint(0, nil)
		if err != nil {
			t.Fatal(err)
		}
		typed(entry)
		p.send("g")
	}
	arm(true)
	var known []uint64
	deadline := time.Now().Add(30 * time.Second)
	for {
		out := p.text()[p.pos:]
		i := strings.Index(out, "kd> ")
		if j := strings.Index(out, "Shutdown occurred at"); j >= 0 && (i < 0 || j < i) {
			// Rebooted: breakpoints lost, return sites found afresh.
			p.pos += j + 1
			p.breakIn()
			known = nil
			arm(false)
			continue
		}
		if i >= 0 {
			seg := out[:i+4]
			p.pos += len(seg)
			m := newSite.FindStringSubmatch(seg)
			if m == nil {
				t.Fatalf("halted without a new-site record:\n%s", seg)
			}
			ra, err := strconv.ParseUint(strings.ReplaceAll(m[1], "`", ""), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			known = append(known, ra)
			typed(r.ReturnBreakpoint(1+len(known), ra))
			entry, err := r.EntryBreakpoint(0, known)
			if err != nil {
				t.Fatal(err)
			}
			if useBs {
				typed("bs 0 " + entry[strings.Index(entry, `"`):])
			} else if seg := typed(entry); !strings.Contains(seg, "breakpoint 0 redefined") {
				t.Errorf("redefining the entry breakpoint answered %q", seg)
			}
			p.send("g")
			continue
		}
		if b, err := os.ReadFile(p.state); err == nil {
			var st State
			if json.Unmarshal(b, &st) == nil && st.Leak != nil && (st.Leak.Done || stopAt > 0 && st.Leak.Tracked >= stopAt) && st.Target == "running" {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the workload never finished; after the cursor:\n%s", out)
		}
		time.Sleep(2 * time.Millisecond)
	}
	p.brk()
	p.expect("Break instruction exception")
	p.prompt()
	st := p.st()
	typed("bl")
	typed("!poolused 2 Ddk")
	typed("bc *")
	p.send("g")
	p.send("\x02")
	<-p.done
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	if len(known) == 0 {
		t.Fatal("no return site was discovered")
	}
	return string(data), st
}

func driver(frames []string) string {
	for _, f := range frames {
		if !strings.HasPrefix(f, "nt!") {
			return f
		}
	}
	return "(none)"
}

type outstanding struct{ n, bytes int64 }

// againstTruth pairs kdalike's log with package leaks and compares the
// outstanding allocations per stack with kdalike's truth.
func againstTruth(t *testing.T, log string, st State) leaks.Result {
	t.Helper()
	tr := leaks.NewTracker()
	if _, err := leaks.Scan(strings.NewReader(log), tr); err != nil {
		t.Fatal(err)
	}
	res := tr.Result()
	got, want := map[string]outstanding{}, map[string]outstanding{}
	for _, s := range res.Stacks {
		if s.OutstandingCount > 0 {
			o := got[driver(s.Frames)]
			got[driver(s.Frames)] = outstanding{o.n + s.OutstandingCount, o.bytes + s.OutstandingBytes}
		}
	}
	for _, a := range append(append([]LeakAlloc{}, st.Leak.Outstanding...), st.Leak.BeforeReboot...) {
		if a.Tracked && a.Returned {
			o := want[a.Stack]
			want[a.Stack] = outstanding{o.n + 1, o.bytes + int64(a.Size)}
		}
	}
	if fmt.Sprint(keys(got)) != fmt.Sprint(keys(want)) {
		t.Errorf("stacks with outstanding allocations: report %v, truth %v", got, want)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: report %+v, truth %+v", k, got[k], w)
		}
	}
	tot := res.Totals
	if !tot.Reconciled() || tot.BadRecords != 0 {
		t.Errorf("totals %+v", tot)
	}
	if tot.Allocs != int64(st.Leak.Tracked) || tot.Unpaired != int64(st.Leak.Tracked-st.Leak.Returned) {
		t.Errorf("report: %d allocations, %d unpaired; truth: %d tracked, %d returned", tot.Allocs, tot.Unpaired, st.Leak.Tracked, st.Leak.Returned)
	}
	if tot.Frees+tot.FreesUntracked != int64(st.Leak.FreesSeen) {
		t.Errorf("report: %d frees + %d untracked; kd halted for %d", tot.Frees, tot.FreesUntracked, st.Leak.FreesSeen)
	}
	return res
}

func keys(m map[string]outstanding) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestLeakRecipe(t *testing.T) {
	cases := []struct {
		name   string
		arch   records.Arch
		family records.Family
		useBs  bool
		stopAt int
	}{
		{"x64 legacy", records.ArchX64, records.FamilyLegacy, false, 0},
		{"x64 segment heap", records.ArchX64, records.FamilySegmentHeap, true, 0},
		{"x86 legacy", records.ArchX86, records.FamilyLegacy, false, 0},
		{"x64 legacy mid-run", records.ArchX64, records.FamilyLegacy, true, 120},
		{"x86 legacy mid-run", records.ArchX86, records.FamilyLegacy, false, 120},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if i > 0 && testing.Short() {
				t.Skip("-short runs the first case only")
			}
			log, st := recipeRun(t, tc.arch, tc.family, map[string]string{"KDA_LEAK_ALLOCS": "240"}, tc.useBs, tc.stopAt)
			res := againstTruth(t, log, st)
			l := st.Leak
			if l.Prearmed == 0 || l.PreFreed == 0 || res.Totals.FreesUntracked == 0 {
				t.Errorf("frees from before arming: %d prearmed, %d freed, %d untracked", l.Prearmed, l.PreFreed, res.Totals.FreesUntracked)
			}
			if l.MaxInFlight < 2 || l.Reused == 0 {
				t.Errorf("at most %d threads inside the allocator at once, %d addresses reused", l.MaxInFlight, l.Reused)
			}
			// 2 halts per tracked allocation, 1 per free.
			if l.HaltsEntry != l.Tracked || l.HaltsReturn != l.Returned || l.HaltsFree != l.FreesSeen || l.HaltsFiltered != 0 {
				t.Errorf("halts: %d entry, %d return, %d free, %d filtered for %d tracked, %d returned, %d frees",
					l.HaltsEntry, l.HaltsReturn, l.HaltsFree, l.HaltsFiltered, l.Tracked, l.Returned, l.FreesSeen)
			}
			if n := len(allocRecRE.FindAllString(log, -1)); n != l.Tracked {
				t.Errorf("%d allocation records for %d tracked allocations", n, l.Tracked)
			}
			if tc.stopAt == 0 && l.Tracked != 240 {
				t.Errorf("tracked %d of 240", l.Tracked)
			}
			if res.Arch != tc.arch || res.Family != tc.family {
				t.Errorf("report's header: %s %s", res.Arch, res.Family)
			}
			var leaker int64
			for _, s := range res.Stacks {
				if driver(s.Frames) == "Ddkleak!LeakAllocate+0x1c" {
					leaker += s.OutstandingCount
					if s.FreeCount != 0 {
						t.Errorf("the leaker freed %d", s.FreeCount)
					}
				}
			}
			if leaker == 0 {
				t.Error("the leaker has nothing outstanding")
			}
		})
	}
}

// A reboot mid-run: re-armed with the reboot record; what was outstanding
// before it stays outstanding, as in the truth.
func TestLeakRecipeReboot(t *testing.T) {
	log, st := recipeRun(t, records.ArchX86, records.FamilyLegacy, map[string]string{"KDA_LEAK_ALLOCS": "150",
		"KDA_REBOOT_AFTER_HITS": "120", "KDA_REBOOT_DOWN": "20ms"}, false, 0)
	res := againstTruth(t, log, st)
	if st.Reboots != 1 || st.Leak.Boots != 2 || len(st.Leak.BeforeReboot) == 0 || res.Totals.Reboots == 0 {
		t.Errorf("%d reboots, %d boots, %d outstanding before, %d reboot records", st.Reboots, st.Leak.Boots, len(st.Leak.BeforeReboot), res.Totals.Reboots)
	}
}

// A lost return (KDA_LOSE_RETURN) is unpaired in the report, never
// outstanding, though the truth still has the allocation outstanding.
func TestLeakRecipeLostReturn(t *testing.T) {
	log, st := recipeRun(t, records.ArchX64, records.FamilyLegacy, map[string]string{"KDA_LEAK_ALLOCS": "150", "KDA_LOSE_RETURN": "5"}, false, 0)
	res := againstTruth(t, log, st)
	if st.Leak.LostReturns == 0 || res.Totals.Unpaired != int64(st.Leak.LostReturns) {
		t.Errorf("%d lost returns, %d unpaired", st.Leak.LostReturns, res.Totals.Unpaired)
	}
	lost := 0
	for _, a := range st.Leak.Outstanding {
		if a.Tracked && !a.Returned {
			lost++
		}
	}
	if lost == 0 {
		t.Error("no lost return belongs to an allocation still outstanding: the case shows nothing")
	}
}

// The recipe's commands typed at a prompt, as kd answers them.
func TestLeakCommandsAtThePrompt(t *testing.T) {
	p := startKD(t, map[string]string{"KDA_LEAKS": "1"})
	p.breakIn()
	tests := []struct{ cmd, want string }{
		{`.printf "T %p %x %d\n", @$thread, 0n255, -1`, "T ffffb30e`4b0c1080 ff -1\n"},
		{"? (1 + 2) * 3", "Evaluate expression: 9 = 00000000`00000009\n"},
		{".if (@$ptrsize == 8) {.echo wide} .else {.echo narrow}", "wide\n"},
		{"j (0) '.echo yes' ; '.echo no'", "no\n"},
		{`bp /t @$thread 0xfffff8011e8eae0d "g"`, ""},
		{`bl`, " 0 e Disable Clear  fffff801`1e8eae0d     0001 (0001) nt!ExAllocatePoolWithTag+0x5d  Match thread data ffffb30e4b0c1080 \"g\"\n"},
		{`bp 0xfffff8011e8eae0d "kb; g"`, "breakpoint 0 redefined\n"},
		{`bs 7 "g"`, "Breakpoint 7 does not exist\n"},
		{`.printf "%x\n", poi(0)`, "Memory access error at ' poi(0)'\n"},
	}
	for _, tt := range tests {
		p.send(tt.cmd)
		seg := p.prompt()
		if got := seg[:strings.LastIndex(seg, "\n")+1]; got != tt.want && !(tt.want == "" && !strings.Contains(seg, "\n")) {
			t.Errorf("%s:\ngot  %q\nwant %q", tt.cmd, seg, tt.want)
		}
	}
	for i := 1; i < 32; i++ {
		p.send(fmt.Sprintf("bp 0x%x", 0xfffff8016a000000+uint64(i)*0x10))
		p.prompt()
	}
	p.send("bp 0xfffff8016b000000")
	if seg := p.prompt(); !strings.Contains(seg, "No more breakpoints available") {
		t.Errorf("a 33rd breakpoint: %q", seg)
	}
	if st := p.st(); len(st.Breakpoints) != 32 {
		t.Errorf("%d breakpoints", len(st.Breakpoints))
	}
}

// The one-shot, thread-bound return breakpoint set from the entry
// breakpoint (two levels of quoting) loses returns when threads allocate
// through one call site at once; the report keeps them unpaired.
func TestLeakOneShotIdiom(t *testing.T) {
	log := filepath.Join(t.TempDir(), "debug.log")
	p := startKD(t, map[string]string{"KDA_LEAKS": "1", "KDA_HIT_INTERVAL": "0s", "KDA_LEAK_ALLOCS": "150",
		"KDA_LEAK_THREADS": "5", "_NT_DEBUG_LOG_FILE_OPEN": log})
	p.breakIn()
	r, _ := records.NewRecipe(records.ArchX64, records.FamilyLegacy)
	ret := `.printf "KDLK1 R %p %p %p\n", @$thread, @$ip, @rax; g`
	entry := `.printf "KDLK1 A %p %I64x %x %p\n", @$thread, @rcx, @edx, @$ra; kb; bp /1 /t @$thread @$ra ` + records.Quote(ret) + `; g`
	for _, l := range []string{r.Header(), r.FreeBreakpoint(1), "bp0 nt!MmAllocateSpecialPool " + records.Quote(entry)} {
		p.send(l)
		p.prompt()
	}
	p.send("g")
	p.waitSt("done", func(s State) bool { return s.Leak != nil && s.Leak.Done })
	p.brk()
	p.prompt()
	st := p.st()
	p.send("bc *")
	p.prompt()
	p.send("g")
	p.send("\x02")
	<-p.done
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	res := againstTruth(t, string(data), st)
	if res.Totals.LostReturns == 0 || st.Leak.HaltsFiltered == 0 {
		t.Errorf("nothing lost: %d lost returns, %d filtered halts", res.Totals.LostReturns, st.Leak.HaltsFiltered)
	}
}
