// Package kdalike is a second kd-like test program, written from kd's
// documented behaviour only (not from fakekd), so that the integration
// tests also run kdlaunch against assumptions fakekd does not share. Main
// is the program: the tests run it as a command of their own binary. Its
// behaviour is chosen by KDA_* environment variables (the Knobs list in
// config.go); it records everything it received, and in which state, in
// the JSON file KDA_STATE (State is that file's one declaration).
//
// It reads commands line by line from stdin (a pty in canonical mode: the
// Enter key ends a line; CTRL+B ENTER arrives as the line "\x02"), takes a
// break-in as SIGINT (the pty's interrupt character, or a signal to its
// process group) and writes what real kd writes to stdout and to the log
// named by _NT_DEBUG_LOG_FILE_APPEND / _NT_DEBUG_LOG_FILE_OPEN.
//
// With KDA_LEAKS its target runs the leak workload (leaks.go, its MASM and
// .printf in masm.go): threads allocate and free special pool through two
// call sites, and breakpoint commands run as kd runs them; the truth is
// the state file's Leak, with fakekd's JSON names.
package kdalike

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

type kd struct {
	cfg config
	mu  sync.Mutex // guards everything below and serialises output
	st  State
	log *os.File

	haltFound bool // KDA_START_HALTED has shown its halt

	halted       bool // at a prompt (or about to show one)
	running      bool // target runs (after g)
	connected    bool
	handshook    bool
	queuedBreak  bool // a break arrived while halted: the next g halts at once
	cpu          int
	lastCmd      string
	sinceHalt    int // hits since the last self-halt check
	firstGDone   bool
	breakPending bool

	reconnect    <-chan time.Time // the target comes back after a reboot or reset
	lost         bool             // transport lost: no hits, breaks wait
	lostEnd      <-chan time.Time
	faulty       bool // this incarnation's exit/signal faults apply
	rebootsLeft  int
	resetDone    bool
	liveBreaks   int       // breaks that reached a running target
	goneAt       time.Time // when the target went away (reboot, reset)
	lostDone     bool
	stallDone    bool
	closed       bool
	lastHitCheck int
	stdin        *os.File

	bps          []bpEntry
	bugcheckDone bool   // this incarnation's KDA_BUGCHECK has happened
	bugchecked   bool   // the target sits in a bug check
	haltStack    string // what kb shows at this halt ("": the break-in stack)
	personDone   bool
	personAt     time.Time // when the person's break came; zero: none pending

	leak    *leakWorld  // KDA_LEAKS: the workload of this boot
	leakBps []leakBp    // its breakpoints
	view    machineView // what expressions see at this halt
}

