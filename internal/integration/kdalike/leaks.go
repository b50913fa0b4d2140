package kdalike

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
)

// The leak workload (KDA_LEAKS): the target's threads, on KDA_CPUS
// processors, allocate special pool through the kernel's allocator from a
// few call sites and free it through the free routine; a breakpoint at the
// routine, at a return site or at the free routine halts the target there
// and kd runs its command string (.printf, kb, .if, j, g, bp, bs). Halts
// are one at a time, so two threads inside the allocator interleave their
// records. The truth goes to the state file's Leak.

// LeakState is the workload's truth; the JSON names are fakekd's.
type LeakState struct {
	Arch             string      `json:"arch"`
	Family           string      `json:"family"`
	CPUs             int         `json:"cpus"`
	Boots            int         `json:"boots"`
	BeforeReboot     []LeakAlloc `json:"outstanding_before_reboot"` // outstanding at each earlier reboot
	Outstanding      []LeakAlloc `json:"outstanding"`
	OutstandingCount int         `json:"outstanding_count"`
	OutstandingBytes uint64      `json:"outstanding_bytes"`
	Allocs           int         `json:"allocs"`
	Frees            int         `json:"frees"`
	Prearmed         int         `json:"prearmed"`
	PreFreed         int         `json:"prearmed_freed"`
	Reused           int         `json:"reused"`
	MaxInFlight      int         `json:"max_in_flight"`
	Done             bool        `json:"done"`
	Tracked          int         `json:"tracked"`
	Returned         int         `json:"returned"`
	LostReturns      int         `json:"lost_returns"`
	FreesSeen        int         `json:"frees_seen"`
	HaltsEntry       int         `json:"halts_entry"`
	HaltsReturn      int         `json:"halts_return"`
	HaltsFree        int         `json:"halts_free"`
	HaltsFiltered    int         `json:"halts_filtered"`
	NewSiteWaits     int         `json:"new_site_waits"`
}

// LeakAlloc is one allocation not freed.
type LeakAlloc struct {
	Addr     uint64 `json:"addr"`
	Size     uint64 `json:"size"`
	Thread   uint64 `json:"thread"`
	Site     uint64 `json:"site"`
	Stack    string `json:"stack"` // the driver's frame
	Prearmed bool   `json:"prearmed"`
	Tracked  bool   `json:"tracked"`
	Returned bool   `json:"returned"`
}

// leakDriver is one allocating code path.
type leakDriver struct {
	frame string // the driver's frame, as kb names it
	site  int    // which of the allocator's call sites it goes through
	frees bool
}

// The drivers: a busy one through each call site, freeing what it
// allocates, and a leaker sharing the first site, allocating every
// KDA_LEAKER_EVERY-th time and never freeing.
var leakDrivers = []leakDriver{
	{"Ddkdrv!DdkAllocate+0x24", 0, true},
	{"Netdrv!NetAllocateContext+0x3a", 1, true},
	{"Ddkleak!LeakAllocate+0x1c", 0, false},
}

// leakArch is where things are on one architecture and kernel.
type leakArch struct {
	alloc, free          string // routine names
	allocAt, freeAt      uint64
	sites                []uint64
	siteNames            []string
	threadBase, poolBase uint64
}

func (k *kd) leakArch() leakArch {
	switch {
	case k.cfg.arch == "x86":
		return leakArch{"nt!MmAllocateSpecialPool", "nt!MmFreeSpecialPool", 0x8062f7b4, 0x8062fa20,
			[]uint64{0x8064b1d2, 0x8064c01a}, []string{"nt!ExAllocatePoolWithTag+0x5e", "nt!ExAllocatePoolWithTagPriority+0x1a"},
			0x86b2c030, 0xb1400000}
	case k.cfg.kernel == "segment-heap":
		return leakArch{"nt!ExAllocateHeapSpecialPool", "nt!ExpFreeHeapSpecialPool", 0xfffff8011e83e988, 0xfffff8011eaba310,
			[]uint64{0xfffff8011e7bd1f2, 0xfffff8011e7bd4a5}, []string{"nt!ExAllocateHeapPool+0x20e", "nt!ExAllocateHeapPool+0x4c1"},
			0xffffb30e4c1d2080, 0xffffa18c2e400000}
	}
	return leakArch{"nt!MmAllocateSpecialPool", "nt!MmFreeSpecialPool", 0xfffff8011e7a2b30, 0xfffff8011e7a3c10,
		[]uint64{0xfffff8011e8eae0d, 0xfffff8011e8f0177}, []string{"nt!ExAllocatePoolWithTag+0x5d", "nt!ExAllocatePoolWithTagPriority+0x1b7"},
		0xffffb30e4c1d2080, 0xffffa18c2e400000}
}

