// Command kdalike is a second kd-like test program, written from
// the kd facts in docs/kd-protocol.md only (not from fakekd), so that the
// integration tests also run kdlaunch against assumptions fakekd does not
// share. Its behaviour is chosen by KDA_* environment variables; it records
// everything it received, and in which state, in the JSON file KDA_STATE.
//
// It reads commands line by line from stdin (a pty in canonical mode: the
// Enter key ends a line; CTRL+B ENTER arrives as the line "\x02"), takes a
// break-in as SIGINT (the pty's interrupt character, or a signal to its
// process group) and writes what real kd writes to stdout and to the log
// named by _NT_DEBUG_LOG_FILE_APPEND / _NT_DEBUG_LOG_FILE_OPEN.
package main

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

// Knobs (all optional):
//
//	KDA_STATE          state file
//	KDA_TRANSPORT      serial (default) | net | pipe
//	KDA_WAITS          "Waiting to reconnect..." lines before the target connects (2)
//	KDA_CONNECT_DELAY  time before the target connects (150ms)
//	KDA_HANDSHAKE      1: net only; after "Connected to target" the rest of the
//	                   connection text comes only after the first break-in
//	KDA_INITIAL_BREAK  1: "(Initial Breakpoint requested)": the target halts by itself
//	KDA_INITIAL_DELAY  delay before that initial halt (100ms)
//	KDA_PROMPT         plain ("kd> ") | mp ("0: kd> ", cycling 0..3) | wide ("12: kd> ")
//	KDA_SPLIT_PROMPT   1: the prompt in two writes 30ms apart
//	KDA_GLUE           1: the prompt in the same write as the output before it
//	KDA_CRLF           1: CRLF line ends
//	KDA_ECHO           1: echo each command after the prompt
//	KDA_ARCH           x64 (default) | x86
//	KDA_KB             new (default, x64 without Child-SP) | old (x64 Child-SP layout)
//	KDA_HIT_INTERVAL   time between hits while armed and running (20ms); 0: flood
//	KDA_DBGPRINT       1: a DbgPrint line between hits; nonl: one without a
//	                   trailing newline (DbgPrint prints what the driver gave)
//	KDA_DEFERRED       1: bp answers "could not be resolved, adding deferred bp"
//	KDA_SYMERR         1: symbol load errors and warnings
//	KDA_BREAK_DELAY    time a break takes to land (0)
//	KDA_BREAK_SYMBOLS  time between the break-in box and the prompt (symbols loading) (0)
//	KDA_QUIET          1: no break-in box (KDQUIET)
//	KDA_RACE           hit: a hit is printed just before the break lands;
//	                   cancel: the break cancels the breakpoint's "kb;g": the
//	                   target stays at the breakpoint, prompt without a break banner
//	KDA_SELF_HALT      N: after N hits the target halts by itself (int 3 in a driver)
//	KDA_HIT_AFTER_G    1: the first hit comes immediately after g
//
// Fault knobs (modelled on docs/kd-protocol.md; "incarnation" counts kd processes
// started with the same KDA_STATE, from 1):
//
//	KDA_EXIT_AT_START  N: incarnations 1..N fail to open the port and exit 1
//	                   before any connection
//	KDA_EXIT_AFTER_HITS N: kd exits with KDA_EXIT_CODE (3) after N hits
//	KDA_SIGNAL_AFTER_HITS N: kd is killed by SIGKILL after N hits
//	KDA_FAULT_TIMES    these two and KDA_CLOSE_AFTER_HITS only in incarnations
//	                   1..N (0: all)
//	KDA_REBOOT_AFTER_HITS N: the running target reboots after N hits: the
//	                   Shutdown text, "Waiting to reconnect...", KDA_REBOOT_DOWN
//	                   (1s) later the connection text again; breakpoints lost
//	KDA_REBOOTS        how many such reboots per incarnation (1)
//	KDA_REBOOT_ON_BREAK N: the Nth break that reaches a running target finds
//	                   it rebooting instead (the break is lost)
//	KDA_RESET_ON_CMD   PREFIX: the halted target is hard-reset when a command
//	                   with this prefix arrives: kd answers it with the
//	                   transport-lost text and waits to reconnect, no prompt
//	KDA_IGNORE_BREAKS  N: the first N breaks to a running target are lost; -1: all
//	KDA_LOST_AFTER_HITS N: after N hits the transport is lost ("Banners and connection lines" in docs/kd-protocol.md
//	                   text) for KDA_LOST_FOR (1s), then "KDTARGET: Refreshing
//	                   KD connection"; breaks meanwhile land after that
//	KDA_CTRLB_DELAY    kd leaves this long after CTRL+B ENTER (0); "never": not at all
//	KDA_STALL_AFTER_HITS N: after N hits a partial DbgPrint line, then kd is
//	                   silent and deaf for KDA_STALL_FOR (1s), then the rest
//	KDA_CLOSE_AFTER_HITS N: kd closes its console (stdin, stdout, stderr) after
//	                   N hits and keeps running (up to 60s)
//	KDA_BURST          N: a break landing on an armed target first flushes N
//	                   lines of target output (DbgPrint, a hit every 100)
//	KDA_IGNORE_HUP     1: SIGHUP is ignored (kd survives a pty hangup until its
//	                   console read fails)
type config struct {
	state        string
	transport    string
	waits        int
	connectDelay time.Duration
	handshake    bool
	initialBreak bool
	initialDelay time.Duration
	prompt       string
	splitPrompt  bool
	glue         bool
	crlf         bool
	echo         bool
	arch         string
	kb           string
	hitInterval  time.Duration
	dbgprint     string
	deferred     bool
	symerr       bool
	breakDelay   time.Duration
	breakSymbols time.Duration
	quiet        bool
	race         string
	selfHalt     int
	hitAfterG    bool

	exitAtStart     int
	exitAfterHits   int
	exitCode        int
	signalAfterHits int
	faultTimes      int
	rebootAfterHits int
	reboots         int
	rebootDown      time.Duration
	rebootOnBreak   int
	resetOnCmd      string
	ignoreBreaks    int
	lostAfterHits   int
	lostFor         time.Duration
	ctrlbDelay      time.Duration // < 0: never leave
	stallAfterHits  int
	stallFor        time.Duration
	closeAfterHits  int
	burst           int
	ignoreHup       bool
}

