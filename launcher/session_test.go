package launcher

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func runSession(t *testing.T, k *miniKD, lim Limits, tm Timing, drive func(stop func())) (Result, *Stats) {
	t.Helper()
	return runSessionWith(t, k, lim, tm, nil, drive)
}

// runSessionWith: setup adjusts the session before it runs. The session,
// its pump and kd run in a synctest bubble: every timer and sleep is on a
// fake clock that advances when all of them wait, so the tests take no
// real time and no timing can make them flaky.
func runSessionWith(t *testing.T, k *miniKD, lim Limits, tm Timing, setup func(*Session), drive func(stop func())) (r Result, stats *Stats) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) {
		k.open()
		out := make(chan Output, 16)
		go Pump(k.Output(), out, Sinks{})
		stats = &Stats{Started: time.Now()}
		s := &Session{SessionConfig: SessionConfig{
			Proc: k, Output: out, Stats: stats, Sinks: Sinks{Log: hclog.NewNullLogger()},
			Rules: Rules{
				Plan:   Plan{Arm: []Command{{Text: `bp nt!MmAllocateSpecialPool ";kb;g"`}}},
				Timing: tm, Limits: lim, Nonce: "t",
			},
		}}
		if setup != nil {
			setup(s)
		}
		stop := make(chan struct{})
		var once sync.Once
		res := make(chan Result, 1)
		go func() { res <- s.Run(context.Background(), stop) }()
		drive(func() { once.Do(func() { close(stop) }) })
		select {
		case r = <-res:
		case <-time.After(10 * time.Second): // fake time: the session is stuck
			lines, wr, armed, running, b := k.snapshot()
			k.exit()
			<-res
			t.Fatalf("session did not end: typed %q while-running %q armed %v running %v breaks %d", lines, wr, armed, running, b)
		}
	})
	return r, stats
}

var fastTiming = Timing{Settle: 10 * time.Millisecond, BreakTimeout: 50 * time.Millisecond, BreakRetries: 3, StopTimeout: time.Second, ResumeOnHalt: true, LeaveGrace: 20 * time.Millisecond}

func TestSessionArmsAndStopsSafely(t *testing.T) {
	k := newMiniKD()
	r, stats := runSession(t, k, Limits{MaxHits: 5}, fastTiming, func(func()) {
		k.print("Waiting to reconnect...\n")
		k.connect()
		k.hitUntilExit(200, 5*time.Millisecond)
	})
	if r.Outcome != OutcomeStopped {
		t.Fatalf("outcome %v (%v), want stopped", r.Outcome, r.Err)
	}
	lines, whileRun, armed, running, _ := k.snapshot()
	if armed || !running {
		t.Errorf("armed=%v running=%v after stop, want disarmed and running", armed, running)
	}
	if len(whileRun) > 0 && !(len(whileRun) == 1 && whileRun[0] == "\x02") {
		t.Errorf("typed while running: %q", whileRun)
	}
	var plain []string
	for _, l := range lines {
		if !strings.HasPrefix(l, ".echo ") {
			plain = append(plain, l)
		}
	}
	want := []string{`bp nt!MmAllocateSpecialPool ";kb;g"`, "bl", "g", "bc *", "g", "\x02"}
	if fmt.Sprint(plain) != fmt.Sprint(want) {
		t.Errorf("typed %q, want %q", plain, want)
	}
	if stats.Hits < 5 || int(stats.Hits) != k.hits {
		t.Errorf("counted %d hits, kd made %d (want >= 5)", stats.Hits, k.hits)
	}
	if !stats.StoppedSafe {
		t.Errorf("stop not recorded as safe")
	}
}

// A kd without .echo still completes commands: the second prompt ends one.
func TestSessionWithoutEcho(t *testing.T) {
	k := newMiniKD()
	k.noEcho = true
	r, _ := runSession(t, k, Limits{MaxHits: 2}, fastTiming, func(func()) {
		k.connect()
		k.hitUntilExit(200, 5*time.Millisecond)
	})
	if r.Outcome != OutcomeStopped {
		t.Fatalf("outcome %v, want stopped", r.Outcome)
	}
}

