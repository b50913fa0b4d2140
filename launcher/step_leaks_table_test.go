package launcher

import (
	"fmt"

	"github.com/kdlaunch/kdlaunch/leaks/records"
)

// The rows of the leak strategy (docs/leaks.md): arming the recipe, a new
// return site, the breakpoint limit, a reboot, the stop's cross-check.

const (
	site1 = 0xfffff8021d61c3a5
	site2 = 0xfffff8021d61c9b0
)

var (
	x64Legacy, _ = records.NewRecipe(records.ArchX64, records.FamilyLegacy)
	x64Heap, _   = records.NewRecipe(records.ArchX64, records.FamilySegmentHeap)
)

// leaking: the leak strategy for tag Ddk, the probe on, nothing armed yet.
var leaking mod = func(m *Machine) {
	m.Plan.Allocators, m.Plan.Arm = true, nil
	m.Plan.Leaks = &LeakPlan{Tag: "Ddk"}
}

// leakArmed: the recipe for x64 legacy is armed with these return sites.
func leakArmed(sites ...uint64) mod {
	return func(m *Machine) {
		leaking(m)
		m.Leak.Arch, m.Leak.Recipes, m.Leak.Armed = records.ArchX64, []records.Recipe{x64Legacy}, true
		m.Leak.Sites = sites
		m.Armed = true
	}
}

// newSiteAt: the entry breakpoint printed a new-site record for ra and
// left the target halted.
func newSiteAt(ra uint64) mod {
	return func(m *Machine) {
		m.Leak.NewSite, m.Leak.HasNewSite = ra, true
		m.Halting, m.Halt = true, HaltLeakSite
	}
}

// leakWaitsForSite: armed, and the target halted for a new return site.
var leakWaitsForSite mod = func(m *Machine) { leakArmed()(m); newSiteAt(site1)(m) }

// bothFamilies: the kernel has both allocators, both tracked.
var bothFamilies mod = func(m *Machine) { m.Leak.Recipes = []records.Recipe{x64Legacy, x64Heap} }

// userBP: a --command breakpoint beside the recipe.
var userBP mod = func(m *Machine) { m.Plan.Arm = []Command{{Text: "bp mydrv!MyAlloc"}} }

var (
	x86Target mod = func(m *Machine) { m.Leak.Arch = records.ArchX86 }
	x64Target mod = func(m *Machine) { m.Leak.Arch = records.ArchX64 }
	rebooted  mod = func(m *Machine) { m.Leak.Rebooted = true }
	fullSites mod = func(m *Machine) { m.Leak.Full = true }
)

// sitesUpTo is n distinct return sites.
func sitesUpTo(n int) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = site1 + uint64(i)*0x40
	}
	return out
}

func describeLeak(l LeakState, h LeakHalts) string {
	s := "leaks"
	if l.Arch != "" {
		s += " " + string(l.Arch)
	}
	if l.Armed {
		s += fmt.Sprintf(" armed, %d sites", len(l.Sites))
	}
	if l.Full {
		s += ", full"
	}
	if l.Rebooted {
		s += ", rebooted"
	}
	if l.HasNewSite {
		s += fmt.Sprintf(", new site %#x", l.NewSite)
	}
	if l.CrossChecked {
		s += ", cross-checked"
	}
	if h != (LeakHalts{}) {
		s += fmt.Sprintf(", halts %d/%d/%d", h.Entry, h.Return, h.Free)
	}
	return s
}

var (
	probeX64 = answers(xMm, "fffff801`1e7a2b30 nt!MmAllocateSpecialPool (<no parameter info>)", xMmFree, "fffff801`1e7a3c40 nt!MmFreeSpecialPool (<no parameter info>)", xHeap, "")
	lastX    = answering(xHeapFre, PurposeProbe)
	entry0   = `bp0 nt!MmAllocateSpecialPool ".printf \"KDLK1 A %p %I64x %x %p\\n\", @$thread, @rcx, @edx, @$ra; kb; .printf \"KDLK1 N %p\\n\", @$ra"`
)

