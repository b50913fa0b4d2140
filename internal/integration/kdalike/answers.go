package kdalike

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// What kd answers in the situations of the answer knobs: a kernel with the
// segment heap, export-only or missing symbols for nt, a bug check, a
// failed start, a breakpoint kd cannot insert, a person's break, and the
// frees PoolHitTag also breaks on. The wording follows kd's documented
// output where there is one; where there is none (the exact bug check and
// insert-failure layout) it follows what kd is widely seen to print, and
// kdlaunch must match it loosely.

// bpEntry is one breakpoint as kd keeps it.
type bpEntry struct {
	id       int
	cmd      string // the whole command line, as the state file lists it
	expr     string // the address expression
	command  string // the command string, without its quotes
	deferred bool   // unresolved: bl shows "u", it never hits
}

// ntSymbols: every nt symbol kdalike knows, the address x shows, whether
// it is exported (export-only symbols still have it), and which kernel has
// it ("" both).
var ntSymbols = map[string]struct {
	addr   string
	export bool
	kernel string
}{
	"nt!mmallocatespecialpool":     {"fffff801`1e7a2b30", false, "legacy"},
	"nt!mmfreespecialpool":         {"fffff801`1e7a3c10", false, "legacy"},
	"nt!exallocateheapspecialpool": {"fffff801`1e83e988", false, "segment-heap"},
	"nt!expfreeheapspecialpool":    {"fffff801`1eaba310", false, "segment-heap"},
	"nt!exallocateheappool":        {"fffff801`1e7bcfe4", false, "segment-heap"},
	"nt!exallocatepoolwithtag":     {"fffff801`1e8eadb0", true, ""},
	"nt!exfreepoolwithtag":         {"fffff801`1e8eb3a0", true, ""},
	"nt!exallocatepool2":           {"fffff801`1e8ec010", true, ""},
	"nt!mmspecialpooltag":          {"fffff801`1f0c3a10", false, ""},
	"nt!poolhittag":                {"fffff801`1f0c3b40", false, ""},
}

var displayNames = map[string]string{
	"nt!mmallocatespecialpool": "nt!MmAllocateSpecialPool", "nt!mmfreespecialpool": "nt!MmFreeSpecialPool",
	"nt!exallocateheapspecialpool": "nt!ExAllocateHeapSpecialPool", "nt!expfreeheapspecialpool": "nt!ExpFreeHeapSpecialPool",
	"nt!exallocateheappool": "nt!ExAllocateHeapPool", "nt!exallocatepoolwithtag": "nt!ExAllocatePoolWithTag",
	"nt!exfreepoolwithtag": "nt!ExFreePoolWithTag", "nt!exallocatepool2": "nt!ExAllocatePool2",
	"nt!mmspecialpooltag": "nt!MmSpecialPoolTag", "nt!poolhittag": "nt!PoolHitTag",
}

// resolveNT reports whether expr resolves and its address. Symbols of other
// modules (a driver's, from --command) always resolve.
func (k *kd) resolveNT(expr string) (addr string, ok bool) {
	l := strings.ToLower(strings.TrimSpace(expr))
	base, _, _ := strings.Cut(l, "+")
	if !strings.HasPrefix(base, "nt!") {
		return "fffff801`23451234", true
	}
	s, known := ntSymbols[base]
	switch {
	case !known, k.cfg.symbols == "none":
		return "", false
	case s.kernel != "" && s.kernel != k.cfg.kernel:
		return "", false
	case k.cfg.symbols == "export" && !s.export:
		return "", false
	}
	return s.addr, true
}

// allocators are the routines the simulated allocations go through, so a
// breakpoint on one of them hits.
func (k *kd) allocator(expr string) bool {
	base, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(expr)), "+")
	if !strings.HasPrefix(base, "nt!") {
		return true // a driver's routine: the old behaviour, every bp hits
	}
	switch base {
	case "nt!exallocatepoolwithtag", "nt!exallocatepool2":
		return true
	case "nt!mmallocatespecialpool":
		return k.cfg.kernel == "legacy"
	case "nt!exallocateheapspecialpool", "nt!exallocateheappool":
		return k.cfg.kernel == "segment-heap"
	}
	return false
}

// liveBP is the breakpoint an allocation stops at, nil if none can.
func (k *kd) liveBP() *bpEntry {
	for i := range k.bps {
		if b := &k.bps[i]; !b.deferred && k.allocator(b.expr) {
			return b
		}
	}
	return nil
}

