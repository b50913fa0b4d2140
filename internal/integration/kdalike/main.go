// Command kdalike is a second kd-like test program, written from
// /work/shared/reference/kd-facts.md only (not from fakekd), so that the
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
	}
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
}

func main() {
	k := &kd{cfg: load()}
	k.st.PID = os.Getpid()
	k.st.Target = "waiting"
	k.st.Breakpoints = []string{}
	k.openLog()
	k.save()

	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGINT)
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(os.Stdin)
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
			if k.running && len(k.st.Breakpoints) > 0 {
				n := 1
				if k.cfg.hitInterval == 0 {
					n = 5
				}
				for i := 0; i < n && k.running; i++ {
					k.hit(true)
				}
			}
			k.mu.Unlock()
		case l, ok := <-lines:
			if !ok {
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
	tmp := k.cfg.state + ".tmp"
	if os.WriteFile(tmp, b, 0o644) == nil {
		_ = os.Rename(tmp, k.cfg.state)
	}
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
	default:
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
	k.breakPending = false
	if !k.running {
		return
	}
	if len(k.st.Breakpoints) > 0 {
		switch k.cfg.race {
		case "hit":
			// The target hit the breakpoint while the break was on the wire:
			// kd prints the hit, runs "kb;g", then the break lands.
			k.hit(true)
		case "cancel":
			// The break arrives while kd runs the breakpoint's commands: it
			// cancels them (kd-facts 2.1: CTRL+C cancels the current
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
	st := k.targetState()
	k.st.Commands = append(k.st.Commands, Received{Text: l, State: st})
	if l == "\x02" {
		k.exit("ctrl-b", 0)
	}
	if !k.halted {
		// kd is busy: the line waits in the buffer until the next prompt
		// (kd-facts 2.2). Recorded as a failure; not run.
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

func (k *kd) exit(reason string, code int) {
	k.st.ExitReason = reason
	k.st.Target = k.targetState()
	k.save()
	if k.log != nil {
		_ = k.log.Close()
	}
	os.Exit(code)
}