type leakThread struct {
	ethread uint64
	cpu     int
	inAlloc bool
	driver  int
	size    uint64
	tracked bool
}

type leakWorld struct {
	la      leakArch
	rng     *rand.Rand
	threads []*leakThread
	live    map[uint64]*LeakAlloc
	queue   []uint64 // the busy drivers free these, oldest first
	pages   uint64
	free    []uint64
	started int
	returns int
	next    int // allocations counted for the leaker's turn
}

// leakBp is a breakpoint of the leak workload's kd.
type leakBp struct {
	id      int
	addr    uint64
	thread  uint64
	oneShot bool
	command string
}

func (k *kd) leakBoot() {
	la := k.leakArch()
	w := &leakWorld{la: la, rng: rand.New(rand.NewPCG(uint64(k.cfg.leakSeed), 7)), live: map[uint64]*LeakAlloc{}}
	for i := 0; i < k.cfg.leakThreads; i++ {
		w.threads = append(w.threads, &leakThread{ethread: la.threadBase + uint64(i)*0x1c0, cpu: i % k.cfg.cpus})
	}
	fam := "mm-special-pool"
	if k.cfg.kernel == "segment-heap" {
		fam = "heap-special-pool"
	}
	if old := k.st.Leak; old != nil {
		// A reboot: the memory is gone, but what was outstanding was never
		// freed. The counters run over every boot.
		k.leakTruth()
		old.BeforeReboot = append(old.BeforeReboot, old.Outstanding...)
		old.Outstanding, old.OutstandingCount, old.OutstandingBytes, old.Done = []LeakAlloc{}, 0, 0, false
	} else {
		k.st.Leak = &LeakState{Arch: k.cfg.arch, Family: fam, CPUs: k.cfg.cpus, Outstanding: []LeakAlloc{}, BeforeReboot: []LeakAlloc{}}
	}
	k.st.Leak.Boots++
	for i := 0; i < k.cfg.prearmed; i++ {
		d := i % 2 // the busy drivers
		addr, size := w.place(k, 0x40+uint64(i)*0x18)
		w.live[addr] = &LeakAlloc{Addr: addr, Size: size, Thread: w.threads[0].ethread, Site: la.sites[leakDrivers[d].site],
			Stack: leakDrivers[d].frame, Prearmed: true}
		w.queue = append(w.queue, addr)
		k.st.Leak.Prearmed++
	}
	k.leak = w
	k.leakTruth()
}

// place gives out a special-pool address: the data ends at the end of its
// page, so the address is a page plus an offset; freed pages come back.
func (w *leakWorld) place(k *kd, size uint64) (uint64, uint64) {
	var page uint64
	if len(w.free) > 2 && w.rng.IntN(3) > 0 {
		page, w.free = w.free[0], w.free[1:]
		k.st.Leak.Reused++
	} else {
		page = w.la.poolBase + w.pages*0x2000
		w.pages++
	}
	align := uint64(16)
	if k.cfg.arch == "x86" {
		align = 8
	}
	return page + 0x1000 - (size+align-1)/align*align, size
}

// leakRun lets the running target go on until a halt waits at a prompt,
// or up to n halts (or steps) have passed.
func (k *kd) leakRun(n int) {
	w := k.leak
	for steps := 0; steps < 64*n && k.running && !k.halted; steps++ {
		// A full special pool sends allocations to the standard pool, past
		// these routines: then the drivers only free (and memory stays
		// bounded).
		budget := (k.cfg.leakAllocs == 0 || w.started < k.cfg.leakAllocs) && len(w.live) < 1<<16
		var ready []*leakThread
		for _, t := range w.threads {
			if t.inAlloc || budget || len(w.queue) > 0 {
				ready = append(ready, t)
			}
		}
		if len(ready) == 0 {
			if !k.st.Leak.Done {
				k.st.Leak.Done = true
				k.leakTruth()
				k.save()
			}
			return
		}
		t := ready[w.rng.IntN(len(ready))]
		halts := k.st.Leak.HaltsEntry + k.st.Leak.HaltsReturn + k.st.Leak.HaltsFree
		switch {
		case t.inAlloc:
			k.leakReturn(t)
		case len(w.queue) > 0 && (!budget || w.rng.IntN(2) == 0):
			a := w.queue[0]
			w.queue = w.queue[1:]
			k.leakFree(t, a)
		default:
			k.leakCall(t)
		}
		if k.st.Leak.HaltsEntry+k.st.Leak.HaltsReturn+k.st.Leak.HaltsFree != halts {
			n--
			if n == 0 {
				break
			}
		}
	}
	k.leakTruth()
	k.save()
}

