package fakekd

import (
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"
)

// Target states, as the state file names them.
const (
	targetWaiting = "waiting" // no connection yet, or rebooting
	targetRunning = "running"
	targetHalted  = "halted" // at a kd prompt
	targetLocked  = "locked" // halted with no debugger left: after q
)

// action is what the loop's single timer is for.
type action int

const (
	actNone    action = iota
	actConnect        // the target (re)connects
	actHit            // the next allocation happens
	actLossEnd        // the lost transport comes back
)

// haltInfo describes where the processor stopped: what k* and r show.
type haltInfo struct {
	sym    string // current function ("nt!MmAllocateSpecialPool")
	ip     uint64
	disasm string
	frames []frame
	warnAt int // frame index after which the noise unwind warning goes, -1: none
	regs   []reg

	// The leak workload's halts (zero elsewhere): the halting thread and
	// its CPU, $ra, the allocator's result (at a return site), and stack
	// memory (x86 stdcall arguments, the x64 return address) by dword.
	thread   uint64
	ra       uint64
	cpu      int
	result   uint64
	stackMem map[uint64]uint32
}

type reg struct {
	name string
	val  uint64
}

// machine is the simulated kd plus target. It is driven by one goroutine
// (Run's loop), so it needs no locking.
type machine struct {
	cfg    *Config
	cl     CmdLine
	tr     Transport
	a      *arch
	out    *output
	st     State
	rng    *rand.Rand
	bps    bpTable
	mem    map[uint64]uint32 // kernel variables that dd/ed see
	host   string
	env    func(string) string
	stderr io.Writer

	connected   bool
	lost        bool
	cpu         int
	halt        haltInfo
	queue       []string // lines typed while no prompt was showing
	lastCmd     string   // what an empty line repeats
	symErrShown bool     // noise: the avscan symbol error prints once per boot

	hitsThisProcess int
	hitsSinceReboot int
	rebootedByKnob  bool
	lossDone        bool
	ignoreLeft      int

	pending  action
	deadline time.Time

	exiting  bool
	exitCode int
	lastSave time.Time
	dirty    bool // a coalesced save is owed (see saveHit)
	stateErr bool // a failed state write is reported once, not per hit

	symWarned    bool      // the missing-symbols error has been printed this boot
	bugCheckDone bool      // FAKEKD_BUGCHECK has happened in this process
	bugChecked   bool      // the target sits in a bug check
	personDone   bool      // FAKEKD_PERSON_BREAK_AFTER_HITS has happened
	personAt     time.Time // the person's break not yet resumed; zero: none

	leak      *leakSim // FAKEKD_LEAKS: the workload, rebuilt at every boot
	cmdFailed bool     // the last command failed: its command list ends
}

func newMachine(cfg *Config, cl CmdLine, e Env) *machine {
	m := &machine{
		cfg:        cfg,
		cl:         cl,
		tr:         ParseTransport(cl.Kernel, e.Getenv),
		a:          archs[cfg.Arch],
		out:        &output{w: e.Stdout, nl: "\n", bps: cfg.SlowBPS},
		rng:        rand.New(rand.NewPCG(cfg.Seed, 0x6b64)),
		host:       e.Hostname,
		env:        e.Getenv,
		stderr:     e.Stderr,
		ignoreLeft: cfg.IgnoreBreaks,
	}
	if cfg.CRLF {
		m.out.nl = "\r\n"
	}
	if m.stderr == nil {
		m.stderr = io.Discard
	}
	m.resetMemory()
	// PoolHitTag is target memory: what an earlier session wrote is there
	// when this kd attaches (a reboot resets it).
	m.mem[m.a.symbolAddr("nt!PoolHitTag")] = cfg.PoolHitTag
	m.st = State{
		Pid:  e.Pid,
		Argv: e.Args,
		Env: map[string]string{
			"_NT_SYMBOL_PATH":           e.Getenv("_NT_SYMBOL_PATH"),
			"_NT_DEBUG_LOG_FILE_OPEN":   e.Getenv("_NT_DEBUG_LOG_FILE_OPEN"),
			"_NT_DEBUG_LOG_FILE_APPEND": e.Getenv("_NT_DEBUG_LOG_FILE_APPEND"),
		},
		Arch:                 cfg.Arch,
		Server:               cl.Server,
		Connection:           cl.Kernel,
		Transport:            m.tr.Kind,
		Target:               targetWaiting,
		Breakpoints:          []BreakpointState{},
		Commands:             []string{},
		CommandsWhileRunning: []string{},
		Kernel:               cfg.Kernel,
		Symbols:              cfg.Symbols,
	}
	if cfg.StatePath != "" {
		m.st.Incarnations = previousIncarnations(cfg.StatePath) + 1
	}
	return m
}

