package launcher

import (
	"testing"
	"time"
)

// FuzzStep drives Step with any sequence of events from any start and
// checks the rules that must hold after every one: nothing typed unless kd
// is at a prompt, no break to a halted or unconnected target, nothing at all
// after the session finished, at most one command in flight, no g into a
// bug check (unless on_bugcheck = "continue"), nothing typed into a
// person's break, and a timer event for a timer not running changes nothing.
func FuzzStep(f *testing.F) {
	f.Add([]byte{0, 2, 16, 10, 10, 5, 12})
	f.Add([]byte{1, 3, 16, 10, 6, 10, 11, 18, 10})
	f.Add([]byte{2, 16, 6, 10, 4, 1, 16, 10, 10, 5, 6, 10, 11})
	f.Add([]byte{2, 2, 1, 16, 10, 10, 10, 10, 10, 10, 10, 28, 10, 29, 10, 10, 12, 10, 10})
	f.Fuzz(func(t *testing.T, seq []byte) {
		if len(seq) > 200 {
			seq = seq[:200]
		}
		m := NewMachine(tableRules, Counters{Started: t0}, t0, false)
		m.Plan.HitOnBreak = len(seq) > 0 && seq[0]%2 == 1
		m.Plan.Allocators = len(seq) > 0 && seq[0]%4 >= 2
		m.Timing.ContinueBugCheck = len(seq) > 1 && seq[1]%2 == 1
		if len(seq) > 1 && seq[1]%4 >= 2 {
			if len(seq) > 2 && seq[2]%2 == 1 {
				clearing(&m)
			} else {
				leaking(&m) // the leak strategy: new-site halts, return sites, the stop's !poolused
			}
		}
		now := t0
		done := false
		cleared := false // a clearing session typed bc * and the PoolHitTag write since the target last (re)connected
		for i, b := range seq {
			ev := allEvents[int(b)%len(allEvents)]
			now = now.Add(time.Duration(b) * 100 * time.Millisecond)
			ev.At = now
			if ev.Kind == EvTimer && !m.Timers[ev.Timer] {
				next, acts := Step(m, ev)
				if len(acts) != 0 || describe(next) != describe(m) {
					t.Fatalf("event %d: %s with the timer stopped did %q", i, ev, render(acts))
				}
				continue
			}
			st := m.State
			next, acts := Step(m, ev)
			for _, a := range acts {
				if done {
					t.Fatalf("event %d: %s after the session finished", i, a)
				}
				switch a.Kind {
				case ActTrace:
					if a.State != st && a.Text != "" && a.Text[:6] == "state " {
						st = a.State
						if st == Waiting || st == Connected {
							cleared = false
						}
					}
				case ActWrite:
					if st != Halted {
						t.Fatalf("event %d (%s): typed %q while %s", i, ev, a.Cmd.Text, st)
					}
					if m.BugCheck != nil && !m.Timing.ContinueBugCheck && a.Cmd.Purpose == PurposeResume {
						t.Fatalf("event %d (%s): g typed into a bug check", i, ev)
					}
					if m.PersonHalt && next.PersonHalt {
						t.Fatalf("event %d (%s): typed %q into a person's break", i, ev, a.Cmd.Text)
					}
					if m.Plan.ClearOnly {
						switch {
						case a.Cmd.Purpose == PurposeArm || a.Cmd.Purpose == PurposeProbe:
							t.Fatalf("event %d (%s): a clearing session typed %q (%s)", i, ev, a.Cmd.Text, a.Cmd.Purpose)
						case a.Cmd.Text == edHitTag:
							cleared = true
						case a.Cmd.Purpose == PurposeResume && !cleared:
							t.Fatalf("event %d (%s): a clearing session resumed the target before clearing PoolHitTag", i, ev)
						}
					}
				case ActBreak:
					if st != Connected && st != Running && st != BreakingIn {
						t.Fatalf("event %d (%s): break while %s", i, ev, st)
					}
				case ActFinish:
					done = true
				}
			}
			if next.Flight != nil && next.State != Halted && next.State != Stopping && next.State != Exited {
				t.Fatalf("event %d (%s): %q in flight while %s", i, ev, next.Flight.Cmd.Text, next.State)
			}
			if done {
				return
			}
			m = next
		}
	})
}
