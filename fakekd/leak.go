package fakekd

import (
	"fmt"
	"sort"
	"strings"
)

// The leak workload (FAKEKD_LEAKS): a target with several CPUs whose
// threads call the special-pool allocator through a few call sites and
// free through the special-pool free routine, so that a recipe of
// breakpoints on the allocator's entry, its return sites and the free
// routine sees what real kd would. Every step of a thread is one event at
// a code address; an event halts the target only where an enabled
// breakpoint is, and kd serialises the halts, so two threads between the
// allocator's entry and its return interleave their records. The truth
// (what was allocated and freed, whatever kd saw) is the state file's
// Leak.
//
// The routines and registers follow docs/leaks.md "The allocator
// families": legacy MmAllocateSpecialPool(NumberOfBytes, Tag, PoolType,
// SpecialType) and MmFreeSpecialPool(P), segment-heap
// ExAllocateHeapSpecialPool(PoolType, NumberOfBytes, Tag) and
// ExpFreeHeapSpecialPool(Heap, P); x64 passes rcx, rdx, r8, r9 and returns
// in rax (the upper half of a ULONG argument's register is left with
// garbage, as the ABI allows), x86 stdcall passes on the stack ([esp] is the
// return address) and returns in eax.

const (
	leakIdle = iota
	leakInAlloc
)

// maxSpecialPages bounds the outstanding special-pool allocations.
const maxSpecialPages = 1 << 16

type simThread struct {
	ethread uint64
	cpu     int
	phase   int
	stack   int    // index into leakSim.stacks of the allocation in flight
	size    uint64 // its size
	sp      uint64 // stack pointer at the allocator's entry
	tracked bool   // its entry halted
}

type liveAlloc struct {
	LeakAlloc
	stack int
}

type leakSim struct {
	stacks []StackDef
	frees  []bool   // per stack: the driver frees what it allocates
	sites  []uint64 // per stack: the allocator's return address
	names  []string // per stack: the driver's innermost frame

	threads []*simThread
	live    map[uint64]*liveAlloc
	toFree  []uint64 // addresses the busy drivers will free, oldest first
	pages   int      // special-pool pages handed out so far
	freed   []uint64 // pages free for reuse, oldest first
	allocs  int      // allocations started (FAKEKD_LEAK_ALLOCS)
	returns int      // tracked returns (FAKEKD_LOSE_RETURN)
}

// leakDefaults are the drivers of the workload without FAKEKD_DRIVERS: a
// busy filter that allocates and frees often, a scanner that frees too,
// and the leaker, which allocates least and never frees.
func leakDefaults() []StackDef {
	busy, scan, leaker := defaultStacks[1], defaultStacks[2], defaultStacks[0]
	busy.Weight, scan.Weight, leaker.Weight = 6, 3, 2
	return []StackDef{busy, scan, leaker}
}

// family names the special-pool routine pair of the configured kernel, by
// script.Families' names.
func (m *machine) family() string {
	if m.cfg.Kernel == "segment-heap" {
		return "heap-special-pool"
	}
	return "mm-special-pool"
}

func (m *machine) allocRoutine() string {
	if m.cfg.Kernel == "segment-heap" {
		return "nt!ExAllocateHeapSpecialPool"
	}
	return "nt!MmAllocateSpecialPool"
}

func (m *machine) freeRoutine() string {
	if m.cfg.Kernel == "segment-heap" {
		return "nt!ExpFreeHeapSpecialPool"
	}
	return "nt!MmFreeSpecialPool"
}

