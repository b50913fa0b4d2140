//go:build windows

package launcher

import (
	"bytes"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/windows"

	"github.com/kdlaunch/kdlaunch/internal/wintest"
)

// These tests drive fakekd.exe through Start: the Windows process layer on
// its own, without kdlaunch's session logic. scripts/test-windows.sh runs
// them under Wine; on Windows, `go test ./launcher/` runs them too (it builds
// fakekd.exe when KDLAUNCH_WINTEST_FAKEKD is unset).

func TestWindowsFakeKDSession(t *testing.T) {
	fake := setupWindows(t)
	for _, mode := range []ConsoleMode{ConsolePipes, ConsolePseudo} {
		t.Run(string(mode), func(t *testing.T) {
			if _, err := pseudoConsoleChoice(mode); err != nil {
				t.Skipf("%v", err)
			}
			if mode == ConsolePseudo && wintest.WineVersion() != "" {
				t.Skip(wineConsoleBreak)
			}
			fakeKDSession(t, fake, mode, "")
		})
	}
}

// TestWindowsDebugLogSameInBothModes: kd's own debug log, which kd writes
// itself, is the same bytes on pipes and in a pseudo console for the same
// session. The session starts at the fake's initial breakpoint, so that it
// needs no break-in (see wineConsoleBreak), and ends with CTRL+B ENTER.
func TestWindowsDebugLogSameInBothModes(t *testing.T) {
	fake := setupWindows(t)
	// One path for both: kd names its log file in it.
	kdLog := filepath.Join(wintest.TempDir(t), "kd log.txt")
	logs := map[ConsoleMode][]byte{}
	for _, mode := range []ConsoleMode{ConsolePipes, ConsolePseudo} {
		t.Run(string(mode), func(t *testing.T) {
			if _, err := pseudoConsoleChoice(mode); err != nil {
				t.Skipf("%v", err)
			}
			logs[mode] = fakeKDSession(t, fake, mode, kdLog)
			if err := os.Remove(kdLog); err != nil {
				t.Fatal(err)
			}
		})
	}
	pipes, pseudo := logs[ConsolePipes], logs[ConsolePseudo]
	if pipes == nil || pseudo == nil {
		t.Skip("not both modes ran: no log comparison")
	}
	if !bytes.Equal(pipes, pseudo) {
		t.Errorf("kd's debug log differs between pipes (%d bytes) and the pseudo console (%d bytes):\n--- pipes:\n%s\n--- pseudo:\n%s",
			len(pipes), len(pseudo), tail(string(pipes), 2000), tail(string(pseudo), 2000))
	} else {
		t.Logf("kd's debug log: %d bytes, identical on pipes and in the pseudo console", len(pipes))
	}
}

