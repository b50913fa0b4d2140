package fakekd

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// syncBuf collects output written by Run's goroutine and lets the test wait
// for text.
type syncBuf struct {
	mu     sync.Mutex
	b      []byte
	notify chan struct{}
}

func newSyncBuf() *syncBuf { return &syncBuf{notify: make(chan struct{}, 1)} }

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	s.b = append(s.b, p...)
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.b)
}

// session runs Run in-process, with a pipe as stdin and channels for
// breaks and stop signals.
type session struct {
	t         *testing.T
	in        *io.PipeWriter
	out, errb *syncBuf
	breaks    chan struct{}
	stop      chan os.Signal
	done      chan int
	code      int
	exited    bool
	pos       int // expect cursor into the output
	statePath string
}

const waitLimit = 5 * time.Second

// startSession runs the fake with fast timings unless env overrides them.
func startSession(t *testing.T, env map[string]string, args ...string) *session {
	t.Helper()
	full := map[string]string{
		"FAKEKD_CONNECT_DELAY": "10ms",
		"FAKEKD_HIT_INTERVAL":  "5ms",
		"FAKEKD_REBOOT_DELAY":  "20ms",
		"FAKEKD_STATE":         filepath.Join(t.TempDir(), "state.json"),
	}
	for k, v := range env {
		full[k] = v
	}
	pr, pw := io.Pipe()
	s := &session{
		t: t, in: pw, out: newSyncBuf(), errb: newSyncBuf(),
		breaks: make(chan struct{}, 8), stop: make(chan os.Signal, 1), done: make(chan int, 1),
		statePath: full["FAKEKD_STATE"],
	}
	go func() {
		s.done <- Run(Env{
			Args: append([]string{"fakekd"}, args...), Getenv: mapEnv(full),
			Stdin: pr, Stdout: s.out, Stderr: s.errb,
			Breaks: s.breaks, Stop: s.stop, Hostname: "BOX", Pid: 4242,
		})
	}()
	t.Cleanup(func() {
		pw.Close() // EOF ends Run if it is still going, and its reader either way
		s.wait()
	})
	return s
}

// expect waits for text after the cursor and moves the cursor past it.
func (s *session) expect(text string) string {
	s.t.Helper()
	deadline := time.After(waitLimit)
	for {
		out := s.out.String()
		if i := strings.Index(out[s.pos:], text); i >= 0 {
			seg := out[s.pos : s.pos+i+len(text)]
			s.pos += i + len(text)
			return seg
		}
		select {
		case <-s.out.notify:
		case <-deadline:
			s.t.Fatalf("timed out waiting for %q; output after cursor:\n%s", text, out[s.pos:])
		}
	}
}

func (s *session) expectPrompt() { s.t.Helper(); s.expect("kd> ") }

func (s *session) send(line string) {
	s.t.Helper()
	if _, err := io.WriteString(s.in, line); err != nil {
		s.t.Fatalf("write %q: %v", line, err)
	}
}

func (s *session) brk() { s.breaks <- struct{}{} }

// breakIn sends a break and waits for the break-in text and prompt.
func (s *session) breakIn() {
	s.t.Helper()
	s.brk()
	s.expect("Break instruction exception - code 80000003 (first chance)")
	s.expectPrompt()
}

func (s *session) wait() int {
	s.t.Helper()
	if !s.exited {
		select {
		case s.code = <-s.done:
			s.exited = true
		case <-time.After(waitLimit):
			s.t.Fatalf("Run did not return; output:\n%s", s.out.String())
		}
	}
	return s.code
}

func (s *session) state() State {
	s.t.Helper()
	data, err := os.ReadFile(s.statePath)
	if err != nil {
		s.t.Fatal(err)
	}
	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		s.t.Fatalf("state: %v\n%s", err, data)
	}
	return st
}