// siteFrames are the kernel frames between the special-pool allocator and
// the driver, per call site: the site's own frame first (its return
// address is the allocator's $ra).
func (m *machine) siteFrames(site int) []FrameDef {
	if m.cfg.Kernel == "segment-heap" {
		return [][]FrameDef{
			{{Sym: "nt!ExAllocateHeapPool+0x20e"}, {Sym: "nt!ExAllocatePoolWithTag+0x95"}},
			{{Sym: "nt!ExAllocateHeapPool+0x5b4"}, {Sym: "nt!ExAllocatePool2+0x7e"}},
		}[site%2]
	}
	return [][]FrameDef{
		{{Sym: "nt!ExAllocatePoolWithTag+0x3a1"}},
		{{Sym: "nt!ExAllocatePoolWithTagPriority+0x2c1"}, {Sym: "nt!ExAllocatePoolWithTag+0x5d"}},
	}[site%2]
}

// newLeakSim builds the workload at boot: its threads, call sites and the
// allocations outstanding before any breakpoint.
func (m *machine) newLeakSim() *leakSim {
	c := m.cfg
	s := &leakSim{live: map[uint64]*liveAlloc{}}
	s.stacks = c.Stacks
	if !c.driversSet {
		s.stacks = leakDefaults()
	}
	for i, sd := range s.stacks {
		mod := ""
		if len(sd.Frames) > 0 {
			mod, _, _ = strings.Cut(sd.Frames[0].Sym, "!")
			mod, _, _ = strings.Cut(mod, "+")
		}
		s.frees = append(s.frees, !strings.EqualFold(mod, c.Leaker))
		_, ip := siteAndIP(m.a, m.siteFrames(i)[0], false)
		s.sites = append(s.sites, ip)
		// The driver's innermost frame kb shows (kb leaves inline frames
		// out).
		name := ""
		for _, f := range sd.Frames {
			if !f.Inline {
				name, _ = siteAndIP(m.a, f, false)
				break
			}
		}
		s.names = append(s.names, name)
	}
	for i := 0; i < c.LeakThreads; i++ {
		base, stride := uint64(0xffffb30e4c1d2080), uint64(0x1040)
		if !m.a.ptr64 {
			base, stride = 0x86b2c030, 0x318
		}
		s.threads = append(s.threads, &simThread{ethread: base + uint64(i)*stride, cpu: i % c.CPUs})
	}
	if m.st.Leak == nil {
		m.st.Leak = &LeakState{Arch: m.a.name, Family: m.family(), CPUs: c.CPUs, Outstanding: []LeakAlloc{}, BeforeReboot: []LeakAlloc{}}
	}
	// The counters run over every boot; the outstanding set is this boot's.
	m.st.Leak.Boots++
	m.st.Leak.Done = false
	// Allocations made before arming: the busy drivers own them and free
	// them like their own, so their frees are of addresses the log never
	// saw returned.
	for i := 0; i < c.Prearmed; i++ {
		st := busyStack(s, i)
		if st < 0 {
			break
		}
		th := s.threads[i%len(s.threads)]
		addr, size := m.placeAlloc(s, m.allocSize())
		s.live[addr] = &liveAlloc{LeakAlloc{Addr: addr, Size: size, Thread: th.ethread, Site: s.sites[st],
			Stack: s.names[st], Prearmed: true}, st}
		s.toFree = append(s.toFree, addr)
		m.st.Leak.Prearmed++
	}
	return s
}

// busyStack is the i-th freeing driver's stack (round robin), -1 if all
// leak.
func busyStack(s *leakSim, i int) int {
	var busy []int
	for j, f := range s.frees {
		if f {
			busy = append(busy, j)
		}
	}
	if len(busy) == 0 {
		return -1
	}
	return busy[i%len(busy)]
}

func (m *machine) allocSize() uint64 {
	// Special pool takes allocations up to about a page.
	return uint64(8 * (1 + m.rng.IntN(0x1f0)))
}

// placeAlloc hands out a special-pool address: the data at the end of a
// page (overruns hit the guard page after it), so page-aligned plus an
// offset; a freed page is reused half of the time.
func (m *machine) placeAlloc(s *leakSim, size uint64) (addr, rounded uint64) {
	base, align := uint64(0xffffc88f3a200000), uint64(16)
	if !m.a.ptr64 {
		base, align = 0xb3a00000, 8
	}
	var page uint64
	if len(s.freed) > 0 && (m.rng.IntN(2) == 0 || s.pages >= maxSpecialPages) {
		page, s.freed = s.freed[0], s.freed[1:]
		if m.st.Leak != nil && s.pages > 0 {
			m.st.Leak.Reused++
		}
	} else {
		page = base + uint64(s.pages)*0x2000 // a page and its guard page
		s.pages++
	}
	return page + 0x1000 - (size+align-1)&^(align-1), size
}

