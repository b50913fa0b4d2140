//go:build !windows

// Package integration runs kdlaunch as a user would (real processes, a real
// pty, real files) against two kd stand-ins: fakekd and kdalike. The
// stand-ins are commands of this test binary (testscript's Main installs
// them on PATH); kdlaunch itself is built once, into a temporary folder,
// with the ldflags of `make build`. Nothing is written into bin/.
package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/kdlaunch/kdlaunch/fakekd"
	"github.com/kdlaunch/kdlaunch/internal/integration/kdalike"
)

var (
	root       string
	kdlaunch   string // built by TestMain into a temporary folder
	fakekdCmd  string
	kdalikeCmd string
	version    string // what the kdlaunch under test was stamped with
)

// fakeState is fakekd's state file, as fakekd declares it.
type fakeState = fakekd.State

// kdaState is kdalike's state file, as kdalike declares it.
type kdaState = kdalike.State

func TestMain(m *testing.M) {
	// A stand-in started by kdlaunch is this binary under the stand-in's
	// name: testscript.Main runs it and exits before anything below.
	testscript.Main(buildFirst{m}, map[string]func(){
		"fakekd":  func() { os.Exit(fakekd.Main()) },
		"kdalike": kdalike.Main,
	})
}

// buildFirst builds kdlaunch before the tests run (and only then: not in
// the stand-in processes).
type buildFirst struct{ m *testing.M }

func (b buildFirst) Run() int {
	dir, err := os.MkdirTemp("", "kdlaunch-integration")
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := buildKdlaunch(dir); err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	for _, c := range []struct {
		name string
		path *string
	}{{"fakekd", &fakekdCmd}, {"kdalike", &kdalikeCmd}} {
		p, err := exec.LookPath(c.name)
		if err != nil {
			fmt.Fprintln(os.Stderr, "integration: the stand-in is not on PATH:", err)
			return 1
		}
		*c.path = p
	}
	return b.m.Run()
}

// buildKdlaunch builds the kdlaunch under test into dir with the flags of
// `make build` (-trimpath, -s -w, the version from git describe), so that
// what is tested is what the Makefile ships, and bin/ is left alone.
func buildKdlaunch(dir string) error {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	root = filepath.Dir(strings.TrimSpace(string(out)))
	version = "dev"
	if v, err := exec.Command("git", "-C", root, "describe", "--always", "--dirty").Output(); err == nil {
		version = strings.TrimSpace(string(v))
	}
	kdlaunch = filepath.Join(dir, "kdlaunch")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version="+version, "-o", kdlaunch, ".")
	cmd.Dir = root
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build kdlaunch: %w", err)
	}
	return nil
}

// isolated is the environment every kdlaunch under test gets: HOME and
// every config folder inside dir (kdlaunch writes the debugging server's
// client line there, password included), and no stand-in knob inherited
// from the shell that runs the tests.
func isolated(dir string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case name == "HOME", name == "XDG_CONFIG_HOME", name == "APPDATA", name == "LOCALAPPDATA",
			strings.HasPrefix(name, "FAKEKD_"), strings.HasPrefix(name, "KDA_"):
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+dir, "XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
		"APPDATA="+filepath.Join(dir, "AppData", "Roaming"), "LOCALAPPDATA="+filepath.Join(dir, "AppData", "Local"))
}

// The kdlaunch under test is stamped as `make build` stamps it.
func TestVersionStamped(t *testing.T) {
	out, err := execCmd(t, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != version {
		t.Errorf("--version printed %q, want %q", got, version)
	}
}

// short skips a slow end-to-end test under -short; a few fast ones keep
// running there.
func short(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("slow end-to-end test; runs without -short")
	}
}

type run struct {
	dir        string
	log        string
	transcript string
	state      string
	stdout     bytes.Buffer
	stderr     bytes.Buffer
	cmd        *exec.Cmd
	code       int
}

// start runs kdlaunch with args; env holds the fake's knobs.
func start(t *testing.T, env map[string]string, args ...string) *run {
	t.Helper()
	return launch(t, fakekdCmd, func(r *run) []string {
		return []string{"FAKEKD_STATE=" + r.state, "FAKEKD_CONNECT_DELAY=200ms", "FAKEKD_HIT_INTERVAL=10ms"}
	}, env, args...)
}

