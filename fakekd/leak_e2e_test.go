package fakekd

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

// newSiteRE finds the recipe's new-return-site record before a prompt.
var allocRecordRE = regexp.MustCompile(`KDLK1 A [0-9a-f]`)

var newSiteRE = regexp.MustCompile(`KDLK1 N ([0-9a-f` + "`" + `]+)\r?\n`)

// runRecipe drives the fake as kdlaunch would with the leak recipe: break
// in, type the header, the free and entry breakpoints and g; at every
// halt the entry breakpoint leaves for a new return site, add that site's
// breakpoint, redefine the entry breakpoint with the longer list (bs when
// useBs), and g; once stopAt allocations were tracked (0: when the
// workload is done), break in. It returns the log and the state at that
// last halt.
func runRecipe(t *testing.T, arch records.Arch, family records.Family, env map[string]string, useBs bool, stopAt int) (string, State) {
	t.Helper()
	log := filepath.Join(t.TempDir(), "debug.log")
	full := map[string]string{"FAKEKD_LEAKS": "1", "FAKEKD_FLOOD": "1", "FAKEKD_ARCH": string(arch)}
	if family == records.FamilySegmentHeap {
		full["FAKEKD_KERNEL"] = "segment-heap"
	}
	for k, v := range env {
		full[k] = v
	}
	s := connectedSession(t, full, "-k", "com:port=com1,baud=115200", "-logo", log)
	s.breakIn()
	r, err := records.NewRecipe(arch, family)
	if err != nil {
		t.Fatal(err)
	}
	typeLine := func(l string) {
		t.Helper()
		s.send(l + "\r\n")
		s.expectPrompt()
	}
	arm := func(first bool) {
		t.Helper()
		if first {
			typeLine(r.Header())
		} else {
			typeLine(r.Reboot())
		}
		typeLine(r.FreeBreakpoint(1))
		entry, err := r.EntryBreakpoint(0, nil)
		if err != nil {
			t.Fatal(err)
		}
		typeLine(entry)
		s.send("g\r\n")
	}
	arm(true)
	var known []uint64
	reboots := 0
	deadline := time.Now().Add(20 * time.Second)
	for {
		out := s.out.String()[s.pos:]
		i := strings.Index(out, "kd> ")
		if j := strings.Index(out, "Shutdown occurred at"); j >= 0 && (i < 0 || j < i) {
			// The target rebooted: its breakpoints are gone, return sites
			// are found afresh (they move with each boot on a real one).
			s.pos += j + 1
			s.expect(uptimeLine)
			s.breakIn()
			known = nil
			reboots++
			arm(false)
			continue
		}
		if i >= 0 {
			seg := out[:i+len("kd> ")]
			s.pos += len(seg)
			m := newSiteRE.FindStringSubmatch(seg)
			if m == nil {
				t.Fatalf("halted without a new-site record:\n%s", seg)
			}
			ra, err := strconv.ParseUint(strings.ReplaceAll(m[1], "`", ""), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			known = append(known, ra)
			typeLine(r.ReturnBreakpoint(1+len(known), ra))
			entry, err := r.EntryBreakpoint(0, known)
			if err != nil {
				t.Fatal(err)
			}
			if useBs {
				// bs 0 "commands": the same command string, by bs.
				typeLine("bs 0 " + entry[strings.Index(entry, `"`):])
			} else {
				s.send(entry + "\r\n")
				s.expect("breakpoint 0 redefined")
				s.expectPrompt()
			}
			s.send("g\r\n")
			continue
		}
		if st, err := readState(s.statePath); err == nil && st.Leak != nil && (st.Leak.Done || stopAt > 0 && st.Leak.Tracked >= stopAt) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the workload never finished; output after the cursor:\n%s", out)
		}
		time.Sleep(2 * time.Millisecond)
	}
	s.breakIn()
	st := s.state()
	typeLine("bl")
	s.send("bc *\r\n")
	s.expectPrompt()
	s.send("g\r\n")
	s.send("\x02\r\n")
	s.wait()
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	if len(known) == 0 {
		t.Fatal("no return site was ever discovered")
	}
	if reboots != st.Reboots || st.Leak.Boots != reboots+1 {
		t.Errorf("%d reboots seen, state has %d and %d boots", reboots, st.Reboots, st.Leak.Boots)
	}
	return string(data), st
}