// fakeKDSession runs one session in one console mode and returns kd's debug
// log. With kdLog "", kdlaunch breaks in twice and stops safely; with a log
// path, the target halts at the connection by itself and the session never
// breaks in (kd quits with the target running and the breakpoint armed).
func fakeKDSession(t *testing.T, fake string, mode ConsoleMode, kdLog string) []byte {
	dir := wintest.TempDir(t)
	state := filepath.Join(dir, "state.json")
	initialBreak := kdLog != ""
	if !initialBreak {
		kdLog = filepath.Join(dir, "kd log.txt")
	}
	log, logs := testLogger(t)
	symPath := `srv*C:\Sym Cache é*https://msdl.microsoft.com/download/symbols`
	// A fixed number of hits, so that both modes' logs can be compared.
	env := fakeEnv(state, "_NT_SYMBOL_PATH="+symPath, "FAKEKD_FLOOD=1", "FAKEKD_FLOOD_HITS=5")
	if initialBreak {
		env = append(env, "FAKEKD_INITIAL_BREAK=1")
	}
	spec := Spec{
		Path:    fake,
		Args:    []string{"-k", "net:port=50000,key=1.2.3.4", "-y", `C:\sym dir\x "quoted"`, "-loga", kdLog},
		Env:     env,
		Dir:     dir,
		Console: mode,
	}
	p, err := Start(spec, log)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer p.Close()
	_, pseudo := p.(*conptyProc)
	if pseudo != (mode == ConsolePseudo) {
		t.Fatalf("Start(Console: %q) gave a %T", mode, p)
	}
	wantNewline := map[ConsoleMode]string{ConsolePipes: "\r\n", ConsolePseudo: "\r"}[mode]
	if p.Newline() != wantNewline {
		t.Errorf("Newline() = %q, want %q", p.Newline(), wantNewline)
	}
	w := watch(p.Output())

	at := w.waitFor(t, 0, reConnected, 15*time.Second)
	t.Logf("connected after %d bytes of output", at)
	if initialBreak {
		w.waitFor(t, at, rePrompt, 10*time.Second)
	} else {
		breakIn(t, p, w)
	}

	send(t, p, `bp nt!MmAllocateSpecialPool ";kb;g"`)
	w.waitFor(t, w.len(), rePrompt, 5*time.Second)
	from := w.len()
	send(t, p, "g")
	for i := 0; i < 5; i++ {
		from = w.waitFor(t, from, reHit, 10*time.Second)
	}
	if !initialBreak {
		breakIn(t, p, w)
		send(t, p, "bc *")
		w.waitFor(t, w.len(), rePrompt, 5*time.Second)
		send(t, p, "g")
	}
	time.Sleep(300 * time.Millisecond)
	if _, err := p.Write([]byte("\x02" + p.Newline())); err != nil {
		t.Fatalf("write CTRL+B: %v", err)
	}
	st := waitExit(t, p, 10*time.Second)
	if st.Err != nil || st.Code != 0 {
		t.Errorf("kd exit: %v, want exit code 0", st)
	}
	if !w.waitEOF(5 * time.Second) {
		t.Errorf("kd's output did not reach EOF after it exited")
	}
	if strings.Contains(w.text(), "\x1b") {
		t.Errorf("an escape sequence reached kd's output: %q", tail(w.text(), 500))
	}

	s := readFakeState(t, state)
	wantBreaks, wantBps := 2, 0
	if initialBreak {
		wantBreaks, wantBps = 0, 1
	}
	if s.ExitReason != "ctrl-b" || s.Target != "running" || len(s.Breakpoints) != wantBps {
		t.Errorf("state at the end: exit_reason=%q target=%q breakpoints=%v; want ctrl-b, running, %d breakpoints",
			s.ExitReason, s.Target, s.Breakpoints, wantBps)
	}
	if s.Hits != 5 {
		t.Errorf("state: %d hits, want 5", s.Hits)
	}
	if s.BreaksReceived != wantBreaks || s.BreaksWhileHalted != 0 {
		t.Errorf("state: %d breaks received, %d while halted; want %d, 0", s.BreaksReceived, s.BreaksWhileHalted, wantBreaks)
	}
	if len(s.CommandsWhileRunning) != 0 {
		t.Errorf("commands typed while the target ran: %q", s.CommandsWhileRunning)
	}
	if got := s.Env["_NT_SYMBOL_PATH"]; got != symPath {
		t.Errorf("kd saw _NT_SYMBOL_PATH=%q, want %q", got, symPath)
	}
	wantArgs := spec.Args
	if len(s.Argv) < len(wantArgs)+1 || strings.Join(s.Argv[1:], "|") != strings.Join(wantArgs, "|") {
		t.Errorf("kd's argv = %q, want [<exe> %q]", s.Argv, wantArgs)
	}
	if s.Pid != p.Pid() {
		t.Errorf("state pid %d, Pid() %d", s.Pid, p.Pid())
	}
	wantCmds := []string{`bp nt!MmAllocateSpecialPool ";kb;g"`, "g"}
	if !initialBreak {
		wantCmds = append(wantCmds, "bc *")
	}
	for _, cmd := range wantCmds {
		found := false
		for _, c := range s.Commands {
			found = found || c == cmd
		}
		if !found {
			t.Errorf("kd did not run %q (line ends?); commands: %q", cmd, s.Commands)
		}
	}

	// Every break-in step is logged; which ones ran depends on the mode and
	// the platform.
	l := logs.String()
	var want []string
	switch {
	case mode == ConsolePseudo && initialBreak:
	case mode == ConsolePseudo:
		want = []string{"CTRL+C (0x03) typed into kd's pseudo console"}
	case initialBreak:
		want = []string{"runs on redirected pipes"}
	case wintest.WineVersion() != "":
		want = []string{"CTRL+BREAK to kd's process group failed", "0x03 written to kd's input", "runs on redirected pipes"}
	default:
		want = []string{"CTRL+BREAK sent to kd's process group", "runs on redirected pipes"}
	}
	for _, w := range want {
		if !strings.Contains(l, w) {
			t.Errorf("log lacks %q", w)
		}
	}
	if mode == ConsolePseudo && strings.Contains(l, "redirected pipes") {
		t.Errorf("the pipes warning was given in a pseudo console")
	}
	b, err := os.ReadFile(kdLog)
	if err != nil {
		t.Fatalf("kd's debug log: %v", err)
	}
	return b
}

