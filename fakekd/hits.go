package fakekd

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// dbgPrints are DbgPrint lines the simulated drivers emit between hits
// (FAKEKD_NOISE): real logs interleave them with stacks (kd-protocol.md "Stack layouts").
var dbgPrints = []string{
	"leakydrv: LeakyDispatchWrite: queued 0x40 bytes",
	"netfltx: FilterReceive: 3 NBLs indicated",
	"avscan: scan request 1842 completed",
}

// tick is one allocation of the simulated target. Before it, the fault
// knobs get their turn: a reboot or a transport loss replaces the hit.
func (m *machine) tick() {
	if !m.hitsPossible() {
		return
	}
	c := m.cfg
	if c.RebootAfterHits > 0 && m.hitsSinceReboot >= c.RebootAfterHits && (!m.rebootedByKnob || c.RebootRepeat) {
		m.rebootedByKnob = true
		m.reboot()
		return
	}
	if c.BugCheck == "running" && !m.bugCheckDone && m.st.Hits >= c.BugCheckAfterHits {
		m.bugCheck("running")
		return
	}
	if c.PersonBreakAfter > 0 && !m.personDone && m.st.Hits >= c.PersonBreakAfter {
		m.personBreak()
		return
	}
	if c.LossAfterHits > 0 && !m.lossDone && m.hitsThisProcess >= c.LossAfterHits {
		m.lossDone = true
		m.loseTransport()
		return
	}
	m.hit()
}

// hit prints what kd prints when an allocation stops the target, then runs
// the breakpoint's command string (kd-protocol.md "Breakpoints", "Breakpoint hits", "PoolHitTag and the allocators").
func (m *machine) hit() {
	if m.leak != nil {
		m.leakTick()
		return
	}
	m.hitsThisProcess++
	m.hitsSinceReboot++
	m.st.Hits++
	if m.cfg.Noise && m.rng.IntN(4) == 0 {
		m.out.line(dbgPrints[m.rng.IntN(len(dbgPrints))])
	}
	sd := pickStack(m.rng, m.cfg.Stacks)
	size := uint64(0x10 * (1 + m.rng.IntN(0x40)))

	if m.poolHitActive() {
		// A PoolHitTag match is an int 3 inside the allocator, not a
		// breakpoint: no command string runs and the target halts.
		top := []FrameDef{{Sym: m.a.poolHitSym}}
		sym, ip := m.a.poolHitSym, m.a.poolHitAddr
		switch {
		case m.poolHitFree():
			// PoolHitTag also breaks on frees: the free routine is on
			// top, the driver releasing its buffer below.
			fr := freeFrames(sd)
			top, sd = fr[:1], StackDef{Frames: fr[1:], EndsInUser: sd.EndsInUser}
			sym, ip = fr[0].Sym, m.a.symbolAddr("nt!ExFreePoolWithTag")+0x5f2
		case m.cfg.Kernel == "segment-heap":
			top = []FrameDef{{Sym: "nt!ExAllocateHeapPool+0x1a4"}, {Sym: "nt!ExAllocatePoolWithTag+0x95"}}
			sym, ip = top[0].Sym, m.a.symbolAddr("nt!ExAllocateHeapPool")+0x1a4
		case m.a.ptr64:
			top = append(top, FrameDef{Sym: "nt!ExAllocatePoolWithTag+0x3a1"})
		}
		h := m.haltAt(top, sd, sym, ip, "cc              int     3",
			[]uint64{0, size, uint64(m.poolHitTag())})
		m.out.lines([]string{breakException, sym + ":", m.a.int3Line(ip)})
		m.haltQuiet(h)
		if m.crashDue() {
			m.crash()
			return
		}
		m.showPrompt()
		return
	}

	bp := m.bps.firstHit()
	fn := strings.ToLower(bp.sym)
	top := []FrameDef{{Sym: bp.sym}}
	var args []uint64
	tag := uint64(m.specialPoolTag())
	switch fn {
	case "nt!mmallocatespecialpool":
		// ReactOS's prototype: (NumberOfBytes, Tag, PoolType, SpecialType).
		top = append(top, FrameDef{Sym: "nt!ExAllocatePoolWithTag+0x3a1"})
		args = []uint64{size, tag, 0x200}
	case "nt!exallocateheapspecialpool":
		// Segment-heap kernels: (PoolType?, NumberOfBytes, Tag), called by
		// ExAllocateHeapPool.
		top = append(top, FrameDef{Sym: "nt!ExAllocateHeapPool+0x20e"}, FrameDef{Sym: "nt!ExAllocatePoolWithTag+0x95"})
		args = []uint64{0x200, size, tag}
	case "nt!exallocateheappool":
		top = append(top, FrameDef{Sym: "nt!ExAllocatePoolWithTag+0x95"})
		args = []uint64{0x200, size, tag}
	case "nt!exallocatepool2":
		args = []uint64{0x40, size, tag}
	default:
		args = []uint64{0x200, size, tag}
	}
	h := m.haltAt(top, sd, bp.sym, bp.addr, m.a.disasm[fn], args)
	m.out.lines([]string{
		fmt.Sprintf("Breakpoint %d hit", bp.id),
		bp.sym + ":",
		m.a.disasmLine(bp.addr, m.a.disasm[fn]),
	})
	cmd, hasCmd := bp.command, bp.hasCmd
	if bp.oneShot {
		m.bps.remove(bp.id)
	}
	m.haltQuiet(h)
	resumed := hasCmd && m.execList(cmd)
	if m.exiting {
		return
	}
	if m.crashDue() {
		m.crash()
		return
	}
	if !resumed {
		m.showPrompt()
	}
	// Resumed: resume() has saved the state, hit counter included.
}