func (k *kd) leakCall(t *leakThread) {
	w := k.leak
	w.started++
	w.next++
	t.driver = w.next % 2
	if k.cfg.leakerEvery > 0 && w.next%k.cfg.leakerEvery == 0 {
		t.driver = 2
	}
	t.size = uint64(8 * (1 + w.rng.IntN(500)))
	t.inAlloc, t.tracked = true, false
	inFlight := 0
	for _, o := range w.threads {
		if o.inAlloc {
			inFlight++
		}
	}
	k.st.Leak.MaxInFlight = max(k.st.Leak.MaxInFlight, inFlight)
	ra := w.la.sites[leakDrivers[t.driver].site]
	sp := uint64(0xffffd001c70c6298) - uint64(w.rng.IntN(64))*0x100
	if k.cfg.arch == "x86" {
		sp = 0xa3c4fb8c - uint64(w.rng.IntN(64))*0x100
	}
	regs, pseud, mem := k.leakRegs(t, sp, ra)
	tag := uint64(0x206b6444)
	if k.cfg.arch == "x86" {
		mem.put(sp, 4, ra)
		mem.put(sp+4, 4, t.size)
		mem.put(sp+8, 4, tag)
		mem.put(sp+12, 4, 0)
		mem.put(sp+16, 4, 2)
	} else if k.cfg.kernel == "segment-heap" {
		regs["rcx"], regs["rdx"], regs["r8"] = 0x200, t.size, tag|uint64(w.rng.Uint32())<<32
	} else {
		regs["rcx"], regs["rdx"], regs["r8"] = t.size, tag|uint64(w.rng.Uint32())<<32, 0x200
	}
	fixSubRegs(regs, k.cfg.arch)
	pseud["$ra"] = ra
	stack := k.leakStack(t, true, sp, ra)
	if k.leakHalt(w.la.allocAt, w.la.alloc, t, regs, pseud, mem, stack, &k.st.Leak.HaltsEntry) {
		t.tracked = true
		k.st.Leak.Tracked++
	}
}

func (k *kd) leakReturn(t *leakThread) {
	w := k.leak
	t.inAlloc = false
	d := leakDrivers[t.driver]
	addr, size := w.place(k, t.size)
	a := &LeakAlloc{Addr: addr, Size: size, Thread: t.ethread, Site: w.la.sites[d.site], Stack: d.frame, Tracked: t.tracked}
	w.live[addr] = a
	k.st.Leak.Allocs++
	if d.frees {
		w.queue = append(w.queue, addr)
	}
	ra := w.la.sites[d.site]
	if k.cfg.loseReturn > 0 && t.tracked && k.leakBpAt(ra, t) != nil {
		w.returns++
		if w.returns%k.cfg.loseReturn == 0 {
			k.st.Leak.LostReturns++
			return
		}
	}
	sp := uint64(0xffffd001c70c62a0)
	if k.cfg.arch == "x86" {
		sp = 0xa3c4fba0
	}
	regs, pseud, mem := k.leakRegs(t, sp, 0)
	if k.cfg.arch == "x86" {
		regs["eax"] = addr
	} else {
		regs["rax"] = addr
	}
	fixSubRegs(regs, k.cfg.arch)
	pseud["$ip"] = ra
	stack := k.leakStack(t, false, sp, ra)
	if k.leakHalt(ra, w.la.siteNames[d.site], t, regs, pseud, mem, stack, &k.st.Leak.HaltsReturn) {
		a.Returned = true
		k.st.Leak.Returned++
	}
}

func (k *kd) leakFree(t *leakThread, addr uint64) {
	w := k.leak
	a := w.live[addr]
	if a == nil {
		return
	}
	delete(w.live, addr)
	w.free = append(w.free, addr&^0xfff)
	k.st.Leak.Frees++
	if a.Prearmed {
		k.st.Leak.PreFreed++
	}
	sp := uint64(0xffffd001c70c6400)
	if k.cfg.arch == "x86" {
		sp = 0xa3c4fc00
	}
	regs, pseud, mem := k.leakRegs(t, sp, 0)
	switch {
	case k.cfg.arch == "x86":
		mem.put(sp, 4, 0x8064d3aa)
		mem.put(sp+4, 4, addr)
	case k.cfg.kernel == "segment-heap":
		regs["rcx"], regs["rdx"] = 0xffffa18c20000000, addr
	default:
		regs["rcx"] = addr
	}
	fixSubRegs(regs, k.cfg.arch)
	stack := fmt.Sprintf("%s\n00 %s : %s\n", kbHeader(k.cfg.arch), "fffff801`1e8eb3c8", w.la.free)
	if k.leakHalt(w.la.freeAt, w.la.free, t, regs, pseud, mem, stack, &k.st.Leak.HaltsFree) {
		k.st.Leak.FreesSeen++
	}
}