func env(k, def string) string {
	if v, ok := os.LookupEnv(k); ok {
		return v
	}
	return def
}

func dur(k string, def time.Duration) time.Duration {
	d, err := time.ParseDuration(env(k, def.String()))
	if err != nil {
		return def
	}
	return d
}

func num(k string, def int) int {
	n, err := strconv.Atoi(env(k, strconv.Itoa(def)))
	if err != nil {
		return def
	}
	return n
}

func load() config {
	return config{
		state:        os.Getenv("KDA_STATE"),
		transport:    env("KDA_TRANSPORT", "serial"),
		waits:        num("KDA_WAITS", 2),
		connectDelay: dur("KDA_CONNECT_DELAY", 150*time.Millisecond),
		handshake:    os.Getenv("KDA_HANDSHAKE") == "1",
		initialBreak: os.Getenv("KDA_INITIAL_BREAK") == "1",
		initialDelay: dur("KDA_INITIAL_DELAY", 100*time.Millisecond),
		prompt:       env("KDA_PROMPT", "mp"),
		splitPrompt:  os.Getenv("KDA_SPLIT_PROMPT") == "1",
		glue:         os.Getenv("KDA_GLUE") == "1",
		crlf:         os.Getenv("KDA_CRLF") == "1",
		echo:         os.Getenv("KDA_ECHO") == "1",
		arch:         env("KDA_ARCH", "x64"),
		kb:           env("KDA_KB", "new"),
		hitInterval:  dur("KDA_HIT_INTERVAL", 20*time.Millisecond),
		dbgprint:     os.Getenv("KDA_DBGPRINT"),
		deferred:     os.Getenv("KDA_DEFERRED") == "1",
		symerr:       os.Getenv("KDA_SYMERR") == "1",
		breakDelay:   dur("KDA_BREAK_DELAY", 0),
		breakSymbols: dur("KDA_BREAK_SYMBOLS", 0),
		quiet:        os.Getenv("KDA_QUIET") == "1",
		race:         os.Getenv("KDA_RACE"),
		selfHalt:     num("KDA_SELF_HALT", 0),
		hitAfterG:    os.Getenv("KDA_HIT_AFTER_G") == "1",

		exitAtStart:     num("KDA_EXIT_AT_START", 0),
		exitAfterHits:   num("KDA_EXIT_AFTER_HITS", 0),
		exitCode:        num("KDA_EXIT_CODE", 3),
		signalAfterHits: num("KDA_SIGNAL_AFTER_HITS", 0),
		faultTimes:      num("KDA_FAULT_TIMES", 0),
		rebootAfterHits: num("KDA_REBOOT_AFTER_HITS", 0),
		reboots:         num("KDA_REBOOTS", 1),
		rebootDown:      dur("KDA_REBOOT_DOWN", time.Second),
		rebootOnBreak:   num("KDA_REBOOT_ON_BREAK", 0),
		resetOnCmd:      os.Getenv("KDA_RESET_ON_CMD"),
		ignoreBreaks:    num("KDA_IGNORE_BREAKS", 0),
		lostAfterHits:   num("KDA_LOST_AFTER_HITS", 0),
		lostFor:         dur("KDA_LOST_FOR", time.Second),
		ctrlbDelay:      ctrlbDelay(),
		stallAfterHits:  num("KDA_STALL_AFTER_HITS", 0),
		stallFor:        dur("KDA_STALL_FOR", time.Second),
		closeAfterHits:  num("KDA_CLOSE_AFTER_HITS", 0),
		burst:           num("KDA_BURST", 0),
		ignoreHup:       os.Getenv("KDA_IGNORE_HUP") == "1",
	}
}