func init() {
	i := len(table) - 2 // before the safe stop and the end
	table = append(table[:i:i], append(leakGroups, table[i:]...)...)
}

var leakGroups = []struct {
	title string
	rows  []row
}{
	{"The leak strategy", []row{
		{"leaks: the connection line names the architecture, which chooses the registers", given(Waiting, PhaseArming, leaking), evConnected,
			[]string{"info: target connected", "start settle timer 1s"}, "connected, arming, leaks x64, " + probeQueue},
		{"leaks: an x86 target's connection line", given(Waiting, PhaseArming, leaking), line("Connected to Windows 8 9600 x86 compatible target at (Mon Mar  3 10:00:00.000 2025 (UTC + 1:00)), ptr64 FALSE"),
			[]string{"info: target connected", "start settle timer 1s"}, "connected, arming, leaks x86, " + probeQueue},
		{"leaks: the probe answered: the header record, the free and entry breakpoints, bl and g; no return site yet", given(Halted, PhaseArming, leaking, x64Target, probeX64, lastX, queue("<arm>")), evPrompt,
			[]string{"info: the target is x64 and its kernel allocates special pool through nt!...", `type ".echo KDLK1 H x64 mm-special-pool" (arm) + marker`},
			`halted, arming, armed, leaks x64 armed, 0 sites, in flight ".echo KDLK1 H x64 mm-special-pool", queue ` + x64Legacy.FreeBreakpoint(1) + "; " + entry0 + "; bl; g"},
		{"leaks: a kernel with both allocators (the legacy pool beside the segment heap): both tracked, entry and free 0 and 1, then 2 and 3", given(Halted, PhaseArming, leaking, x64Target,
			answers(xMm, "fffff801`1e7a2b30 nt!MmAllocateSpecialPool (<no parameter info>)", xMmFree, "", xHeap, "fffff801`1e7a4b30 nt!ExAllocateHeapSpecialPool (<no parameter info>)"), lastX, queue("<arm>")), evPrompt,
			[]string{"info: the target is x64 and its kernel allocates special pool through nt!...", `type ".echo KDLK1 H x64 mm-special-pool" (arm) + marker`},
			`halted, arming, armed, leaks x64 armed, 0 sites, in flight ".echo KDLK1 H x64 mm-special-pool", queue .echo KDLK1 H x64 heap-special-pool; ` + x64Legacy.FreeBreakpoint(1) + "; " + entry0 + "; " + x64Heap.FreeBreakpoint(3) + "; " + mustEntry(x64Heap.EntryBreakpoint(2, nil)) + "; bl; g"},
		{"leaks: no connection line named the architecture: ask vertarget before arming", given(Halted, PhaseArming, leaking, probeX64, lastX, queue("<arm>")), evPrompt,
			[]string{`type "vertarget" (probe) + marker`}, `halted, arming, leaks, in flight "vertarget", queue <arm: breakpoints, bl, readbacks, g>`},
		{"leaks: vertarget names no architecture either: nothing is armed, the target resumed, the run ends", given(Halted, PhaseArming, leaking, probeX64, answers("vertarget", "Syntax error at 'vertarget'"), queue("<arm>")), evPrompt,
			[]string{`type "bc *" (disarm) + marker`}, `halted, stopping, failing, leaks, in flight "bc *", queue g`},
		{"leaks: no recipe for the kernel on this architecture (x86 segment heap): the run ends, naming special-pool", given(Halted, PhaseArming, leaking, x86Target,
			answers(xMm, "", xMmFree, "", xHeap, "8062f7b4          nt!ExAllocateHeapSpecialPool = <no type information>"), answering(xHeapFre, PurposeProbe), queue("<arm>")), evPrompt,
			[]string{`type "bc *" (disarm) + marker`}, `halted, stopping, failing, leaks x86, in flight "bc *", queue g`},
		{"leaks: after a reboot the arming writes the reboot record (pool addresses start afresh) and no site", given(Halted, PhaseArming, leakArmed(site1, site2), disarmed, rebooted, probeX64, lastX, queue("<arm>")), evPrompt,
			[]string{"info: the target is x64 and its kernel allocates special pool through nt!...", `type ".echo KDLK1 Z" (arm) + marker`},
			`halted, arming, armed, leaks x64 armed, 0 sites, in flight ".echo KDLK1 Z", queue ` + x64Legacy.FreeBreakpoint(1) + "; " + entry0 + "; bl; g"},
		{"leaks: the target reboots: the next arming is after a reboot", given(Running, PhaseSupervising, leakArmed(site1)), evShutdown,
			[]string{"info: the target is rebooting"}, "waiting, supervising, leaks x64 armed, 1 sites, rebooted"},
		{"leaks: hits are counted by breakpoint: 0 the allocator, 1 the free routine, 2.. return sites", given(Running, PhaseSupervising, leakArmed(site1)), line("Breakpoint 2 hit"),
			nil, "running, supervising, armed, leaks x64 armed, 1 sites, halts 0/1/0"},
		{"leaks: a new-site record: the entry breakpoint left the target halted for kdlaunch, so no break", given(Running, PhaseSupervising, leakArmed()), line("KDLK1 N fffff802`1d61c3a5"),
			nil, "running, supervising, armed, halting, leaks x64 armed, 0 sites, new site 0xfffff8021d61c3a5"},
		{"leaks: at its prompt, the site's return breakpoint, the entry breakpoint redefined with the longer list, then g; no round trip for that site again", given(Running, PhaseSupervising, leakArmed(), newSiteAt(site1)), evPrompt,
			[]string{`type ` + q(x64Legacy.ReturnBreakpoint(2, site1)) + ` (return site) + marker`},
			`halted, supervising, armed, leaks x64 armed, 1 sites, in flight ` + q(x64Legacy.ReturnBreakpoint(2, site1)) + `, queue ` + mustEntry(x64Legacy.EntryBreakpoint(0, []uint64{site1})) + "; g"},
		{"leaks: with a --command breakpoint (kd gave it the next ID), return sites are numbered after it, so none redefines it", given(Running, PhaseSupervising, leakArmed(), userBP, newSiteAt(site1)), evPrompt,
			[]string{`type ` + q(x64Legacy.ReturnBreakpoint(3, site1)) + ` (return site) + marker`},
			`halted, supervising, armed, leaks x64 armed, 1 sites, in flight ` + q(x64Legacy.ReturnBreakpoint(3, site1)) + `, queue ` + mustEntry(x64Legacy.EntryBreakpoint(0, []uint64{site1})) + "; g"},
		{"leaks: both allocators: a new site's breakpoint after their four, and both entry breakpoints redefined", given(Running, PhaseSupervising, leakArmed(), bothFamilies, newSiteAt(site1)), evPrompt,
			[]string{`type ` + q(x64Legacy.ReturnBreakpoint(4, site1)) + ` (return site) + marker`},
			`halted, supervising, armed, leaks x64 armed, 1 sites, in flight ` + q(x64Legacy.ReturnBreakpoint(4, site1)) + `, queue ` + mustEntry(x64Legacy.EntryBreakpoint(0, []uint64{site1})) + "; " + mustEntry(x64Heap.EntryBreakpoint(2, []uint64{site1})) + "; g"},
		{"leaks: a new-site halt for a site already added (a second CPU's): only g", given(Running, PhaseSupervising, leakArmed(site1), newSiteAt(site1)), evPrompt,
			[]string{`type "g" (resume)`}, "running, supervising, armed, leaks x64 armed, 1 sites"},
		{"leaks: the last site that fits beside the recipe's own breakpoints: the full entry breakpoint, which resumes by itself, said once", given(Running, PhaseSupervising, leakArmed(sitesUpTo(29)...), newSiteAt(site2+0x10000)), evPrompt,
			[]string{"warn: all 30 return-site breakpoints are in use", `type ` + q(x64Legacy.ReturnBreakpoint(31, site2+0x10000)) + ` (return site) + marker`},
			`halted, supervising, armed, leaks x64 armed, 30 sites, full, in flight ` + q(x64Legacy.ReturnBreakpoint(31, site2+0x10000)) + `, queue ` + mustEntry(x64Legacy.EntryBreakpointFull(0, append(sitesUpTo(29), site2+0x10000))) + "; g"},
		{"leaks: a new-site record with the full entry breakpoint: it resumed by itself (its allocation is unpaired)", given(Running, PhaseSupervising, leakArmed(sitesUpTo(30)...), fullSites), line("KDLK1 N fffff802`1d62c3a5"),
			nil, "running, supervising, armed, leaks x64 armed, 30 sites, full"},
		{"leaks: kd refuses a return site's breakpoint: one line, its allocations are unpaired, the hunt goes on", given(Halted, PhaseSupervising, leakArmed(site1), answering(x64Legacy.ReturnBreakpoint(2, site1), PurposeReturnSite, "No more breakpoints available"), queue(mustEntry(x64Legacy.EntryBreakpoint(0, []uint64{site1})), "g")), evPrompt,
			[]string{"warn: kd did not place the return-site breakpoint bp2 0xfffff8021d61c3a5 ...", `type ` + q(mustEntry(x64Legacy.EntryBreakpoint(0, []uint64{site1}))) + ` (arm) + marker`},
			`halted, supervising, armed, leaks x64 armed, 1 sites, in flight ` + q(mustEntry(x64Legacy.EntryBreakpoint(0, []uint64{site1}))) + `, queue g`},
		{"leaks: kd refuses the redefined entry breakpoint: clear, resume, end the run", given(Halted, PhaseSupervising, leakArmed(site1), answering(mustEntry(x64Legacy.EntryBreakpoint(0, []uint64{site1})), PurposeArm, "Syntax error at '.if'"), queue("g")), evPrompt,
			[]string{`type "bc *" (disarm) + marker`}, `halted, stopping, armed, failing, leaks x64 armed, 1 sites, in flight "bc *", queue g`},
		{"leaks: the safe stop reads !poolused for the tag after bc * and before its g: kd's count beside kdlaunch's", given(Halted, PhaseSupervising, leakArmed(site1), noResume), evStop,
			[]string{"info: stop requested: stopping safely", `type "bc *" (disarm) + marker`}, `halted, stopping, armed, leaks x64 armed, 1 sites, cross-checked, in flight "bc *", queue !poolused 2 Ddk; g`},
		{"leaks: the rate brake at a new-site halt: bc * and g answer it; no return site is added after the brake", given(Running, PhaseSupervising, leakArmed(), newSiteAt(site1), rateLimit), evHit,
			[]string{"warn: hit rate 1.6/s is above max_rate 1.0/s", "start break timer 2s"}, "running, disarming, armed, halting, rate brake on, leaks x64 armed, 0 sites, halts 1/0/0, queue bc *; g"},
		{"leaks: a stop while the target waits for a new site: the stop clears it as any halt", given(Running, PhaseSupervising, leakArmed(), newSiteAt(site1)), evStop,
			[]string{"info: stop requested: stopping safely", "start break timer 2s"}, "running, stopping, armed, halting, leaks x64 armed, 0 sites, cross-checked, queue bc *; !poolused 2 Ddk; g"},
	}},
}

func q(s string) string { return fmt.Sprintf("%q", s) }

func mustEntry(s string, err error) string {
	if err != nil {
		panic(err)
	}
	return s
}
