//go:build !windows

package integration

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// kd crashes after some hits: kdlaunch restarts it with backoff, the log is
// appended across incarnations, hits are counted across them, and the stop
// is still safe.
func TestFaultKdCrashRestarts(t *testing.T) {
	short(t)
	r := start(t, map[string]string{"FAKEKD_CRASH_AFTER_HITS": "8"}, "--tag", "Ddk", "--max-hits", "20", "--config", crashConfig(t))
	if code := r.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, r.stdout.String(), r.stderr.String())
	}
	s := r.fake(t)
	assertSafe(t, s)
	if s.Incarnations < 3 {
		t.Errorf("fake kd ran %d times, want at least 3 (two crashes)", s.Incarnations)
	}
	log := r.read(t, r.log)
	if got, want := strings.Count(log, "Breakpoint 0 hit"), r.summaryHits(t); got != want {
		t.Errorf("log holds %d hits, summary counts %d", got, want)
	}
	if r.summaryHits(t) < 20 {
		t.Errorf("summary %d hits, want >= 20 across incarnations", r.summaryHits(t))
	}
	if !strings.Contains(r.stderr.String(), "kd exited unexpectedly (exit code 3)") {
		t.Errorf("restart not reported with the exit code:\n%s", r.stderr.String())
	}
}

func crashConfig(t *testing.T) string {
	return writeConfig(t, "[supervise]\nbackoff_initial = \"100ms\"\nbackoff_max = \"300ms\"\nmax_restarts = 5\n")
}

// kd that keeps crashing: after max_restarts, a fatal one-line error with
// kd's exit code and its last lines, and a non-zero exit.
func TestFaultKdCrashGivesUp(t *testing.T) {
	short(t)
	cfg := writeConfig(t, "[supervise]\nbackoff_initial = \"50ms\"\nbackoff_max = \"100ms\"\nmax_restarts = 2\n")
	r := start(t, map[string]string{"FAKEKD_CRASH_AFTER_HITS": "1"}, "--tag", "Ddk", "--config", cfg)
	if code := r.wait(t, 60*time.Second); code == 0 {
		t.Fatalf("exit 0 after repeated crashes")
	}
	errLine := strings.TrimSpace(r.stderr.String())
	if !strings.Contains(errLine, "exit code 3") || !strings.Contains(errLine, "restarted 2 times") || !strings.Contains(errLine, "last lines") {
		t.Errorf("fatal error %q lacks exit code, restart count or last lines", errLine)
	}
	if s := r.fake(t); s.Incarnations != 3 {
		t.Errorf("fake ran %d times, want 3", s.Incarnations)
	}
}

// The target reboots: kd loses every breakpoint; kdlaunch breaks in again
// after the reconnection and re-arms.
func TestFaultTargetReboot(t *testing.T) {
	short(t)
	r := start(t, map[string]string{"FAKEKD_REBOOT_AFTER_HITS": "5", "FAKEKD_REBOOT_DELAY": "300ms"}, "--tag", "Ddk", "--max-hits", "15")
	if code := r.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, r.stderr.String())
	}
	s := r.fake(t)
	assertSafe(t, s)
	if s.Reboots != 1 {
		t.Errorf("reboots %d, want 1", s.Reboots)
	}
	n := 0
	for _, c := range withoutMarkers(s.Commands) {
		if strings.HasPrefix(c, "bp ") {
			n++
		}
	}
	if n != 2 {
		t.Errorf("bp sent %d times, want 2 (armed again after the reboot)", n)
	}
	if s.Hits < 15 {
		t.Errorf("%d hits, want >= 15 (hits after the reboot need the re-armed breakpoint)", s.Hits)
	}
	if !strings.Contains(r.stderr.String(), "rebooting") {
		t.Errorf("reboot not reported")
	}
}

// Break-ins that go unanswered are retried with backoff.
func TestFaultIgnoredBreaks(t *testing.T) {
	short(t)
	cfg := writeConfig(t, "[supervise]\nbreak_timeout = \"200ms\"\nbreak_retries = 2\n")
	r := start(t, map[string]string{"FAKEKD_IGNORE_BREAKS": "3"}, "--tag", "Ddk", "--max-hits", "5", "--config", cfg)
	if code := r.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, r.stderr.String())
	}
	s := r.fake(t)
	assertSafe(t, s)
	if s.IgnoredBreaks != 3 || s.BreaksReceived < 4 {
		t.Errorf("ignored %d of %d breaks, want 3 ignored and retries after", s.IgnoredBreaks, s.BreaksReceived)
	}
	if !strings.Contains(r.stderr.String(), "CTRL+R") {
		t.Errorf("no hint after %d unanswered break-ins:\n%s", 2, r.stderr.String())
	}
}

// A break that is never answered, with on_break_failure = "give-up".
func TestFaultBreakGiveUp(t *testing.T) {
	short(t)
	cfg := writeConfig(t, "[supervise]\nbreak_timeout = \"100ms\"\nbreak_retries = 2\non_break_failure = \"give-up\"\n")
	r := start(t, map[string]string{"FAKEKD_IGNORE_BREAKS": "1000"}, "--tag", "Ddk", "--config", cfg)
	if code := r.wait(t, 60*time.Second); code == 0 {
		t.Fatal("exit 0 although no break-in was answered")
	}
	if !strings.Contains(r.stderr.String(), "break-in not answered") {
		t.Errorf("stderr %q", r.stderr.String())
	}
}

