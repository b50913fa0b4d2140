package launcher

import (
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/kdlaunch/kdlaunch/script"
)

// Step is the session's one decision function: given what the session knows
// (m) and what just happened (ev), it returns what the session knows next
// and what it must do, in order. It does no I/O and reads no clock (ev.At is
// the time), so every decision is table-tested (step_test.go, rendered as
// docs/session-table.md).
func Step(m Machine, ev Event) (Machine, []Action) {
	s := stepper{m: m, now: ev.At}
	switch ev.Kind {
	case EvLine:
		s.line(ev.Line)
	case EvPrompt:
		s.prompt(ev.Prompts)
	case EvEOF:
		s.exited(ev.Tail)
	case EvTimer:
		s.timer(ev.Timer, ev.Backlog)
	case EvStop:
		s.requestStop(ev.Why)
	case EvCancel:
		s.note(hclog.Warn, "stopping at once: kd is killed; the target may be left halted with breakpoints armed")
		s.do(Action{Kind: ActKill})
		s.finish(Result{Outcome: OutcomeAborted, Armed: s.m.Armed})
	case EvTick:
		s.tick()
	}
	return s.m, s.acts
}

// stepper is one Step in progress: the machine being changed and the
// actions asked for so far.
type stepper struct {
	m    Machine
	now  time.Time
	acts []Action
}

func (s *stepper) do(a Action) { s.acts = append(s.acts, a) }

func (s *stepper) note(level hclog.Level, msg string) {
	s.do(Action{Kind: ActNote, Level: level, Text: msg})
}

func (s *stepper) startTimer(t Timer, d time.Duration) {
	s.m.Timers[t] = true
	s.do(Action{Kind: ActStartTimer, Timer: t, D: d})
}

// stopTimer stops t if it runs; a timer that is not running needs no action.
func (s *stepper) stopTimer(t Timer) {
	if s.m.Timers[t] {
		s.m.Timers[t] = false
		s.do(Action{Kind: ActStopTimer, Timer: t})
	}
}

func (s *stepper) finish(r Result) {
	for t := range numTimers {
		s.stopTimer(t)
	}
	s.do(Action{Kind: ActFinish, Result: r})
}

// move applies an input to kd's state; a refused one changes nothing and
// is reported false, so the caller does not do it.
func (s *stepper) move(in Input) bool {
	next, err := Next(s.m.State, in)
	if err != nil {
		return false
	}
	if next != s.m.State {
		s.do(Action{Kind: ActTrace, State: next, Text: fmt.Sprintf("state %s -> %s (%s)", s.m.State, next, in)})
		s.m.State = next
		s.m.Since = s.now
	}
	return true
}

// exited: kd's output ended. A stop that left nothing armed is the end kdlaunch
// asked for; anything else is kd ending by itself (the supervisor decides
// whether to start another).
func (s *stepper) exited(tail []string) {
	s.move(InExit)
	if s.m.StartFail != nil {
		s.startFailed(false)
		return
	}
	if s.m.Failure != nil {
		s.finish(Result{Outcome: OutcomeFailed, Tail: tail, Err: s.m.Failure, Armed: s.m.Armed})
		return
	}
	if s.m.Phase == PhaseStopping && !s.m.Armed {
		s.finish(Result{Outcome: OutcomeStopped, Tail: tail})
		return
	}
	s.finish(Result{Outcome: OutcomeKDExited, Tail: tail, Armed: s.m.Armed})
}