func ctrlbDelay() time.Duration {
	if os.Getenv("KDA_CTRLB_DELAY") == "never" {
		return -1
	}
	return dur("KDA_CTRLB_DELAY", 0)
}

// Received is one command as kdalike got it.
type Received struct {
	Text  string `json:"text"`
	State string `json:"state"` // the target's state when it arrived
}

// State is what the tests read.
type State struct {
	PID                 int        `json:"pid"`
	Target              string     `json:"target"` // waiting, connected, running, halted
	Connected           bool       `json:"connected"`
	Breakpoints         []string   `json:"breakpoints"`
	Hits                int        `json:"hits"`
	Breaks              []string   `json:"breaks"` // the target's state when each break arrived
	BreaksBeforeConnect int        `json:"breaks_before_connect"`
	BreaksWhileHalted   int        `json:"breaks_while_halted"`
	Commands            []Received `json:"commands"`
	CommandsWhileBusy   []string   `json:"commands_while_busy"`
	EmptyLines          int        `json:"empty_lines"`
	Quit                bool       `json:"quit"`
	ExitReason          string     `json:"exit_reason"`
	LogEnv              string     `json:"log_env"`
	Failures            []string   `json:"failures"`

	Incarnation   int      `json:"incarnation"`    // 1 for the first kd started with this KDA_STATE
	EverConnected bool     `json:"ever_connected"` // a connection clears what an earlier kd left armed
	Reboots       int      `json:"reboots"`
	Resets        int      `json:"resets"`
	IgnoredBreaks int      `json:"ignored_breaks"`
	LostBreaks    int      `json:"lost_breaks"`    // breaks that met a reboot
	RaceBreaks    int      `json:"race_breaks"`    // breaks that arrived right after the target went away (sent before kd said so)
	TypeaheadLost []string `json:"typeahead_lost"` // markers typed ahead of a command the reset swallowed
	CtrlB         bool     `json:"ctrl_b"`
	ExitCode      int      `json:"exit_code"`
	Closed        bool     `json:"closed"` // console closed, kd still running
}

type kd struct {
	cfg config
	mu  sync.Mutex // guards everything below and serialises output
	st  State
	log *os.File

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
}