// The transport is lost for a while: the state line and the log say so,
// and the hunt goes on.
func TestFaultTransportLoss(t *testing.T) {
	short(t)
	r := start(t, map[string]string{"FAKEKD_TRANSPORT_LOSS_AFTER_HITS": "3", "FAKEKD_TRANSPORT_LOSS_FOR": "500ms"}, "--tag", "Ddk", "--max-hits", "10", "--log-level", "info")
	if code := r.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, r.stderr.String())
	}
	assertSafe(t, r.fake(t))
	if !strings.Contains(r.stderr.String(), "transport to the target lost") {
		t.Errorf("transport loss not reported:\n%s", r.stderr.String())
	}
}

// A second Ctrl+C stops at once, with a warning, and kd does not live on.
func TestFaultSecondInterrupt(t *testing.T) {
	short(t)
	r := start(t, map[string]string{"FAKEKD_IGNORE_BREAKS": "1000"}, "--tag", "Ddk")
	s := r.waitFake(t, 30*time.Second, "connected", func(s fakeState) bool { return s.Connected && s.BreaksReceived > 0 })
	interrupt(t, r, syscall.SIGINT)
	time.Sleep(200 * time.Millisecond)
	interrupt(t, r, syscall.SIGINT)
	if code := r.wait(t, 30*time.Second); code == 0 {
		t.Fatal("exit 0 after a hard stop")
	}
	if !strings.Contains(r.stderr.String()+r.stdout.String(), "may be left halted") {
		t.Errorf("no warning about the target:\n%s\n%s", r.stdout.String(), r.stderr.String())
	}
	if !waitGone(s.Pid, 5*time.Second) {
		t.Errorf("fake kd %d still alive", s.Pid)
	}
}

// kdlaunch killed outright: kd must not live on (pty hangup).
func TestFaultKdlaunchKilled(t *testing.T) {
	short(t)
	r := start(t, nil, "--tag", "Ddk")
	s := r.waitFake(t, 30*time.Second, "hits", func(s fakeState) bool { return s.Hits > 2 })
	if err := r.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	r.wait(t, 10*time.Second)
	if !waitGone(s.Pid, 5*time.Second) {
		t.Errorf("fake kd %d outlived kdlaunch", s.Pid)
		_ = syscall.Kill(s.Pid, syscall.SIGKILL)
	}
}

// kd that ignores CTRL+B is killed after stop_timeout.
func TestFaultKdHangsOnLeave(t *testing.T) {
	short(t)
	cfg := writeConfig(t, "[supervise]\nstop_timeout = \"500ms\"\n")
	r := start(t, map[string]string{"FAKEKD_HANG_ON_CTRLB": "1"}, "--tag", "Ddk", "--max-hits", "3", "--config", cfg)
	code := r.wait(t, 30*time.Second)
	s := r.fake(t)
	if !waitGone(s.Pid, 5*time.Second) {
		t.Errorf("fake kd %d still alive", s.Pid)
	}
	if code != 0 {
		t.Errorf("exit %d: the target was left running without breakpoints, so the stop is clean\n%s", code, r.stderr.String())
	}
	if len(s.Breakpoints) != 0 || s.Target != "running" {
		t.Errorf("target %s with %d breakpoints", s.Target, len(s.Breakpoints))
	}
	if !strings.Contains(r.stderr.String(), "killing it") {
		t.Errorf("kill escalation not reported")
	}
}

// max_rate: above it, the breakpoint is cleared and the target resumed.
func TestFaultMaxRate(t *testing.T) {
	short(t)
	cfg := writeConfig(t, "[limits]\nmax_rate = 5.0\nrate_window = \"2s\"\n")
	r := start(t, map[string]string{"FAKEKD_HIT_INTERVAL": "5ms"}, "--tag", "Ddk", "--duration", "4s", "--config", cfg)
	if code := r.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, r.stderr.String())
	}
	s := r.fake(t)
	assertSafe(t, s)
	if !strings.Contains(r.stderr.String(), "max_rate") {
		t.Errorf("no max_rate warning:\n%s", r.stderr.String())
	}
	if got := r.summaryHits(t); got != s.Hits || got > 400 {
		t.Errorf("summary %d hits, fake %d: the breakpoint should have been cleared early", got, s.Hits)
	}
}

// A slow serial line (19200 baud): slower, same result.
func TestFaultSlowLine(t *testing.T) {
	short(t)
	r := start(t, map[string]string{"FAKEKD_SLOW_BPS": "20000"}, "--tag", "Ddk", "--max-hits", "3")
	if code := r.wait(t, 90*time.Second); code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, r.stderr.String())
	}
	s := r.fake(t)
	assertSafe(t, s)
	if got := r.summaryHits(t); got != s.Hits {
		t.Errorf("summary %d, fake %d", got, s.Hits)
	}
}
