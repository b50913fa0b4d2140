//go:build windows

package wintest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/windows"

	"github.com/kdlaunch/kdlaunch/fakekd"
)

// End-to-end: kdlaunch.exe driving fakekd.exe, as a user on Windows would run
// it (kd by absolute path, pipes, process groups, console events, the Job
// Object). scripts/test-windows.sh runs these under Wine.

var (
	kdlaunchExe string
	fakekdExe   string
)

func TestMain(m *testing.M) {
	note, err := EnsureConsole()
	if err != nil {
		note = err.Error()
	}
	// kdlaunch.exe runs in this process's console and process group. Under
	// Wine its break-in fallback sends CTRL+C to the console, which then
	// reaches this process as well; without a handler that would end it.
	ignore := make(chan os.Signal, 16)
	signal.Notify(ignore, os.Interrupt)
	go func() {
		for range ignore {
		}
	}()
	if kdlaunchExe, err = Binary("kdlaunch"); err == nil {
		fakekdExe, err = Binary("fakekd")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "wintest:", err)
		os.Exit(1)
	}
	fmt.Printf("wintest: %s (%s)\nwintest: kdlaunch %s\nwintest: fake kd %s\n", Platform(), note, kdlaunchExe, fakekdExe)
	os.Exit(m.Run())
}

// fakeState is fakekd's state file, as fakekd declares it.
type fakeState = fakekd.State

// lockedBuffer collects a child's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type run struct {
	dir, log, transcript, state, config string
	cmd                                 *exec.Cmd
	stdout, stderr                      lockedBuffer
	done                                chan struct{}
	code                                int
}

// testConfig keeps the waits short; everything else is kdlaunch's default.
const testConfig = `
[supervise]
settle = "300ms"
break_timeout = "3s"
backoff_initial = "200ms"
backoff_max = "1s"
stop_timeout = "10s"
`

// start runs `kdlaunch.exe run` against fakekd.exe. Paths are absolute and
// contain spaces.
func start(t *testing.T, env map[string]string, args ...string) *run {
	t.Helper()
	return startRun(t, false, env, args...)
}

// startRun is start; newGroup starts kdlaunch.exe in a process group of its
// own, so a CTRL+BREAK can be aimed at it.
func startRun(t *testing.T, newGroup bool, env map[string]string, args ...string) *run {
	t.Helper()
	dir := TempDir(t)
	r := &run{
		dir:        dir,
		log:        filepath.Join(dir, "debug log.txt"),
		transcript: filepath.Join(dir, "transcript.log"),
		state:      filepath.Join(dir, "state.json"),
		config:     filepath.Join(dir, "lab.toml"),
		done:       make(chan struct{}),
	}
	if err := os.WriteFile(r.config, []byte(testConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	full := []string{"run", "--kd", fakekdExe, "--config", r.config, "--log", r.log,
		"--transcript", r.transcript, "--log-level", "info"}
	if WineVersion() != "" && !hasArg(args, "--console") {
		// Wine 8.0 ends a Go program on a pseudo console when a CTRL+C is
		// typed into it, which is how kdlaunch breaks in there: the
		// pseudo console runs under Wine in launcher's tests, and these run
		// kdlaunch on pipes (see the README's Windows section).
		full = append(full, "--console", "pipes")
	}
	full = append(full, args...)
	r.cmd = exec.Command(kdlaunchExe, full...)
	r.cmd.Dir = dir
	r.cmd.Env = append(os.Environ(),
		"FAKEKD_STATE="+r.state,
		"FAKEKD_CONNECT_DELAY=200ms",
		"FAKEKD_HIT_INTERVAL=20ms",
		"FAKEKD_CRLF=1",
		// The client file (password included) goes to the config folder:
		// the test's, never the user's.
		"APPDATA="+filepath.Join(dir, "AppData", "Roaming"),
		"LOCALAPPDATA="+filepath.Join(dir, "AppData", "Local"),
		"HOME="+dir, "XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
	)
	for k, v := range env {
		r.cmd.Env = append(r.cmd.Env, k+"="+v)
	}
	r.cmd.Stdout, r.cmd.Stderr = &r.stdout, &r.stderr
	if newGroup {
		r.cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: windows.CREATE_NEW_PROCESS_GROUP}
	}
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start kdlaunch.exe: %v", err)
	}
	t.Logf("kdlaunch.exe pid %d: %s", r.cmd.Process.Pid, strings.Join(full, " "))
	go func() {
		err := r.cmd.Wait()
		r.code = 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			r.code = ee.ExitCode()
		} else if err != nil {
			r.code = -1
		}
		close(r.done)
	}()
	t.Cleanup(func() {
		select {
		case <-r.done:
		default:
			_ = r.cmd.Process.Kill()
			<-r.done
		}
		if t.Failed() {
			t.Logf("kdlaunch.exe output:\n%s", r.output())
		}
	})
	return r
}