// resetMemory sets the kernel variables to their boot values. The special
// pool tag comes from the registry (the knob), so it survives reboots;
// PoolHitTag does not.
func (m *machine) resetMemory() {
	m.mem = map[uint64]uint32{
		m.a.symbolAddr("nt!MmSpecialPoolTag"):           m.cfg.SpecialPoolTag,
		m.a.symbolAddr("nt!MmSpecialPoolCatchOverruns"): 1,
		m.a.symbolAddr("nt!MiSpecialPoolEnabled"):       1,
		m.a.symbolAddr("nt!PoolHitTag"):                 0,
	}
}

func (m *machine) poolHitTag() uint32 { return m.mem[m.a.symbolAddr("nt!PoolHitTag")] }

func (m *machine) specialPoolTag() uint32 { return m.mem[m.a.symbolAddr("nt!MmSpecialPoolTag")] }

// poolHitActive: 0 is "cleared" (kd-protocol.md "PoolHitTag and the allocators": `ed nt!poolhittag 0`) and
// ffffff0f is the kernel's "no tag" default.
func (m *machine) poolHitActive() bool {
	t := m.poolHitTag()
	return t != 0 && t != 0xffffff0f
}

// save rewrites the state file. Errors go to stderr once: the fake keeps
// running so the test that misconfigured it sees the message.
func (m *machine) save() {
	m.lastSave, m.dirty = time.Now(), false
	m.st.Connected = m.connected
	m.st.TransportLost = m.lost
	m.st.PoolHitTag = m.poolHitTag()
	m.updateLeakState()
	m.st.Breakpoints = m.st.Breakpoints[:0]
	for _, b := range m.bps.list {
		addr := b.sym
		if !b.resolved {
			addr = b.expr
		} else if addr == "" {
			addr = m.a.addr(b.addr)
		}
		m.st.Breakpoints = append(m.st.Breakpoints, BreakpointState{
			ID: b.id, Address: addr, Command: b.command, Enabled: b.enabled, Deferred: !b.resolved,
		})
	}
	if m.cfg.StatePath == "" {
		return
	}
	if err := writeState(m.cfg.StatePath, &m.st); err != nil && !m.stateErr {
		m.stateErr = true
		fmt.Fprintf(m.stderr, "fakekd: writing state: %v\n", err)
	}
}

// saveHit saves after a hit or a resume. With FAKEKD_FLOOD hits come back to
// back, and a file rename per hit would measure the disk instead of
// kdlaunch, so those saves are then coalesced: at most one per
// saveCoalesce, and Run's loop flushes an owed save once that has passed.
func (m *machine) saveHit() {
	if !m.cfg.Flood || time.Since(m.lastSave) >= saveCoalesce {
		m.save()
		return
	}
	m.dirty = true
}

const saveCoalesce = 100 * time.Millisecond

func (m *machine) exit(code int, reason string) {
	m.exiting, m.exitCode = true, code
	m.st.ExitReason = reason
}

func (m *machine) schedule(act action, after time.Duration) {
	m.pending, m.deadline = act, time.Now().Add(after)
}

func (m *machine) prompt() {
	if m.cfg.PlainPrompt {
		m.out.raw("kd> ")
		return
	}
	m.out.raw(fmt.Sprintf("%d: kd> ", m.cpu))
}

// start prints what kd prints before the target connects (kd-protocol.md
// "Banners and connection lines", "Remote server transports" and "Environment variables") and
// schedules the connection.
func (m *machine) start() {
	logPath, appendMode := m.cl.LogFile, m.cl.LogAppend
	if logPath == "" {
		if p := m.env("_NT_DEBUG_LOG_FILE_OPEN"); p != "" {
			logPath = p
		} else if p := m.env("_NT_DEBUG_LOG_FILE_APPEND"); p != "" {
			logPath, appendMode = p, true
		}
	}
	var logErr error
	if logPath != "" {
		logErr = m.out.openLog(logPath, appendMode)
	}
	m.out.lines([]string{bannerLine, copyrightLine, ""})
	switch {
	case logPath == "":
	case logErr != nil:
		// Invented wording, in the style of kd's Win32 error reports.
		m.out.line(fmt.Sprintf("Unable to open log file '%s', Win32 error 0n%d", logPath, win32Error(logErr)))
	default:
		m.out.line("Opened log file '" + logPath + "'") // kd-protocol.md "Session commands"
	}
	if m.cl.Server != "" {
		m.out.line(serverStartedLine)
		m.out.line(remoteLine(m.cl.Server, m.host, m.cfg.EchoSecrets))
	}
	m.transportLines()
	if m.startFailureDue() {
		m.startFailure()
		return
	}
	m.out.line(waitingLine)
	m.save()
	if !m.cfg.NeverConnect {
		m.schedule(actConnect, m.cfg.ConnectDelay)
	}
}