// leakMem is byte-addressed target memory: the halt's stack and the
// special-pool page headers (the size at the page start, the tag after it).
type leakMem map[uint64]byte

func (m leakMem) put(addr uint64, n int, v uint64) {
	for i := 0; i < n; i++ {
		m[addr+uint64(i)] = byte(v >> (8 * i))
	}
}

func (k *kd) leakRegs(t *leakThread, sp, ra uint64) (map[string]uint64, map[string]uint64, leakMem) {
	w := k.leak
	mem := leakMem{}
	regs := map[string]uint64{}
	if k.cfg.arch == "x86" {
		for _, r := range []string{"eax", "ebx", "ecx", "edx", "esi", "edi", "ebp"} {
			regs[r] = uint64(w.rng.Uint32())
		}
		regs["esp"] = sp
	} else {
		for _, r := range []string{"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "r8", "r9", "r10", "r11"} {
			regs[r] = w.rng.Uint64()
		}
		regs["rsp"] = sp
		mem.put(sp, 8, ra)
	}
	for _, a := range w.live {
		page := a.Addr &^ 0xfff
		mem.put(page, 4, a.Size)
		mem.put(page+4, 4, 0x206b6444)
	}
	pseud := map[string]uint64{"$thread": t.ethread, "$proc": 0xffffb30e4a2d9040, "$ptrsize": 8}
	if k.cfg.arch == "x86" {
		pseud["$proc"], pseud["$ptrsize"] = 0x86a1c830, 4
	}
	for i := 0; i < 20; i++ {
		pseud["$t"+strconv.Itoa(i)] = 0
	}
	return regs, pseud, mem
}

// fixSubRegs derives the 32-bit registers, sign-extended as MASM reads
// them, and the x86 registers themselves likewise.
func fixSubRegs(regs map[string]uint64, arch string) {
	sext := func(v uint64) uint64 { return uint64(int64(int32(uint32(v)))) }
	if arch == "x86" {
		for r, v := range regs {
			regs[r] = sext(v)
		}
		return
	}
	for _, r := range []string{"ax", "bx", "cx", "dx", "si", "di", "bp", "sp"} {
		regs["e"+r] = sext(regs["r"+r])
	}
	for _, r := range []string{"r8", "r9", "r10", "r11"} {
		regs[r+"d"] = sext(regs[r])
	}
}

func kbHeader(arch string) string {
	if arch == "x86" {
		return "ChildEBP RetAddr  Args to Child              "
	}
	return " # RetAddr               : Args to Child                                                           : Call Site"
}

// leakStack is what kb prints at an event of thread t: the allocator (at
// its entry), the call site's function, the driver, the I/O path.
func (k *kd) leakStack(t *leakThread, entry bool, sp, ra uint64) string {
	w := k.leak
	d := leakDrivers[t.driver]
	var frames []string
	if entry {
		frames = append(frames, w.la.alloc)
	}
	frames = append(frames, w.la.siteNames[d.site], d.frame, "nt!IofCallDriver+0x55", "nt!IopSynchronousServiceTail+0x1a8")
	var b strings.Builder
	b.WriteString(kbHeader(k.cfg.arch) + "\n")
	ret := ra
	for i, f := range frames {
		if k.cfg.arch == "x86" {
			fmt.Fprintf(&b, "%08x %08x %08x %08x 00000000 %s\n", uint32(sp)+uint32(i)*0x20, uint32(ret), uint32(t.size), 0x206b6444, f)
		} else {
			fmt.Fprintf(&b, "%02x %08x`%08x     : 00000000`%08x 00000000`206b6444 00000000`00000000 00000000`00000000 : %s\n",
				i, ret>>32, ret&0xffffffff, t.size, f)
		}
		ret = 0xfffff8016a4e1000 + uint64(i)*0x1b3
		if k.cfg.arch == "x86" {
			ret = 0x8d1e2044 + uint64(i)*0x1b3
		}
	}
	return b.String()
}

// leakBpAt is the breakpoint an event at addr by thread t stops at.
func (k *kd) leakBpAt(addr uint64, t *leakThread) *leakBp {
	for i := range k.leakBps {
		b := &k.leakBps[i]
		if b.addr == addr && (b.thread == 0 || b.thread == t.ethread) {
			return b
		}
	}
	return nil
}

