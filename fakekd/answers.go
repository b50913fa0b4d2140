package fakekd

import (
	"fmt"
	"strings"
	"time"
)

// What kd answers in the situations of the answer knobs (FAKEKD_KERNEL,
// FAKEKD_SYMBOLS, FAKEKD_BUGCHECK, FAKEKD_START_FAILURE,
// FAKEKD_FAILED_INSERT, FAKEKD_PERSON_BREAK_AFTER_HITS, FAKEKD_FREE_EVERY).
// The wording is kd's where it is documented or widely seen; the layout of
// the bug check and the insert failure is not documented, so kdlaunch must
// match them loosely.

// ntAvailability says which kernel has a symbol and whether nt exports it
// (export-only symbols still resolve it). Symbols not listed are exported
// by both kernels.
var ntAvailability = map[string]struct {
	kernel   string // "" both
	internal bool
}{
	"nt!mmallocatespecialpool":      {"legacy", true},
	"nt!mmfreespecialpool":          {"legacy", true},
	"nt!exallocateheapspecialpool":  {"segment-heap", true},
	"nt!expfreeheapspecialpool":     {"segment-heap", true},
	"nt!exallocateheappool":         {"segment-heap", true},
	"nt!exfreeheappool":             {"segment-heap", true},
	"nt!mmspecialpooltag":           {"", true},
	"nt!mmspecialpoolcatchoverruns": {"", true},
	"nt!mispecialpoolenabled":       {"", true},
	"nt!poolhittag":                 {"", true},
}

// ntResolves reports whether kd can resolve an nt symbol (lower case) with
// this kernel and these symbols.
func (m *machine) ntResolves(l string) bool {
	if m.cfg.Symbols == "none" {
		return false
	}
	a, ok := ntAvailability[l]
	if !ok {
		return true
	}
	if a.kernel != "" && a.kernel != m.cfg.Kernel {
		return false
	}
	return !(a.internal && m.cfg.Symbols == "export")
}

// symbolAvailable: the symbol (lower case, module!name) resolves.
func (m *machine) symbolAvailable(l string) bool {
	if m.cfg.MissingSymbols[l] {
		return false
	}
	if strings.HasPrefix(l, "nt!") {
		return m.ntResolves(l)
	}
	return true
}

// symbolWarning is what kd prints the first time it needs nt's symbols and
// has not got them all (once per boot).
func (m *machine) symbolWarning() {
	if m.symWarned || m.cfg.Symbols == "full" {
		return
	}
	m.symWarned = true
	if m.cfg.Symbols == "none" {
		m.out.line("*** ERROR: Module load completed but symbols could not be loaded for ntkrnlmp.exe")
		return
	}
	m.out.line("*** ERROR: Symbol file could not be found.  Defaulted to export symbols for ntkrnlmp.exe - ")
}

// startFailureDue: this kd process is one FAKEKD_START_FAILURE applies to.
func (m *machine) startFailureDue() bool {
	c := m.cfg
	return c.StartFailure != "" && (c.StartFailureTimes == 0 || m.st.Incarnations <= c.StartFailureTimes || c.StatePath == "")
}

// startFailure prints what kd prints when it cannot open its connection
// and exits, as kd does, without connecting.
func (m *machine) startFailure() {
	conn := m.cl.Kernel
	var code int
	var text string
	switch m.cfg.StartFailure {
	case "access-denied": // another program holds the port
		code, text = 5, "Access is denied."
	case "no-pipe": // the VM's pipe is not there
		code, text = 2, "The system cannot find the file specified."
	default: // kdnet: the port is taken
		code, text = 10048, "Only one usage of each socket address (protocol/network address/port) is normally permitted."
	}
	if conn == "" {
		conn = "com:port=com1,baud=115200"
	}
	m.st.StartFailure = m.cfg.StartFailure
	m.out.line(fmt.Sprintf("Could not start kernel debugging using %s parameters, Win32 error 0n%d", conn, code))
	m.out.line(`    "` + text + `"`)
	m.exit(1, "start failed")
	m.save()
}

// bugCheckNames are the names !analyze gives the codes a pool hunt meets.
var bugCheckNames = map[uint32]string{
	0xc1: "SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION", 0xc4: "DRIVER_VERIFIER_DETECTED_VIOLATION",
	0xcc: "PAGE_FAULT_IN_FREED_SPECIAL_POOL", 0xcd: "PAGE_FAULT_BEYOND_END_OF_ALLOCATION",
	0xd5: "DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL", 0x50: "PAGE_FAULT_IN_NONPAGED_AREA",
	0xd1: "DRIVER_IRQL_NOT_LESS_OR_EQUAL", 0x0a: "IRQL_NOT_LESS_OR_EQUAL",
	0x3b: "SYSTEM_SERVICE_EXCEPTION", 0x7e: "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED",
}