func (m *machine) transportLines() {
	switch m.tr.Kind {
	case "net":
		m.out.lines([]string{netUsingLine, netWinsockLine})
		if m.cfg.EchoSecrets {
			m.out.line("Opened net:port=" + m.tr.Device + ",key=" + m.tr.Key)
		}
	case "usb":
		m.out.line(usbUsingLine)
	default: // com and pipe: kd-protocol.md "Banners and connection lines": "Opened \\.\com1", "Opened \\.\pipe\<name>"
		m.out.line("Opened " + m.tr.Device)
	}
}

// connect prints the connection and kernel preamble (kd-protocol.md "Banners and connection lines"); the
// target then runs, or halts for an initial break.
func (m *machine) connect() {
	initial := m.cfg.InitialBreak || m.cl.BreakOnConnect
	if m.tr.Kind == "net" {
		port := m.tr.Device
		if port == "" {
			port = "50000"
		}
		m.out.line("Connected to target 169.254.10.2 on port " + port + " on local IP 169.254.10.1.")
		m.out.line(kdnetMACLine)
	}
	m.out.line(m.a.connectedLine)
	if initial {
		m.out.line(establishedLine + initialBreakNote)
	} else {
		m.out.line(establishedLine)
	}
	sym := m.cl.SymbolPath
	if sym == "" {
		sym = m.env("_NT_SYMBOL_PATH")
	}
	if sym == "" {
		sym = "srv*" // what kd shows with no path configured
	}
	m.out.lines([]string{
		"Symbol search path is: " + sym,
		execPathLine,
		m.a.kernelLine,
		productLine,
		m.a.builtByLine,
		machineNameLine,
		m.a.kernelBase,
		"Debug session time: " + sessionTime,
		uptimeLine,
	})
	m.connected = true
	m.st.Target = targetRunning
	if m.st.Reboots == 0 {
		// kd's own startup commands set these as it attached.
		for _, b := range m.cfg.Breakpoints {
			word, rest, _ := strings.Cut(b, " ")
			m.cmdBp(strings.ToLower(word), strings.TrimSpace(rest))
		}
	}
	if m.cfg.Leaks {
		m.leak = m.newLeakSim()
		m.updateLeakState()
	}
	if m.cfg.BugCheck == "waiting" && !m.bugCheckDone {
		// The target crashes while it boots: the bug check comes with
		// the connection.
		m.bugCheck("waiting")
		return
	}
	if initial || (m.cfg.StartHalted && m.st.Reboots == 0) {
		// A target left halted waits in its break: kd attaching shows it
		// at once, box and all, with no break sent.
		m.breakIn()
		return
	}
	m.resume()
}

// breakIn prints kd's break-in text (kd-protocol.md "Break-in and the break box") and halts.
func (m *machine) breakIn() {
	m.out.lines(breakInBox)
	m.out.line(m.a.breakSym + ":")
	m.out.line(m.a.int3Line(m.a.breakAddr))
	frames := buildStack(m.a, m.rng, breakInStack[m.a.name], false, nil)
	m.enterHalt(haltInfo{
		sym: m.a.breakSym, ip: m.a.breakAddr, disasm: "cc              int     3",
		frames: frames, warnAt: -1, regs: m.regsAt(m.a.breakAddr, frames, nil),
	})
}

// enterHalt stops the target at a prompt and then runs the lines that were
// typed while it ran, as kd does with its queued input (kd-protocol.md "Break-in and the break box").
func (m *machine) enterHalt(h haltInfo) {
	m.haltQuiet(h)
	m.showPrompt()
}

func (m *machine) haltQuiet(h haltInfo) {
	m.halt = h
	m.st.Target = targetHalted
	m.pending = actNone
	m.cpu = m.rng.IntN(2) // kd-protocol.md "Prompts": the processor number changes between breaks
}