// leakHalt: an event at addr. A breakpoint there halts the target: kd
// prints the hit and the instruction, then runs the command string; if it
// does not resume, the target waits at a prompt (on the thread's CPU). A
// thread-bound breakpoint met by another thread halts unseen. It reports
// whether the breakpoint's commands ran.
func (k *kd) leakHalt(addr uint64, sym string, t *leakThread, regs, pseud map[string]uint64, mem leakMem, stack string, counter *int) bool {
	var b *leakBp
	for i := range k.leakBps {
		if k.leakBps[i].addr == addr {
			b = &k.leakBps[i]
			break
		}
	}
	if b == nil {
		return false
	}
	if b.thread != 0 && b.thread != t.ethread {
		k.st.Leak.HaltsFiltered++
		return false
	}
	*counter++
	k.st.Hits++
	pseud["$ip"] = addr
	if _, ok := pseud["$ra"]; !ok {
		pseud["$ra"] = 0xfffff8016a4e1000
	}
	if k.cfg.arch == "x86" {
		pseud["$csp"], pseud["$retreg"] = regs["esp"], regs["eax"]&0xffffffff
	} else {
		pseud["$csp"], pseud["$retreg"] = regs["rsp"], regs["rax"]
	}
	k.view = k.viewOf(regs, pseud, mem)
	k.haltStack = stack
	k.running, k.halted = false, true
	k.cpu = t.cpu
	k.setTarget()
	var ins string
	switch site := counter == &k.st.Leak.HaltsReturn; {
	case k.cfg.arch == "x86" && site:
		ins = fmt.Sprintf("%08x 8bf0            mov     esi,eax", uint32(addr))
	case k.cfg.arch == "x86":
		ins = fmt.Sprintf("%08x 8bff            mov     edi,edi", uint32(addr))
	case site:
		ins = fmt.Sprintf("%08x`%08x 488bd8          mov     rbx,rax", addr>>32, addr&0xffffffff)
	default:
		ins = fmt.Sprintf("%08x`%08x 48895c2408      mov     qword ptr [rsp+8],rbx", addr>>32, addr&0xffffffff)
	}
	k.out(fmt.Sprintf("Breakpoint %d hit\n%s:\n%s\n", b.id, sym, ins))
	cmd := b.command
	if b.oneShot {
		k.dropLeakBp(b.id)
	}
	if !k.runList(cmd) {
		k.st.Leak.NewSiteWaits++
		k.save()
		k.prompt()
	}
	return true
}

// viewOf is what expressions see at a halt; a 32-bit target's addresses
// wrap at 32 bits.
func (k *kd) viewOf(regs, pseud map[string]uint64, mem leakMem) machineView {
	mask := ^uint64(0)
	if k.cfg.arch == "x86" {
		mask = 0xffffffff
	}
	return machineView{regs: regs, pseud: pseud, wide: k.cfg.arch != "x86", sym: k.leakSymbol,
		mem: func(a uint64, n int) (uint64, bool) {
			var v uint64
			for i := n - 1; i >= 0; i-- {
				c, ok := mem[(a+uint64(i))&mask]
				if !ok {
					return 0, false
				}
				v = v<<8 | uint64(c)
			}
			return v, true
		}}
}

// breakView is the view at a halt that is no breakpoint of the workload
// (a break-in): the thread the processor was running, no stack to read.
func (k *kd) breakView() machineView {
	t := &leakThread{ethread: 0xffffb30e4b0c1080}
	if k.cfg.arch == "x86" {
		t.ethread = 0x86b1d020
	}
	regs, pseud, mem := k.leakRegs(t, 0xffffd001c70c6000, 0)
	fixSubRegs(regs, k.cfg.arch)
	pseud["$ra"], pseud["$ip"] = 0xfffff8011e6a1c2d, 0xfffff8011e5fb1b0
	if k.cfg.arch == "x86" {
		pseud["$ra"], pseud["$ip"] = 0x8167e5c0, 0x8167e5a4
	}
	return k.viewOf(regs, pseud, mem)
}

func (k *kd) dropLeakBp(id int) {
	kept := k.leakBps[:0]
	for _, b := range k.leakBps {
		if b.id != id {
			kept = append(kept, b)
		}
	}
	k.leakBps = kept
	k.syncLeakBps()
}

func (k *kd) syncLeakBps() {
	k.st.Breakpoints = []string{}
	for _, b := range k.leakBps {
		k.st.Breakpoints = append(k.st.Breakpoints, fmt.Sprintf("bp%d %#x %q", b.id, b.addr, b.command))
	}
}

func (k *kd) leakSymbol(name string) (uint64, bool) {
	l := strings.ToLower(name)
	la := k.leakArch()
	for i, n := range la.siteNames {
		if strings.ToLower(n) == l {
			return la.sites[i], true
		}
	}
	switch l {
	case strings.ToLower(la.alloc):
		return la.allocAt, true
	case strings.ToLower(la.free):
		return la.freeAt, true
	}
	return 0, false
}