// armed: something makes the running target halt.
func (k *kd) armed() bool { return k.liveBP() != nil || k.poolHitActive() }

// poolHitActive: 0 clears PoolHitTag and ffffff0f is the kernel's "no tag".
func (k *kd) poolHitActive() bool {
	return k.st.PoolHitTag != 0 && k.st.PoolHitTag != 0xffffff0f
}

// splitBp takes "bp[ID] [/1] addr ["cmd"]" apart.
func splitBp(cmd string) (expr, command string) {
	rest := strings.TrimSpace(cmd[2:])
	for len(rest) > 0 && rest[0] >= '0' && rest[0] <= '9' {
		rest = rest[1:]
	}
	rest = strings.TrimSpace(rest)
	for strings.HasPrefix(rest, "/") {
		_, rest, _ = strings.Cut(rest, " ")
		rest = strings.TrimSpace(rest)
	}
	expr, command, _ = strings.Cut(rest, " ")
	command = strings.Trim(strings.TrimSpace(command), `"`)
	return expr, command
}

// setBp answers bp and bu. An unresolved bp is turned into a deferred one,
// and kd says so; an unresolved bu is deferred silently.
func (k *kd) setBp(verb, cmd string) {
	if len(k.bps) >= 32 {
		k.out("No more breakpoints available\n")
		return
	}
	expr, command := splitBp(cmd)
	_, ok := k.resolveNT(expr)
	if k.cfg.deferred || (!ok && verb == "bp") {
		name := expr
		if k.cfg.deferred {
			name = "nt!MmAllocateSpecialPool"
		}
		k.out(fmt.Sprintf("Bp expression '%s' could not be resolved, adding deferred bp\n", name))
	}
	id := 0
	for used := true; used; {
		used = false
		for _, b := range k.bps {
			if b.id == id {
				used, id = true, id+1
			}
		}
	}
	k.bps = append(k.bps, bpEntry{id: id, cmd: cmd, expr: expr, command: command, deferred: !ok})
	k.syncBps()
}

func (k *kd) clearBps() {
	k.bps = nil
	k.syncBps()
}

func (k *kd) syncBps() {
	k.st.Breakpoints = []string{}
	k.st.Deferred = []string{}
	for _, b := range k.bps {
		k.st.Breakpoints = append(k.st.Breakpoints, b.cmd)
		if b.deferred {
			k.st.Deferred = append(k.st.Deferred, b.expr)
		}
	}
}

// bl in kd's kernel layout: id, e/d (u when unresolved), the address, the
// pass counts, module!symbol, then the command string in quotes:
//
//	0 e Disable Clear  fffff801`1e7a2b30     0001 (0001) nt!MmAllocateSpecialPool ";kb;g"
//	1 eu Disable Clear                       0001 (0001) (nt!MmAllocateSpecialPool) ";kb;g"
func (k *kd) bl() {
	for _, b := range k.bps {
		var line string
		if b.deferred {
			line = fmt.Sprintf("%2d eu Disable Clear  %17s     0001 (0001) (%s)", b.id, "", b.expr)
		} else {
			addr, _ := k.resolveNT(b.expr)
			name := displayNames[strings.ToLower(b.expr)]
			if name == "" {
				name = b.expr
			}
			line = fmt.Sprintf("%2d e Disable Clear  %s     0001 (0001) %s", b.id, addr, name)
		}
		if b.command != "" {
			line += ` "` + b.command + `"`
		}
		k.out(line + "\n")
	}
}

// x answers "x nt!Name": one line when the symbol resolves, nothing when
// it does not (kd prints no error for an empty match).
func (k *kd) x(arg string) {
	l := strings.ToLower(strings.TrimSpace(arg))
	addr, ok := k.resolveNT(l)
	if !ok || !strings.HasPrefix(l, "nt!") {
		return
	}
	name := displayNames[l]
	switch {
	case l == "nt!mmspecialpooltag" || l == "nt!poolhittag":
		k.out(fmt.Sprintf("%s %s = <no type information>\n", addr, name))
	case k.cfg.symbols == "export":
		k.out(fmt.Sprintf("%s %s (<no parameter info>)\n", addr, name))
	case k.cfg.arch == "x86" && l == "nt!mmallocatespecialpool":
		k.out("8062f7b4          nt!MmAllocateSpecialPool (_MmAllocateSpecialPool@16)\n")
	case l == "nt!mmallocatespecialpool":
		k.out(fmt.Sprintf("%s %s (MmAllocateSpecialPool)\n", addr, name))
	default:
		k.out(fmt.Sprintf("%s %s (<no parameter info>)\n", addr, name))
	}
}