// Main runs kdalike as a program; it never returns (kd's exit is os.Exit).
// A malformed knob is one line on stderr and exit 2.
func Main() {
	cfg, err := load(os.LookupEnv, os.Environ())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	k := &kd{cfg: cfg}
	k.st.Kernel, k.st.Symbols = cfg.kernel, cfg.symbols
	k.st.PoolHitTag = cfg.poolHitTag // target memory: an earlier session's ed is still there
	k.st.PID = os.Getpid()
	k.st.Target = "waiting"
	k.st.Breakpoints = []string{}
	k.st.Deferred = []string{}
	k.st.Incarnation = incarnation(k.cfg.state)
	k.faulty = k.cfg.faultTimes == 0 || k.st.Incarnation <= k.cfg.faultTimes
	k.rebootsLeft = k.cfg.reboots
	k.openLog()
	k.save()
	if k.cfg.ignoreHup {
		ignoreHangup()
	}

	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGINT)
	if k.st.Incarnation <= k.cfg.exitAtStart {
		// The port or pipe is still held (by the last kd, a terminal
		// program): kd says so and exits before any connection.
		k.banner()
		k.out("Could not start kernel debugging using com:port=com1,baud=115200 parameters, Win32 error 0n5\n    \"Access is denied.\"\n")
		k.exit("start failed", 1)
	}
	if k.cfg.startFailure != "" && (k.cfg.startFailureTimes == 0 || k.st.Incarnation <= k.cfg.startFailureTimes) {
		k.banner()
		k.startFailure()
	}
	lines := make(chan string, 64)
	stdin := os.Stdin
	if k.cfg.closeAfterHits > 0 {
		// Through the poller, so that closing it ends the pending read and
		// really lets go of the terminal.
		stdin = pollableStdin()
	}
	k.stdin = stdin
	go func() {
		sc := bufio.NewScanner(stdin)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()

	k.banner()
	connect := time.NewTimer(k.cfg.connectDelay)
	waitTick := time.NewTicker(k.cfg.connectDelay/time.Duration(max(k.cfg.waits, 1)) + time.Millisecond)
	waitsLeft := k.cfg.waits
	var initial <-chan time.Time
	hitTick := time.NewTicker(max(k.cfg.hitInterval, time.Millisecond))
	var breakLand <-chan time.Time

	for {
		select {
		case <-waitTick.C:
			if waitsLeft > 0 && !k.connected {
				waitsLeft--
				k.out("Waiting to reconnect...\n")
			}
		case <-k.reconnect:
			k.reconnect = nil
			k.connect()
		case <-k.lostEnd:
			k.lostEnd = nil
			k.mu.Lock()
			k.lost = false
			k.out("KDTARGET: Refreshing KD connection\n")
			if k.breakPending {
				k.landBreak()
			}
			k.save()
			k.mu.Unlock()
		case <-connect.C:
			waitTick.Stop()
			k.connect()
			if k.cfg.initialBreak {
				initial = time.After(k.cfg.initialDelay)
			}
		case <-initial:
			initial = nil
			k.mu.Lock()
			k.halt(false)
			k.mu.Unlock()
		case <-sigs:
			k.mu.Lock()
			k.breakIn(&breakLand, initial != nil)
			k.mu.Unlock()
		case <-breakLand:
			breakLand = nil
			k.mu.Lock()
			k.landBreak()
			k.mu.Unlock()
		case <-hitTick.C:
			k.mu.Lock()
			if k.running && !k.lost && k.armed() {
				// A bug check or a person's break comes instead of the
				// next hit.
				k.answerFaults()
			}
			if k.leak != nil {
				if k.running && !k.lost && len(k.leakBps) > 0 {
					n := 1
					if k.cfg.hitInterval == 0 {
						n = 20
					}
					k.leakRun(n)
					k.faults(lines)
				}
			} else if k.running && !k.lost && k.poolHitActive() {
				k.tagBreak()
			} else if k.running && !k.lost && k.liveBP() != nil {
				n := 1
				if k.cfg.hitInterval == 0 {
					n = 5
				}
				for i := 0; i < n && k.running; i++ {
					k.hit(true)
				}
				k.faults(lines)
			}
			k.mu.Unlock()
		case l, ok := <-lines:
			if !ok {
				if k.closed {
					lines = nil
					continue
				}
				k.exit("stdin closed", 0)
			}
			k.mu.Lock()
			k.command(l, &breakLand)
			k.mu.Unlock()
		}
	}
}

func (k *kd) openLog() {
	name, flag := os.Getenv("_NT_DEBUG_LOG_FILE_APPEND"), os.O_APPEND|os.O_CREATE|os.O_WRONLY
	k.st.LogEnv = "_NT_DEBUG_LOG_FILE_APPEND"
	if name == "" {
		name, flag = os.Getenv("_NT_DEBUG_LOG_FILE_OPEN"), os.O_TRUNC|os.O_CREATE|os.O_WRONLY
		k.st.LogEnv = "_NT_DEBUG_LOG_FILE_OPEN"
	}
	if name == "" {
		k.st.LogEnv = ""
		return
	}
	f, err := os.OpenFile(name, flag, 0o644)
	if err == nil {
		k.log = f
		fmt.Fprintf(os.Stdout, "Opened log file '%s'\n", name)
	}
}

// out writes s as kd would: to the console and the log, CRLF if asked.
func (k *kd) out(s string) {
	if k.cfg.crlf {
		s = strings.ReplaceAll(s, "\n", "\r\n")
	}
	_, _ = os.Stdout.WriteString(s)
	if k.log != nil {
		_, _ = k.log.WriteString(s)
	}
}

func (k *kd) fail(msg string) {
	k.st.Failures = append(k.st.Failures, msg)
}

func (k *kd) save() {
	if k.cfg.state == "" {
		return
	}
	b, _ := json.MarshalIndent(&k.st, "", "  ")
	for _, p := range []string{k.cfg.state, fmt.Sprintf("%s.%d", k.cfg.state, k.st.Incarnation)} {
		tmp := p + ".tmp"
		if os.WriteFile(tmp, b, 0o644) == nil {
			_ = os.Rename(tmp, p)
		}
	}
}