// leakTruth copies the outstanding set into the state.
func (k *kd) leakTruth() {
	l := k.st.Leak
	l.Outstanding = l.Outstanding[:0]
	l.OutstandingBytes = 0
	for _, a := range k.leak.live {
		l.Outstanding = append(l.Outstanding, *a)
		l.OutstandingBytes += a.Size
	}
	sort.Slice(l.Outstanding, func(i, j int) bool { return l.Outstanding[i].Addr < l.Outstanding[j].Addr })
	l.OutstandingCount = len(l.Outstanding)
}

// splitList cuts a command list at semicolons outside quotes and braces; a
// j command keeps the rest of the list.
func splitList(s string) []string {
	var out []string
	quote, depth, start := false, 0, 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) {
			out = append(out, strings.TrimSpace(s[start:]))
			break
		}
		c := s[i]
		switch {
		case quote && c == '\\':
			i++
		case c == '"':
			quote = !quote
		case quote:
		case c == '{':
			depth++
		case c == '}':
			depth--
		case c == ';' && depth == 0:
			piece := strings.TrimSpace(s[start:i])
			if f := strings.Fields(piece); len(f) > 0 && strings.EqualFold(f[0], "j") {
				out = append(out, strings.TrimSpace(s[start:]))
				return out
			}
			out = append(out, piece)
			start = i + 1
		}
	}
	return out
}

// unquoteOnce reads a quoted string starting at s[0] == '"', undoing one
// level of escapes (\" and \\), as kd does when it parses a command that
// holds a command string; it returns what follows.
func unquoteOnce(s string) (string, string, bool) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\'):
			i++
			b.WriteByte(s[i])
		case s[i] == '"':
			return b.String(), s[i+1:], true
		default:
			b.WriteByte(s[i])
		}
	}
	return "", "", false
}

// runList runs a breakpoint's (or a typed) command list; it returns true
// once a command resumed the target (the rest is not run). A failing
// command prints kd's error and ends the list.
func (k *kd) runList(list string) bool {
	for _, c := range splitList(list) {
		if c == "" {
			continue
		}
		resumed, ok := k.leakCommand(c)
		if resumed {
			return true
		}
		if !ok {
			return false
		}
	}
	return false
}

// leakVerb: a command the leak workload's kd answers itself at a prompt
// (g, q and the rest stay kd's usual ones).
func leakVerb(v string) bool {
	switch v {
	case ".printf", "kb", "k", ".if", "j", "bs", "bl", "bc", "?", "!poolused":
		return true
	}
	return isBpVerb(v)
}

// leakCommand runs one command at a leak halt: resumed when it let the
// target go, ok false when it failed.
func (k *kd) leakCommand(c string) (resumed, ok bool) {
	f := strings.Fields(c)
	verb := strings.ToLower(f[0])
	rest := strings.TrimSpace(c[len(f[0]):])
	switch {
	case verb == "g" || verb == "gc" || verb == "gh" || verb == "gn":
		k.st.GTyped++
		k.halted, k.running = false, true
		k.setTarget()
		return true, true
	case verb == ".printf":
		return false, k.leakPrintf(rest)
	case verb == "kb" || verb == "k":
		k.out(k.haltStack)
	case verb == ".echo":
		k.out(strings.Trim(rest, `"`) + "\n")
	case verb == ".if":
		return k.leakIf(rest)
	case verb == "j":
		return k.leakJ(rest)
	case isBpVerb(verb):
		return false, k.leakSetBp(verb, rest)
	case verb == "bs":
		return false, k.leakBs(rest)
	case verb == "bl":
		k.leakBl()
	case verb == "bc":
		k.leakBps = nil
		k.syncLeakBps()
	case verb == "?":
		v, err := masmEval(rest, k.view)
		if err != nil {
			k.out(err.Error() + "\n")
			return false, false
		}
		k.out(fmt.Sprintf("Evaluate expression: %d = %08x`%08x\n", int64(v), v>>32, v&0xffffffff))
	case verb == "!poolused":
		k.leakPoolused(rest)
	default:
		k.out(fmt.Sprintf("Couldn't resolve error at '%s'\n", c))
		return false, false
	}
	return false, true
}