func readState(path string) (State, error) {
	var st State
	data, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(data, &st)
	}
	return st, err
}

// driverFrame is the first frame of a stack outside the kernel: the
// allocating driver's, as the truth names it.
func driverFrame(frames []string) string {
	for _, f := range frames {
		if !strings.HasPrefix(f, "nt!") {
			return f
		}
	}
	return "(none)"
}

type perStack struct{ count, bytes int64 }

// checkAgainstTruth pairs the log with the leaks package and compares its
// outstanding allocations per stack with the fake's truth.
func checkAgainstTruth(t *testing.T, log string, st State) leaks.Result {
	t.Helper()
	tr := leaks.NewTracker()
	if _, err := leaks.Scan(strings.NewReader(log), tr); err != nil {
		t.Fatal(err)
	}
	res := tr.Result()
	got := map[string]perStack{}
	for _, s := range res.Stacks {
		if s.OutstandingCount == 0 {
			continue
		}
		p := got[driverFrame(s.Frames)]
		got[driverFrame(s.Frames)] = perStack{p.count + s.OutstandingCount, p.bytes + s.OutstandingBytes}
	}
	want := map[string]perStack{}
	for _, a := range append(append([]LeakAlloc{}, st.Leak.Outstanding...), st.Leak.BeforeReboot...) {
		if a.Tracked && a.Returned {
			p := want[a.Stack]
			want[a.Stack] = perStack{p.count + 1, p.bytes + int64(a.Size)}
		}
	}
	if fmt.Sprint(sortedKeys(got)) != fmt.Sprint(sortedKeys(want)) {
		t.Errorf("outstanding stacks: report %v, truth %v", got, want)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("stack %s: report outstanding %d (%d bytes), truth %d (%d bytes)", k, got[k].count, got[k].bytes, w.count, w.bytes)
		}
	}
	tot := res.Totals
	if !tot.Reconciled() {
		t.Errorf("totals do not reconcile: %+v", tot)
	}
	if tot.Unpaired != int64(st.Leak.Tracked-st.Leak.Returned) {
		t.Errorf("unpaired %d, truth %d tracked - %d returned", tot.Unpaired, st.Leak.Tracked, st.Leak.Returned)
	}
	if tot.Allocs != int64(st.Leak.Tracked) {
		t.Errorf("report counts %d allocations, the fake tracked %d", tot.Allocs, st.Leak.Tracked)
	}
	if tot.Frees+tot.FreesUntracked != int64(st.Leak.FreesSeen) {
		t.Errorf("report frees %d + untracked %d, the fake's free breakpoint halted %d times", tot.Frees, tot.FreesUntracked, st.Leak.FreesSeen)
	}
	if tot.BadRecords != 0 {
		t.Errorf("%d bad records", tot.BadRecords)
	}
	return res
}

