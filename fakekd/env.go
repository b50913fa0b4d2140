package fakekd

import "strings"

// haltEnv is what an expression sees at the current halt.
type haltEnv struct{ m *machine }

func (m *machine) ev() exprEnv { return haltEnv{m} }

func (e haltEnv) ptr64() bool { return e.m.a.ptr64 }

// subRegs are the 32-bit views of x64 registers, by their full register.
var subRegs = map[string]string{
	"eax": "rax", "ebx": "rbx", "ecx": "rcx", "edx": "rdx", "esi": "rsi", "edi": "rdi",
	"esp": "rsp", "ebp": "rbp", "eip": "rip",
	"r8d": "r8", "r9d": "r9", "r10d": "r10", "r11d": "r11", "r12d": "r12", "r13d": "r13", "r14d": "r14", "r15d": "r15",
}

func (e haltEnv) reg(name string) (uint64, bool) {
	for _, r := range e.m.halt.regs {
		if r.name == name {
			return r.val, true
		}
	}
	return 0, false
}

// register: general registers of the target's architecture (a 32-bit
// register is sign-extended: "A 32-bit register is sign extended in both
// modes",
// https://learn.microsoft.com/en-us/windows-hardware/drivers/debuggercmds/sign-extension),
// and the pseudo-registers of
// https://learn.microsoft.com/en-us/windows-hardware/drivers/debuggercmds/pseudo-register-syntax,
// which are never sign-extended.
func (e haltEnv) register(name string) (uint64, bool) {
	m := e.m
	sext := func(v uint64) uint64 { return uint64(int64(int32(uint32(v)))) }
	switch name {
	case "$thread":
		if m.halt.thread != 0 {
			return m.halt.thread, true
		}
		// A break-in or a plain hit: the thread the processor was running.
		if m.a.ptr64 {
			return 0xffffb30e4b0c1080, true
		}
		return 0x86b1d020, true
	case "$proc":
		if m.a.ptr64 {
			return 0xffffb30e4a2d9040, true
		}
		return 0x86a1c830, true
	case "$ra":
		if m.halt.ra != 0 {
			return m.halt.ra, true
		}
		if len(m.halt.frames) > 0 {
			return m.halt.frames[0].ret, true
		}
		return 0, true
	case "$ip":
		return m.halt.ip, true
	case "$csp":
		if len(m.halt.frames) > 0 && len(m.halt.regs) > 0 {
			if m.a.ptr64 {
				return e.reg("rsp")
			}
			return e.reg("esp")
		}
		return 0, true
	case "$retreg", "$retreg64":
		if m.a.ptr64 {
			return e.reg("rax")
		}
		v, ok := e.reg("eax")
		return uint64(uint32(v)), ok
	case "$ptrsize":
		if m.a.ptr64 {
			return 8, true
		}
		return 4, true
	}
	if strings.HasPrefix(name, "$t") {
		// User pseudo-registers $t0..$t19: global, zero by default.
		return 0, true
	}
	if m.a.ptr64 {
		if full, ok := subRegs[name]; ok {
			v, ok := e.reg(full)
			return sext(v), ok
		}
		return e.reg(name)
	}
	v, ok := e.reg(name)
	if ok {
		return sext(v), true
	}
	return 0, false
}

// memory reads the halt's stack, the special-pool page headers (the size
// at the page start, the tag 4 bytes on: ReactOS's MmAllocateSpecialPool
// in https://github.com/reactos/reactos) and the kernel variables dd and
// ed see.
func (e haltEnv) memory(addr uint64, size int) (uint64, bool) {
	var v uint64
	for i := size - 1; i >= 0; i-- {
		b, ok := e.byteAt(addr + uint64(i))
		if !ok {
			return 0, false
		}
		v = v<<8 | uint64(b)
	}
	return v, true
}

func (e haltEnv) byteAt(a uint64) (byte, bool) {
	m := e.m
	d, off := a&^3, (a&3)*8
	if !m.a.ptr64 {
		d &= 0xffffffff
	}
	if v, ok := m.halt.stackMem[d]; ok {
		return byte(v >> off), true
	}
	if v, ok := m.mem[d]; ok {
		return byte(v >> off), true
	}
	if m.leak != nil {
		page := d &^ 0xfff
		for _, l := range m.leak.live {
			if l.Addr&^0xfff != page {
				continue
			}
			switch d - page {
			case 0:
				return byte(l.Size >> off), true
			case 4:
				return byte(uint64(m.specialPoolTag()) >> off), true
			}
			return 0, true
		}
	}
	return 0, false
}

func (e haltEnv) symbol(name string) (uint64, bool) {
	if !strings.Contains(name, "!") {
		return 0, false // a bare word: a register, if anything
	}
	_, addr, ok := e.m.resolve(name)
	return addr, ok
}

// nameAt is the symbol kd shows for a code address: a known routine, a
// call site of the leak workload, or "" (bl then shows the address).
func (m *machine) nameAt(v uint64) string {
	if s := m.symbolAt(v); s != "" {
		return s
	}
	if m.leak != nil {
		for i, ip := range m.leak.sites {
			if ip == v {
				s, _ := siteAndIP(m.a, m.siteFrames(i)[0], false)
				return s
			}
		}
	}
	return ""
}