// incarnation counts the kd processes started with this state file, so
// that every one keeps its own record (STATE.1, STATE.2, ...) and faults
// can be limited to the first few.
func incarnation(state string) int {
	if state == "" {
		return 1
	}
	n := 0
	if b, err := os.ReadFile(state + ".n"); err == nil {
		n, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	n++
	_ = os.WriteFile(state+".n", []byte(strconv.Itoa(n)), 0o644)
	return n
}

func (k *kd) targetState() string {
	switch {
	case !k.connected:
		return "waiting"
	case k.halted:
		return "halted"
	case k.running:
		return "running"
	}
	return "connected"
}

func (k *kd) setTarget() {
	k.st.Target = k.targetState()
	k.st.Connected = k.connected
	k.save()
}

func (k *kd) banner() {
	k.out("\nMicrosoft (R) Windows Debugger Version 10.0.26100.1 AMD64\nCopyright (c) Microsoft Corporation. All rights reserved.\n\n")
	switch k.cfg.transport {
	case "net":
		k.out("Using NET for debugging\nOpened WinSock 2.0\n")
	case "pipe":
		k.out("Opened \\\\.\\pipe\\com_1\n")
	default:
		k.out("Opened \\\\.\\com1\n")
	}
}

func (k *kd) connect() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.connected = true
	k.running = true
	k.halted = false
	k.st.EverConnected = true
	k.goneAt = time.Time{}
	if k.cfg.transport == "net" {
		k.out("Connected to target 169.254.221.237 on port 50000 on local IP 169.254.221.236.\n")
		k.out("You can get the target MAC address by running .kdtargetmac command.\n")
		if k.cfg.handshake {
			k.setTarget()
			return
		}
	}
	k.handshake()
	if k.cfg.leaks {
		k.leakBoot()
	}
	k.setTarget()
	if k.cfg.bugcheck == "waiting" && !k.bugcheckDone {
		// The target crashes while it boots: the bug check is the first
		// thing after the connection.
		k.bugCheck("waiting")
		return
	}
	if k.cfg.startHalted && !k.haltFound {
		// Left halted in a break-in: the target waits in it, and kd
		// attaching shows it with no break sent.
		k.haltFound = true
		k.halt(true)
	}
}

func (k *kd) handshake() {
	k.handshook = true
	est := "Kernel Debugger connection established."
	if k.cfg.initialBreak {
		est += "  (Initial Breakpoint requested)"
	}
	k.out(est + "\n")
	if k.cfg.symerr {
		k.out("************* Path validation summary **************\nResponse                         Time (ms)     Location\nDeferred                                       srv*c:\\websymbols*https://msdl.microsoft.com/download/symbols\n")
	}
	k.out("Symbol search path is: srv*c:\\websymbols*https://msdl.microsoft.com/download/symbols\nExecutable search path is: \n")
	if k.cfg.arch == "x86" {
		k.out("Connected to Windows 8 9600 x86 compatible target at (Mon Mar  3 10:00:00.000 2025 (UTC + 1:00)), ptr64 FALSE\n")
		k.out("Windows 8 Kernel Version 9600 MP (2 procs) Free x86 compatible\n")
	} else {
		k.out("Connected to Windows 10 19041 x64 target at (Mon Mar  3 10:00:00.000 2025 (UTC + 1:00)), ptr64 TRUE\n")
		k.out("Windows 10 Kernel Version 19041 MP (4 procs) Free x64\n")
	}
	k.out("Product: Server, suite: TerminalServer SingleUserTS\nEdition build lab: 19041.1.amd64fre.vb_release.191206-1406\n")
	k.out("Built by: 19041.1.amd64fre.vb_release.191206-1406\nMachine Name:\n")
	if k.cfg.symerr {
		k.out("Unable to load image \\SystemRoot\\system32\\ntoskrnl.exe, Win32 error 0n2\n*** WARNING: Unable to verify timestamp for ntoskrnl.exe\n")
	}
	k.out("Kernel base = 0xfffff801`1e400000 PsLoadedModuleList = 0xfffff801`1f02a2d0\nDebug session time: Mon Mar  3 10:00:00.000 2025 (UTC + 1:00)\nSystem Uptime: 0 days 0:00:20.534\n")
	if k.cfg.symerr {
		k.out("*** ERROR: Module load completed but symbols could not be loaded for fs_rec.sys\n")
	}
}