// BugCheckParams are the four parameters of every simulated bug check
// (for 0xC4: 0x62, a driver unloading with allocations not freed).
var BugCheckParams = []uint64{0x62, 0xffffb30e4c1d2a10, 0xffffb30e4b0c1e30, 0x1}

// bugCheckFrames is the crashing thread's stack: kb at the bug check and
// !analyze's STACK_TEXT show it.
var bugCheckFrames = []FrameDef{
	{Sym: "nt!DbgBreakPointWithStatus"},
	{Sym: "nt!KiBugCheckDebugBreak+0x12"},
	{Sym: "nt!KeBugCheckEx+0x107"},
	{Sym: "nt!VerifierBugCheckIfAppropriate+0xd9"},
	{Sym: "nt!VfPoolCheckForLeaks+0x4e"},
	{Sym: "leakydrv!LeakyUnload+0x3c"},
	{Sym: "nt!IopUnloadDriver+0x2a2"},
	{Sym: "nt!ExpWorkerThread+0x105"},
}

// bugCheck: the target crashes. kd prints the fatal error with its
// parameters, the break exception and the first-try note, then a prompt;
// the target stays halted until a g continues it (the dump, a reboot).
func (m *machine) bugCheck(stage string) {
	m.bugCheckDone, m.bugChecked = true, true
	m.st.BugCheckCode = m.cfg.BugCheckCode
	m.st.BugCheckStage = stage
	m.st.BugCheckParams = BugCheckParams
	if m.st.CommandsAfterBugCheck == nil {
		m.st.CommandsAfterBugCheck = []string{}
	}
	p := BugCheckParams
	if m.a.ptr64 {
		m.out.lines([]string{"", fmt.Sprintf("*** Fatal System Error: 0x%08x", m.cfg.BugCheckCode),
			fmt.Sprintf("                       (0x%016X,0x%016X,0x%016X,0x%016X)", p[0], p[1], p[2], p[3]), ""})
	} else {
		m.out.lines([]string{"", fmt.Sprintf("*** Fatal System Error: 0x%08x", m.cfg.BugCheckCode),
			fmt.Sprintf("                       (0x%08X,0x%08X,0x%08X,0x%08X)", p[0], uint32(p[1]), uint32(p[2]), p[3]), ""})
	}
	m.out.lines([]string{
		breakException, "",
		"A fatal system error has occurred.",
		"Debugger entered on first try; Bugcheck callbacks have not been invoked.", "",
		"A fatal system error has occurred.", "",
		"For analysis of this file, run !analyze -v",
		m.a.breakSym + ":",
		m.a.int3Line(m.a.breakAddr),
	})
	frames := buildStack(m.a, m.rng, bugCheckFrames, false, []uint64{3, 0, 0})
	m.enterHalt(haltInfo{
		sym: m.a.breakSym, ip: m.a.breakAddr, disasm: "cc              int     3",
		frames: frames, warnAt: -1, regs: m.regsAt(m.a.breakAddr, frames, []uint64{uint64(m.cfg.BugCheckCode)}),
	})
}