// leakTick runs the workload until one breakpoint halted the target (a
// halt that resumed by itself has scheduled the next tick, one hit
// interval later, as for any hit), or a bounded number of steps passed
// without a halt (then the next tick goes on).
func (m *machine) leakTick() {
	hits := m.st.Hits
	for i := 0; i < 512 && m.st.Target == targetRunning && !m.exiting && m.st.Hits == hits; i++ {
		if !m.leakStep() {
			m.st.Leak.Done = true
			m.saveHit()
			return
		}
	}
	if m.st.Hits == hits && m.st.Target == targetRunning && !m.exiting {
		m.resume()
	}
}

// leakStep moves one thread one step. It returns false when nothing is
// left to do (the allocation budget is spent, nothing is in flight and
// nothing waits to be freed).
func (m *machine) leakStep() bool {
	s, c := m.leak, m.cfg
	// Special pool has room for so many pages; "If the special pool is
	// exhausted, memory is allocated from the standard pool"
	// (https://learn.microsoft.com/en-us/windows-hardware/drivers/debugger/special-pool),
	// past the special-pool routines: the workload then only frees. This
	// also bounds the fake's memory.
	budgetLeft := (c.LeakAllocs == 0 || s.allocs < c.LeakAllocs) && len(s.live)+m.st.Leak.InFlight < maxSpecialPages
	var candidates []*simThread
	for _, t := range s.threads {
		if t.phase != leakIdle || budgetLeft || len(s.toFree) > 0 {
			candidates = append(candidates, t)
		}
	}
	if len(candidates) == 0 {
		return false
	}
	t := candidates[m.rng.IntN(len(candidates))]
	switch {
	case t.phase == leakInAlloc:
		m.leakReturn(t)
	case len(s.toFree) > 0 && (!budgetLeft || m.rng.IntN(3) == 0 || len(s.toFree) > 4*len(s.threads)):
		addr := s.toFree[0]
		s.toFree = s.toFree[1:]
		m.leakFree(t, addr)
	case budgetLeft:
		m.leakEntry(t)
	}
	return true
}

// leakEntry: thread t calls the allocator.
func (m *machine) leakEntry(t *simThread) {
	s := m.leak
	s.allocs++
	m.st.Leak.InFlight++
	m.st.Leak.MaxInFlight = max(m.st.Leak.MaxInFlight, m.st.Leak.InFlight)
	t.phase, t.tracked = leakInAlloc, false
	t.stack = pickStackIndex(m.rng, s.stacks)
	t.size = m.allocSize()
	t.sp = m.a.frameBase + uint64(m.rng.IntN(0x400))*0x10
	ra := s.sites[t.stack]
	tag := uint64(m.specialPoolTag())
	routine := m.allocRoutine()
	addr := m.a.symbolAddr(routine)
	var args []uint64
	if m.cfg.Kernel == "segment-heap" {
		args = []uint64{0x200, t.size, tag, 0}
	} else {
		args = []uint64{t.size, tag, 0x200, 2}
	}
	defs := append(append([]FrameDef{{Sym: routine}}, m.siteFrames(t.stack)...), s.stacks[t.stack].Frames...)
	h := m.leakHaltInfo(t, routine, addr, m.a.disasm[strings.ToLower(routine)], defs, args, ra)
	if m.leakBreak(addr, t, h, &m.st.Leak.HaltsEntry) {
		t.tracked = true
		m.st.Leak.Tracked++
	}
}

