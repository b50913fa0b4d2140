//go:build !windows

package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The faults of a real lab, played by kdalike (written from kd's documented behaviour, not
// from fakekd): kd crashing, killed, failing to start; the target
// rebooting (while running, while kdlaunch breaks in, while it arms),
// losing the transport, ignoring or delaying breaks; kd slow to leave,
// stalling mid-line, closing its console, flooding output as a break lands;
// and kdlaunch itself signalled at every stage. Every kd incarnation keeps
// its own record (state.json.N); the checks run across all of them.

// seedLine is in the log before kdlaunch starts: it must still be there at
// the end (the log is appended to across kd restarts, never truncated).
const seedLine = "an earlier hunt's log line\n"

// faultConfig: short supervise timings so each case takes a few seconds.
func faultConfig(t *testing.T, extra map[string]string) string {
	t.Helper()
	keys := map[string]string{
		"settle": "100ms", "break_timeout": "400ms", "break_retries": "3", "stop_timeout": "2s",
		"backoff_initial": "100ms", "backoff_max": "300ms", "max_restarts": "5",
	}
	for k, v := range extra {
		keys[k] = v
	}
	body := "[supervise]\n"
	for k, v := range keys {
		if _, err := strconv.Atoi(v); err == nil {
			body += k + " = " + v + "\n"
		} else {
			body += k + " = \"" + v + "\"\n"
		}
	}
	return writeConfig(t, body)
}

// startFault seeds the log and starts kdlaunch against kdalike.
func startFault(t *testing.T, env map[string]string, cfg map[string]string, args ...string) *run {
	t.Helper()
	r := startKdaSeeded(t, env, append([]string{"--tag", "Ddk", "--config", faultConfig(t, cfg)}, args...))
	t.Cleanup(func() {
		// Whatever happened, leave no kdalike behind.
		for _, s := range r.incarnations() {
			if alive(s.PID) && !isZombie(s.PID) {
				_ = syscall.Kill(s.PID, syscall.SIGKILL)
			}
		}
	})
	return r
}

func startKdaSeeded(t *testing.T, env map[string]string, args []string) *run {
	t.Helper()
	// startKda picks the log path inside its own temp dir: seed it through
	// a log of our own instead.
	dir := t.TempDir()
	log := dir + "/debug.log"
	if err := os.WriteFile(log, []byte(seedLine), 0o644); err != nil {
		t.Fatal(err)
	}
	r := startKda(t, env, append(args, "--log", log)...)
	r.log = log
	return r
}

// incarnations reads every kdalike incarnation's record, in order.
func (r *run) incarnations() []kdaState {
	var all []kdaState
	for i := 1; ; i++ {
		b, err := os.ReadFile(fmt.Sprintf("%s.%d", r.state, i))
		if err != nil {
			return all
		}
		var s kdaState
		if json.Unmarshal(b, &s) == nil {
			all = append(all, s)
		}
	}
}

func (r *run) waitAll(t *testing.T, timeout time.Duration, what string, ok func([]kdaState) bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if all := r.incarnations(); len(all) > 0 && ok(all) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("kdalike never reached %q within %s\nstdout:\n%s\nstderr:\n%s", what, timeout, r.stdout.String(), r.stderr.String())
}

func last(all []kdaState) kdaState { return all[len(all)-1] }

// want says what a case's end must look like.
type want struct {
	code     int  // kdlaunch's exit code; -1: any non-zero
	safe     bool // kdlaunch reports a safe stop, and it is true
	left     bool // the last kd was left with CTRL+B ENTER (a stop before anything was armed)
	unseen   bool // kd made hits kdlaunch could not see (its console was closed): the log has them
	minHits  int
	minIncs  int
	rebooted int    // at least this many reboots (all incarnations)
	out      string // kdlaunch's stdout+stderr contains this
}

// assertFaults checks the invariants that hold whatever the fault, across
// every incarnation, then the case's own.
func assertFaults(t *testing.T, r *run, code int, w want) []kdaState {
	t.Helper()
	all := r.incarnations()
	defer func() {
		if t.Failed() {
			b, _ := json.MarshalIndent(all, "", " ")
			t.Logf("incarnations:\n%s\nstdout:\n%s\nstderr:\n%s", b, r.stdout.String(), r.stderr.String())
		}
	}()
	if len(all) == 0 {
		t.Fatal("kdalike never started")
	}
	switch {
	case w.code == -1 && code == 0:
		t.Errorf("exit 0, want a failure")
	case w.code >= 0 && code != w.code:
		t.Errorf("exit %d, want %d", code, w.code)
	}
	hits := 0
	reboots := 0
	for _, s := range all {
		hits += s.Hits
		reboots += s.Reboots + s.Resets
		for _, f := range s.Failures {
			t.Errorf("kd %d: %s", s.Incarnation, f)
		}
		if s.BreaksBeforeConnect != 0 {
			t.Errorf("kd %d: %d breaks to an unconnected target: %q", s.Incarnation, s.BreaksBeforeConnect, s.Breaks)
		}
		if s.BreaksWhileHalted != 0 {
			t.Errorf("kd %d: %d breaks to a halted target: %q", s.Incarnation, s.BreaksWhileHalted, s.Breaks)
		}
		if s.Quit {
			t.Errorf("kd %d: q typed", s.Incarnation)
		}
		if s.EmptyLines != 0 {
			t.Errorf("kd %d: %d empty lines", s.Incarnation, s.EmptyLines)
		}
		for i, c := range s.Commands {
			if c.Text == "\x02" {
				if i != len(s.Commands)-1 {
					t.Errorf("kd %d: input after CTRL+B", s.Incarnation)
				}
				continue
			}
			if c.State != "halted" {
				t.Errorf("kd %d: %q typed while the target was %s", s.Incarnation, c.Text, c.State)
			}
		}
		if !waitGone(s.PID, 5*time.Second) {
			t.Errorf("kd %d (pid %d) outlived kdlaunch", s.Incarnation, s.PID)
		}
	}
	log := r.read(t, r.log)
	if !strings.HasPrefix(log, seedLine) {
		t.Errorf("the log lost what it held before (truncated by a restart?)")
	}
	// A kd killed by a signal may have logged a hit it had no time to
	// record in its state file.
	unrecorded := 0
	for _, s := range all {
		if s.ExitReason == "" {
			unrecorded++
		}
	}
	if got := strings.Count(log, "Breakpoint 0 hit"); got < hits || got > hits+unrecorded {
		t.Errorf("log holds %d hits, kdalike made %d", got, hits)
	}
	out := r.stdout.String()
	if m := reSummaryHits.FindStringSubmatch(out); m != nil {
		if n, _ := strconv.Atoi(m[1]); n != hits && !(w.unseen && n < hits) {
			t.Errorf("summary says %d hits, kdalike made %d", n, hits)
		}
	} else if w.code == 0 {
		t.Errorf("no summary")
	}
	if hits < w.minHits {
		t.Errorf("%d hits, want at least %d", hits, w.minHits)
	}
	if len(all) < w.minIncs {
		t.Errorf("%d kd incarnations, want at least %d", len(all), w.minIncs)
	}
	if reboots < w.rebooted {
		t.Errorf("%d reboots, want at least %d", reboots, w.rebooted)
	}
	if w.out != "" && !strings.Contains(out+r.stderr.String(), w.out) {
		t.Errorf("output lacks %q", w.out)
	}
	if w.left {
		if l := last(all); !l.CtrlB || len(l.Breakpoints) != 0 || l.Target == "halted" {
			t.Errorf("the last kd left by %q with the target %s and breakpoints %q; want CTRL+B, nothing armed", l.ExitReason, l.Target, l.Breakpoints)
		}
	}
	safe := strings.Contains(out, "kdlaunch: stopped safely")
	if w.safe && !safe {
		t.Errorf("no safe stop reported")
	}
	if safe {
		// A connection clears what an earlier kd left armed (kd-protocol.md "Leaving kd: CTRL+B ENTER"),
		// so the target's state is that of the last kd that connected.
		var lc *kdaState
		for i := range all {
			if all[i].EverConnected {
				lc = &all[i]
			}
		}
		if lc != nil && (len(lc.Breakpoints) != 0 || lc.Target == "halted") {
			t.Errorf("safe stop reported, but kd %d left the target %s with breakpoints %q", lc.Incarnation, lc.Target, lc.Breakpoints)
		}
		if l := last(all); !l.CtrlB {
			t.Errorf("safe stop reported, but the last kd was not left with CTRL+B (%q)", l.ExitReason)
		}
	}
	return all
}

func countBP(all []kdaState) int {
	n := 0
	for _, s := range all {
		for _, c := range s.Commands {
			if strings.HasPrefix(c.Text, "bp ") {
				n++
			}
		}
	}
	return n
}

func TestKdalikeFaults(t *testing.T) {
	short(t)
	tests := []struct {
		name  string
		env   map[string]string
		cfg   map[string]string
		args  []string
		want  want
		check func(t *testing.T, all []kdaState)
	}{
		{name: "kd crashes after hits, twice",
			env:  map[string]string{"KDA_EXIT_AFTER_HITS": "6", "KDA_FAULT_TIMES": "2"},
			args: []string{"--max-hits", "20"},
			want: want{safe: true, minHits: 20, minIncs: 3, out: "kd exited unexpectedly (exit code 3)"}},
		{name: "kd killed by a signal",
			env:  map[string]string{"KDA_SIGNAL_AFTER_HITS": "5", "KDA_FAULT_TIMES": "1"},
			args: []string{"--max-hits", "15"},
			want: want{safe: true, minHits: 15, minIncs: 2, out: "killed by a signal"}},
		// kd says why it cannot start: that is not a crash to restart, but
		// one line with the cause and exit 4 at once.
		{name: "kd fails at start three times",
			env:  map[string]string{"KDA_EXIT_AT_START": "3"},
			args: []string{"--max-hits", "10"},
			want: want{code: 4, minIncs: 1, out: "Access is denied.): another program"}},
		{name: "kd keeps crashing: give up",
			env:  map[string]string{"KDA_EXIT_AFTER_HITS": "2"},
			cfg:  map[string]string{"max_restarts": "2"},
			want: want{code: -1, minIncs: 3, out: "restarted 2 times"}},
		{name: "target reboots",
			env:  map[string]string{"KDA_REBOOT_AFTER_HITS": "5", "KDA_REBOOT_DOWN": "400ms"},
			args: []string{"--max-hits", "15"},
			want: want{safe: true, minHits: 15, rebooted: 1, out: "rebooting"},
			check: func(t *testing.T, all []kdaState) {
				if n := countBP(all); n < 2 {
					t.Errorf("bp typed %d times, want it again after the reboot", n)
				}
			}},
		{name: "target reboots three times",
			env:  map[string]string{"KDA_REBOOT_AFTER_HITS": "4", "KDA_REBOOTS": "3", "KDA_REBOOT_DOWN": "300ms"},
			args: []string{"--max-hits", "20"},
			want: want{safe: true, minHits: 20, rebooted: 3},
			check: func(t *testing.T, all []kdaState) {
				if n := countBP(all); n < 4 {
					t.Errorf("bp typed %d times, want 4 (after each reboot)", n)
				}
			}},
		{name: "kdnet target reboots",
			env:  map[string]string{"KDA_TRANSPORT": "net", "KDA_HANDSHAKE": "1", "KDA_REBOOT_AFTER_HITS": "5", "KDA_REBOOT_DOWN": "300ms"},
			args: []string{"--max-hits", "15"},
			want: want{safe: true, minHits: 15, rebooted: 1}},
		{name: "reboot as kdlaunch breaks in",
			env:  map[string]string{"KDA_REBOOT_ON_BREAK": "1", "KDA_REBOOT_DOWN": "300ms"},
			args: []string{"--max-hits", "10"},
			want: want{safe: true, minHits: 10, rebooted: 1}},
		{name: "reboot as the stop breaks in",
			env:  map[string]string{"KDA_REBOOT_ON_BREAK": "2", "KDA_REBOOT_DOWN": "20s"},
			args: []string{"--max-hits", "10"},
			want: want{left: true, minHits: 10, rebooted: 1}},
		{name: "target reset while arming",
			env:  map[string]string{"KDA_RESET_ON_CMD": "bp ", "KDA_REBOOT_DOWN": "300ms"},
			args: []string{"--max-hits", "10"},
			want: want{safe: true, minHits: 10, rebooted: 1}},
		{name: "first breaks lost",
			env:  map[string]string{"KDA_IGNORE_BREAKS": "3"},
			cfg:  map[string]string{"break_timeout": "150ms", "break_retries": "2"},
			args: []string{"--max-hits", "10"},
			want: want{safe: true, minHits: 10, out: "CTRL+R"}},
		{name: "no break answered: give up",
			env:  map[string]string{"KDA_IGNORE_BREAKS": "-1"},
			cfg:  map[string]string{"break_timeout": "100ms", "break_retries": "2", "on_break_failure": "give-up"},
			want: want{code: -1, out: "break-in not answered"}},
		{name: "break answered late",
			env:  map[string]string{"KDA_BREAK_DELAY": "1500ms"},
			cfg:  map[string]string{"break_timeout": "300ms"},
			args: []string{"--max-hits", "10"},
			want: want{safe: true, minHits: 10}},
		{name: "transport lost then back",
			env:  map[string]string{"KDA_LOST_AFTER_HITS": "5", "KDA_LOST_FOR": "800ms"},
			args: []string{"--max-hits", "15"},
			want: want{safe: true, minHits: 15, out: "transport to the target lost"}},
		{name: "stop while the transport is lost",
			env:  map[string]string{"KDA_LOST_AFTER_HITS": "9", "KDA_LOST_FOR": "1s"},
			args: []string{"--max-hits", "10"},
			want: want{safe: true, minHits: 10}},
		{name: "kd slow to leave",
			env:  map[string]string{"KDA_CTRLB_DELAY": "300ms"},
			args: []string{"--max-hits", "5"},
			want: want{safe: true, minHits: 5}},
		{name: "kd ignores CTRL+B: killed",
			env:  map[string]string{"KDA_CTRLB_DELAY": "never"},
			cfg:  map[string]string{"stop_timeout": "500ms"},
			args: []string{"--max-hits", "5"},
			want: want{safe: true, minHits: 5, out: "killing it"}},
		{name: "partial line then stall",
			env:  map[string]string{"KDA_STALL_AFTER_HITS": "5", "KDA_STALL_FOR": "1s", "KDA_DBGPRINT": "1"},
			args: []string{"--max-hits", "12"},
			want: want{safe: true, minHits: 12}},
		{name: "kd closes its console and runs on",
			env:  map[string]string{"KDA_CLOSE_AFTER_HITS": "5", "KDA_FAULT_TIMES": "1"},
			args: []string{"--max-hits", "15"},
			want: want{safe: true, unseen: true, minHits: 10, minIncs: 2, out: "still running"}},
		{name: "output burst as the stop lands",
			env: map[string]string{"KDA_BURST": "20000"},
			// Reading 20000 lines through the pty under -race on a loaded
			// 2-core box can outlast a 400ms break timeout (the default is 5s).
			cfg:  map[string]string{"break_timeout": "3s"},
			args: []string{"--max-hits", "10"},
			want: want{safe: true, minHits: 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := startFault(t, tt.env, tt.cfg, tt.args...)
			code := r.wait(t, 25*time.Second)
			all := assertFaults(t, r, code, tt.want)
			if tt.check != nil && !t.Failed() {
				tt.check(t, all)
			}
		})
	}
}

// Signals to kdlaunch at every stage. The first SIGINT, SIGTERM or SIGHUP
// stops safely; a second one stops at once (130); SIGKILL cannot be
// caught, so kd must die of the pty hangup.
func TestKdalikeSignals(t *testing.T) {
	short(t)
	hits := func(n int) func([]kdaState) bool {
		return func(all []kdaState) bool {
			h := 0
			for _, s := range all {
				h += s.Hits
			}
			return h >= n
		}
	}
	tests := []struct {
		name  string
		env   map[string]string
		cfg   map[string]string
		when  string
		ready func([]kdaState) bool
		sigs  []syscall.Signal
		want  want
		quick time.Duration // kdlaunch must be gone this soon after the last signal
	}{
		{name: "SIGINT", when: "hits", ready: hits(5), sigs: []syscall.Signal{syscall.SIGINT}, want: want{safe: true, minHits: 5}},
		{name: "SIGTERM", when: "hits", ready: hits(5), sigs: []syscall.Signal{syscall.SIGTERM}, want: want{safe: true, minHits: 5}},
		{name: "SIGHUP", when: "hits", ready: hits(5), sigs: []syscall.Signal{syscall.SIGHUP}, want: want{safe: true, minHits: 5}},
		{name: "SIGINT twice", env: map[string]string{"KDA_CTRLB_DELAY": "never"}, when: "hits", ready: hits(5),
			sigs: []syscall.Signal{syscall.SIGINT, syscall.SIGINT}, want: want{code: 130, out: "may be left halted"}, quick: 2 * time.Second},
		{name: "SIGKILL", when: "hits", ready: hits(3), sigs: []syscall.Signal{syscall.SIGKILL}, want: want{code: -1}},
		{name: "SIGKILL kd ignoring SIGHUP", env: map[string]string{"KDA_IGNORE_HUP": "1"}, when: "hits", ready: hits(3),
			sigs: []syscall.Signal{syscall.SIGKILL}, want: want{code: -1}},
		{name: "SIGINT while waiting for the target", env: map[string]string{"KDA_CONNECT_DELAY": "20s", "KDA_WAITS": "3"},
			ready: func(all []kdaState) bool { return last(all).PID > 0 }, sigs: []syscall.Signal{syscall.SIGINT},
			want: want{left: true}, quick: 2 * time.Second},
		{name: "SIGTERM while breaking in", env: map[string]string{"KDA_BREAK_DELAY": "1500ms"}, cfg: map[string]string{"break_timeout": "3s"},
			ready: func(all []kdaState) bool { return len(last(all).Breaks) > 0 }, sigs: []syscall.Signal{syscall.SIGTERM},
			want: want{safe: true}},
		{name: "SIGINT while breaks go unanswered, then again", env: map[string]string{"KDA_IGNORE_BREAKS": "-1"},
			ready: func(all []kdaState) bool { return last(all).IgnoredBreaks > 0 }, sigs: []syscall.Signal{syscall.SIGINT, syscall.SIGINT},
			want: want{code: 130}, quick: 2 * time.Second},
		{name: "SIGTERM during a reboot", env: map[string]string{"KDA_REBOOT_AFTER_HITS": "3", "KDA_REBOOT_DOWN": "20s"},
			ready: func(all []kdaState) bool { return last(all).Reboots > 0 }, sigs: []syscall.Signal{syscall.SIGTERM},
			want: want{left: true, rebooted: 1}, quick: 2 * time.Second},
		{name: "SIGINT while kd is restarted", env: map[string]string{"KDA_EXIT_AFTER_HITS": "3", "KDA_FAULT_TIMES": "1"},
			cfg:   map[string]string{"backoff_initial": "1s", "backoff_max": "1s"},
			ready: func(all []kdaState) bool { return all[0].ExitReason == "crash" }, sigs: []syscall.Signal{syscall.SIGINT},
			want: want{safe: true, minIncs: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := startFault(t, tt.env, tt.cfg)
			r.waitAll(t, 15*time.Second, "ready", tt.ready)
			if tt.sigs[0] == syscall.SIGINT && tt.ready != nil && strings.Contains(tt.name, "waiting") {
				time.Sleep(300 * time.Millisecond) // kd's banner is out
			}
			for i, sig := range tt.sigs {
				if i > 0 {
					time.Sleep(300 * time.Millisecond)
				}
				interrupt(t, r, sig)
			}
			sent := time.Now()
			code := r.wait(t, 20*time.Second)
			if tt.quick > 0 {
				if d := time.Since(sent); d > tt.quick {
					t.Errorf("kdlaunch took %s to exit, want under %s", d.Round(time.Millisecond), tt.quick)
				}
			}
			all := assertFaults(t, r, code, tt.want)
			if tt.want.safe {
				if l := last(all); l.ExitReason != "ctrl-b" {
					t.Errorf("kd left by %q, want ctrl-b", l.ExitReason)
				}
			}
		})
	}
}