func (k *kd) leakPrintf(rest string) bool {
	if strings.HasPrefix(rest, "/") {
		_, rest, _ = strings.Cut(rest, " ")
		rest = strings.TrimSpace(rest)
	}
	if !strings.HasPrefix(rest, `"`) {
		k.out(fmt.Sprintf("Syntax error at '%s'\n", rest))
		return false
	}
	end := 1
	for ; end < len(rest) && rest[end] != '"'; end++ {
		if rest[end] == '\\' {
			end++
		}
	}
	if end >= len(rest) {
		k.out(fmt.Sprintf("Syntax error at '%s'\n", rest))
		return false
	}
	format := cString(rest[1:end])
	var vals []uint64
	args := strings.TrimSpace(rest[end+1:])
	for args != "" {
		if args[0] != ',' {
			k.out(fmt.Sprintf("Syntax error at '%s'\n", args))
			return false
		}
		args = args[1:]
		depth, cut := 0, len(args)
		for i := 0; i < len(args); i++ {
			if args[i] == '(' {
				depth++
			} else if args[i] == ')' {
				depth--
			} else if args[i] == ',' && depth == 0 {
				cut = i
				break
			}
		}
		v, err := masmEval(args[:cut], k.view)
		if err != nil {
			k.out(err.Error() + "\n")
			return false
		}
		vals = append(vals, v)
		args = strings.TrimSpace(args[cut:])
	}
	s, err := kdPrintf(format, vals, k.cfg.arch != "x86")
	if err != nil {
		k.out(fmt.Sprintf("Syntax error at '%s'\n", rest))
		return false
	}
	k.out(s)
	return true
}

// leakIf: .if (cond) {cmds} [.elsif (cond) {cmds}] [.else {cmds}].
func (k *kd) leakIf(s string) (bool, bool) {
	for {
		s = strings.TrimSpace(s)
		cond, body, rest, ok := condBlock(s)
		if !ok {
			k.out(fmt.Sprintf("Syntax error at '%s'\n", s))
			return false, false
		}
		v, err := masmEval(cond, k.view)
		if err != nil {
			k.out(err.Error() + "\n")
			return false, false
		}
		if v != 0 {
			return k.runList(body), true
		}
		rest = strings.TrimSpace(rest)
		low := strings.ToLower(rest)
		switch {
		case rest == "":
			return false, true
		case strings.HasPrefix(low, ".elsif"):
			s = rest[len(".elsif"):]
		case strings.HasPrefix(low, ".else"):
			body, after, ok := braceBody(strings.TrimSpace(rest[len(".else"):]))
			if !ok || strings.TrimSpace(after) != "" {
				k.out(fmt.Sprintf("Syntax error at '%s'\n", rest))
				return false, false
			}
			return k.runList(body), true
		default:
			k.out(fmt.Sprintf("Syntax error at '%s'\n", rest))
			return false, false
		}
	}
}

func condBlock(s string) (cond, body, rest string, ok bool) {
	if !strings.HasPrefix(s, "(") {
		return "", "", "", false
	}
	depth := 0
	for i, c := range s {
		if c == '(' {
			depth++
		} else if c == ')' {
			if depth--; depth == 0 {
				body, rest, ok = braceBody(strings.TrimSpace(s[i+1:]))
				return s[1:i], body, rest, ok
			}
		}
	}
	return "", "", "", false
}

func braceBody(s string) (string, string, bool) {
	if !strings.HasPrefix(s, "{") {
		return "", "", false
	}
	depth, quote := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quote && c == '\\':
			i++
		case c == '"':
			quote = !quote
		case quote:
		case c == '{':
			depth++
		case c == '}':
			if depth--; depth == 0 {
				return s[1:i], s[i+1:], true
			}
		}
	}
	return "", "", false
}

// leakJ: j Expression 'Command1' ; 'Command2'.
func (k *kd) leakJ(s string) (bool, bool) {
	q := strings.IndexByte(s, '\'')
	if q < 0 {
		k.out(fmt.Sprintf("Syntax error at '%s'\n", s))
		return false, false
	}
	v, err := masmEval(s[:q], k.view)
	if err != nil {
		k.out(err.Error() + "\n")
		return false, false
	}
	var parts []string
	for rest := s[q:]; ; {
		rest = strings.TrimLeft(rest, " ;")
		if !strings.HasPrefix(rest, "'") {
			break
		}
		e := strings.IndexByte(rest[1:], '\'')
		if e < 0 {
			k.out(fmt.Sprintf("Syntax error at '%s'\n", s))
			return false, false
		}
		parts = append(parts, rest[1:e+1])
		rest = rest[e+2:]
	}
	if len(parts) == 0 {
		k.out(fmt.Sprintf("Syntax error at '%s'\n", s))
		return false, false
	}
	if v != 0 {
		return k.runList(parts[0]), true
	}
	if len(parts) > 1 {
		return k.runList(parts[1]), true
	}
	return false, true
}