func (k *kd) prompt() {
	var p string
	switch k.cfg.prompt {
	case "plain":
		p = "kd> "
	case "wide":
		p = fmt.Sprintf("%d: kd> ", 12+k.cpu%3)
	default:
		p = fmt.Sprintf("%d: kd> ", k.cpu%4)
	}
	if k.cfg.splitPrompt {
		i := len(p) - 2
		k.out(p[:i])
		k.mu.Unlock()
		time.Sleep(30 * time.Millisecond)
		k.mu.Lock()
		k.out(p[i:])
		return
	}
	k.out(p)
}

// halt stops the target and shows a prompt. asked: a break-in did it.
func (k *kd) halt(asked bool) {
	k.haltStack = ""
	if k.leak != nil {
		k.view = k.breakView()
	}
	k.running = false
	k.halted = true
	k.cpu++
	var b strings.Builder
	b.WriteString("Break instruction exception - code 80000003 (first chance)\n")
	if asked && !k.cfg.quiet {
		b.WriteString(box)
	}
	k.setTarget()
	k.out(b.String())
	if asked && k.cfg.breakSymbols > 0 {
		// kd resolves the symbol of the break address: the first time, that
		// loads nt's symbols, which can take long.
		k.mu.Unlock()
		time.Sleep(k.cfg.breakSymbols)
		k.mu.Lock()
	}
	var loc string
	switch {
	case !asked:
		loc = "Ddkdrv!DdkCheckState+0x3c:\nfffff801`23451270 cc              int     3\n"
	case k.cfg.arch == "x86":
		loc = "nt!RtlpBreakWithStatusInstruction:\n8167e5a4 cc              int     3\n"
	default:
		loc = "nt!DbgBreakPointWithStatus:\nfffff801`1e5fb1b0 cc              int     3\n"
	}
	if k.cfg.glue {
		k.out(loc + k.promptText())
		return
	}
	k.out(loc)
	k.prompt()
}

func (k *kd) promptText() string {
	switch k.cfg.prompt {
	case "plain":
		return "kd> "
	case "wide":
		return fmt.Sprintf("%d: kd> ", 12+k.cpu%3)
	}
	return fmt.Sprintf("%d: kd> ", k.cpu%4)
}

const box = `*******************************************************************************
*                                                                             *
*   You are seeing this message because you pressed either                    *
*       CTRL+C (if you run console kernel debugger) or,                       *
*       CTRL+BREAK (if you run GUI kernel debugger),                          *
*   on your debugger machine's keyboard.                                      *
*                                                                             *
*                   THIS IS NOT A BUG OR A SYSTEM CRASH                       *
*                                                                             *
* If you did not intend to break into the debugger, press the "g" key, then   *
* press the "Enter" key now.  This message might immediately reappear.  If it *
* does, press "g" and "Enter" again.                                          *
*                                                                             *
*******************************************************************************
`

func (k *kd) breakIn(land *<-chan time.Time, initialPending bool) {
	state := k.targetState()
	if initialPending && state == "running" {
		state = "halting" // the initial breakpoint is on its way
	}
	k.st.Breaks = append(k.st.Breaks, state)
	switch {
	case !k.connected && !k.goneAt.IsZero() && time.Since(k.goneAt) < 200*time.Millisecond:
		// Sent before kdlaunch could read that the target went away.
		k.st.RaceBreaks++
	case !k.connected:
		k.st.BreaksBeforeConnect++
	case k.halted || state == "halting":
		// kd is already at (or about to reach) a prompt: a kernel target
		// queues the break and stops again right after the next g.
		k.st.BreaksWhileHalted++
		k.queuedBreak = true
	case k.cfg.transport == "net" && !k.handshook:
		k.handshake()
		k.halt(true)
	case k.cfg.bugcheck == "connected" && !k.bugcheckDone && k.running:
		// The target crashed just as the break came.
		k.bugCheck("connected")
	case k.breakPending:
	case k.cfg.ignoreBreaks != 0:
		// The target does not answer (hung, wrong baud, cable).
		k.st.IgnoredBreaks++
		if k.cfg.ignoreBreaks > 0 {
			k.cfg.ignoreBreaks--
		}
	case k.cfg.rebootOnBreak > 0 && k.liveBreaks+1 == k.cfg.rebootOnBreak:
		// The target was already going down when the break came.
		k.liveBreaks++
		k.st.LostBreaks++
		k.reboot()
	case k.lost:
		k.liveBreaks++
		k.breakPending = true
	default:
		k.liveBreaks++
		k.breakPending = true
		if k.cfg.breakDelay > 0 {
			*land = time.After(k.cfg.breakDelay)
		} else {
			k.landBreak()
		}
	}
	k.save()
}