// waitState polls the state file until cond holds.
func (s *session) waitState(what string, cond func(State) bool) State {
	s.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		if data, err := os.ReadFile(s.statePath); err == nil {
			var st State
			if json.Unmarshal(data, &st) == nil && cond(st) {
				return st
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("state never reached %s; output:\n%s", what, s.out.String())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// connected starts a session and waits until the target runs.
func connectedSession(t *testing.T, env map[string]string, args ...string) *session {
	t.Helper()
	s := startSession(t, env, args...)
	s.expect(waitingLine)
	s.expect(establishedLine)
	s.expect(uptimeLine)
	return s
}

func TestSessionCleanStop(t *testing.T) {
	s := connectedSession(t, nil)
	s.breakIn()
	s.send("bp nt!MmAllocateSpecialPool \";kb;g\"\r\n")
	s.expectPrompt()
	s.send("g\r\n")
	for range 3 {
		s.expect("Breakpoint 0 hit\nnt!MmAllocateSpecialPool:\nfffff801`1e2a3b40 4c8bdc          mov     r11,rsp\n" + hdrKbNew + "\n00 ")
	}
	s.breakIn()
	s.send("bc *\r\n")
	s.expectPrompt()
	s.send("g\r\n")
	s.send("\x02\r\n")
	if code := s.wait(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	st := s.state()
	if st.Target != targetRunning || len(st.Breakpoints) != 0 || len(st.CommandsWhileRunning) != 0 ||
		st.ExitReason != "ctrl-b" || st.Hits < 3 || st.BreaksReceived != 2 || st.EmptyLines != 0 ||
		!st.Connected || st.Pid != 4242 || st.Incarnations != 1 {
		t.Errorf("state %+v", st)
	}
	if want := []string{`bp nt!MmAllocateSpecialPool ";kb;g"`, "g", "bc *", "g"}; strings.Join(st.Commands, "|") != strings.Join(want, "|") {
		t.Errorf("commands %q", st.Commands)
	}
}

func TestSessionQueuesCommandsWhileRunning(t *testing.T) {
	s := connectedSession(t, nil)
	s.send(".echo early\r\n") // target running, no prompt: queued
	s.send("\r\n")            // stray newline: also queued, repeats .echo later
	st := s.waitState("queued", func(st State) bool { return len(st.CommandsWhileRunning) == 2 })
	if st.CommandsWhileRunning[0] != ".echo early" || st.EmptyLines != 1 {
		t.Errorf("state %+v", st)
	}
	s.breakIn()
	seg := s.expect("early\n")
	if seg != "early\n" {
		t.Errorf("queued output %q", seg)
	}
	s.expectPrompt()
	s.expect("early\n") // the empty line repeated it
	s.expectPrompt()
	st = s.waitState("ran", func(st State) bool { return len(st.Commands) == 2 })
	if st.Commands[0] != ".echo early" || st.Commands[1] != ".echo early" {
		t.Errorf("commands %q", st.Commands)
	}
}

func TestSessionHitWithoutCommandHalts(t *testing.T) {
	s := connectedSession(t, nil)
	s.breakIn()
	s.send("bp nt!MmAllocateSpecialPool\r\ng\r\n")
	s.expect("Breakpoint 0 hit\nnt!MmAllocateSpecialPool:\n")
	s.expectPrompt()
	s.send("r rdx\r\n") // kd-protocol.md "Allocators": the tag is the second argument
	s.expect("rdx=00000000206b6444\n")
	s.expectPrompt()
	s.send("kb\r\n")
	s.expect(hdrKbNew + "\n00 ")
	s.expect("nt!MmAllocateSpecialPool\n01 ")
	s.expect("nt!ExAllocatePoolWithTag+0x3a1\n")
	if st := s.state(); st.Target != targetHalted || st.Hits != 1 {
		t.Errorf("state %+v", st)
	}
}

func TestSessionOneShotAndBpCommandOutput(t *testing.T) {
	s := connectedSession(t, map[string]string{"FAKEKD_ARCH": "x86"})
	s.breakIn()
	s.send(`bp /1 nt!MmAllocateSpecialPool ".echo SPHIT; r edx; kb; g"` + "\r\n")
	s.expectPrompt()
	s.send("g\r\n")
	s.expect("Breakpoint 0 hit\nnt!MmAllocateSpecialPool:\n80549f2c 8bff            mov     edi,edi\nSPHIT\nedx=206b6444\nChildEBP RetAddr  Args to Child\n")
	st := s.waitState("one-shot removed", func(st State) bool { return st.Target == targetRunning && st.Hits == 1 })
	if len(st.Breakpoints) != 0 {
		t.Errorf("one-shot bp kept: %+v", st.Breakpoints)
	}
}

func TestSessionPoolHitTag(t *testing.T) {
	s := connectedSession(t, nil)
	s.breakIn()
	s.send("ed nt!poolhittag ' kdD'\r\n")
	s.expectPrompt()
	s.send("g\r\n")
	s.expect("Break instruction exception - code 80000003 (first chance)\nnt!ExpAllocateBigPool+0x1e3:\nfffff801`1e2c81f3 cc              int     3\n")
	s.expectPrompt()
	st := s.state()
	if st.PoolHitTag != 0x206b6444 || st.Hits != 1 || st.Target != targetHalted {
		t.Errorf("state %+v", st)
	}
	s.send("ed nt!poolhittag 0\r\ng\r\n")
	s.waitState("running", func(st State) bool { return st.Target == targetRunning && st.PoolHitTag == 0 })
}

func TestSessionBreakBookkeeping(t *testing.T) {
	s := startSession(t, map[string]string{"FAKEKD_CONNECT_DELAY": "150ms", "FAKEKD_IGNORE_BREAKS": "1"})
	s.expect(waitingLine)
	s.brk() // before the connection: recorded, no output
	s.waitState("break before connect", func(st State) bool { return st.BreaksBeforeConnect == 1 })
	s.expect(uptimeLine)
	s.send("\x03") // raw 0x03 on stdin: ignored by FAKEKD_IGNORE_BREAKS=1
	s.waitState("ignored", func(st State) bool { return st.IgnoredBreaks == 1 })
	s.breakIn()
	s.brk() // while halted: recorded, no output
	st := s.waitState("break while halted", func(st State) bool { return st.BreaksWhileHalted == 1 })
	if st.BreaksReceived != 4 || strings.Count(s.out.String(), "Break instruction exception") != 1 {
		t.Errorf("state %+v\n%s", st, s.out.String())
	}
}

func TestSessionInitialBreak(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"knob", map[string]string{"FAKEKD_INITIAL_BREAK": "1"}, nil},
		{"-bonc", nil, []string{"-bonc"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startSession(t, tc.env, tc.args...)
			s.expect(establishedLine + initialBreakNote + "\n")
			s.expect(uptimeLine)
			s.expect("nt!DbgBreakPointWithStatus:\n")
			s.expectPrompt()
			if st := s.state(); st.Target != targetHalted || st.BreaksReceived != 0 {
				t.Errorf("state %+v", st)
			}
		})
	}
}

func TestSessionQuitLeavesTargetLocked(t *testing.T) {
	s := connectedSession(t, nil)
	s.breakIn()
	s.send("bp nt!MmAllocateSpecialPool\r\nq\r\n")
	s.expect("quit:\n")
	if code := s.wait(); code != 0 {
		t.Errorf("exit code %d", code)
	}
	if st := s.state(); st.Target != targetLocked || st.ExitReason != "quit" || len(st.Breakpoints) != 1 {
		t.Errorf("state %+v", st)
	}
}

func TestSessionCtrlBWhileHaltedKeepsBreakpoints(t *testing.T) {
	s := connectedSession(t, nil)
	s.breakIn()
	s.send("bp nt!MmAllocateSpecialPool \";kb;g\"\r\n\x02\r\n")
	if code := s.wait(); code != 0 {
		t.Errorf("exit code %d", code)
	}
	if st := s.state(); st.Target != targetHalted || st.ExitReason != "ctrl-b" || len(st.Breakpoints) != 1 ||
		st.Breakpoints[0].Command != ";kb;g" || !st.Breakpoints[0].Enabled {
		t.Errorf("state %+v", st)
	}
}

func TestSessionExits(t *testing.T) {
	t.Run("eof", func(t *testing.T) {
		s := startSession(t, map[string]string{"FAKEKD_NEVER_CONNECT": "1"})
		s.expect(waitingLine)
		s.in.Close()
		if code := s.wait(); code != 0 {
			t.Errorf("exit code %d", code)
		}
		if st := s.state(); st.ExitReason != "eof" || st.Target != targetWaiting || st.Connected {
			t.Errorf("state %+v", st)
		}
	})
	t.Run("signal", func(t *testing.T) {
		s := connectedSession(t, nil)
		s.stop <- syscall.SIGTERM
		if code := s.wait(); code != 128+int(syscall.SIGTERM) {
			t.Errorf("exit code %d", code)
		}
		if st := s.state(); st.ExitReason != "signal" {
			t.Errorf("state %+v", st)
		}
	})
	t.Run("hang on ctrl-b", func(t *testing.T) {
		s := connectedSession(t, map[string]string{"FAKEKD_HANG_ON_CTRLB": "1"})
		s.send("\x02\r\n")
		s.waitState("ignored ctrl-b", func(st State) bool { return st.CtrlBIgnored == 1 && st.ExitReason == "" })
	})
	t.Run("bad command line", func(t *testing.T) {
		s := startSession(t, nil, "-k", "com:port=com1", "-server", "npipe:pipe=x")
		if code := s.wait(); code != 1 {
			t.Errorf("exit code %d", code)
		}
		if got := s.errb.String(); got != "-server must be the first argument\n" || s.out.String() != "" {
			t.Errorf("stderr %q stdout %q", got, s.out.String())
		}
	})
	t.Run("bad knob", func(t *testing.T) {
		s := startSession(t, map[string]string{"FAKEKD_HIT_INTERVAL": "often"})
		if code := s.wait(); code != 2 || !strings.Contains(s.errb.String(), "FAKEKD_HIT_INTERVAL") {
			t.Errorf("exit code %d, stderr %q", code, s.errb.String())
		}
	})
}

func TestSessionCrash(t *testing.T) {
	s := connectedSession(t, map[string]string{"FAKEKD_CRASH_AFTER_HITS": "2", "FAKEKD_CRASH_CODE": "7"})
	s.breakIn()
	s.send("bp nt!MmAllocateSpecialPool \";kb;g\"\r\ng\r\n")
	if code := s.wait(); code != 7 {
		t.Fatalf("exit code %d", code)
	}
	out := s.out.String()
	if strings.Count(out, "Breakpoint 0 hit") != 2 || !strings.HasSuffix(out, strings.Join(crashLines, "\n")+"\n") {
		t.Errorf("output:\n%s", out)
	}
	if st := s.state(); st.ExitReason != "crash" || st.Hits != 2 {
		t.Errorf("state %+v", st)
	}
}

func TestSessionRebootLosesBreakpoints(t *testing.T) {
	s := connectedSession(t, map[string]string{"FAKEKD_REBOOT_AFTER_HITS": "2", "FAKEKD_REBOOT_DELAY": "200ms"})
	s.breakIn()
	s.send("bp nt!MmAllocateSpecialPool \";kb;g\"\r\ng\r\n")
	seg := s.expect(shutdownLine + "\n" + waitingLine + "\n")
	if strings.Count(seg, "Breakpoint 0 hit") != 2 {
		t.Errorf("hits before reboot:\n%s", seg)
	}
	s.brk() // during the reboot: before the connection
	s.expect(establishedLine)
	s.expect(uptimeLine)
	st := s.waitState("reconnected", func(st State) bool { return st.Connected })
	if st.Reboots != 1 || len(st.Breakpoints) != 0 || st.Target != targetRunning || st.BreaksBeforeConnect != 1 {
		t.Errorf("state %+v", st)
	}
	// Re-armed, it hits again; the reboot does not repeat.
	s.breakIn()
	s.send("bp nt!MmAllocateSpecialPool \";kb;g\"\r\ng\r\n")
	for range 3 {
		s.expect("Breakpoint 0 hit")
	}
	if st := s.state(); st.Reboots != 1 {
		t.Errorf("rebooted again: %+v", st)
	}
}

func TestSessionRebootRepeat(t *testing.T) {
	s := connectedSession(t, map[string]string{"FAKEKD_REBOOT_AFTER_HITS": "1", "FAKEKD_REBOOT_REPEAT": "1"})
	for range 2 {
		s.breakIn()
		s.send("bp nt!MmAllocateSpecialPool \";kb;g\"\r\ng\r\n")
		s.expect(shutdownLine)
		s.expect(uptimeLine)
	}
	if st := s.waitState("two reboots", func(st State) bool { return st.Reboots == 2 }); st.Hits != 2 {
		t.Errorf("state %+v", st)
	}
}

func TestSessionRebootCommand(t *testing.T) {
	s := connectedSession(t, nil)
	s.breakIn()
	s.send("bp nt!MmAllocateSpecialPool\r\n.reboot\r\n")
	s.expect(shutdownLine + "\n" + waitingLine + "\n")
	s.expect(uptimeLine)
	if st := s.waitState("reconnected", func(st State) bool { return st.Connected }); len(st.Breakpoints) != 0 || st.Reboots != 1 {
		t.Errorf("state %+v", st)
	}
}

func TestSessionTransportLoss(t *testing.T) {
	s := connectedSession(t, map[string]string{"FAKEKD_TRANSPORT_LOSS_AFTER_HITS": "1", "FAKEKD_TRANSPORT_LOSS_FOR": "300ms"})
	s.breakIn()
	s.send("bp nt!MmAllocateSpecialPool \";kb;g\"\r\ng\r\n")
	s.expect("Breakpoint 0 hit")
	s.expect(strings.Join(transportLostLines, "\n") + "\n")
	s.brk()
	s.waitState("break ignored", func(st State) bool { return st.IgnoredBreaks == 1 && st.TransportLost })
	seg := s.expect(refreshLine + "\n")
	if strings.Contains(seg, "Breakpoint") || strings.Contains(seg, "Break instruction") {
		t.Errorf("output while lost:\n%s", seg)
	}
	s.expect("Breakpoint 0 hit")
	s.breakIn()
}

func TestSessionFlood(t *testing.T) {
	s := connectedSession(t, map[string]string{"FAKEKD_FLOOD": "1", "FAKEKD_FLOOD_HITS": "300"})
	s.breakIn()
	s.send("bp nt!MmAllocateSpecialPool \";kb;g\"\r\ng\r\n")
	st := s.waitState("300 hits", func(st State) bool { return st.Hits == 300 })
	if st.Target != targetRunning {
		t.Errorf("state %+v", st)
	}
	time.Sleep(30 * time.Millisecond)
	if n := strings.Count(s.out.String(), "Breakpoint 0 hit"); n != 300 {
		t.Errorf("%d hits printed, want 300 then quiet", n)
	}
	s.breakIn() // still responsive
}

func TestSessionNoise(t *testing.T) {
	s := connectedSession(t, map[string]string{"FAKEKD_NOISE": "1", "FAKEKD_HIT_INTERVAL": "1ms", "FAKEKD_FLOOD": "1", "FAKEKD_FLOOD_HITS": "80"})
	s.breakIn()
	s.send("bp nt!MmAllocateSpecialPool \";kb;g\"\r\ng\r\n")
	s.waitState("80 hits", func(st State) bool { return st.Hits == 80 })
	out := s.out.String()
	for _, want := range []string{avscanSymbolErr, unwindWarning, dbgPrints[0]} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in 80 noisy hits", want)
		}
	}
	if strings.Count(out, avscanSymbolErr) != 1 {
		t.Errorf("symbol error printed %d times, want once per boot", strings.Count(out, avscanSymbolErr))
	}
}