// leakReturn: the allocator returns to thread t's call site.
func (m *machine) leakReturn(t *simThread) {
	s := m.leak
	t.phase = leakIdle
	m.st.Leak.InFlight--
	addr, size := m.placeAlloc(s, t.size)
	ra := s.sites[t.stack]
	a := &liveAlloc{LeakAlloc{Addr: addr, Size: size, Thread: t.ethread, Site: ra, Stack: s.names[t.stack],
		Tracked: t.tracked}, t.stack}
	s.live[addr] = a
	m.st.Leak.Allocs++
	m.st.Leak.AllocBytes += size
	if s.frees[t.stack] {
		s.toFree = append(s.toFree, addr)
	}
	if b := m.bps.at(ra); b != nil && t.tracked && (b.thread == 0 || b.thread == t.ethread) && m.cfg.LoseReturn > 0 {
		s.returns++
		if s.returns%m.cfg.LoseReturn == 0 {
			// FAKEKD_LOSE_RETURN: this return never halts, as if the
			// breakpoint had not been there.
			m.st.Leak.LostReturns++
			return
		}
	}
	top := m.siteFrames(t.stack)
	defs := append(append([]FrameDef{}, top...), s.stacks[t.stack].Frames...)
	sym, _ := siteAndIP(m.a, top[0], false)
	disasm := "488bd8          mov     rbx,rax"
	if !m.a.ptr64 {
		disasm = "8bf0            mov     esi,eax"
	}
	caller := uint64(0)
	if len(defs) > 1 {
		_, caller = siteAndIP(m.a, defs[1], false)
	}
	h := m.leakHaltInfo(t, sym, ra, disasm, defs, nil, caller)
	h.result = addr
	if m.leakBreak(ra, t, h, &m.st.Leak.HaltsReturn) {
		a.Returned = true
		m.st.Leak.Returned++
	}
}

// leakFree: thread t frees addr through the special-pool free routine.
func (m *machine) leakFree(t *simThread, addr uint64) {
	s := m.leak
	a := s.live[addr]
	if a == nil {
		return
	}
	delete(s.live, addr)
	s.freed = append(s.freed, addr&^0xfff)
	m.st.Leak.Frees++
	m.st.Leak.FreeBytes += a.Size
	if a.Prearmed {
		m.st.Leak.PreFreed++
	}
	routine := m.freeRoutine()
	at := m.a.symbolAddr(routine)
	var args []uint64
	var caller []FrameDef
	if m.cfg.Kernel == "segment-heap" {
		args = []uint64{0xffffc88f30000000, addr}
		caller = []FrameDef{{Sym: "nt!ExFreeHeapPool+0x3c1"}, {Sym: "nt!ExFreePool+0x9"}}
	} else {
		args = []uint64{addr}
		caller = []FrameDef{{Sym: "nt!ExFreePoolWithTag+0x1c8"}}
	}
	defs := append(append([]FrameDef{{Sym: routine}}, caller...), freeFrames(s.stacks[a.stack])[1:]...)
	t.sp = m.a.frameBase + uint64(m.rng.IntN(0x400))*0x10
	_, ra := siteAndIP(m.a, caller[0], false)
	h := m.leakHaltInfo(t, routine, at, "48895c2408      mov     qword ptr [rsp+8],rbx", defs, args, ra)
	if !m.a.ptr64 {
		h.disasm = "8bff            mov     edi,edi"
	}
	if m.leakBreak(at, t, h, &m.st.Leak.HaltsFree) {
		m.st.Leak.FreesSeen++
	}
}