func sortedKeys(m map[string]perStack) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// The recipe, typed as kdlaunch types it, on every supported target: the
// report's outstanding allocations per stack are the fake's truth exactly.
func TestLeakRecipeEndToEnd(t *testing.T) {
	cases := []struct {
		name   string
		arch   records.Arch
		family records.Family
		useBs  bool
	}{
		{"x64 legacy", records.ArchX64, records.FamilyLegacy, false},
		{"x64 segment heap", records.ArchX64, records.FamilySegmentHeap, true},
		{"x86 legacy", records.ArchX86, records.FamilyLegacy, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			log, st := runRecipe(t, tc.arch, tc.family, map[string]string{"FAKEKD_LEAK_ALLOCS": "300", "FAKEKD_SEED": "7"}, tc.useBs, 0)
			res := checkAgainstTruth(t, log, st)
			l := st.Leak
			t.Logf("%d tracked, %d frees seen: %.2f halts per tracked allocation, %.2f per free, %d waits for a new return site",
				l.Tracked, l.FreesSeen, l.HaltsPerTracked, l.HaltsPerFree, l.NewSiteWaits)
			if l.Prearmed == 0 || l.PreFreed == 0 || res.Totals.FreesUntracked == 0 {
				t.Errorf("no frees of allocations made before arming: prearmed %d freed %d untracked %d", l.Prearmed, l.PreFreed, res.Totals.FreesUntracked)
			}
			if l.Reused == 0 || res.Totals.InferredFrees != 0 {
				t.Errorf("reused addresses %d, inferred frees %d", l.Reused, res.Totals.InferredFrees)
			}
			if l.MaxInFlight < 2 {
				t.Errorf("never two threads inside the allocator at once (max %d)", l.MaxInFlight)
			}
			if l.Tracked != 300 || l.Returned != 300 || l.LostReturns != 0 {
				t.Errorf("tracked %d returned %d lost %d", l.Tracked, l.Returned, l.LostReturns)
			}
			// The recipe's cost: 2 halts per tracked allocation, 1 per free.
			if l.HaltsPerTracked != 2 || l.HaltsPerFree != 1 {
				t.Errorf("halts per tracked allocation %v, per free %v", l.HaltsPerTracked, l.HaltsPerFree)
			}
			if len(res.Stacks) == 0 || res.Arch != tc.arch || res.Family != tc.family {
				t.Errorf("report arch %s family %s, %d stacks", res.Arch, res.Family, len(res.Stacks))
			}
			// The leaker never frees: it is outstanding, the busy ones are not.
			for _, s := range res.Stacks {
				if strings.HasPrefix(driverFrame(s.Frames), "leakydrv!") && s.FreeCount != 0 {
					t.Errorf("the leaker freed: %+v", s)
				}
			}
			if n := len(allocRecordRE.FindAllString(log, -1)); n != 300 {
				t.Errorf("log has %d allocation records", n)
			}
		})
	}
}

// Broken into mid-run, the busy drivers have allocations outstanding too,
// and some threads are inside the allocator: still the report's
// outstanding per stack is the truth, and the calls in flight are
// unpaired.
func TestLeakRecipeMidRun(t *testing.T) {
	for _, arch := range []records.Arch{records.ArchX64, records.ArchX86} {
		t.Run(string(arch), func(t *testing.T) {
			log, st := runRecipe(t, arch, records.FamilyLegacy, map[string]string{"FAKEKD_LEAK_THREADS": "6", "FAKEKD_CPUS": "4"}, false, 150)
			res := checkAgainstTruth(t, log, st)
			busy := 0
			for _, s := range res.Stacks {
				if s.OutstandingCount > 0 && !strings.HasPrefix(driverFrame(s.Frames), "leakydrv!") {
					busy++
				}
			}
			if busy == 0 {
				t.Error("no busy driver has anything outstanding mid-run: the comparison shows little")
			}
		})
	}
}

// A target that reboots mid-run: kdlaunch re-arms with the reboot record;
// what was outstanding before the reboot stays outstanding in the report,
// as in the truth's BeforeReboot, and the new boot's addresses pair anew.
func TestLeakRecipeReboot(t *testing.T) {
	log, st := runRecipe(t, records.ArchX64, records.FamilyLegacy, map[string]string{
		"FAKEKD_LEAK_ALLOCS": "200", "FAKEKD_REBOOT_AFTER_HITS": "150", "FAKEKD_REBOOT_DELAY": "5ms"}, false, 0)
	res := checkAgainstTruth(t, log, st)
	if len(st.Leak.BeforeReboot) == 0 || res.Totals.Reboots == 0 {
		t.Errorf("%d outstanding before the reboot, %d reboot records", len(st.Leak.BeforeReboot), res.Totals.Reboots)
	}
}

