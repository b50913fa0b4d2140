package launcher

import (
	"fmt"

	"github.com/hashicorp/go-hclog"
	"github.com/kdlaunch/kdlaunch/plural"
)

// timer reacts to one of the session's timers firing.
func (s *stepper) timer(t Timer, backlog bool) {
	if !s.m.Timers[t] {
		return // stopped after it fired: nothing waits for it
	}
	s.m.Timers[t] = false
	switch t {
	case TimerSettle:
		s.settled()
	case TimerBreak:
		s.breakTimeout(backlog)
	case TimerLeave:
		if s.m.State == Running && s.m.Phase == PhaseStopping {
			// The target stayed running through the grace: leave it so.
			s.m.StoppedSafe = true
			s.leave()
		}
	case TimerRetry:
		s.retry()
	case TimerStop:
		s.note(hclog.Warn, fmt.Sprintf("kd did not leave within %s of CTRL+B ENTER: killing it", s.m.Timing.StopTimeout))
		s.do(Action{Kind: ActKill})
	}
}

// settled: the connection's settle time is over; break in to arm.
func (s *stepper) settled() {
	if s.m.State != Connected {
		return
	}
	if s.m.Halting {
		// "(Initial Breakpoint requested)": the target stops by itself once
		// kd has loaded what it needs; break only if no prompt comes.
		s.startTimer(TimerBreak, s.m.Timing.BreakTimeout)
		return
	}
	s.sendBreak()
}

// breakTimeout: no prompt came in time after a break or an announced halt.
func (s *stepper) breakTimeout(backlog bool) {
	if backlog && s.m.BacklogWaits < maxBacklogWaits {
		// kd's output is not all read yet (a burst of target output came
		// with the break): the answer may be in it, and a break sent now
		// would reach a halted target and halt it again after the next g.
		// Read on first.
		s.m.BacklogWaits++
		s.startTimer(TimerBreak, backlogWait)
		return
	}
	s.m.BacklogWaits = 0
	switch s.m.State {
	case Running, Connected:
		if s.m.BugCheck != nil {
			// A bug check stops the target by itself; a break now would
			// only be queued. Its prompt comes when kd has loaded symbols.
			s.note(hclog.Warn, "the target bug-checked but kd shows no prompt yet (loading symbols can take minutes); waiting for it")
			return
		}
		s.m.Halting = false // the halt it announced never came
		s.m.Halt = HaltNone
		s.sendBreak()
	case BreakingIn:
		s.breakUnanswered()
	}
}

func (s *stepper) sendBreak() {
	if !s.move(InBreakSent) {
		return
	}
	s.m.BreakAsked = true
	s.m.BreaksOut++
	s.m.Breaks++
	s.do(Action{Kind: ActBreak, Attempt: s.m.BreakTries})
	wait := s.m.Timing.BreakTimeout << min(s.m.BreakTries, 4)
	s.m.BreakTries++
	s.startTimer(TimerBreak, wait)
}

func (s *stepper) breakUnanswered() {
	if s.m.Halting {
		// kd said the break landed; only its prompt is late. Wait for it
		// rather than break a stopped target again.
		s.note(hclog.Warn, "kd reported the break-in but shows no prompt yet (loading symbols can take minutes); waiting for it")
		return
	}
	if s.m.BreakTries == s.m.Timing.BreakRetries {
		msg := fmt.Sprintf("kd has not answered %d break-ins: check the target is on and the cable or network, that the port/baud or key match the target's bcdedit /dbgsettings, and try CTRL+R ENTER (resync)", s.m.BreakTries)
		if s.m.Timing.GiveUpOnBreak {
			s.note(hclog.Error, msg+"; giving up")
			s.do(Action{Kind: ActKill})
			s.finish(Result{Outcome: OutcomeFailed, Err: fmt.Errorf("break-in not answered after %s", plural.N(int64(s.m.BreakTries), "try", "tries")), Armed: s.m.Armed})
			return
		}
		s.note(hclog.Warn, msg+"; still trying")
	}
	// BreakingIn accepts another break.
	s.sendBreak()
}