// leakHaltInfo is the processor's state at an event: registers by calling
// convention, the stack memory an x86 stdcall routine reads its arguments
// from, the pseudo-registers.
func (m *machine) leakHaltInfo(t *simThread, sym string, ip uint64, disasm string, defs []FrameDef, args []uint64, ra uint64) haltInfo {
	var first []uint64
	if !m.a.ptr64 {
		first = args
	}
	frames := buildStack(m.a, m.rng, defs, true, first)
	h := haltInfo{sym: sym, ip: ip, disasm: disasm, frames: frames, warnAt: -1, thread: t.ethread, ra: ra, cpu: t.cpu}
	garbage := func() uint64 { return uint64(m.rng.Uint32()) << 32 }
	arg := func(i int) uint64 {
		if i < len(args) {
			return args[i]
		}
		return 0
	}
	h.stackMem = map[uint64]uint32{}
	if m.a.ptr64 {
		sp := t.sp
		h.stackMem[sp], h.stackMem[sp+4] = uint32(ra), uint32(ra>>32)
		// ULONG arguments (the tag) leave the upper half undefined.
		rdx, r8 := arg(1), arg(2)
		if m.cfg.Kernel == "segment-heap" {
			r8 |= garbage()
		} else {
			rdx |= garbage()
		}
		h.regs = []reg{
			{"rax", garbage() | uint64(m.rng.Uint32())}, {"rbx", randomArg(m.a, m.rng)}, {"rcx", arg(0)},
			{"rdx", rdx}, {"rsi", randomArg(m.a, m.rng)}, {"rdi", randomArg(m.a, m.rng)},
			{"rip", ip}, {"rsp", sp}, {"rbp", sp + 0x80},
			{"r8", r8}, {"r9", arg(3)}, {"r10", 0}, {"r11", sp}, {"r12", 0}, {"r13", 0}, {"r14", 0}, {"r15", 0},
		}
	} else {
		sp := uint64(uint32(t.sp))
		h.stackMem[sp] = uint32(ra)
		for i, v := range args {
			h.stackMem[sp+4+uint64(4*i)] = uint32(v)
		}
		h.regs = []reg{
			{"eax", uint64(m.rng.Uint32())}, {"ebx", 0}, {"ecx", randomArg(m.a, m.rng)}, {"edx", randomArg(m.a, m.rng)},
			{"esi", 0}, {"edi", 0}, {"eip", ip}, {"esp", sp}, {"ebp", sp + 0x28},
		}
	}
	return h
}

// leakBreak is an event at code address at: a breakpoint there halts the
// target (all CPUs), prints its hit and runs its command string; a
// thread-bound one met by another thread halts and resumes unseen. It
// returns whether the breakpoint's commands ran; counter counts the halt.
func (m *machine) leakBreak(at uint64, t *simThread, h haltInfo, counter *int) bool {
	b := m.bps.at(at)
	if b == nil {
		return false
	}
	if h.result != 0 {
		m.setResult(&h)
	}
	if b.thread != 0 && b.thread != t.ethread {
		m.st.Leak.HaltsFiltered++
		return false
	}
	*counter++
	m.hitsThisProcess++
	m.hitsSinceReboot++
	m.st.Hits++
	m.out.lines([]string{fmt.Sprintf("Breakpoint %d hit", b.id), h.sym + ":", m.a.disasmLine(at, h.disasm)})
	cmd, hasCmd := b.command, b.hasCmd
	if b.oneShot {
		m.bps.remove(b.id)
	}
	m.haltQuiet(h)
	m.cpu = h.cpu
	resumed := hasCmd && m.execList(cmd)
	if m.exiting {
		return true
	}
	if m.crashDue() {
		m.crash()
		return true
	}
	if !resumed {
		m.st.Leak.NewSiteWaits++
		m.showPrompt()
	}
	return true
}

// setResult puts the allocator's result in its return register.
func (m *machine) setResult(h *haltInfo) {
	name := "rax"
	if !m.a.ptr64 {
		name = "eax"
	}
	for i := range h.regs {
		if h.regs[i].name == name {
			h.regs[i].val = h.result
		}
	}
}