func main() {
	k := &kd{cfg: load()}
	k.st.PID = os.Getpid()
	k.st.Target = "waiting"
	k.st.Breakpoints = []string{}
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
			if k.running && !k.lost && len(k.st.Breakpoints) > 0 {
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
	k.setTarget()
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
	if k.cfg.burst > 0 && len(k.st.Breakpoints) > 0 {
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
	if len(k.st.Breakpoints) > 0 {
		switch k.cfg.race {
		case "hit":
			// The target hit the breakpoint while the break was on the wire:
			// kd prints the hit, runs "kb;g", then the break lands.
			k.hit(true)
		case "cancel":
			// The break arrives while kd runs the breakpoint's commands: it
			// cancels them ("Break-in and the break box" in docs/kd-protocol.md: CTRL+C cancels the current
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
	fmt.Fprintf(&b, "Breakpoint %d hit\n", 0)
	if k.cfg.arch == "x86" {
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
		// ("Break-in and the break box" in docs/kd-protocol.md). Recorded as a failure; not run.
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
	switch {
	case verb == "q" || verb == "qq":
		k.st.Quit = true
		k.fail("q received: it leaves the target locked")
		k.out("quit:\n")
		k.exit("q", 0)
	case verb == "g":
		k.halted = false
		k.running = true
		k.setTarget()
		if k.queuedBreak {
			k.queuedBreak = false
			k.halt(true)
			return
		}
		if k.cfg.hitAfterG && !k.firstGDone && len(k.st.Breakpoints) > 0 {
			k.firstGDone = true
			k.hit(true)
		}
		return
	case verb == ".echo":
		k.out(strings.TrimSpace(strings.TrimPrefix(cmd, f[0])) + "\n")
	case verb == "bp":
		if k.cfg.deferred {
			k.out("Bp expression 'nt!MmAllocateSpecialPool' could not be resolved, adding deferred bp\n")
		}
		if len(k.st.Breakpoints) >= 32 {
			k.out("No more breakpoints available\n")
		} else {
			k.st.Breakpoints = append(k.st.Breakpoints, cmd)
		}
	case verb == "bc":
		k.st.Breakpoints = []string{}
	case verb == "bl":
		for i, b := range k.st.Breakpoints {
			k.out(fmt.Sprintf(" %d e Disable Clear  fffff801`1e7a2b30     0001 (0001) nt!MmAllocateSpecialPool (%s)\n", i, b))
		}
	case cmd == "dd nt!MmSpecialPoolTag L1":
		k.symbolsOnce()
		if k.cfg.arch == "x86" {
			k.out("8055a5c0  206b6444\n")
		} else {
			k.out("fffff801`1f0c3a10  206b6444\n")
		}
	case cmd == "x nt!MmAllocateSpecialPool":
		k.symbolsOnce()
		if k.cfg.arch == "x86" {
			k.out("8062f7b4          nt!MmAllocateSpecialPool (_MmAllocateSpecialPool@16)\n")
		} else {
			k.out("fffff801`1e7a2b30 nt!MmAllocateSpecialPool (MmAllocateSpecialPool)\n")
		}
	case verb == "kb":
		k.out(" # RetAddr               : Args to Child                                                           : Call Site\n00 fffff801`1e8b2c3d     : 00000000`00000000 00000000`00000000 00000000`00000000 00000000`00000000 : nt!DbgBreakPointWithStatus\n")
	case verb == "ed" || verb == "eb" || verb == ".reload":
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
	if !k.cfg.symerr {
		return
	}
	symOnce.Do(func() {
		k.out("*** ERROR: Symbol file could not be found.  Defaulted to export symbols for ntkrnlmp.exe - \n")
	})
}

// goneAway: the target is off the line (rebooting); kd forgets the
// breakpoints ("Reboot and shutdown" in docs/kd-protocol.md) and any break in flight.
func (k *kd) goneAway() {
	k.connected, k.running, k.halted = false, false, false
	k.handshook = false
	k.queuedBreak, k.breakPending = false, false
	k.st.Breakpoints = []string{}
	k.goneAt = time.Now()
	k.setTarget()
}

// reboot: the running target restarts ("Reboot and shutdown" in docs/kd-protocol.md and 3.1 texts).
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