// A return the fake loses (FAKEKD_LOSE_RETURN) is unpaired in the report,
// never outstanding.
func TestLeakRecipeLostReturn(t *testing.T) {
	log, st := runRecipe(t, records.ArchX64, records.FamilyLegacy, map[string]string{
		"FAKEKD_LEAK_ALLOCS": "120", "FAKEKD_LOSE_RETURN": "7", "FAKEKD_SEED": "3"}, false, 0)
	res := checkAgainstTruth(t, log, st)
	if st.Leak.LostReturns == 0 || res.Totals.Unpaired != int64(st.Leak.LostReturns) {
		t.Errorf("lost returns %d, unpaired %d", st.Leak.LostReturns, res.Totals.Unpaired)
	}
	var lostOutstanding int
	for _, a := range st.Leak.Outstanding {
		if a.Tracked && !a.Returned {
			lostOutstanding++
		}
	}
	// Some of them were never freed: the truth has them outstanding, the
	// report (checked above) does not.
	if lostOutstanding == 0 {
		t.Errorf("no lost return belongs to an allocation still outstanding; the case shows nothing")
	}
}

// The community idiom instead of return-site breakpoints: a one-shot,
// thread-bound breakpoint at @$ra set from inside the entry breakpoint
// (nested quoting, two levels). When a second thread allocates through the
// same call site before the first returns, its bp redefines the first's
// (the fake assumes the documented same-address redefinition holds for /t
// too), the first thread's return is lost: the report has it unpaired,
// and what it does pair is still exactly the truth.
func TestLeakRecipeOneShotReturnLosesUnderConcurrency(t *testing.T) {
	log := filepath.Join(t.TempDir(), "debug.log")
	s := connectedSession(t, map[string]string{"FAKEKD_LEAKS": "1", "FAKEKD_FLOOD": "1", "FAKEKD_LEAK_ALLOCS": "200",
		"FAKEKD_LEAK_THREADS": "6", "FAKEKD_CPUS": "4"}, "-logo", log)
	s.breakIn()
	r, _ := records.NewRecipe(records.ArchX64, records.FamilyLegacy)
	ret := `.printf "KDLK1 R %p %p %p\n", @$thread, @$ip, @rax; g`
	entry := `.printf "KDLK1 A %p %I64x %x %p\n", @$thread, @rcx, @edx, @$ra; kb; bp /1 /t @$thread @$ra ` + records.Quote(ret) + `; g`
	for _, l := range []string{r.Header(), r.FreeBreakpoint(1), "bp0 nt!MmAllocateSpecialPool " + records.Quote(entry)} {
		s.send(l + "\r\n")
		s.expectPrompt()
	}
	s.send("g\r\n")
	s.waitState("done", func(st State) bool { return st.Leak != nil && st.Leak.Done })
	s.breakIn()
	st := s.state()
	s.send("bc *\r\n")
	s.expectPrompt()
	s.send("g\r\n\x02\r\n")
	s.wait()
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	res := checkAgainstTruth(t, string(data), st)
	t.Logf("one-shot idiom, up to %d threads inside the allocator at once on %d CPUs: %d of %d returns lost, %.2f halts per tracked allocation (%d filtered)",
		st.Leak.MaxInFlight, st.Leak.CPUs, res.Totals.Unpaired, st.Leak.Tracked, st.Leak.HaltsPerTracked, st.Leak.HaltsFiltered)
	if res.Totals.LostReturns == 0 || !strings.Contains(string(data), "redefined") || st.Leak.HaltsFiltered == 0 {
		t.Errorf("no return lost to redefinition: %d lost, %d filtered halts", res.Totals.LostReturns, st.Leak.HaltsFiltered)
	}
	if end := s.state(); len(end.Breakpoints) != 0 {
		t.Errorf("breakpoints left: %+v", end.Breakpoints)
	}
}