// updateLeakState copies the true outstanding set and the halt ratios into
// the state file's Leak.
func (m *machine) updateLeakState() {
	if m.leak == nil {
		return
	}
	l := m.st.Leak
	l.Outstanding = l.Outstanding[:0]
	l.OutstandingBytes = 0
	for _, a := range m.leak.live {
		l.Outstanding = append(l.Outstanding, a.LeakAlloc)
		l.OutstandingBytes += a.Size
	}
	sort.Slice(l.Outstanding, func(i, j int) bool { return l.Outstanding[i].Addr < l.Outstanding[j].Addr })
	l.OutstandingCount = len(l.Outstanding)
	l.HaltsPerTracked, l.HaltsPerFree = 0, 0
	if l.Tracked > 0 {
		l.HaltsPerTracked = float64(l.HaltsEntry+l.HaltsReturn+l.HaltsFiltered) / float64(l.Tracked)
	}
	if l.FreesSeen > 0 {
		l.HaltsPerFree = float64(l.HaltsFree) / float64(l.FreesSeen)
	}
}

// pickStackIndex chooses a driver by weight.
func pickStackIndex(rng interface{ IntN(int) int }, stacks []StackDef) int {
	total := 0
	for _, s := range stacks {
		total += s.Weight
	}
	n := rng.IntN(total)
	for i, s := range stacks {
		if n < s.Weight {
			return i
		}
		n -= s.Weight
	}
	return len(stacks) - 1
}

// cmdPoolused answers !poolused [Flags [TagString]] in the layout of
// https://learn.microsoft.com/en-us/windows-hardware/drivers/debuggercmds/-poolused:
// per tag the outstanding allocations and bytes, nonpaged then paged. The
// special pool's tag shows the workload's truth (every outstanding
// allocation, from before the breakpoints too); a few other tags make the
// table look like a real one when no tag is asked for.
func (m *machine) cmdPoolused(rest string) {
	f := strings.Fields(rest)
	want := ""
	if len(f) >= 2 {
		want = strings.Join(f[1:], " ")
	}
	tag := tagText(m.specialPoolTag())
	count, bytes := 0, uint64(0)
	if m.leak != nil {
		for _, a := range m.leak.live {
			count++
			bytes += a.Size
		}
	}
	rows := []struct {
		tag               string
		np, npUsed, p, pu uint64
		desc              string
	}{
		{"Ntfx", 1208, 421600, 62, 14720, "Ntfs/Ntfx: general pool allocation"},
		{"Proc", 152, 331200, 0, 0, "Process objects , Binary: nt!ps"},
		{tag, uint64(count), bytes, 0, 0, "UNKNOWN pooltag '" + tag + "', please update pooltag.txt"},
	}
	out := []string{"   Sorting by  Tag", "", "  Pool Used:", "            NonPaged            Paged",
		" Tag    Allocs     Used    Allocs     Used"}
	var tn, tnu, tp, tpu uint64
	for _, r := range rows {
		if want != "" && !tagMatches(want, r.tag) {
			continue
		}
		out = append(out, fmt.Sprintf(" %-4s %8d %8d %9d %8d%s", r.tag, r.np, r.npUsed, r.p, r.pu, r.desc))
		tn, tnu, tp, tpu = tn+r.np, tnu+r.npUsed, tp+r.p, tpu+r.pu
	}
	out = append(out, fmt.Sprintf(" TOTAL %11d %9d %9d %8d", tn, tnu, tp, tpu))
	m.out.lines(out)
}

// tagText is a tag's four characters as pool tools show them ('Ddk ').
func tagText(t uint32) string {
	b := []byte{byte(t), byte(t >> 8), byte(t >> 16), byte(t >> 24)}
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	return string(b)
}

// tagMatches compares a TagString (? and * wildcards) with a tag, ignoring
// trailing spaces and case.
func tagMatches(pat, tag string) bool {
	pat, tag = strings.ToLower(strings.TrimRight(pat, " ")), strings.ToLower(strings.TrimRight(tag, " "))
	for i := 0; i < len(pat); i++ {
		switch {
		case pat[i] == '*':
			return true
		case i >= len(tag):
			return false
		case pat[i] != '?' && pat[i] != tag[i]:
			return false
		}
	}
	return len(pat) == len(tag)
}
