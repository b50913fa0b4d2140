package launcher

import (
	"fmt"

	"github.com/hashicorp/go-hclog"
	"github.com/kdlaunch/kdlaunch/script"
)

// requestStop starts the safe stop from whatever state kd is in.
func (s *stepper) requestStop(why string) {
	if s.m.Phase == PhaseStopping {
		return
	}
	s.m.Phase = PhaseStopping
	s.stopTimer(TimerSettle)
	s.stopTimer(TimerRetry)
	if s.m.PersonHalt && s.m.State != Halted {
		s.m.PersonHalt = false // it is no longer halted: their break is over
	}
	if s.m.BugCheck != nil || s.m.PersonHalt {
		// Nothing is typed into a bug check but its kb, !analyze -v and
		// bc *, and nothing at all into a person's break: they are left
		// halted.
		by := "someone at kd's debugging server"
		if s.m.BugCheck != nil {
			by = "a bug check"
		}
		s.note(hclog.Info, why+": the target is held halted by "+by+"; kdlaunch leaves it halted and resumes nothing")
		s.dispatch()
		return
	}
	s.note(hclog.Info, why+": stopping safely (break in, bc *, g, leave kd with the target running)")
	if !s.m.Armed && !s.m.Halting && s.m.Flight == nil && s.m.State != Halted && s.m.State != BreakingIn {
		// Nothing armed and the target not halted (nor about to halt): it
		// is left as it was, and that is a safe stop too.
		s.m.StoppedSafe = true
		s.leave()
		return
	}
	s.m.Queue = s.disarmQueue()
	s.startDisarm()
}

// startDisarm gets the target to a prompt for the disarm queue: at once if
// it is halted, by a break if it runs.
func (s *stepper) startDisarm() {
	switch s.m.State {
	case Halted:
		if s.m.Flight == nil {
			s.dispatch()
		}
	case Running, Connected:
		if s.m.Halting {
			// The prompt is coming by itself; break only if it does not.
			s.startTimer(TimerBreak, s.m.Timing.BreakTimeout)
			return
		}
		s.sendBreak()
	}
}

// awaitLeave follows the stop's g (state Running). If the target halts
// again within the grace, the prompt makes dispatch send bc * and g once
// more; if it stays quiet, the leave timer sends CTRL+B ENTER.
func (s *stepper) awaitLeave() {
	s.m.StopResumes++
	grace := s.m.Timing.LeaveGrace
	if grace <= 0 {
		grace = DefaultLeaveGrace
	}
	if s.m.StopResumes > maxStopResumes {
		s.note(hclog.Warn, fmt.Sprintf("the target halted again after each of %d resumes: leaving kd anyway; it may be halted now", maxStopResumes))
		s.leave()
		return
	}
	if s.m.StopResumes > 1 {
		s.note(hclog.Info, "the target halted again right after g (a break kd had queued): resumed it again")
	}
	s.startTimer(TimerLeave, grace)
}

// leave sends CTRL+B ENTER and gives kd StopTimeout to go.
func (s *stepper) leave() {
	if !s.move(InLeaveSent) {
		return
	}
	s.do(Action{Kind: ActLeave})
	s.startTimer(TimerStop, s.m.Timing.StopTimeout)
}

func (s *stepper) disarmQueue() []Command {
	// bc * answers a new-site halt too: no return site is added after it.
	s.m.Leak.HasNewSite = false
	var q []Command
	if s.m.Plan.ClearOnly {
		q = withPurpose(s.m.Plan.Survey, PurposeSurvey)
	}
	q = append(q, Command{Text: "bc *", Purpose: PurposeDisarm})
	q = append(q, withPurpose(s.m.Plan.Disarm, PurposeDisarm)...)
	q = append(q, s.crossCheck()...)
	return append(q, Command{Text: "g", Purpose: PurposeResume})
}

// armQueue is what is typed at the first prompt after a connection: the
// allocator probe and the live check once per run, then the arm slot
// (expandArm: the breakpoints, bl, the readbacks, and a resume).
func (s *stepper) armQueue() []Command {
	s.m.Answers, s.m.ArmedBPs = nil, nil
	var q []Command
	if s.m.Plan.Allocators && s.m.Allocators == nil && s.m.Leak.Recipes == nil {
		for _, c := range script.ProbeCommands() {
			q = append(q, Command{Text: c, Purpose: PurposeProbe})
		}
	}
	if !s.m.Checked {
		q = append(q, withPurpose(s.m.Plan.Check, PurposeCheck)...)
		s.m.Checked = true
	}
	// The rest depends on the probe's answers: expandArm fills it in.
	return append(q, Command{Purpose: purposeArmSlot})
}

func withPurpose(cmds []Command, p Purpose) []Command {
	out := make([]Command, len(cmds))
	for i, c := range cmds {
		c.Purpose = p
		out[i] = c
	}
	return out
}