// dd answers "dd nt!MmSpecialPoolTag L1" and "dd nt!PoolHitTag L1".
func (k *kd) dd(cmd string) {
	f := strings.Fields(cmd)
	if len(f) < 2 {
		k.out(fmt.Sprintf("Couldn't resolve error at '%s'\n", cmd))
		return
	}
	addr, ok := k.resolveNT(f[1])
	l := strings.ToLower(f[1])
	if !ok || (l != "nt!mmspecialpooltag" && l != "nt!poolhittag") {
		k.out(fmt.Sprintf("Couldn't resolve error at '%s'\n", strings.TrimSpace(strings.TrimPrefix(cmd, f[0]))))
		return
	}
	v := uint32(0x206b6444)
	if l == "nt!poolhittag" {
		v = k.st.PoolHitTag
	}
	if k.cfg.arch == "x86" {
		addr = "8055a5c0"
	}
	k.out(fmt.Sprintf("%s  %08x\n", addr, v))
}

// ed answers "ed nt!PoolHitTag VALUE" (hex, or the tag's characters in
// quotes, backwards as kd reads them).
func (k *kd) ed(cmd string) {
	f := strings.Fields(cmd)
	if len(f) < 3 {
		return
	}
	if _, ok := k.resolveNT(f[1]); !ok {
		k.out(fmt.Sprintf("Couldn't resolve error at '%s'\n", strings.TrimSpace(strings.TrimPrefix(cmd, f[0]))))
		return
	}
	if strings.ToLower(f[1]) != "nt!poolhittag" {
		return
	}
	val := strings.TrimSpace(cmd[strings.Index(cmd, f[1])+len(f[1]):])
	if strings.HasPrefix(val, "'") && strings.HasSuffix(val, "'") && len(val) >= 2 {
		var t uint32
		for _, c := range []byte(val[1 : len(val)-1]) {
			t = t<<8 | uint32(c)
		}
		k.st.PoolHitTag = t
		return
	}
	n, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(val), "0x"), 16, 32)
	if err != nil {
		k.out(fmt.Sprintf("Couldn't resolve error at '%s'\n", val))
		return
	}
	k.st.PoolHitTag = uint32(n)
}

// startFailure prints the error kd prints when it cannot open its
// connection, then exits as kd does, before any connection.
func (k *kd) startFailure() {
	conn := kdArg(os.Args)
	var code int
	var text string
	switch k.cfg.startFailure {
	case "access-denied": // the port is held by another program
		code, text = 5, "Access is denied."
		if conn == "" {
			conn = "com:port=com1,baud=115200"
		}
	case "no-pipe": // the VM's pipe is not there (the VM is off)
		code, text = 2, "The system cannot find the file specified."
		if conn == "" {
			conn = `com:pipe,port=\\.\pipe\com_1,resets=0`
		}
	default: // kdnet: the port is in use
		code, text = 10048, "Only one usage of each socket address (protocol/network address/port) is normally permitted."
		if conn == "" {
			conn = "net:port=50000,key=1.2.3.4"
		}
	}
	k.st.StartFailure = k.cfg.startFailure
	k.out(fmt.Sprintf("Could not start kernel debugging using %s parameters, Win32 error 0n%d\n    \"%s\"\n", conn, code, text))
	k.exit("start failed", 1)
}