func TestSessionTransports(t *testing.T) {
	t.Run("kdnet hides the key", func(t *testing.T) {
		s := connectedSession(t, nil, "-server", "npipe:pipe=livedebug,password=hunter2", "-k", "net:port=50001,key=1.2.3.4")
		out := s.out.String()
		for _, want := range []string{
			serverStartedLine + "\n0: <debugger> -remote npipe:Pipe=livedebug,Server=BOX\n",
			netUsingLine + "\n" + netWinsockLine + "\n" + waitingLine + "\n",
			"Connected to target 169.254.10.2 on port 50001 on local IP 169.254.10.1.\n" + kdnetMACLine + "\n" + archs["x64"].connectedLine + "\n" + establishedLine + "\n",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("missing %q in:\n%s", want, out)
			}
		}
		if strings.Contains(out, "hunter2") || strings.Contains(out, "1.2.3.4") {
			t.Errorf("secret printed:\n%s", out)
		}
		if st := s.state(); st.Transport != "net" || st.Server != "npipe:pipe=livedebug,password=hunter2" {
			t.Errorf("state %+v", st)
		}
	})
	t.Run("echo secrets", func(t *testing.T) {
		s := connectedSession(t, map[string]string{"FAKEKD_ECHO_SECRETS": "1"}, "-server", "npipe:pipe=livedebug,password=hunter2", "-k", "net:port=50001,key=1.2.3.4")
		out := s.out.String()
		if !strings.Contains(out, "-remote npipe:pipe=livedebug,password=hunter2,Server=BOX\n") || !strings.Contains(out, "key=1.2.3.4") {
			t.Errorf("secrets not echoed:\n%s", out)
		}
	})
	t.Run("pipe", func(t *testing.T) {
		s := connectedSession(t, map[string]string{"_NT_SYMBOL_PATH": `SRV*c:\websymbols*`}, "-k", `com:pipe,port=\\.\pipe\com_1,resets=0,reconnect`)
		if out := s.out.String(); !strings.Contains(out, "Opened \\\\.\\pipe\\com_1\nWaiting to reconnect...\n") ||
			!strings.Contains(out, "Symbol search path is: SRV*c:\\websymbols*\n"+execPathLine+"\n") || strings.Contains(out, "Connected to target") {
			t.Errorf("output:\n%s", out)
		}
	})
	t.Run("ambient serial", func(t *testing.T) {
		s := connectedSession(t, map[string]string{"_NT_DEBUG_PORT": "com2", "FAKEKD_ARCH": "x86"})
		if out := s.out.String(); !strings.Contains(out, "Opened \\\\.\\com2\n") || !strings.Contains(out, "Free x86 compatible\n") ||
			!strings.Contains(out, "Symbol search path is: srv*\n") {
			t.Errorf("output:\n%s", out)
		}
	})
}