// launch starts bin/kdlaunch run against kd (a stand-in) in a fresh folder:
// its log, transcript and the stand-in's state file there, its config
// folder and HOME too (the client file), then base(r) and env as kd's knobs.
func launch(t *testing.T, kd string, base func(*run) []string, env map[string]string, args ...string) *run {
	t.Helper()
	dir := t.TempDir()
	r := &run{dir: dir, log: filepath.Join(dir, "debug.log"), transcript: filepath.Join(dir, "transcript.log"), state: filepath.Join(dir, "state.json")}
	full := append([]string{"run", "--kd", kd, "--log", r.log, "--transcript", r.transcript}, args...)
	r.cmd = exec.Command(kdlaunch, full...)
	r.cmd.Env = isolated(dir)
	r.cmd.Env = append(r.cmd.Env, base(r)...)
	for k, v := range env {
		r.cmd.Env = append(r.cmd.Env, k+"="+v)
	}
	r.cmd.Stdout, r.cmd.Stderr = &r.stdout, &r.stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start kdlaunch: %v", err)
	}
	return r
}

// wait waits for kdlaunch to exit, killing it after timeout.
func (r *run) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- r.cmd.Wait() }()
	select {
	case err := <-done:
		r.code = exitCode(err)
	case <-time.After(timeout):
		_ = r.cmd.Process.Kill()
		<-done
		t.Fatalf("kdlaunch did not finish within %s\nstdout:\n%s\nstderr:\n%s", timeout, r.stdout.String(), r.stderr.String())
	}
	return r.code
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

func (r *run) fake(t *testing.T) fakeState {
	t.Helper()
	return readState[fakeState](t, r.state, "fake kd")
}

// readState reads a kd stand-in's JSON state file.
func readState[T any](t *testing.T, path, who string) T {
	t.Helper()
	var s T
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s state: %v", who, err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("parse %s state: %v\n%s", who, err, b)
	}
	return s
}

// waitFake polls the fake's state until ok or timeout.
func (r *run) waitFake(t *testing.T, timeout time.Duration, what string, ok func(fakeState) bool) fakeState {
	t.Helper()
	return waitState(t, r, "fake kd", timeout, what, ok)
}

// waitState polls a kd stand-in's JSON state file until ok or timeout.
func waitState[T any](t *testing.T, r *run, who string, timeout time.Duration, what string, ok func(T) bool) T {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(r.state); err == nil {
			var s T
			if json.Unmarshal(b, &s) == nil && ok(s) {
				return s
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s never reached %q within %s\nstdout:\n%s\nstderr:\n%s", who, what, timeout, r.stdout.String(), r.stderr.String())
	var zero T
	return zero
}

func (r *run) read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("read %s: %v", p, err)
	}
	return string(b)
}

var reSummaryHits = regexp.MustCompile(`hits:\s+(\d+) in`)

func (r *run) summaryHits(t *testing.T) int {
	t.Helper()
	m := reSummaryHits.FindStringSubmatch(r.stdout.String())
	if m == nil {
		t.Fatalf("no hits in the summary:\n%s", r.stdout.String())
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// assertSafe checks what a clean stop must leave: the target running, no
// breakpoint, nothing typed while it ran, no break before the connection.
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
	if s.BreaksBeforeConnect != 0 {
		t.Errorf("%d breaks sent before the connection", s.BreaksBeforeConnect)
	}
	if s.BreaksWhileHalted != 0 {
		t.Errorf("%d breaks sent to a halted target", s.BreaksWhileHalted)
	}
	if s.EmptyLines != 0 {
		t.Errorf("%d empty lines typed (kd repeats the last command on one)", s.EmptyLines)
	}
	if s.ExitReason != "ctrl-b" {
		t.Errorf("kd left by %q, want ctrl-b (q would leave the target locked)", s.ExitReason)
	}
	for _, c := range s.Commands {
		if strings.TrimSpace(c) == "q" || strings.TrimSpace(c) == "qq" {
			t.Errorf("q typed: it leaves the target locked")
		}
	}
}

func interrupt(t *testing.T, r *run, sig syscall.Signal) {
	t.Helper()
	if err := r.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal kdlaunch: %v", err)
	}
}

func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil
}

// waitGone waits for pid to disappear (a zombie counts as gone: it runs no code).
func waitGone(pid int, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for ctx.Err() == nil {
		if !alive(pid) || isZombie(pid) {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

func isZombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i > 0 && i+2 < len(s) {
		return s[i+2] == 'Z'
	}
	return false
}

// execCmd is kdlaunch with args in an isolated HOME (see isolated).
func execCmd(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(kdlaunch, args...)
	cmd.Env = append(isolated(t.TempDir()), "FAKEKD_CONNECT_DELAY=100ms")
	return cmd
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "lab.toml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