func (m *machine) crashDue() bool {
	return m.cfg.CrashAfterHits > 0 && m.hitsThisProcess >= m.cfg.CrashAfterHits
}

// haltAt builds the halt of an allocation: allocator frames on top of the
// driver's stack, registers holding the allocator's arguments.
func (m *machine) haltAt(top []FrameDef, sd StackDef, sym string, ip uint64, disasm string, args []uint64) haltInfo {
	defs := append(append([]FrameDef{}, top...), sd.Frames...)
	// x86 passes arguments on the stack, so kb shows them (kd-protocol.md "Stack layouts");
	// x64's home area is not reliable, so random values stay there.
	var first []uint64
	if !m.a.ptr64 {
		first = args
	}
	frames := buildStack(m.a, m.rng, defs, sd.EndsInUser, first)
	warnAt := -1
	if m.cfg.Noise {
		for i, d := range defs {
			if d.Warn && m.rng.IntN(2) == 0 {
				warnAt = i
			}
		}
	}
	return haltInfo{sym: sym, ip: ip, disasm: disasm, frames: frames, warnAt: warnAt, regs: m.regsAt(ip, frames, args)}
}

// regsAt makes a register set for a halt. On x64 the first four integer
// arguments are in rcx, rdx, r8, r9 (kd-protocol.md "Stack layouts"), so `r rdx` shows the tag
// at a MmAllocateSpecialPool breakpoint, as the register map of kd-protocol.md "Allocators" says.
func (m *machine) regsAt(ip uint64, frames []frame, args []uint64) []reg {
	arg := func(i int) uint64 {
		if i < len(args) {
			return args[i]
		}
		return 0
	}
	sp := frames[0].sp
	if m.a.ptr64 {
		return []reg{
			{"rax", 0}, {"rbx", randomArg(m.a, m.rng)}, {"rcx", arg(0)},
			{"rdx", arg(1)}, {"rsi", randomArg(m.a, m.rng)}, {"rdi", randomArg(m.a, m.rng)},
			{"rip", ip}, {"rsp", sp}, {"rbp", sp + 0x80},
			{"r8", arg(2)}, {"r9", arg(3)}, {"r10", 0},
			{"r11", sp}, {"r12", 0}, {"r13", 0},
			{"r14", 0}, {"r15", 0},
		}
	}
	return []reg{
		{"eax", 1}, {"ebx", 0}, {"ecx", arg(0)}, {"edx", arg(1)}, {"esi", 0}, {"edi", 0},
		{"eip", ip}, {"esp", sp}, {"ebp", sp + 0x28},
	}
}

// win32Error maps a Go file error to the Win32 code kd would report.
func win32Error(err error) int {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return 3 // ERROR_PATH_NOT_FOUND
	case errors.Is(err, fs.ErrPermission):
		return 5 // ERROR_ACCESS_DENIED
	}
	return 2
}
