//go:build !windows

package integration

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// startKda runs kdlaunch against bin/kdalike; env holds kdalike's knobs.
func startKda(t *testing.T, env map[string]string, args ...string) *run {
	t.Helper()
	return launch(t, kdalikeCmd, func(r *run) []string { return []string{"KDA_STATE=" + r.state} }, env, args...)
}

func (r *run) kda(t *testing.T) kdaState {
	t.Helper()
	return readState[kdaState](t, r.state, "kdalike")
}

func (r *run) waitKda(t *testing.T, timeout time.Duration, what string, ok func(kdaState) bool) {
	t.Helper()
	waitState(t, r, "kdalike", timeout, what, ok)
}

// assertKdaSafe checks the whole contract against kdalike's record: break
// only after the connection and never at a halted target, commands only at
// a prompt, bc * then g then CTRL+B ENTER at the end, no q, the target left
// running with no breakpoint, hits counted exactly and all in the log.
func assertKdaSafe(t *testing.T, r *run, s kdaState) {
	t.Helper()
	assertKdaSafeRace(t, r, s, false)
}

// assertKdaSafeRace: with race, one break may reach a target that stopped by
// itself at the same moment (no tool can tell in time); the stop must still
// leave the target running.
func assertKdaSafeRace(t *testing.T, r *run, s kdaState, race bool) {
	t.Helper()
	defer func() {
		if t.Failed() {
			t.Logf("kdalike state: %+v\nstdout:\n%s\nstderr:\n%s", s, r.stdout.String(), r.stderr.String())
		}
	}()
	for _, f := range s.Failures {
		t.Errorf("kdalike: %s", f)
	}
	if s.BreaksBeforeConnect != 0 {
		t.Errorf("%d breaks before the connection", s.BreaksBeforeConnect)
	}
	if s.BreaksWhileHalted > 0 && !(race && s.BreaksWhileHalted == 1) {
		t.Errorf("%d breaks sent to a halted (or halting) target: breaks %q", s.BreaksWhileHalted, s.Breaks)
	}
	if len(s.Breaks) == 0 {
		t.Errorf("no break-in at all")
	}
	if s.EmptyLines != 0 {
		t.Errorf("%d empty lines typed", s.EmptyLines)
	}
	if s.Quit {
		t.Errorf("q typed")
	}
	if s.ExitReason != "ctrl-b" || s.Target != "running" || len(s.Breakpoints) != 0 {
		t.Errorf("kd left by %q with the target %s and breakpoints %q; want ctrl-b, running, none", s.ExitReason, s.Target, s.Breakpoints)
	}
	var cmds []string
	for i, c := range s.Commands {
		last := i == len(s.Commands)-1
		if last && c.Text != "\x02" {
			t.Errorf("last input %q, want CTRL+B", c.Text)
		}
		if !last && c.State != "halted" {
			t.Errorf("command %q typed while the target was %s", c.Text, c.State)
		}
		if !strings.HasPrefix(c.Text, ".echo KDLAUNCH_DONE_") {
			cmds = append(cmds, c.Text)
		}
	}
	if n := len(cmds); n < 3 || cmds[n-3] != "bc *" || cmds[n-2] != "g" || cmds[n-1] != "\x02" {
		t.Errorf("commands %q do not end with bc *, g, CTRL+B", cmds)
	}
	if !hasSubsequence(cmds, []string{`bp nt!MmAllocateSpecialPool ";kb;g"`, "g"}) {
		t.Errorf("commands %q never armed the breakpoint and resumed", cmds)
	}
	if s.LogEnv != "_NT_DEBUG_LOG_FILE_APPEND" {
		t.Errorf("log named by %q", s.LogEnv)
	}
	if got := r.summaryHits(t); got != s.Hits {
		t.Errorf("summary says %d hits, kdalike made %d", got, s.Hits)
	}
	out := r.stdout.String()
	if !strings.Contains(out, "kdlaunch: stopped safely") {
		t.Errorf("summary does not say the stop was safe")
	}
	// kdalike's special pool holds "Ddk ": the live check must read that
	// through every variation of kd's output.
	if strings.Contains(r.stderr.String(), "special pool:") {
		t.Errorf("live check warned although the target's tag is Ddk")
	}
	if got := strings.Count(r.read(t, r.log), "Breakpoint 0 hit"); got != s.Hits {
		t.Errorf("log holds %d hits, kdalike made %d", got, s.Hits)
	}
}

// kdaConfig keeps each run to a few seconds; extra overrides its keys.
func kdaConfig(t *testing.T, extra map[string]string) string {
	t.Helper()
	keys := map[string]string{"settle": "300ms", "break_timeout": "1s", "stop_timeout": "3s"}
	for k, v := range extra {
		keys[k] = v
	}
	body := "[supervise]\n"
	for k, v := range keys {
		body += k + " = \"" + v + "\"\n"
	}
	return writeConfig(t, body)
}