// line reacts to one classified line of kd's output.
func (s *stepper) line(l Line) {
	if s.m.Flight != nil {
		f := *s.m.Flight
		f.Prompts += l.Prompts
		switch {
		case script.IsMarker(l.Text, f.Marker):
			f.Seen = true
		case strings.Contains(l.Text, f.Marker):
			// A kd without .echo complains about the marker command: that
			// is not the command's answer.
		case len(f.Out) < maxAnswerLines:
			f.Out = append(f.Out[:len(f.Out):len(f.Out)], script.StripPrompt(l.Text))
		}
		s.m.Flight = &f
	}
	if s.startFailureLine(l.Text) {
		return
	}
	s.bugCheckLine(l.Text)
	s.insertFailureLine(l.Text)
	s.haltLine(l.Text)
	if s.leaking() {
		s.leakLine(l)
	}
	switch l.Class {
	case script.Waiting:
		switch s.m.State {
		case Connected, BreakingIn, Halted, Running:
			// kd waits for a target it had: the connection broke (a reset
			// button, a crash without the shutdown text). Like a reboot,
			// that loses kd's breakpoints ("Reboot and shutdown" in
			// docs/kd-protocol.md), and kd drops the command it was
			// running: its prompt and marker never come, so keeping it in
			// flight would leave the target halted at the next prompt with
			// nothing typed.
			s.targetGone("kd lost the target (reset or crash) and waits for it to reconnect: kd has lost its breakpoints")
			return
		case Waiting:
		default:
			s.note(hclog.Info, "waiting for the target to connect (reboot it now if it is not on its way)")
		}
		s.move(InWaiting)
		s.m.WaitedSince = s.now
	case script.Connected, script.Established:
		st := s.m.State
		if script.InitialBreakRequested(l.Text) && (st == Starting || st == Waiting || st == Running || st == Connected) {
			// The target will halt by itself: a break of ours on top would
			// be queued by kd and halt the target again after the next g.
			// Known before connected() runs, so a stop does not leave kd
			// just as the target halts (it would stay halted, frozen).
			s.m.Halting = true
			s.m.Halt = HaltInitial
		}
		if st == Starting || st == Waiting || st == Running {
			s.connected()
		}
	case script.Shutdown:
		s.targetGone("the target is rebooting: kd has lost its breakpoints")
	case script.BreakpointHit:
		s.runsAgain()
		s.m.BreaksOut = 0 // the target ran: a break kd had queued has landed by now
		s.hit()
	case script.BreakException:
		// The target is stopped even if the prompt is slow to come (kd
		// loads nt's symbols to show where it stopped, which on the first
		// break can take minutes). Another break now would be queued and
		// halt the target right after the next g, possibly the last one
		// before kdlaunch leaves.
		s.m.Halting = true
		switch {
		case s.m.BugCheck != nil:
			s.m.Halt = HaltBugCheck
		case s.m.BreakAsked:
			s.m.Halt = HaltOurBreak
			s.m.HaltLines = []string{l.Text}
		case s.m.Halt == HaltInitial:
			// The initial breakpoint the connection announced (kd shows the
			// break box for it too): expected, not someone else's.
		case s.m.Plan.ClearOnly && s.m.Seq == 0 && s.m.BreaksOut == 0:
			// A clearing session that has sent nothing: the target was
			// halted when kd attached (a killed kdlaunch, a second Ctrl+C,
			// a PoolHitTag break with no debugger), whatever box kd shows.
			s.m.Halt = HaltFound
		default:
			// The target stopped by itself (a PoolHitTag hit, a person's
			// break, a driver's int 3): a prompt follows, and a break now
			// would reach a halted target. What it is shows by the prompt
			// (classifyHalt), from the lines kd prints until then.
			s.m.Halt = HaltSelf
			s.m.HaltLines = []string{l.Text}
		}
	case script.TransportLost:
		s.m.Lost = true
		s.note(hclog.Warn, "kd reports the transport to the target lost: check the cable or network; kd keeps trying (CTRL+R ENTER resyncs)")
	case script.Resync:
		if s.m.Lost {
			s.note(hclog.Info, "kd refreshed the connection to the target")
		}
		s.m.Lost = false
	}
}

// targetGone: the target left the line (reboot, reset). kd has lost its
// breakpoints and forgets any command or break in flight. A hunt re-arms at
// the reconnection; a stop has nothing left to clear, so it leaves at once
// instead of waiting for a target that may take minutes to boot (or never
// come back).
func (s *stepper) targetGone(why string) {
	if s.m.State == Stopping || s.m.State == Exited {
		return // already leaving: CTRL+B ENTER is sent
	}
	s.m.Armed = false
	s.m.Leak.Rebooted, s.m.Leak.HasNewSite = s.m.Leak.Armed, false
	s.m.Queue, s.m.Flight = nil, nil
	s.m.BreakAsked, s.m.Halting, s.m.HitBreak = false, false, false
	s.m.Halt, s.m.HaltLines, s.m.GoFail, s.m.PersonHalt = HaltNone, nil, nil, false
	s.m.BreaksOut = 0 // kd forgets a break it had queued
	s.stopTimer(TimerBreak)
	s.stopTimer(TimerSettle)
	s.stopTimer(TimerLeave)
	s.stopTimer(TimerRetry)
	s.move(InShutdown)
	s.m.WaitedSince = s.now
	if s.m.Phase == PhaseStopping {
		s.note(hclog.Info, why+"; nothing is left armed, so kdlaunch leaves kd now")
		s.m.StoppedSafe = true
		s.leave()
		return
	}
	if s.m.Plan.ClearOnly {
		s.note(hclog.Info, why+"; a reboot also resets nt!PoolHitTag, and what is left is cleared when it reconnects")
		return
	}
	s.note(hclog.Info, why+"; they will be armed again when it reconnects")
}