// analyze answers !analyze [-v]: the bug check's name, code and
// parameters, the "BugCheck C4, {...}" summary and the stack.
func (m *machine) analyze() {
	if !m.bugChecked {
		m.out.line("Unknown bugcheck code (0)")
		return
	}
	c, p := m.cfg.BugCheckCode, BugCheckParams
	name := bugCheckNames[c]
	if name == "" {
		name = "UNKNOWN_BUGCHECK_CODE"
	}
	out := []string{
		"*******************************************************************************",
		"*                                                                             *",
		"*                        Bugcheck Analysis                                    *",
		"*                                                                             *",
		"*******************************************************************************",
		"",
		fmt.Sprintf("%s (%x)", name, c),
		"Arguments:",
	}
	for i, v := range p {
		out = append(out, fmt.Sprintf("Arg%d: %s", i+1, m.regValue(v)))
	}
	out = append(out, "",
		fmt.Sprintf("BugCheck %X, {%x, %x, %x, %x}", c, p[0], p[1], p[2], p[3]), "",
		fmt.Sprintf("BUGCHECK_CODE:  %x", c), "",
		fmt.Sprintf("BUGCHECK_P1: %x", p[0]), "", fmt.Sprintf("BUGCHECK_P2: %x", p[1]), "",
		fmt.Sprintf("BUGCHECK_P3: %x", p[2]), "", fmt.Sprintf("BUGCHECK_P4: %x", p[3]), "",
		"STACK_TEXT:  ")
	for _, l := range formatStack(m.a, layoutFor(m.a, "kb", m.cfg.StackFormat), m.halt.frames, 0, -1)[1:] {
		// STACK_TEXT has no header and no frame numbers.
		if f := strings.Fields(l); len(f) > 1 && len(f[0]) == 2 {
			l = strings.TrimSpace(l[2:])
		}
		out = append(out, l)
	}
	out = append(out, "", "SYMBOL_NAME:  leakydrv!LeakyUnload+3c", "", "MODULE_NAME: leakydrv", "",
		"IMAGE_NAME:  leakydrv.sys", "", fmt.Sprintf("FAILURE_BUCKET_ID:  0x%X_%x_leakydrv!LeakyUnload", c, p[0]), "")
	m.out.lines(out)
}

// failInsert answers a g kd cannot carry out (FAKEKD_FAILED_INSERT): a
// breakpoint's address cannot be written, kd says so and stays at the
// prompt. It reports whether the g failed.
func (m *machine) failInsert() bool {
	if m.cfg.FailedInserts == 0 {
		return false
	}
	var bp *breakpoint
	for _, b := range m.bps.list {
		if b.enabled && b.resolved {
			bp = b
			break
		}
	}
	if bp == nil {
		return false
	}
	if m.cfg.FailedInserts > 0 {
		m.cfg.FailedInserts--
	}
	m.st.FailedInserts++
	addr := m.a.addr(bp.addr)
	m.out.line(fmt.Sprintf("Unable to insert breakpoint %d at %s, Win32 error 0n299", bp.id, addr))
	m.out.line(`    "Only part of a ReadProcessMemory or WriteProcessMemory request was completed."`)
	m.out.line(fmt.Sprintf("bp%d at %s failed", bp.id, addr))
	m.save()
	return true
}

// personBreak: someone at the debugging server pressed CTRL+C. The box is
// the one a requested break shows, although nobody asked kd for one.
func (m *machine) personBreak() {
	m.personDone = true
	m.personAt = time.Now()
	m.st.PersonBreaks++
	if m.st.CommandsAtPersonBreak == nil {
		m.st.CommandsAtPersonBreak = []string{}
	}
	m.breakIn()
}

// personResumed records the g that ends a person's break.
func (m *machine) personResumed() {
	if m.personAt.IsZero() {
		return
	}
	m.st.PersonBreakResumed = true
	m.st.PersonBreakResumedMs = time.Since(m.personAt).Milliseconds()
	m.personAt = time.Time{}
}

// recordAnswerCommand keeps the commands typed into a bug check or a
// person's break, for tests to check nothing was.
func (m *machine) recordAnswerCommand(text string) {
	if m.bugChecked {
		m.st.CommandsAfterBugCheck = append(m.st.CommandsAfterBugCheck, text)
	}
	if !m.personAt.IsZero() {
		m.st.CommandsAtPersonBreak = append(m.st.CommandsAtPersonBreak, text)
	}
}

// poolHitFree decides whether this PoolHitTag break is a free.
func (m *machine) poolHitFree() bool {
	n := m.st.PoolHitAllocs + m.st.PoolHitFrees + 1
	free := m.cfg.FreeEvery > 0 && n%m.cfg.FreeEvery == 0
	if free {
		m.st.PoolHitFrees++
	} else {
		m.st.PoolHitAllocs++
	}
	return free
}

// freeFrames is a free's stack: the free routine on top, then the driver
// releasing its buffer.
func freeFrames(sd StackDef) []FrameDef {
	mod := "leakydrv"
	if len(sd.Frames) > 0 {
		if md, _, ok := strings.Cut(sd.Frames[0].Sym, "!"); ok {
			mod = md
		}
	}
	out := []FrameDef{{Sym: "nt!ExFreePoolWithTag+0x5f2"}, {Sym: mod + "!ReleaseBuffer+0x1c"}}
	if len(sd.Frames) > 1 {
		out = append(out, sd.Frames[1:]...)
	}
	return out
}