func TestKdalikeMaxHits(t *testing.T) {
	short(t)
	tests := []struct {
		name string
		env  map[string]string
		cfg  map[string]string // [supervise] overrides
	}{
		{"serial defaults", nil, nil},
		{"serial x86 plain prompt crlf", map[string]string{"KDA_ARCH": "x86", "KDA_PROMPT": "plain", "KDA_CRLF": "1"}, nil},
		{"kdnet handshake on break wide prompt", map[string]string{"KDA_TRANSPORT": "net", "KDA_HANDSHAKE": "1", "KDA_PROMPT": "wide", "KDA_WAITS": "5"}, nil},
		{"kdnet", map[string]string{"KDA_TRANSPORT": "net"}, nil},
		{"pipe echoes input", map[string]string{"KDA_TRANSPORT": "pipe", "KDA_ECHO": "1"}, nil},
		{"prompt split across writes", map[string]string{"KDA_SPLIT_PROMPT": "1"}, nil},
		{"prompt glued to output", map[string]string{"KDA_GLUE": "1"}, nil},
		// A deferred bp cannot hit: the run ends instead (symbols-missing.txtar).
		{"dbgprint between hits old kb", map[string]string{"KDA_DBGPRINT": "1", "KDA_KB": "old"}, nil},
		{"hit flood", map[string]string{"KDA_HIT_INTERVAL": "0"}, nil},
		{"hit right after g", map[string]string{"KDA_HIT_AFTER_G": "1", "KDA_HIT_INTERVAL": "5ms"}, nil},
		{"hit races the break", map[string]string{"KDA_RACE": "hit", "KDA_HIT_INTERVAL": "2ms"}, nil},
		{"break cancels the bp commands", map[string]string{"KDA_RACE": "cancel", "KDA_HIT_INTERVAL": "2ms"}, nil},
		{"initial breakpoint", map[string]string{"KDA_INITIAL_BREAK": "1"}, nil},
		{"initial breakpoint after the settle", map[string]string{"KDA_INITIAL_BREAK": "1", "KDA_INITIAL_DELAY": "900ms"}, nil},
		{"slow symbols after break", map[string]string{"KDA_BREAK_SYMBOLS": "1500ms"}, map[string]string{"break_timeout": "300ms"}},
		{"slow break over serial", map[string]string{"KDA_BREAK_DELAY": "400ms"}, nil},
		{"kdquiet", map[string]string{"KDA_QUIET": "1", "KDA_ARCH": "x86"}, nil},
		{"target halts by itself", map[string]string{"KDA_SELF_HALT": "7"}, nil},
		{"target halts by itself as the stop breaks in", map[string]string{"KDA_SELF_HALT": "40"}, nil},
		{"dbgprint without newline", map[string]string{"KDA_DBGPRINT": "nonl"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := kdaConfig(t, tt.cfg)
			r := startKda(t, tt.env, "--tag", "Ddk", "--max-hits", "40", "--config", cfg)
			if code := r.wait(t, 30*time.Second); code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, r.stdout.String(), r.stderr.String())
			}
			s := r.kda(t)
			assertKdaSafeRace(t, r, s, tt.name == "target halts by itself as the stop breaks in")
			if s.Hits < 40 {
				t.Errorf("kdalike made %d hits, want at least 40", s.Hits)
			}
		})
	}
}

func TestKdalikeStops(t *testing.T) {
	short(t)
	tests := []struct {
		name string
		env  map[string]string
		stop string // "duration" or "sigint"
	}{
		{"duration", nil, "duration"},
		{"duration kdnet echo", map[string]string{"KDA_TRANSPORT": "net", "KDA_HANDSHAKE": "1", "KDA_ECHO": "1"}, "duration"},
		{"sigint", nil, "sigint"},
		{"sigint hit race", map[string]string{"KDA_RACE": "cancel", "KDA_HIT_INTERVAL": "2ms"}, "sigint"},
		{"sigint slow break", map[string]string{"KDA_BREAK_DELAY": "300ms", "KDA_SPLIT_PROMPT": "1"}, "sigint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := kdaConfig(t, nil)
			args := []string{"--tag", "Ddk", "--config", cfg}
			if tt.stop == "duration" {
				args = append(args, "--duration", "2s")
			}
			r := startKda(t, tt.env, args...)
			if tt.stop == "sigint" {
				r.waitKda(t, 20*time.Second, "5 hits", func(s kdaState) bool { return s.Hits >= 5 })
				interrupt(t, r, syscall.SIGINT)
			}
			if code := r.wait(t, 30*time.Second); code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, r.stdout.String(), r.stderr.String())
			}
			s := r.kda(t)
			assertKdaSafe(t, r, s)
			if s.Hits == 0 {
				t.Errorf("no hits")
			}
		})
	}
}

// A stop before the target is armed: no break before the connection, only
// CTRL+B ENTER (nothing is armed, so nothing needs clearing).
func TestKdalikeStopBeforeArmed(t *testing.T) {
	short(t)
	tests := []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"sigint while waiting", map[string]string{"KDA_CONNECT_DELAY": "10s", "KDA_WAITS": "3"}, nil},
		{"duration ends during the settle", map[string]string{"KDA_CONNECT_DELAY": "100ms"}, []string{"--duration", "250ms"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := kdaConfig(t, map[string]string{"settle": "2s"})
			r := startKda(t, tt.env, append([]string{"--tag", "Ddk", "--config", cfg}, tt.args...)...)
			if tt.args == nil {
				r.waitKda(t, 10*time.Second, "started", func(s kdaState) bool { return s.PID > 0 })
				time.Sleep(300 * time.Millisecond)
				interrupt(t, r, syscall.SIGINT)
			}
			if code := r.wait(t, 20*time.Second); code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, r.stdout.String(), r.stderr.String())
			}
			s := r.kda(t)
			if len(s.Breaks) != 0 || len(s.Failures) != 0 || s.ExitReason != "ctrl-b" || len(s.Breakpoints) != 0 {
				t.Errorf("breaks %q, failures %q, exit %q, breakpoints %q; want only CTRL+B", s.Breaks, s.Failures, s.ExitReason, s.Breakpoints)
			}
			if len(s.Commands) != 1 || s.Commands[0].Text != "\x02" {
				t.Errorf("commands %+v, want only CTRL+B", s.Commands)
			}
		})
	}
}