func (k *kd) landBreak() {
	if k.lost {
		return // lands when the transport is back
	}
	k.breakPending = false
	if !k.running {
		return
	}
	if k.cfg.bugcheck == "stopping" && !k.bugcheckDone && k.st.Hits > 0 {
		k.bugCheck("stopping")
		return
	}
	if k.cfg.burst > 0 && k.liveBP() != nil {
		// The target's buffered output arrives just ahead of the break.
		var b strings.Builder
		for i := 0; i < k.cfg.burst; i++ {
			fmt.Fprintf(&b, "Ddkdrv: DdkWorker item %d queued at ffffb30e`4c1d%04x, irp ffffb30e`4c1d2a10 status 0\n", i, i%65536)
			if i%100 == 99 {
				k.out(b.String())
				b.Reset()
				k.hit(false)
			}
		}
		k.out(b.String())
	}
	if k.liveBP() != nil {
		switch k.cfg.race {
		case "hit":
			// The target hit the breakpoint while the break was on the wire:
			// kd prints the hit, runs "kb;g", then the break lands.
			k.hit(true)
		case "cancel":
			// The break arrives while kd runs the breakpoint's commands: it
			// cancels them (kd-protocol.md "Control keys": CTRL+C cancels the current
			// command), so the "g" never runs and the target stays at the
			// breakpoint, at a prompt, with no break banner.
			k.hit(false)
			k.running = false
			k.halted = true
			k.cpu++
			k.setTarget()
			k.prompt()
			return
		}
	}
	k.halt(true)
}

