package launcher

import (
	"fmt"

	"github.com/hashicorp/go-hclog"
	"github.com/kdlaunch/kdlaunch/script"
)

// Halts kdlaunch did not cause, and a kd that cannot start: what each is,
// told from kd's own lines, and what is done about it.

// startFailureLine: kd could not open its connection to the target ("Could
// not start kernel debugging using ... Win32 error 0n5", then its message).
// That is not a crash to restart: one line with the cause and what to check,
// and the run ends at once. ok is false for any other line.
func (s *stepper) startFailureLine(text string) bool {
	if f := s.m.StartFail; f != nil {
		// kd exits by itself after this; the end of its output (or the
		// next tick, if it stays) ends the run.
		if g, ok := f.WithMessage(text); ok {
			s.m.StartFail = &g
		}
		return true
	}
	if s.m.State != Starting && s.m.State != Waiting {
		return false
	}
	f, ok := script.ParseStartFailure(text)
	if ok {
		s.m.StartFail = &f // its message is on the next line
	}
	return ok
}

func (s *stepper) startFailed(kill bool) {
	err := &script.StartError{Failure: *s.m.StartFail}
	s.do(Action{Kind: ActTrace, Text: err.Error()})
	if kill {
		s.do(Action{Kind: ActKill})
	}
	s.finish(Result{Outcome: OutcomeFailed, Err: err})
}

// insertFailureLine: kd could not carry out the g just typed (it could not
// write a breakpoint into the target) and stays at its prompt.
func (s *stepper) insertFailureLine(text string) {
	if s.m.GoFail != nil || (s.m.State != Running && s.m.State != Halted) {
		return
	}
	if f, ok := script.ParseInsertFailure(text); ok {
		s.m.GoFail = &f
		s.m.Halting, s.m.Halt = true, HaltGoFailed
	}
}

// goFailed decides about a g kd could not carry out: try again after a
// while, a few times; then clear every breakpoint, resume the target with
// nothing armed, and end the run quoting kd. Never a g loop.
func (s *stepper) goFailed() {
	f := *s.m.GoFail
	s.m.GoFail = nil
	s.m.GoTries++
	if s.m.GoTries < maxGoTries {
		wait := goRetryWait << (s.m.GoTries - 1)
		s.note(hclog.Warn, fmt.Sprintf("kd could not resume the target (kd: %q): trying g again in %s", f.Line, wait))
		s.startTimer(TimerRetry, wait)
		return
	}
	s.fail(&GoFailedError{Err: &script.GoError{Failure: f, Tries: s.m.GoTries}})
}

// retry: the wait after a failed g is over; type it again.
func (s *stepper) retry() {
	if s.m.State != Halted || s.m.Flight != nil || s.m.BugCheck != nil || s.m.PersonHalt {
		return
	}
	s.m.Queue = append([]Command{{Text: "g", Purpose: PurposeResume}}, s.m.Queue...)
	s.dispatch()
}

// haltLine keeps kd's lines between a halt's break exception and its
// prompt: they tell a person's break (the break box) from a driver's int 3
// (where it stopped).
func (s *stepper) haltLine(text string) {
	if s.m.HaltLines != nil && len(s.m.HaltLines) < maxHaltLines {
		s.m.HaltLines = append(s.m.HaltLines[:len(s.m.HaltLines):len(s.m.HaltLines)], text)
	}
}

// classifyHalt, at the prompt of a halt nobody here asked for: a PoolHitTag
// hit, a person's break, a driver's int 3, or kd breaking in for a bug
// check.
func (s *stepper) classifyHalt() {
	lines := s.m.HaltLines
	s.m.HaltLines = nil
	if lines == nil || (s.m.Halt != HaltSelf && s.m.Halt != HaltOurBreak) {
		return
	}
	b := script.ClassifyBreak(lines, s.m.BugCheck != nil)
	if b.Kind == script.BreakIn || b.Kind == script.BreakPerson {
		if s.m.BreaksOut > 0 {
			// One of kdlaunch's breaks: answered now, or queued by kd while
			// the target was halted and landing after the g (the break box
			// is the same for both, and for a person's).
			s.m.BreaksOut--
			s.m.Halt = HaltOurBreak
			return
		}
	}
	if s.m.Halt != HaltSelf {
		return
	}
	switch b.Kind {
	case script.BreakBugCheck:
		s.m.Halt = HaltBugCheck
		return
	case script.BreakPerson:
		s.m.Halt, s.m.PersonHalt = HaltPerson, true
		return
	}
	if s.m.Plan.HitOnBreak && s.m.Armed && s.m.Phase == PhaseSupervising {
		s.m.HitBreak, s.m.Halt = true, HaltPoolHit
		s.hit()
		return
	}
	if b.Kind == script.BreakInt3 {
		s.m.Halt, s.m.Where = HaltInt3, b.Where
	}
}

// personHalt: someone broke in from the debugging server. Nothing is typed
// under their hands; said once; the hunt goes on when the target runs.
func (s *stepper) personHalt() {
	if s.m.Phase == PhaseStopping {
		if s.m.Failure == nil {
			s.m.Failure = &PersonHaltError{}
		}
		s.leave()
		return
	}
	if s.m.Halt == HaltPerson {
		s.m.Halt = HaltNone // said
		s.note(hclog.Warn, "someone broke into the target (kd shows the break box, and kdlaunch sent no break): it is left halted for them, and kdlaunch types nothing until it runs again")
	}
}

// runsAgain: a halted target's breakpoint hit, so someone else resumed it.
func (s *stepper) runsAgain() {
	if !s.m.PersonHalt {
		return
	}
	s.m.PersonHalt = false
	s.move(InRunsAgain)
	s.note(hclog.Info, "the target runs again (resumed from the debugging server): kdlaunch goes on")
}

// unexpectedHalt: the target halted on its own with nothing left to type:
// on_unexpected_halt decides, and the note says where it stopped.
func (s *stepper) unexpectedHalt() ([]Command, bool) {
	s.m.SelfHalts++
	where := ""
	if s.m.Where != "" {
		where = " at " + s.m.Where
		s.m.Where = ""
	}
	say := s.m.SelfHalts == 1 || s.m.SelfHalts%100 == 0
	if !s.m.Timing.ResumeOnHalt {
		if say {
			s.note(hclog.Warn, fmt.Sprintf("the target halted on its own%s (a driver's int 3, or a breakpoint without g; %d so far): left halted, as on_unexpected_halt = \"stay\" says", where, s.m.SelfHalts))
		}
		return nil, false
	}
	if say {
		s.note(hclog.Warn, fmt.Sprintf("the target halted on its own%s (a driver's int 3, or a breakpoint without g; %d so far): resuming it, since a halted server is frozen", where, s.m.SelfHalts))
	}
	return []Command{{Text: "g", Purpose: PurposeResume}}, true
}