// TestWindowsSelfInterruptSuppressed checks break-in step 2: the CTRL+C
// kdlaunch sends to its own console reaches kdlaunch as os.Interrupt, does
// not end the process, and SuppressedInterrupt claims it exactly once.
func TestWindowsSelfInterruptSuppressed(t *testing.T) {
	if _, err := wintest.EnsureConsole(); err != nil {
		t.Skipf("no console: %v", err)
	}
	if !wintest.PrivateConsole() {
		t.Skip("the console is shared: a CTRL+C to it would also reach go test and the shell")
	}
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, os.Interrupt)
	defer signal.Stop(ch)

	// Earlier tests' break-ins left unclaimed events (nothing here plays
	// kdlaunch's run loop); forget them.
	selfInt.mu.Lock()
	selfInt.tokens = 0
	selfInt.mu.Unlock()
	if SuppressedInterrupt() {
		t.Fatalf("SuppressedInterrupt() = true before kdlaunch sent anything")
	}
	beginSelfInterrupt()
	if err := windows.GenerateConsoleCtrlEvent(windows.CTRL_C_EVENT, 0); err != nil {
		cancelSelfInterrupt()
		t.Skipf("CTRL+C to the console: %v", err)
	}
	select {
	case <-ch:
		if !SuppressedInterrupt() {
			t.Errorf("SuppressedInterrupt() = false for kdlaunch's own CTRL+C")
		}
		if SuppressedInterrupt() {
			t.Errorf("SuppressedInterrupt() = true twice for one CTRL+C: a user's next press would be lost")
		}
	case <-time.After(3 * time.Second):
		t.Fatalf("CTRL+C to the console never arrived")
	}
	// The private channel goes away once the event has arrived.
	time.Sleep(300 * time.Millisecond)
	selfInt.mu.Lock()
	registered := selfInt.ch != nil
	selfInt.mu.Unlock()
	if registered {
		t.Errorf("private os.Interrupt channel still registered after the event arrived")
	}

	// A self-sent event that never arrives stops being expected.
	beginSelfInterrupt()
	selfInt.mu.Lock()
	selfInt.until = time.Now()
	selfInt.mu.Unlock()
	if SuppressedInterrupt() {
		t.Errorf("SuppressedInterrupt() = true after the window expired")
	}
	cancelSelfInterrupt()
}

// TestWindowsCloseKillsJob: closing the Job Object handle (what happens
// when kdlaunch dies, however it dies) ends kd; Kill ends it with exit
// code 1. On pipes and in a pseudo console.
func TestWindowsCloseKillsJob(t *testing.T) {
	fake := setupWindows(t)
	for _, mode := range []ConsoleMode{ConsolePipes, ConsolePseudo} {
		t.Run(string(mode), func(t *testing.T) {
			if _, err := pseudoConsoleChoice(mode); err != nil {
				t.Skipf("%v", err)
			}
			closeKillsJob(t, fake, mode)
		})
	}
}