// leakSetBp: bp[ID] [/1] [/t EThread] [/p EProcess] Address ["Commands"].
// The address (a routine, a return site, or an expression such as @$ra)
// is evaluated now. At an address that has a breakpoint the new one
// replaces it ("breakpoint N redefined"), thread and all; the kernel
// allows 32.
func (k *kd) leakSetBp(verb, rest string) bool {
	id := -1
	if len(verb) > 2 {
		id, _ = strconv.Atoi(verb[2:])
	}
	b := leakBp{}
	for strings.HasPrefix(rest, "/") {
		opt, tail, _ := strings.Cut(rest, " ")
		rest = strings.TrimSpace(tail)
		switch opt {
		case "/1":
			b.oneShot = true
		case "/t", "/p", "/c", "/C":
			var val string
			val, rest, _ = strings.Cut(rest, " ")
			rest = strings.TrimSpace(rest)
			if opt == "/t" {
				v, err := masmEval(val, k.view)
				if err != nil {
					k.out(err.Error() + "\n")
					return false
				}
				b.thread = v
			}
		default:
			k.out(fmt.Sprintf("Syntax error at '%s'\n", opt))
			return false
		}
	}
	expr := rest
	if q := strings.IndexByte(rest, '"'); q >= 0 {
		cmd, after, ok := unquoteOnce(rest[q:])
		if !ok || strings.TrimSpace(after) != "" {
			k.out(fmt.Sprintf("Syntax error at '%s'\n", rest))
			return false
		}
		b.command, expr = cmd, rest[:q]
	}
	expr = strings.Fields(expr + " ")[0]
	addr, err := masmEval(expr, k.view)
	if err != nil {
		k.out(fmt.Sprintf("Bp expression '%s' could not be resolved, adding deferred bp\n", expr))
		return true
	}
	if k.cfg.arch == "x86" {
		addr &= 0xffffffff
	}
	b.addr = addr
	for i := range k.leakBps {
		if o := &k.leakBps[i]; o.addr == addr || o.id == id {
			b.id = o.id
			*o = b
			k.out(fmt.Sprintf("breakpoint %d redefined\n", b.id))
			k.syncLeakBps()
			return true
		}
	}
	if len(k.leakBps) >= 32 {
		k.out("No more breakpoints available\n")
		return false
	}
	if id < 0 {
		for id = 0; ; id++ {
			used := false
			for _, o := range k.leakBps {
				used = used || o.id == id
			}
			if !used {
				break
			}
		}
	}
	b.id = id
	k.leakBps = append(k.leakBps, b)
	sort.Slice(k.leakBps, func(i, j int) bool { return k.leakBps[i].id < k.leakBps[j].id })
	k.syncLeakBps()
	return true
}

func (k *kd) leakBs(rest string) bool {
	idText, cmd, _ := strings.Cut(rest, " ")
	id, err := strconv.Atoi(idText)
	text, after, ok := unquoteOnce(strings.TrimSpace(cmd))
	if err != nil || !ok || strings.TrimSpace(after) != "" {
		k.out(fmt.Sprintf("Syntax error at '%s'\n", rest))
		return false
	}
	for i := range k.leakBps {
		if k.leakBps[i].id == id {
			k.leakBps[i].command = text
			k.syncLeakBps()
			return true
		}
	}
	k.out(fmt.Sprintf("Breakpoint %d does not exist\n", id))
	return false
}

func (k *kd) leakBl() {
	for _, b := range k.leakBps {
		name := ""
		if v, ok := k.leakName(b.addr); ok {
			name = v
		}
		addr := fmt.Sprintf("%08x`%08x", b.addr>>32, b.addr&0xffffffff)
		if k.cfg.arch == "x86" {
			addr = fmt.Sprintf("%08x", b.addr)
		}
		line := fmt.Sprintf("%2d e Disable Clear  %s     0001 (0001) %s", b.id, addr, name)
		if b.thread != 0 {
			line += fmt.Sprintf("  Match thread data %x", b.thread)
		}
		if b.command != "" {
			line += ` "` + b.command + `"`
		}
		k.out(line + "\n")
	}
}

func (k *kd) leakName(addr uint64) (string, bool) {
	la := k.leakArch()
	for i, s := range la.sites {
		if s == addr {
			return la.siteNames[i], true
		}
	}
	switch addr {
	case la.allocAt:
		return la.alloc, true
	case la.freeAt:
		return la.free, true
	}
	return "", false
}

// leakPoolused: !poolused [Flags [Tag]]: the special-pool tag's outstanding
// allocations and bytes (nonpaged), in the documented layout.
func (k *kd) leakPoolused(rest string) {
	n, bytes := 0, uint64(0)
	for _, a := range k.leak.live {
		n++
		bytes += a.Size
	}
	k.out("   Sorting by  Tag\n\n  Pool Used:\n            NonPaged            Paged\n Tag    Allocs     Used    Allocs     Used\n")
	k.out(fmt.Sprintf(" Ddk  %8d %8d %9d %8dUNKNOWN pooltag 'Ddk ', please update pooltag.txt\n", n, bytes, 0, 0))
	k.out(fmt.Sprintf(" TOTAL %11d %9d %9d %8d\n", n, bytes, 0, 0))
}
