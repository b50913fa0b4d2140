package launcher

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// A g kd cannot carry out: retried after a growing wait (the session's
// retry timer), never typed again at once; after the last try the
// breakpoints are cleared, the target resumed, and the run ends quoting kd.
func TestSessionFailedGoIsRetriedThenCleared(t *testing.T) {
	for _, tc := range []struct {
		fails   int
		outcome Outcome
	}{{1, OutcomeStopped}, {1000, OutcomeFailed}} {
		k := newMiniKD()
		k.failInserts = tc.fails
		r, _ := runSession(t, k, Limits{MaxHits: 2}, fastTiming, func(stop func()) {
			k.connect()
			if !k.hitUntilExit(400, 10*time.Millisecond) {
				stop()
			}
		})
		if r.Outcome != tc.outcome {
			t.Fatalf("%d failing g's: outcome %v (%v), want %v", tc.fails, r.Outcome, r.Err, tc.outcome)
		}
		lines, _, armed, running, _ := k.snapshot()
		gs := 0
		for _, l := range lines {
			if l == "g" {
				gs++
			}
		}
		if armed || !running {
			t.Errorf("%d failing g's: armed %v running %v at the end; typed %q", tc.fails, armed, running, lines)
		}
		if tc.fails > 1 {
			var ge *GoFailedError
			if !errors.As(r.Err, &ge) || k.failedGs != maxGoTries || gs != maxGoTries+1 {
				t.Errorf("err %v, %d failed g's, %d typed: want a GoFailedError after %d tries, then one g with nothing armed", r.Err, k.failedGs, gs, maxGoTries)
			}
		}
	}
}

// The hit-rate brake survives a reboot: kd lost the breakpoint anyway, and
// arming it again would bring back the hits that tripped the brake. The
// stop afterwards leaves nothing armed and is safe.
func TestSessionRateBrakeSurvivesReboot(t *testing.T) {
	k := newMiniKD()
	lim := Limits{MaxRate: 5, RateWindow: 2 * time.Second}
	r, stats := runSession(t, k, lim, fastTiming, func(stop func()) {
		k.connect()
		waitArmed(k)
		for i := 0; i < 400; i++ { // 100 hits a second until the brake clears the breakpoint
			time.Sleep(10 * time.Millisecond)
			k.hit()
			if _, _, armed, running, _ := k.snapshot(); !armed && running {
				break
			}
		}
		k.mu.Lock()
		k.armed, k.connected = false, false
		k.mu.Unlock()
		k.print("Shutdown occurred at (Wed Nov 25 22:03:04.000 2026 (UTC + 0:00))...unloading all symbol tables.\nWaiting to reconnect...\n")
		time.Sleep(50 * time.Millisecond)
		k.connect()
		time.Sleep(time.Second)
		stop()
	})
	if r.Outcome != OutcomeStopped || !stats.StoppedSafe {
		t.Fatalf("outcome %v, stopped safely %v: want a safe stop", r.Outcome, stats.StoppedSafe)
	}
	lines, _, armed, running, _ := k.snapshot()
	n := 0
	for _, l := range lines {
		if strings.HasPrefix(l, "bp ") {
			n++
		}
	}
	if n != 1 || armed || !running {
		t.Errorf("bp typed %d times (want 1: not again after the reboot), armed %v, running %v; typed %q", n, armed, running, lines)
	}
}