func (r *run) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(timeout):
		_ = r.cmd.Process.Kill()
		<-r.done
		t.Fatalf("kdlaunch.exe did not finish within %v", timeout)
	}
	t.Logf("kdlaunch.exe exited with %d", r.code)
	return r.code
}

func (r *run) output() string {
	return fmt.Sprintf("--- stdout:\n%s\n--- stderr:\n%s", tailText(r.stdout.String(), 4000), tailText(r.stderr.String(), 4000))
}

func tailText(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

func (r *run) fake(t *testing.T) fakeState {
	t.Helper()
	var s fakeState
	var err error
	for i := 0; i < 20; i++ { // the fake replaces the file by rename
		var b []byte
		if b, err = os.ReadFile(r.state); err == nil {
			if err = json.Unmarshal(b, &s); err == nil {
				return s
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("fake kd state %s: %v", r.state, err)
	return s
}

func (r *run) waitFake(t *testing.T, timeout time.Duration, what string, ok func(fakeState) bool) fakeState {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(r.state); err == nil {
			var s fakeState
			if json.Unmarshal(b, &s) == nil && ok(s) {
				return s
			}
		}
		select {
		case <-r.done:
			t.Fatalf("kdlaunch.exe exited (%d) before the fake kd reached %q", r.code, what)
		case <-time.After(30 * time.Millisecond):
		}
	}
	t.Fatalf("fake kd never reached %q within %v", what, timeout)
	return fakeState{}
}

// waitText waits until b holds text.
func waitText(b *lockedBuffer, text string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if strings.Contains(b.String(), text) {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("read %s: %v", p, err)
	}
	return string(b)
}

// assertSafe: what a clean stop must leave behind.
func assertSafe(t *testing.T, s fakeState) {
	t.Helper()
	if s.Target != "running" {
		t.Errorf("target %q after the stop, want running", s.Target)
	}
	if len(s.Breakpoints) != 0 {
		t.Errorf("breakpoints left armed: %+v", s.Breakpoints)
	}
	if len(s.CommandsWhileRunning) != 0 {
		t.Errorf("commands typed while the target ran: %q", s.CommandsWhileRunning)
	}
	if s.BreaksBeforeConnect != 0 || s.BreaksWhileHalted != 0 {
		t.Errorf("breaks before the connection: %d, while halted: %d; want none", s.BreaksBeforeConnect, s.BreaksWhileHalted)
	}
	if s.EmptyLines != 0 {
		t.Errorf("%d empty lines typed", s.EmptyLines)
	}
	if s.ExitReason != "ctrl-b" {
		t.Errorf("kd left by %q, want ctrl-b", s.ExitReason)
	}
}

// assertBreakChainLogged: the break-in steps this platform and console mode
// take are in kdlaunch's log (stderr, --log-level info).
func assertBreakChainLogged(t *testing.T, r *run, mode string) {
	t.Helper()
	want := []string{"break-in: CTRL+BREAK sent to kd's process group", "runs on redirected pipes"}
	switch {
	case mode == "pseudo":
		want = []string{"break-in: CTRL+C (0x03) typed into kd's pseudo console"}
		if strings.Contains(r.stderr.String(), "redirected pipes") {
			t.Errorf("kdlaunch warned of pipes in a pseudo console")
		}
	case WineVersion() != "":
		want = []string{
			"break-in: CTRL+BREAK to kd's process group failed",
			"break-in: CTRL+C sent to every process on the console",
			"break-in: 0x03 written to kd's input",
			"runs on redirected pipes",
		}
	}
	for _, w := range want {
		if !strings.Contains(r.stderr.String(), w) {
			t.Errorf("kdlaunch's log lacks %q", w)
		}
	}
}

func hasArg(args []string, name string) bool {
	for _, a := range args {
		if a == name || strings.HasPrefix(a, name+"=") {
			return true
		}
	}
	return false
}

func hasSubsequence(got, want []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && strings.TrimSpace(g) == want[i] {
			i++
		}
	}
	return i == len(want)
}

// TestKdlaunchMainJob covers start, environment, connection, break, script,
// hits and the safe stop in one run of the main job, on pipes and (on
// Windows; see start for Wine) in a pseudo console.
func TestKdlaunchMainJob(t *testing.T) {
	for _, mode := range []string{"pipes", "pseudo"} {
		t.Run(mode, func(t *testing.T) {
			if mode == "pseudo" && WineVersion() != "" {
				t.Skip("Wine 8.0 ends a Go program on a pseudo console when a CTRL+C is typed into it: kdlaunch's pseudo console break-in runs on Windows only")
			}
			mainJob(t, mode)
		})
	}
}

func mainJob(t *testing.T, mode string) {
	symPath := `SRV*C:\Sym Cache é*https://msdl.microsoft.com/download/symbols`
	r := start(t, map[string]string{"_NT_SYMBOL_PATH": symPath}, "--console", mode,
		"--connect", "net:port=50000,key=1.2.3.4", "--tag", "Ddk", "--max-hits", "20")
	if code := r.wait(t, 90*time.Second); code != 0 {
		t.Fatalf("kdlaunch.exe exit %d, want 0", code)
	}
	s := r.fake(t)

	// start: kdlaunch ran the fake by its absolute path (with a space in it).
	if len(s.Argv) == 0 || !strings.EqualFold(s.Argv[0], fakekdExe) {
		t.Errorf("fake's argv[0] = %q, want %q", s.Argv, fakekdExe)
	}
	if !strings.Contains(strings.Join(s.Argv, " "), "net:port=50000,key=1.2.3.4") {
		t.Errorf("fake's argv %q lacks the -k connection", s.Argv)
	}
	// environment
	if got := s.Env["_NT_SYMBOL_PATH"]; got != symPath {
		t.Errorf("kd saw _NT_SYMBOL_PATH=%q, want %q", got, symPath)
	}
	if got := s.Env["_NT_DEBUG_LOG_FILE_APPEND"]; !strings.EqualFold(got, r.log) {
		t.Errorf("kd saw _NT_DEBUG_LOG_FILE_APPEND=%q, want %q", got, r.log)
	}
	// connection
	if !s.Connected || !strings.Contains(r.stdout.String(), "Kernel Debugger connection established") {
		t.Errorf("connection: state connected=%v; banner on kdlaunch's stdout: %v", s.Connected,
			strings.Contains(r.stdout.String(), "Kernel Debugger connection established"))
	}
	// break
	if s.BreaksReceived < 2 {
		t.Errorf("fake received %d breaks, want >= 2 (arm, stop)", s.BreaksReceived)
	}
	assertBreakChainLogged(t, r, mode)
	// Under Wine kdlaunch receives its own CTRL+C (break-in step 2): it must
	// not take it for the user's.
	if strings.Contains(r.stderr.String(), "interrupt: stopping safely") {
		t.Errorf("kdlaunch took its own break-in CTRL+C for a user's Ctrl+C")
	}
	// script, in order, each at a prompt
	want := []string{`bp nt!MmAllocateSpecialPool ";kb;g"`, "g", "bc *", "g"}
	if !hasSubsequence(s.Commands, want) {
		t.Errorf("commands %q, want in order %q", s.Commands, want)
	}
	// hits: at least --max-hits, and the log holds every one
	if s.Hits < 20 {
		t.Errorf("fake made %d hits, want >= 20", s.Hits)
	}
	if got := strings.Count(read(t, r.log), "Breakpoint 0 hit"); got != s.Hits {
		t.Errorf("log holds %d hits, fake made %d", got, s.Hits)
	}
	if m := regexp.MustCompile(`hits:\s+(\d+) in`).FindStringSubmatch(r.stdout.String()); m == nil {
		t.Errorf("no hit count in kdlaunch's summary")
	} else if n, _ := strconv.Atoi(m[1]); n != s.Hits {
		t.Errorf("summary says %d hits, fake made %d", n, s.Hits)
	}
	if tr := read(t, r.transcript); !strings.Contains(tr, `> bp nt!MmAllocateSpecialPool ";kb;g"`) {
		t.Errorf("transcript does not record the breakpoint sent")
	}
	// safe stop
	assertSafe(t, s)
}

// TestKdlaunchCtrlCStopsSafely: a Ctrl+C (or Ctrl+Break) at kdlaunch's
// console, which the Go runtime turns into os.Interrupt, starts the safe
// stop.
func TestKdlaunchCtrlCStopsSafely(t *testing.T) {
	wine := WineVersion() != ""
	if wine && !PrivateConsole() {
		t.Skip("Wine's terminal console does not pass a CTRL+C on to child processes; run with output piped (scripts/test-windows.sh does)")
	}
	// Windows: kdlaunch.exe in a group of its own gets a CTRL+BREAK, which
	// reaches nothing else on the console (a CTRL+C would also hit `go test`
	// and the shell). Wine fails CTRL+BREAK, so kdlaunch shares this
	// process's group and private console and gets a CTRL+C; the fake kd,
	// in its own group, does not (Windows: CTRL+C is disabled in a new
	// group; Wine: events stay in the sender's group).
	r := startRun(t, !wine, nil, "--tag", "Ddk")
	r.waitFake(t, 60*time.Second, "5 hits", func(s fakeState) bool { return s.Hits >= 5 })
	press := func() error {
		if wine {
			return windows.GenerateConsoleCtrlEvent(windows.CTRL_C_EVENT, 0)
		}
		return windows.GenerateConsoleCtrlEvent(windows.CTRL_BREAK_EVENT, uint32(r.cmd.Process.Pid))
	}
	// Under Wine kdlaunch ignores an interrupt that arrives while it waits
	// for its own break-in CTRL+C (a person would press again), so this
	// presses again until kdlaunch says it is stopping.
	for n := 1; ; n++ {
		if err := press(); err != nil {
			t.Skipf("no console to send Ctrl+C on: %v", err)
		}
		if waitText(&r.stderr, "interrupt: stopping safely", 4*time.Second) {
			t.Logf("Ctrl+C taken on press %d", n)
			break
		}
		if n == 3 {
			t.Fatalf("kdlaunch ignored 3 presses of Ctrl+C")
		}
	}
	// Exit 0, not 130: the CTRL+C kdlaunch sends itself while breaking in
	// for the stop is not taken for a second press.
	if code := r.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("kdlaunch.exe exit %d after Ctrl+C, want 0", code)
	}
	assertSafe(t, r.fake(t))
}

// TestKdlaunchRestartsCrashedKD: kd dying with an NTSTATUS is reported in hex
// and restarted; the run still ends with a safe stop.
func TestKdlaunchRestartsCrashedKD(t *testing.T) {
	r := start(t, map[string]string{"FAKEKD_CRASH_AFTER_HITS": "4", "FAKEKD_CRASH_CODE": "0xC0000005"},
		"--tag", "Ddk", "--max-hits", "6")
	if code := r.wait(t, 90*time.Second); code != 0 {
		t.Fatalf("kdlaunch.exe exit %d, want 0", code)
	}
	out := r.stdout.String() + r.stderr.String()
	if !strings.Contains(out, "exit code 0xC0000005") {
		t.Errorf("kd's crash not reported as exit code 0xC0000005")
	}
	if !strings.Contains(out, "restarting") {
		t.Errorf("no restart announced")
	}
	s := r.fake(t)
	if s.Incarnations < 2 {
		t.Errorf("fake kd ran %d times, want >= 2", s.Incarnations)
	}
	assertSafe(t, s)
}

// TestKdlaunchKilledTakesKDWithIt: when kdlaunch.exe is terminated (no
// chance to clean up), the Job Object's kill-on-close ends kd.
func TestKdlaunchKilledTakesKDWithIt(t *testing.T) {
	r := start(t, nil, "--tag", "Ddk")
	s := r.waitFake(t, 60*time.Second, "3 hits", func(s fakeState) bool { return s.Hits >= 3 && s.Pid != 0 })
	kd, err := windows.OpenProcess(windows.SYNCHRONIZE|windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(s.Pid))
	if err != nil {
		t.Fatalf("open fake kd (pid %d): %v", s.Pid, err)
	}
	defer windows.CloseHandle(kd)
	if ev, _ := windows.WaitForSingleObject(kd, 0); ev == windows.WAIT_OBJECT_0 {
		t.Fatalf("fake kd (pid %d) already gone before kdlaunch was killed", s.Pid)
	}

	if err := r.cmd.Process.Kill(); err != nil { // TerminateProcess
		t.Fatalf("TerminateProcess(kdlaunch.exe): %v", err)
	}
	<-r.done
	ev, err := windows.WaitForSingleObject(kd, 10_000)
	if err != nil || ev != windows.WAIT_OBJECT_0 {
		t.Fatalf("fake kd (pid %d) still running 10s after kdlaunch.exe was killed (wait: %#x, %v)", s.Pid, ev, err)
	}
	var code uint32
	if err := windows.GetExitCodeProcess(kd, &code); err == nil {
		t.Logf("fake kd ended with exit code 0x%08X", code)
	}
	// "" means it was killed (by the Job Object: nothing else kills it); "eof"
	// would mean it noticed its input close first. Either way it is gone;
	// launcher's TestWindowsCloseKillsJob isolates the Job Object.
	t.Logf("fake kd's last state: exit_reason %q", r.fake(t).ExitReason)
}