func closeKillsJob(t *testing.T, fake string, mode ConsoleMode) {
	log, _ := testLogger(t)
	dir := wintest.TempDir(t)
	state := filepath.Join(dir, "a.json")

	p, err := Start(Spec{Path: fake, Args: []string{"-k", `com:pipe,port=\\.\pipe\kd_x,resets=0`}, Env: fakeEnv(state), Console: mode}, log)
	if err != nil {
		t.Fatal(err)
	}
	w := watch(p.Output())
	w.waitFor(t, 0, reConnected, 15*time.Second)
	pid := p.Pid()
	// Close only the job handle: kd's input stays open, so kd cannot be
	// leaving on end-of-input; only the job can end it.
	var job *killJob
	switch wp := p.(type) {
	case *winProc:
		job = &wp.job
	case *conptyProc:
		job = &wp.job
	default:
		t.Fatalf("Start gave a %T", p)
	}
	job.mu.Lock()
	open := job.open
	job.mu.Unlock()
	if !open {
		t.Fatal("kd is not in a Job Object")
	}
	if err := job.close(); err != nil {
		t.Errorf("close job handle: %v", err)
	}
	if gone, err := processGone(pid, 5*time.Second); !gone {
		t.Fatalf("kd (pid %d) survived closing its Job Object (%v)", pid, err)
	}
	if s := readFakeState(t, state); s.ExitReason != "" {
		t.Errorf("kd left by itself (exit_reason %q); want it killed by the job", s.ExitReason)
	}
	st := waitExit(t, p, 5*time.Second)
	t.Logf("kd killed by kill-on-close: %s", st)
	if !w.waitEOF(5 * time.Second) {
		t.Errorf("kd's output did not end after kd was killed")
	}
	if err := p.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}

	p, err = Start(Spec{Path: fake, Env: fakeEnv(filepath.Join(dir, "b.json")), Console: mode}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	w = watch(p.Output())
	w.waitFor(t, 0, regexp.MustCompile(`Waiting to reconnect|connection established`), 15*time.Second)
	if err := p.Kill(); err != nil {
		t.Fatalf("Kill: %v", err)
	}
	st = waitExit(t, p, 5*time.Second)
	if st.Code != killExitCode || st.String() != "exit code 0x00000001" {
		t.Errorf("after Kill: %+v (%s), want exit code 1", st, st)
	}
}

// TestWindowsCrashExitCodeIsNTSTATUS: kd dying with an NTSTATUS shows it in
// hex, on pipes and in a pseudo console, and a relative program path is
// resolved before CreateProcess. The fake halts at the connection by itself
// (no break-in: see wineConsoleBreak).
func TestWindowsCrashExitCodeIsNTSTATUS(t *testing.T) {
	fake := setupWindows(t)
	for _, mode := range []ConsoleMode{ConsolePipes, ConsolePseudo} {
		t.Run(string(mode), func(t *testing.T) {
			if _, err := pseudoConsoleChoice(mode); err != nil {
				t.Skipf("%v", err)
			}
			crashExitCode(t, fake, mode)
		})
	}
}

func crashExitCode(t *testing.T, fake string, mode ConsoleMode) {
	log, _ := testLogger(t)
	dir := wintest.TempDir(t)
	state := filepath.Join(dir, "s.json")
	t.Chdir(filepath.Dir(fake))

	p, err := Start(Spec{
		Path:    `.\` + filepath.Base(fake),
		Args:    []string{"-k", "net:port=50000,key=1.2.3.4"},
		Env:     fakeEnv(state, "FAKEKD_CRASH_AFTER_HITS=2", "FAKEKD_CRASH_CODE=0xC0000005", "FAKEKD_INITIAL_BREAK=1"),
		Console: mode,
	}, log)
	if err != nil {
		t.Fatalf("Start with a relative path: %v", err)
	}
	defer p.Close()
	w := watch(p.Output())
	at := w.waitFor(t, 0, reConnected, 15*time.Second)
	w.waitFor(t, at, rePrompt, 10*time.Second)
	send(t, p, `bp nt!MmAllocateSpecialPool ";kb;g"`)
	w.waitFor(t, w.len(), rePrompt, 5*time.Second)
	send(t, p, "g")
	st := waitExit(t, p, 15*time.Second)
	if uint32(st.Code) != 0xC0000005 || st.String() != "exit code 0xC0000005" {
		t.Errorf("crash exit: %+v (%s), want exit code 0xC0000005", st, st)
	}
	if !w.waitEOF(5 * time.Second) {
		t.Errorf("kd's output did not end after kd crashed")
	}
	if s := readFakeState(t, state); s.ExitReason != "crash" {
		t.Errorf("state exit_reason = %q, want crash", s.ExitReason)
	}
}