func (s *stepper) connected() {
	s.m.Lost = false
	if s.m.State == Running {
		s.m.Reconnects++
	}
	s.move(InConnected)
	if s.m.Plan.ClearOnly {
		// kdlaunch disarm: whatever an earlier session left counts as
		// armed until it is cleared (nt!PoolHitTag is target memory, which
		// a new kd attaching does not reset). Like the arming, it waits
		// out the settle first: a target left halted shows its prompt at
		// once, and a break must never reach a halted target.
		s.m.Phase, s.m.Armed = PhaseStopping, true
		if s.m.BugCheck == nil {
			s.note(hclog.Info, "target connected: clearing what an earlier session may have left armed")
			s.m.Queue = s.disarmQueue()
			s.startTimer(TimerSettle, s.m.Timing.Settle)
			return
		}
	}
	if s.m.BugCheck != nil {
		// The target crashed as it booted: its bug check came with the
		// connection. Nothing is armed; its prompt brings kb and !analyze.
		s.note(hclog.Info, "target connected, stopped in a bug check")
		s.startTimer(TimerSettle, s.m.Timing.Settle)
		return
	}
	if s.m.Phase == PhaseStopping {
		if s.m.Armed || s.m.Halting {
			// Armed: clear it. Halting (initial breakpoint requested):
			// resume it, or kd would leave a frozen target.
			s.m.Queue = s.disarmQueue()
			s.startDisarm()
		} else {
			// A new kd attaching cleared whatever an earlier one left
			// armed ("Leaving kd: CTRL+B ENTER" in docs/kd-protocol.md),
			// and the target runs.
			s.m.StoppedSafe = true
			s.leave()
		}
		return
	}
	if s.m.Braked {
		// The rate brake cleared the breakpoint for good: a reboot (which
		// cleared kd's breakpoints anyway) must not bring it back, or the
		// hits that tripped the brake would halt the server again.
		s.note(hclog.Info, "target connected; the hit-rate brake is on, so the breakpoint stays cleared")
		s.m.Phase = PhaseSupervising
		if s.m.Halting {
			s.m.Queue = []Command{{Text: "g", Purpose: PurposeResume}}
			s.startTimer(TimerBreak, s.m.Timing.BreakTimeout)
		}
		return
	}
	s.note(hclog.Info, "target connected")
	s.m.Phase = PhaseArming
	s.m.Queue = s.armQueue()
	s.startTimer(TimerSettle, s.m.Timing.Settle)
}

func (s *stepper) hit() {
	s.m.GoTries = 0 // the target ran: an earlier g went through
	s.m.Hits++
	s.m.HitTimes = append(trimHits(s.m.HitTimes, s.now, s.m.rateWindow()), s.now)
	if s.m.Phase != PhaseSupervising {
		return
	}
	lim := s.m.Limits
	if lim.MaxHits > 0 && s.m.Hits >= lim.MaxHits {
		s.requestStop(fmt.Sprintf("reached --max-hits %d", lim.MaxHits))
		return
	}
	if lim.MaxRate > 0 && lim.RateWindow > 0 && s.now.Sub(s.m.Started) >= time.Second {
		if r := hitRate(s.m.HitTimes, s.m.Started, s.now, lim.RateWindow); r > lim.MaxRate {
			s.note(hclog.Warn, fmt.Sprintf("hit rate %.1f/s is above max_rate %.1f/s: every hit halts the target, so the breakpoint is cleared and the target resumed; the hunt continues without it", r, lim.MaxRate))
			s.m.Phase = PhaseDisarming
			s.m.Braked = true
			s.m.Queue = s.disarmQueue()
			s.startDisarm()
		}
	}
}

// tick: once a second, the slow checks: a command that takes long, a target
// that does not connect.
func (s *stepper) tick() {
	now, t := s.now, s.m.Timing
	if s.m.StartFail != nil {
		s.startFailed(true) // kd said it cannot start but has not exited
		return
	}
	if f := s.m.Flight; f != nil && !f.Warned && t.CommandTimeout > 0 && now.Sub(f.Sent) > t.CommandTimeout {
		g := *f
		g.Warned = true
		s.m.Flight = &g
		s.note(hclog.Warn, fmt.Sprintf("kd has not finished %q after %s (loading symbols can take minutes); still waiting", f.Cmd.Text, t.CommandTimeout))
	}
	waiting := (s.m.State == Waiting || s.m.State == Starting) && s.m.Phase != PhaseStopping
	if waiting && t.ConnectTimeout > 0 && now.Sub(s.m.WaitedSince) > t.ConnectTimeout {
		// The error is what kdlaunch prints last, on stderr: one line with
		// the hint, not a log line repeating it.
		err := fmt.Errorf("the target did not connect within %s: check that it is on, that bcdedit /debug is on and its /dbgsettings match the connection", t.ConnectTimeout)
		s.do(Action{Kind: ActTrace, Text: err.Error()})
		s.do(Action{Kind: ActKill})
		s.finish(Result{Outcome: OutcomeFailed, Err: err})
		return
	}
	if waiting && now.Sub(s.m.WaitedSince) >= waitNoteEvery && now.Sub(s.m.WaitNoted) >= waitNoteEvery {
		// Without a status line (output to a file or pipe) this is the only
		// sign of life while the target reboots.
		s.m.WaitNoted = now
		s.note(hclog.Info, fmt.Sprintf("still waiting for the target after %s", now.Sub(s.m.WaitedSince).Truncate(time.Second)))
	}
}