func (m *machine) showPrompt() {
	m.save()
	m.prompt()
	for len(m.queue) > 0 && m.st.Target == targetHalted && !m.exiting {
		l := m.queue[0]
		m.queue = m.queue[1:]
		m.typedLine(l)
	}
}

// resume lets the target run and schedules its next allocation.
func (m *machine) resume() {
	m.st.Target = targetRunning
	m.halt = haltInfo{}
	m.pending = actNone
	if m.hitsPossible() {
		d := m.cfg.HitInterval
		if m.cfg.Flood {
			d = 0
		}
		m.schedule(actHit, d)
	}
	m.saveHit()
}

func (m *machine) hitsPossible() bool {
	if !m.connected || m.lost || m.st.Target != targetRunning {
		return false
	}
	if m.cfg.Flood && m.cfg.FloodHits > 0 && m.hitsThisProcess >= m.cfg.FloodHits {
		return false
	}
	if m.leak != nil {
		return len(m.bps.list) > 0 && !m.st.Leak.Done
	}
	return m.poolHitActive() || m.bps.firstHit() != nil
}

// reboot is the target restarting (kd-protocol.md "Reboot and shutdown"): the connection drops,
// every breakpoint is lost, and the target reconnects later.
func (m *machine) reboot() {
	if m.leak != nil {
		// The memory is gone, but what was outstanding was never freed.
		m.updateLeakState()
		l := m.st.Leak
		l.BeforeReboot = append(l.BeforeReboot, l.Outstanding...)
		l.Outstanding, l.OutstandingCount, l.OutstandingBytes, l.InFlight = []LeakAlloc{}, 0, 0, 0
		m.leak = nil
	}
	m.out.line(shutdownLine)
	m.out.line(waitingLine)
	m.bps = bpTable{}
	m.resetMemory()
	m.connected, m.lost = false, false
	m.st.Target = targetWaiting
	m.halt = haltInfo{}
	m.st.Reboots++
	m.hitsSinceReboot = 0
	m.symErrShown = false
	m.symWarned = false
	m.bugChecked = false
	m.personAt = time.Time{}
	m.schedule(actConnect, m.cfg.RebootDelay)
	m.save()
}

func (m *machine) loseTransport() {
	m.out.lines(transportLostLines)
	m.lost = true
	m.schedule(actLossEnd, m.cfg.LossFor)
	m.save()
}

func (m *machine) transportBack() {
	m.out.line(refreshLine)
	m.lost = false
	m.resume()
}

func (m *machine) crash() {
	m.out.lines(crashLines)
	m.exit(m.cfg.CrashCode, "crash")
}

// onBreak handles CTRL+C / CTRL+BREAK / a 0x03 byte.
func (m *machine) onBreak() {
	m.st.BreaksReceived++
	switch {
	case !m.connected:
		m.st.BreaksBeforeConnect++
	case m.lost:
		m.st.IgnoredBreaks++
	case m.st.Target != targetRunning:
		m.st.BreaksWhileHalted++
	case m.ignoreLeft > 0:
		m.ignoreLeft--
		m.st.IgnoredBreaks++
	case m.cfg.BugCheck == "connected" && !m.bugCheckDone,
		m.cfg.BugCheck == "stopping" && !m.bugCheckDone && m.st.Hits > 0:
		// The target crashed just as the break came.
		m.bugCheck(m.cfg.BugCheck)
		return
	default:
		m.breakIn()
		return
	}
	m.save()
}

// onLine handles one input line. Control-key lines act at once, whatever
// the target does (kd-protocol.md "Control keys"); other lines run at the prompt or wait
// for the next one.
func (m *machine) onLine(line string) {
	switch strings.TrimSpace(line) {
	case "\x02": // CTRL+B ENTER: quit, leaving target and breakpoints as they are
		if m.cfg.HangOnCtrlB {
			m.st.CtrlBIgnored++
			m.save()
			return
		}
		m.exit(0, "ctrl-b")
		return
	case "\x12": // CTRL+R ENTER
		m.out.line(resyncLine)
		return
	case "":
		m.st.EmptyLines++
	}
	if m.st.Target == targetHalted {
		m.typedLine(line)
		return
	}
	m.queue = append(m.queue, line)
	m.st.CommandsWhileRunning = append(m.st.CommandsWhileRunning, line)
	m.save()
}

func (m *machine) onTimer() {
	act := m.pending
	m.pending = actNone
	switch act {
	case actConnect:
		m.connect()
	case actHit:
		m.tick()
	case actLossEnd:
		m.transportBack()
	}
}