// hit prints one breakpoint hit; resume: the breakpoint's "g" runs.
func (k *kd) hit(resume bool) {
	k.st.Hits++
	var b strings.Builder
	switch {
	case k.cfg.dbgprint == "1" && k.st.Hits%3 == 0:
		b.WriteString("Ddkdrv: DdkDispatchCreate irp ffffb30e`4c1d2a10 status 0\n")
	case k.cfg.dbgprint == "nonl" && k.st.Hits%3 == 0:
		b.WriteString("Ddkdrv: DdkDispatchCreate ")
	}
	id := 0
	if bp := k.liveBP(); bp != nil {
		id = bp.id
	}
	fmt.Fprintf(&b, "Breakpoint %d hit\n", id)
	if k.cfg.kernel == "segment-heap" {
		// Windows 10 1903 and later: special pool comes from the segment
		// heap's routine, called by ExAllocateHeapPool.
		b.WriteString("nt!ExAllocateHeapSpecialPool:\nfffff801`1e83e988 48895c2410      mov     qword ptr [rsp+10h],rbx\n")
		b.WriteString(" # RetAddr               : Args to Child                                                           : Call Site\n")
		b.WriteString("00 fffff801`1e7bd1f2     : 00000000`00000200 00000000`00000080 00000000`206b6444 00000000`00000000 : nt!ExAllocateHeapSpecialPool\n")
		b.WriteString("01 fffff801`1e8eae45     : 00000000`00000001 00000000`00000080 00000000`206b6444 00000000`00000000 : nt!ExAllocateHeapPool+0x20e\n")
		b.WriteString("02 fffff801`23451234     : 00000000`00000001 00000000`00000080 00000000`206b6444 00000000`00000000 : nt!ExAllocatePoolWithTag+0x95\n")
		fmt.Fprintf(&b, "03 fffff801`1e6f1a2e     : 00000000`00000001 ffffb30e`4c1d2a10 00000000`%08x 00000000`00000000 : Ddkdrv!DdkAllocate+0x24\n", k.st.Hits)
		b.WriteString("04 fffff801`1e6f19b0     : ffffb30e`4c1d2a10 ffffb30e`4b0c1e30 00000000`00000000 00000000`00000000 : nt!IofCallDriver+0x55\n")
	} else if k.cfg.arch == "x86" {
		b.WriteString("nt!MmAllocateSpecialPool:\n8062f7b4 8bff            mov     edi,edi\n")
		b.WriteString("ChildEBP RetAddr  Args to Child              \n")
		b.WriteString("a3c4fb8c 8064b1d2 00000080 206b6444 00000000 nt!MmAllocateSpecialPool\n")
		b.WriteString("a3c4fbac 8d1e2044 00000000 00000080 206b6444 nt!ExAllocatePoolWithTag+0x5e\n")
		fmt.Fprintf(&b, "a3c4fbc8 8d1e1f10 00000001 a3c4fc00 %08x Ddkdrv!DdkAllocate+0x24\n", k.st.Hits)
		b.WriteString("a3c4fbe4 804ee129 86b2c030 86a1f008 806d22e8 Ddkdrv!DdkDispatchCreate+0x40\n")
		b.WriteString("a3c4fbf4 80574e56 86a1f008 86a1f018 00000000 nt!IopfCallDriver+0x31\n")
	} else {
		b.WriteString("nt!MmAllocateSpecialPool:\nfffff801`1e7a2b30 48895c2408      mov     qword ptr [rsp+8],rbx\n")
		if k.cfg.kb == "old" {
			b.WriteString("Child-SP          RetAddr           : Args to Child                                                           : Call Site\n")
			b.WriteString("ffffd001`c70c62a8 fffff801`1e8b2c3d : 00000000`00000080 00000000`206b6444 00000000`00000000 00000000`00000001 : nt!MmAllocateSpecialPool\n")
			b.WriteString("ffffd001`c70c62b0 fffff801`23451234 : 00000000`00000001 00000000`00000080 00000000`206b6444 00000000`00000000 : nt!ExAllocatePoolWithTag+0x5d\n")
			fmt.Fprintf(&b, "ffffd001`c70c6300 fffff801`1e6f1a2e : 00000000`00000001 ffffb30e`4c1d2a10 00000000`%08x 00000000`00000000 : Ddkdrv!DdkAllocate+0x24 [d:\\src\\ddk\\alloc.c @ 88]\n", k.st.Hits)
			b.WriteString("ffffd001`c70c6340 fffff801`1e6f19b0 : ffffb30e`4c1d2a10 ffffb30e`4b0c1e30 00000000`00000000 00000000`00000000 : nt!IofCallDriver+0x55\n")
		} else {
			b.WriteString(" # RetAddr               : Args to Child                                                           : Call Site\n")
			b.WriteString("00 fffff801`1e8b2c3d     : 00000000`00000080 00000000`206b6444 00000000`00000000 00000000`00000001 : nt!MmAllocateSpecialPool\n")
			b.WriteString("01 fffff801`23451234     : 00000000`00000001 00000000`00000080 00000000`206b6444 00000000`00000000 : nt!ExAllocatePoolWithTag+0x5d\n")
			fmt.Fprintf(&b, "02 fffff801`1e6f1a2e     : 00000000`00000001 ffffb30e`4c1d2a10 00000000`%08x 00000000`00000000 : Ddkdrv!DdkAllocate+0x24 [d:\\src\\ddk\\alloc.c @ 88] \n", k.st.Hits)
			b.WriteString("03 fffff801`1e6f19b0     : ffffb30e`4c1d2a10 ffffb30e`4b0c1e30 00000000`00000000 00000000`00000000 : nt!IofCallDriver+0x55\n")
		}
	}
	k.out(b.String())
	k.save()
	if !resume {
		return
	}
	if k.cfg.selfHalt > 0 {
		k.sinceHalt++
		if k.sinceHalt == k.cfg.selfHalt {
			k.sinceHalt = 0
			k.halt(false)
		}
	}
}

func (k *kd) echoLine(l string) {
	if k.cfg.echo {
		k.out(l + "\n")
	}
}