// Breaks are retried when no prompt comes, and never sent before the
// connection.
func TestSessionRetriesBreak(t *testing.T) {
	k := newMiniKD()
	k.ignore = 2
	r, _ := runSession(t, k, Limits{}, fastTiming, func(stop func()) {
		k.print("Waiting to reconnect...\n")
		time.Sleep(100 * time.Millisecond)
		if _, _, _, _, b := k.snapshot(); b != 0 {
			t.Errorf("%d breaks before the connection", b)
		}
		k.connect()
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			if _, _, armed, running, _ := k.snapshot(); armed && running {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		stop()
	})
	if r.Outcome != OutcomeStopped {
		t.Fatalf("outcome %v, want stopped", r.Outcome)
	}
	if _, _, _, _, b := k.snapshot(); b < 4 {
		t.Errorf("%d breaks, want the 2 ignored ones retried", b)
	}
}

// A stop before the target connects just leaves kd.
func TestSessionStopWhileWaiting(t *testing.T) {
	k := newMiniKD()
	r, _ := runSession(t, k, Limits{}, fastTiming, func(stop func()) {
		k.print("Waiting to reconnect...\n")
		time.Sleep(50 * time.Millisecond)
		stop()
	})
	if r.Outcome != OutcomeStopped {
		t.Fatalf("outcome %v, want stopped", r.Outcome)
	}
	if lines, _, _, _, b := k.snapshot(); b != 0 || len(lines) != 1 || lines[0] != "\x02" {
		t.Errorf("typed %q with %d breaks, want only CTRL+B", lines, b)
	}
}

// A reboot loses the breakpoints; the session arms them again.
func TestSessionRearmsAfterReboot(t *testing.T) {
	k := newMiniKD()
	r, _ := runSession(t, k, Limits{}, fastTiming, func(stop func()) {
		k.connect()
		waitArmed(k)
		k.mu.Lock()
		k.armed, k.connected = false, false
		k.mu.Unlock()
		k.print("Shutdown occurred at (Wed Nov 25 22:03:04.000 2026 (UTC + 0:00))...unloading all symbol tables.\nWaiting to reconnect...\n")
		time.Sleep(50 * time.Millisecond)
		k.connect()
		waitArmed(k)
		stop()
	})
	if r.Outcome != OutcomeStopped {
		t.Fatalf("outcome %v, want stopped", r.Outcome)
	}
	lines, _, armed, _, _ := k.snapshot()
	n := 0
	for _, l := range lines {
		if strings.HasPrefix(l, "bp ") {
			n++
		}
	}
	if n != 2 || armed {
		t.Errorf("bp typed %d times (want 2), armed at the end = %v", n, armed)
	}
}

func waitArmed(k *miniKD) {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if _, _, armed, running, _ := k.snapshot(); armed && running {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A kd-like program that prints no connection line at all but halts at a
// prompt: the prompt proves the target is there, and the session arms.
func TestSessionPromptWithoutConnectionLine(t *testing.T) {
	k := newMiniKD()
	r, _ := runSession(t, k, Limits{}, fastTiming, func(stop func()) {
		k.mu.Lock()
		k.connected = true
		k.mu.Unlock()
		k.print("0: kd> ")
		waitArmed(k)
		stop()
	})
	if r.Outcome != OutcomeStopped {
		t.Fatalf("outcome %v, want stopped", r.Outcome)
	}
	lines, _, armed, running, _ := k.snapshot()
	if armed || !running || !strings.HasPrefix(lines[0], "bp ") {
		t.Errorf("typed %q, armed %v, running %v", lines, armed, running)
	}
}

// The break landed ("Break instruction exception") but kd takes longer than
// the break timeout to show its prompt: no second break, which kd would
// queue and which would halt the target again after the next g.
func TestSessionSlowPromptAfterBreak(t *testing.T) {
	k := newMiniKD()
	k.promptAfter = 300 * time.Millisecond // six break timeouts
	r, _ := runSession(t, k, Limits{}, fastTiming, func(stop func()) {
		k.connect()
		waitArmed(k)
		stop()
	})
	if r.Outcome != OutcomeStopped {
		t.Fatalf("outcome %v, want stopped", r.Outcome)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.breaks != 2 || k.queued != 0 {
		t.Errorf("%d breaks, %d of them to a stopped target; want 2 (arm, stop), none queued", k.breaks, k.queued)
	}
}

// "(Initial Breakpoint requested)": the target stops by itself; the session
// waits for that prompt after the settle time instead of breaking in.
func TestSessionInitialBreakRequested(t *testing.T) {
	k := newMiniKD()
	r, _ := runSession(t, k, Limits{}, fastTiming, func(stop func()) {
		k.connectInitialBreak(40 * time.Millisecond) // after the settle, within the break timeout
		waitArmed(k)
		stop()
	})
	if r.Outcome != OutcomeStopped {
		t.Fatalf("outcome %v, want stopped", r.Outcome)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.breaks != 1 || k.queued != 0 {
		t.Errorf("%d breaks, %d to a stopped target; want only the stop's break", k.breaks, k.queued)
	}
}

// The target halts by itself just as the stop breaks in: kd queues that
// break, and the stop's g is answered by another halt. The stop resumes the
// target again and leaves only once it stays running.
func TestSessionStopResumesAQueuedBreak(t *testing.T) {
	k := newMiniKD()
	r, stats := runSession(t, k, Limits{}, fastTiming, func(stop func()) {
		k.connect()
		waitArmed(k)
		k.mu.Lock()
		k.selfHaltOnBreak = true
		k.mu.Unlock()
		stop()
	})
	if r.Outcome != OutcomeStopped {
		t.Fatalf("outcome %v, want stopped", r.Outcome)
	}
	lines, _, armed, running, _ := k.snapshot()
	var plain []string
	for _, l := range lines {
		if !strings.HasPrefix(l, ".echo ") {
			plain = append(plain, l)
		}
	}
	want := []string{`bp nt!MmAllocateSpecialPool ";kb;g"`, "bl", "g", "bc *", "g", "bc *", "g", "\x02"}
	if fmt.Sprint(plain) != fmt.Sprint(want) || armed || !running {
		t.Errorf("typed %q (want %q), armed %v, running %v: the target must be left running", plain, want, armed, running)
	}
	if !stats.StoppedSafe {
		t.Errorf("stop not recorded as safe")
	}
}

// The target is reset while halted, as kdlaunch arms: kd answers the bp
// with no prompt and waits for the target. The dropped command must not
// stay in flight, or the prompt after the reconnection's break would be
// taken as its answer and the target left halted with nothing typed.
func TestSessionTargetResetWhileArming(t *testing.T) {
	k := newMiniKD()
	k.noPromptFor = "bp "
	r, _ := runSession(t, k, Limits{}, fastTiming, func(stop func()) {
		k.connect()
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			if lines, _, _, _, _ := k.snapshot(); len(lines) > 0 && strings.HasPrefix(lines[len(lines)-1], ".echo ") && strings.HasPrefix(lines[len(lines)-2], "bp ") {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		k.mu.Lock()
		k.connected, k.running, k.halted, k.noPromptFor = false, false, false, ""
		k.armed = false
		k.mu.Unlock()
		k.print("The transport connection between host kernel debugger and target Windows seems lost.\nWaiting to reconnect...\n")
		time.Sleep(30 * time.Millisecond)
		k.connect()
		waitArmed(k)
		stop()
	})
	if r.Outcome != OutcomeStopped {
		t.Fatalf("outcome %v, want stopped", r.Outcome)
	}
	lines, wr, armed, running, _ := k.snapshot()
	if armed || !running || len(wr) != 1 || wr[0] != "\x02" {
		t.Errorf("armed %v running %v typed while running %q", armed, running, wr)
	}
	n := 0
	for _, l := range lines {
		if strings.HasPrefix(l, "bp ") {
			n++
		}
	}
	if n != 2 {
		t.Errorf("bp typed %d times, want 2 (again after the reset): %q", n, lines)
	}
}

// A reboot while the stop breaks in: nothing is left armed, so kdlaunch
// leaves at once rather than wait for a target that may take minutes.
func TestSessionRebootDuringStopLeavesAtOnce(t *testing.T) {
	k := newMiniKD()
	start := time.Now()
	r, st := runSession(t, k, Limits{}, fastTiming, func(stop func()) {
		k.connect()
		waitArmed(k)
		k.mu.Lock()
		k.ignore = 1000 // the stop's break meets the reboot
		k.mu.Unlock()
		stop()
		time.Sleep(10 * time.Millisecond)
		k.mu.Lock()
		k.armed, k.connected, k.running = false, false, false
		k.mu.Unlock()
		k.print("Shutdown occurred at (Wed Nov 25 22:03:04.000 2026 (UTC + 0:00))...unloading all symbol tables.\nWaiting to reconnect...\n")
	})
	if r.Outcome != OutcomeStopped || r.Armed {
		t.Fatalf("outcome %v armed %v, want stopped with nothing armed", r.Outcome, r.Armed)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %s", d)
	}
	if lines, _, _, _, _ := k.snapshot(); lines[len(lines)-1] != "\x02" {
		t.Errorf("last input %q, want CTRL+B", lines[len(lines)-1])
	}
	_ = st
}

// kd's output ends but kd runs on (console closed, a broken stdout pipe):
// the session must not wait for it forever.
func TestSessionOutputEndsKdRunsOn(t *testing.T) {
	k := newMiniKD()
	tm := fastTiming
	tm.StopTimeout = 100 * time.Millisecond
	r, _ := runSession(t, k, Limits{}, tm, func(func()) {
		k.connect()
		waitArmed(k)
		_ = k.pw.Close() // output ends; Wait blocks until Kill
	})
	if r.Outcome != OutcomeKDExited || !r.Armed {
		t.Fatalf("outcome %v armed %v, want kd exited with the breakpoint armed", r.Outcome, r.Armed)
	}
}

// A kd started only to clear what a crashed one left (a stop came while kd
// was down) meets a target that asked for the initial breakpoint: it must
// resume it before leaving, not leave a target about to halt.
func TestSessionStoppingIncarnationResumesInitialBreak(t *testing.T) {
	k := newMiniKD()
	r, st := runSessionWith(t, k, Limits{}, fastTiming, func(s *Session) { s.Stopping = true }, func(func()) {
		k.connectInitialBreak(30 * time.Millisecond)
	})
	if r.Outcome != OutcomeStopped {
		t.Fatalf("outcome %v, want stopped", r.Outcome)
	}
	lines, _, _, running, _ := k.snapshot()
	if !running || !st.StoppedSafe {
		t.Errorf("target running %v, stopped safe %v; typed %q", running, st.StoppedSafe, lines)
	}
	if got := strings.Join(lines, "|"); !strings.HasSuffix(got, "g|\x02") {
		t.Errorf("typed %q, want g then CTRL+B", lines)
	}
}