// kdArg is the value of -k on kd's command line.
func kdArg(args []string) string {
	for i, a := range args {
		if (a == "-k" || a == "/k") && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// bugCheckNames are the names !analyze prints for the codes a pool hunt
// meets.
var bugCheckNames = map[uint32]string{
	0xc1: "SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION", 0xc4: "DRIVER_VERIFIER_DETECTED_VIOLATION",
	0xcc: "PAGE_FAULT_IN_FREED_SPECIAL_POOL", 0xcd: "PAGE_FAULT_BEYOND_END_OF_ALLOCATION",
	0xd5: "DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL", 0x50: "PAGE_FAULT_IN_NONPAGED_AREA",
	0xd1: "DRIVER_IRQL_NOT_LESS_OR_EQUAL", 0x0a: "IRQL_NOT_LESS_OR_EQUAL",
	0x3b: "SYSTEM_SERVICE_EXCEPTION", 0x7e: "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED",
}

// bugCheckParams are the four parameters every simulated bug check carries.
var bugCheckParams = [4]uint64{0x62, 0xffffb30e4c1d2a10, 0xffffb30e4b0c1e30, 0x1}

// bugCheck: the target crashes. kd prints the fatal error, the break
// exception and the first-try note, and gives a prompt; the target stays
// halted until someone types g (then it writes its dump and reboots).
func (k *kd) bugCheck(stage string) {
	k.bugcheckDone = true
	k.bugchecked = true
	k.running, k.halted = false, true
	k.breakPending, k.queuedBreak = false, false
	k.cpu++
	k.st.BugCheckCode = k.cfg.bugcheckCode
	k.st.BugCheckStage = stage
	k.st.BugCheckParams = bugCheckParams[:]
	if k.st.CommandsAfterBugCheck == nil {
		k.st.CommandsAfterBugCheck = []string{}
	}
	p := bugCheckParams
	k.setTarget()
	k.out(fmt.Sprintf("\n*** Fatal System Error: 0x%08x\n                       (0x%016X,0x%016X,0x%016X,0x%016X)\n\n",
		k.cfg.bugcheckCode, p[0], p[1], p[2], p[3]))
	k.out("Break instruction exception - code 80000003 (first chance)\n\n")
	k.out("A fatal system error has occurred.\nDebugger entered on first try; Bugcheck callbacks have not been invoked.\n\n")
	k.out("A fatal system error has occurred.\n\nFor analysis of this file, run !analyze -v\n")
	k.out("nt!DbgBreakPointWithStatus:\nfffff801`1e5fb1b0 cc              int     3\n")
	k.haltStack = bugCheckStack(k.cfg.bugcheckCode)
	k.save()
	k.prompt()
}

func bugCheckStack(code uint32) string {
	return " # RetAddr               : Args to Child                                                           : Call Site\n" +
		"00 fffff801`1e9c1a2e     : 00000000`00000003 ffffd001`c70c6270 00000000`00000000 00000000`00000000 : nt!DbgBreakPointWithStatus\n" +
		"01 fffff801`1e9c0f12     : 00000000`00000003 00000000`00000000 fffff801`1e8b2c3d 00000000`000000c4 : nt!KiBugCheckDebugBreak+0x12\n" +
		fmt.Sprintf("02 fffff801`1ea7c9d1     : 00000000`%08x 00000000`00000062 ffffb30e`4c1d2a10 ffffb30e`4b0c1e30 : nt!KeBugCheckEx+0x107\n", code) +
		"03 fffff801`1ea6e7a2     : ffffb30e`4b0c1e30 00000000`00000000 00000000`00000000 00000000`00000000 : nt!VerifierBugCheckIfAppropriate+0xd9\n" +
		"04 fffff801`23451270     : ffffb30e`4c1d2a10 00000000`00000000 00000000`00000000 00000000`00000000 : nt!VfPoolCheckForLeaks+0x4e\n" +
		"05 fffff801`1e6f1a2e     : 00000000`00000000 00000000`00000000 00000000`00000000 00000000`00000000 : Ddkdrv!DdkUnload+0x3c\n" +
		"06 fffff801`1e6f19b0     : ffffb30e`4c1d2a10 ffffb30e`4b0c1e30 00000000`00000000 00000000`00000000 : nt!IopUnloadDriver+0x2a2\n"
}

// analyze answers !analyze -v at a bug check (and, shorter, without one).
func (k *kd) analyze() {
	if !k.bugchecked {
		k.out("Unknown bugcheck code (0)\n")
		return
	}
	c, p := k.cfg.bugcheckCode, bugCheckParams
	name := bugCheckNames[c]
	if name == "" {
		name = "UNKNOWN_BUGCHECK"
	}
	var b strings.Builder
	b.WriteString("*******************************************************************************\n*                                                                             *\n*                        Bugcheck Analysis                                    *\n*                                                                             *\n*******************************************************************************\n\n")
	fmt.Fprintf(&b, "%s (%x)\n", name, c)
	b.WriteString("Arguments:\n")
	for i, v := range p {
		fmt.Fprintf(&b, "Arg%d: %016x\n", i+1, v)
	}
	fmt.Fprintf(&b, "\nBugCheck %X, {%x, %x, %x, %x}\n\n", c, p[0], p[1], p[2], p[3])
	fmt.Fprintf(&b, "BUGCHECK_CODE:  %x\n\nBUGCHECK_P1: %x\n\nBUGCHECK_P2: %x\n\nBUGCHECK_P3: %x\n\nBUGCHECK_P4: %x\n\n", c, p[0], p[1], p[2], p[3])
	b.WriteString("STACK_TEXT:  \n")
	for _, l := range strings.Split(strings.TrimSuffix(bugCheckStack(c), "\n"), "\n")[1:] {
		// STACK_TEXT has no frame numbers.
		b.WriteString(strings.TrimSpace(l[2:]) + "\n")
	}
	b.WriteString("\nSYMBOL_NAME:  Ddkdrv!DdkUnload+3c\n\nMODULE_NAME: Ddkdrv\n\nIMAGE_NAME:  Ddkdrv.sys\n\n")
	fmt.Fprintf(&b, "FAILURE_BUCKET_ID:  0x%X_%x_Ddkdrv!DdkUnload\n\n", c, p[0])
	k.out(b.String())
}

// failInsert answers a g kd cannot carry out: a breakpoint's address is
// not writable, kd says so and stays at the prompt.
func (k *kd) failInsert() bool {
	b := k.liveBP()
	if b == nil || k.cfg.failedInserts == 0 {
		return false
	}
	if k.cfg.failedInserts > 0 {
		k.cfg.failedInserts--
	}
	k.st.FailedInserts++
	addr, _ := k.resolveNT(b.expr)
	k.out(fmt.Sprintf("Unable to insert breakpoint %d at %s, Win32 error 0n299\n    \"Only part of a ReadProcessMemory or WriteProcessMemory request was completed.\"\n", b.id, addr))
	k.out(fmt.Sprintf("bp%d at %s failed\n", b.id, addr))
	return true
}

// personBreak: someone at the debugging server pressed CTRL+C; the box
// says so, though kdlaunch sent nothing.
func (k *kd) personBreak() {
	k.personDone = true
	k.personAt = time.Now()
	k.st.PersonBreaks++
	if k.st.CommandsAtPersonBreak == nil {
		k.st.CommandsAtPersonBreak = []string{}
	}
	k.halt(true)
}

// tagBreak: PoolHitTag matched: an int 3 inside the pool routine, no
// command string runs, the target waits at the prompt. Every
// KDA_FREE_EVERY-th one is a free.
func (k *kd) tagBreak() {
	k.st.Hits++
	free := k.cfg.freeEvery > 0 && k.st.Hits%k.cfg.freeEvery == 0
	top, addr := "nt!ExAllocatePoolWithTag+0x3a1", "fffff801`1e8eb151"
	if k.cfg.kernel == "segment-heap" {
		top, addr = "nt!ExAllocateHeapPool+0x1a4", "fffff801`1e7bd188"
	}
	if free {
		k.st.PoolHitFrees++
		top, addr = "nt!ExFreePoolWithTag+0x5f2", "fffff801`1e8eb992"
	} else {
		k.st.PoolHitAllocs++
	}
	k.running, k.halted = false, true
	k.cpu++
	k.out(fmt.Sprintf("Break instruction exception - code 80000003 (first chance)\n%s:\n%s cc              int     3\n", top, addr))
	var b strings.Builder
	b.WriteString(" # RetAddr               : Args to Child                                                           : Call Site\n")
	fmt.Fprintf(&b, "00 fffff801`23451234     : 00000000`00000001 00000000`00000080 00000000`%08x 00000000`00000000 : %s\n", k.st.PoolHitTag, top)
	if free {
		b.WriteString("01 fffff801`1e6f1a2e     : ffffb30e`4c1d2a10 00000000`00000000 00000000`00000000 00000000`00000000 : Ddkdrv!DdkFree+0x18\n")
	} else {
		fmt.Fprintf(&b, "01 fffff801`1e6f1a2e     : 00000000`00000001 ffffb30e`4c1d2a10 00000000`%08x 00000000`00000000 : Ddkdrv!DdkAllocate+0x24\n", k.st.Hits)
	}
	b.WriteString("02 fffff801`1e6f19b0     : ffffb30e`4c1d2a10 ffffb30e`4b0c1e30 00000000`00000000 00000000`00000000 : nt!IofCallDriver+0x55\n")
	k.haltStack = b.String()
	k.setTarget()
	k.prompt()
}