func (k *kd) command(l string, land *<-chan time.Time) {
	if !k.halted && !k.goneAt.IsZero() && strings.HasPrefix(l, ".echo KDLAUNCH_DONE_") {
		// Typed right behind the command the reset swallowed.
		k.st.TypeaheadLost = append(k.st.TypeaheadLost, l)
		k.save()
		return
	}
	st := k.targetState()
	k.st.Commands = append(k.st.Commands, Received{Text: l, State: st})
	if k.bugchecked && k.halted {
		k.st.CommandsAfterBugCheck = append(k.st.CommandsAfterBugCheck, l)
	}
	if !k.personAt.IsZero() && k.halted {
		k.st.CommandsAtPersonBreak = append(k.st.CommandsAtPersonBreak, l)
	}
	if l == "\x02" {
		k.st.CtrlB = true
		if k.cfg.ctrlbDelay != 0 {
			// kd is busy (flushing the log, unloading symbols) or hung.
			k.st.ExitReason = "ctrl-b pending"
			k.st.Target = k.targetState()
			k.save()
			if k.cfg.ctrlbDelay < 0 {
				select {}
			}
			time.Sleep(k.cfg.ctrlbDelay)
		}
		k.exit("ctrl-b", 0)
	}
	if !k.halted {
		// kd is busy: the line waits in the buffer until the next prompt
		// (kd-protocol.md "Break-in and the break box"). Recorded as a failure; not run.
		k.st.CommandsWhileBusy = append(k.st.CommandsWhileBusy, l)
		k.fail(fmt.Sprintf("command %q while %s", l, st))
		k.save()
		return
	}
	k.echoLine(l)
	cmd := strings.TrimSpace(l)
	if cmd == "" {
		k.st.EmptyLines++
		cmd = k.lastCmd
	} else {
		k.lastCmd = cmd
	}
	f := strings.Fields(cmd)
	verb := ""
	if len(f) > 0 {
		verb = strings.ToLower(f[0])
	}
	if k.cfg.resetOnCmd != "" && !k.resetDone && strings.HasPrefix(cmd, k.cfg.resetOnCmd) {
		// Someone pressed the target's reset button while it was halted:
		// the command times out and kd waits for the target to come back,
		// having lost its breakpoints; no prompt.
		k.resetDone = true
		k.st.Resets++
		k.goneAway()
		k.out("Retry sending the same data packet for 64 times.\nThe transport connection between host kernel debugger and target Windows seems lost.\nplease try resync with target, recycle the host debugger, or reboot the target Windows.\nWaiting to reconnect...\n")
		k.reconnect = time.After(k.cfg.rebootDown)
		k.save()
		return
	}
	if k.leak != nil && leakVerb(verb) {
		k.leakCommand(cmd)
		k.save()
		k.prompt()
		return
	}
	switch {
	case verb == "q" || verb == "qq":
		k.st.Quit = true
		k.fail("q received: it leaves the target locked")
		k.out("quit:\n")
		k.exit("q", 0)
	case verb == "g":
		k.st.GTyped++
		if k.bugchecked {
			// Continuing a bug check: the target writes its dump and
			// restarts; kd waits for it as after any reboot.
			k.st.GIntoBugCheck = true
			k.reboot()
			return
		}
		if k.failInsert() {
			break
		}
		if !k.personAt.IsZero() {
			k.st.PersonBreakResumed = true
			k.st.PersonBreakResumedMs = time.Since(k.personAt).Milliseconds()
			k.personAt = time.Time{}
		}
		if k.cfg.bugcheck == "arming" && !k.bugcheckDone && k.armed() {
			k.halted = false
			k.bugCheck("arming")
			return
		}
		k.halted = false
		k.running = true
		k.setTarget()
		if k.queuedBreak {
			k.queuedBreak = false
			k.halt(true)
			return
		}
		if k.cfg.hitAfterG && !k.firstGDone && k.liveBP() != nil {
			k.firstGDone = true
			k.hit(true)
		}
		return
	case verb == ".echo":
		k.out(strings.TrimSpace(strings.TrimPrefix(cmd, f[0])) + "\n")
	case isBpVerb(verb):
		k.symbolsOnce()
		k.setBp(verb[:2], cmd)
	case verb == "bc":
		k.clearBps()
	case verb == "bl":
		k.bl()
	case verb == "dd":
		k.symbolsOnce()
		k.dd(cmd)
	case verb == "x" && len(f) == 2:
		k.symbolsOnce()
		k.x(f[1])
	case verb == "kb":
		if k.haltStack != "" {
			k.out(k.haltStack)
			break
		}
		k.out(" # RetAddr               : Args to Child                                                           : Call Site\n00 fffff801`1e8b2c3d     : 00000000`00000000 00000000`00000000 00000000`00000000 00000000`00000000 : nt!DbgBreakPointWithStatus\n")
	case verb == "!analyze":
		k.analyze()
	case verb == "ed":
		k.symbolsOnce()
		k.ed(cmd)
	case verb == "eb" || verb == ".reload":
	default:
		k.out(fmt.Sprintf("Couldn't resolve error at '%s'\n", cmd))
	}
	k.save()
	if k.cfg.glue {
		k.out(k.promptText())
		return
	}
	k.prompt()
}

var symOnce sync.Once

func (k *kd) symbolsOnce() {
	if !k.cfg.symerr && k.cfg.symbols == "full" {
		return
	}
	symOnce.Do(func() {
		if k.cfg.symbols == "none" {
			k.out("*** ERROR: Module load completed but symbols could not be loaded for ntkrnlmp.exe\n")
			return
		}
		k.out("*** ERROR: Symbol file could not be found.  Defaulted to export symbols for ntkrnlmp.exe - \n")
	})
}