func TestSessionLogFile(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "debug.log")
	if err := os.WriteFile(logPath, []byte("OLD CONTENT\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := connectedSession(t, map[string]string{"_NT_DEBUG_LOG_FILE_OPEN": logPath})
	s.breakIn()
	s.send(".echo marker\r\n")
	s.expect("marker\n")
	s.send("\x02\r\n")
	s.wait()
	log, _ := os.ReadFile(logPath)
	if strings.Contains(string(log), "OLD CONTENT") || !strings.HasPrefix(string(log), bannerLine+"\n") ||
		!strings.Contains(string(log), "Opened log file '"+logPath+"'\n") || !strings.Contains(string(log), "kd> .echo marker\nmarker\n") {
		t.Errorf("log:\n%s", log)
	}

	s = connectedSession(t, map[string]string{"_NT_DEBUG_LOG_FILE_APPEND": logPath})
	s.send("\x02\r\n")
	s.wait()
	appended, _ := os.ReadFile(logPath)
	if !strings.HasPrefix(string(appended), string(log)) || strings.Count(string(appended), bannerLine) != 2 {
		t.Errorf("append mode log:\n%s", appended)
	}

	bad := filepath.Join(dir, "no", "such", "dir", "x.log")
	s = connectedSession(t, map[string]string{"_NT_DEBUG_LOG_FILE_OPEN": bad})
	if !strings.Contains(s.out.String(), "Unable to open log file '"+bad+"', Win32 error 0n3\n") {
		t.Errorf("output:\n%s", s.out.String())
	}
}

func TestSessionIncarnations(t *testing.T) {
	statePath := filepath.Join(t.TempDir(), "state.json")
	for want := 1; want <= 2; want++ {
		s := connectedSession(t, map[string]string{"FAKEKD_STATE": statePath})
		s.send("\x02\r\n")
		s.wait()
		if st := s.state(); st.Incarnations != want {
			t.Errorf("incarnations %d, want %d", st.Incarnations, want)
		}
	}
}

func TestSessionCtrlRAndCRLF(t *testing.T) {
	s := connectedSession(t, map[string]string{"FAKEKD_CRLF": "1"})
	s.send("\x12\r\n")
	s.expect(resyncLine + "\r\n")
	if out := s.out.String(); strings.Count(out, "\n") != strings.Count(out, "\r\n") {
		t.Errorf("bare LF in CRLF mode:\n%q", out)
	}
}

func TestSessionSlowOutput(t *testing.T) {
	start := time.Now()
	s := startSession(t, map[string]string{"FAKEKD_SLOW_BPS": "2000", "FAKEKD_NEVER_CONNECT": "1"})
	seg := s.expect(waitingLine + "\n")
	// about 170 bytes at 2000 bytes/s
	if min := time.Duration(len(seg)) * time.Second / 2000 * 8 / 10; time.Since(start) < min {
		t.Errorf("%d bytes in %v, faster than 2000 bytes/s", len(seg), time.Since(start))
	}
}