// isBpVerb: bp, bu and the forms with an ID (bp1).
func isBpVerb(v string) bool {
	if len(v) < 2 || (v[:2] != "bp" && v[:2] != "bu") {
		return false
	}
	_, err := strconv.Atoi(v[2:])
	return len(v) == 2 || err == nil
}

// answerFaults runs the answer knobs that come with hits (k.mu held).
func (k *kd) answerFaults() {
	if !k.running {
		return
	}
	if k.cfg.bugcheck == "running" && !k.bugcheckDone && k.st.Hits >= k.cfg.bugcheckAfterHits {
		k.bugCheck("running")
		return
	}
	if k.cfg.personBreakAtHits > 0 && !k.personDone && k.st.Hits >= k.cfg.personBreakAtHits {
		k.personBreak()
	}
}

// goneAway: the target is off the line (rebooting); kd forgets the
// breakpoints (kd-protocol.md "Reboot and shutdown") and any break in flight.
func (k *kd) goneAway() {
	k.connected, k.running, k.halted = false, false, false
	k.handshook = false
	k.queuedBreak, k.breakPending = false, false
	k.clearBps()
	k.leakBps = nil
	k.bugchecked = false
	k.st.PoolHitTag = 0 // a variable in the kernel: a reboot resets it
	k.goneAt = time.Now()
	k.setTarget()
}

// reboot: the running target restarts (kd-protocol.md "Reboot and shutdown", "Banners and connection lines").
func (k *kd) reboot() {
	k.st.Reboots++
	k.goneAway()
	k.out("Shutdown occurred at (Mon Mar  3 10:05:00.000 2025 (UTC + 1:00))...unloading all symbol tables.\nWaiting to reconnect...\n")
	k.reconnect = time.After(k.cfg.rebootDown)
	k.save()
}

// faults runs the hit-count faults after a batch of hits (k.mu held).
func (k *kd) faults(lines chan string) {
	h := k.st.Hits
	if h == k.lastHitCheck {
		return
	}
	k.lastHitCheck = h
	if k.faulty && k.cfg.exitAfterHits > 0 && h >= k.cfg.exitAfterHits {
		k.exit("crash", k.cfg.exitCode)
	}
	if k.faulty && k.cfg.signalAfterHits > 0 && h >= k.cfg.signalAfterHits {
		k.st.ExitReason = "killed"
		k.st.Target = k.targetState()
		k.save()
		killSelf()
	}
	if k.cfg.rebootAfterHits > 0 && k.rebootsLeft > 0 && h >= k.cfg.rebootAfterHits*(k.cfg.reboots-k.rebootsLeft+1) {
		k.rebootsLeft--
		k.reboot()
		return
	}
	if k.cfg.lostAfterHits > 0 && !k.lostDone && h >= k.cfg.lostAfterHits {
		k.lostDone = true
		k.lost = true
		k.out("Retry sending the same data packet for 64 times.\nThe transport connection between host kernel debugger and target Windows seems lost.\nplease try resync with target, recycle the host debugger, or reboot the target Windows.\n")
		k.lostEnd = time.After(k.cfg.lostFor)
		k.save()
	}
	if k.cfg.stallAfterHits > 0 && !k.stallDone && h >= k.cfg.stallAfterHits {
		k.stallDone = true
		k.out("Ddkdrv: DdkDispatchCreate irp ")
		time.Sleep(k.cfg.stallFor)
		k.out("ffffb30e`4c1d2a10 status 0\n")
	}
	if k.faulty && k.cfg.closeAfterHits > 0 && !k.closed && h >= k.cfg.closeAfterHits {
		k.closed = true
		k.st.Closed = true
		k.save()
		// stdout and stderr become /dev/null (closing them would let the
		// state file reuse their numbers); stdin is closed.
		muteOutput()
		_ = k.stdin.Close()
		go func() {
			time.Sleep(60 * time.Second)
			k.mu.Lock()
			k.exit("closed console timeout", 0)
		}()
	}
}

func (k *kd) exit(reason string, code int) {
	k.st.ExitCode = code
	k.st.ExitReason = reason
	k.st.Target = k.targetState()
	k.save()
	if k.log != nil {
		_ = k.log.Close()
	}
	os.Exit(code)
}
