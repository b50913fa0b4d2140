package launcher

import (
	"github.com/hashicorp/go-hclog"
	"github.com/kdlaunch/kdlaunch/script"
)

// prompt: kd shows n prompts and waits. The target is halted; the command in
// flight may be finished; the next one is typed.
func (s *stepper) prompt(n int) {
	s.move(InPrompt)
	s.m.BacklogWaits = 0
	s.m.BreakAsked, s.m.Halting = false, false
	s.m.BreakTries = 0
	s.stopTimer(TimerBreak)
	s.stopTimer(TimerSettle)
	if f := s.m.Flight; f != nil {
		if !f.Seen && f.Prompts+n < 2 {
			g := *f
			g.Prompts += n
			s.m.Flight = &g
			return
		}
		s.m.Flight = nil
		s.answered(f.Cmd, f.Out)
	} else if s.m.Plan.ClearOnly && s.m.Seq == 0 && s.m.BreaksOut == 0 && s.m.Phase == PhaseStopping &&
		s.m.BugCheck == nil && s.m.Halt != HaltInitial {
		// No break sent and nothing typed: kd found the target halted.
		s.m.Halt, s.m.HaltLines = HaltFound, nil
		s.note(hclog.Info, "the target is halted with no break sent (an earlier session left it halted, or its PoolHitTag stopped it): clearing it")
	}
	s.classifyHalt()
	s.dispatch()
}

// dispatch types the next queued command at a prompt, or decides what to do
// with a target halted with nothing left to type.
func (s *stepper) dispatch() {
	if s.m.State != Halted || s.m.Flight != nil {
		return
	}
	if s.m.PersonHalt {
		s.personHalt() // nothing is typed under their hands, queued or not
		return
	}
	for len(s.m.Queue) > 0 && s.m.Queue[0].Purpose == purposeArmSlot {
		rest := s.m.Queue[1:]
		s.m.Queue = rest
		q, ok := s.expandArm()
		if !ok {
			return // the run fails: fail() has queued and typed what it needs
		}
		s.m.Queue = append(q, rest...)
	}
	if len(s.m.Queue) == 0 {
		q, ok := s.idle()
		if !ok {
			return
		}
		s.m.Queue = q
	}
	c := s.m.Queue[0]
	s.m.Queue = s.m.Queue[1:]
	if script.Resumes(c.Text) {
		s.resume(c)
		return
	}
	if !s.move(InCommandSent) {
		return
	}
	s.m.Seq++
	marker := script.Marker(s.m.Nonce, s.m.Seq)
	s.m.Flight = &InFlight{Cmd: c, Marker: marker, Sent: s.now}
	if s.m.Phase == PhaseArming && c.Purpose == PurposeArm {
		s.m.Armed = true
	}
	s.do(Action{Kind: ActWrite, Cmd: c, Marker: script.MarkerCommand(s.m.Nonce, s.m.Seq)})
}

// idle decides what to type at a prompt with nothing queued: the answer to
// "why is the target halted, and what now?". The order matters: a bug check
// and a person's break are never resumed, and a g kd could not carry out is
// never simply typed again.
func (s *stepper) idle() ([]Command, bool) {
	switch {
	case s.m.BugCheck != nil:
		return s.afterBugCheck()
	case s.m.PersonHalt:
		s.personHalt()
		return nil, false
	case s.m.Phase == PhaseStopping:
		return s.disarmQueue(), true
	case s.m.GoFail != nil:
		s.goFailed()
		return nil, false
	case s.m.Leak.HasNewSite && s.m.Phase == PhaseSupervising && s.m.Armed:
		return s.leakNewSite(), s.m.Failure == nil
	case s.m.HitBreak:
		s.m.HitBreak = false
		return []Command{{Text: "kb", Purpose: PurposeStack}, {Text: "g", Purpose: PurposeResume}}, true
	case s.m.Phase == PhaseArming && !s.m.Armed:
		// A prompt before any connection line: some kd builds and kd-like
		// tools print none. A prompt proves the target is there.
		s.note(hclog.Info, "kd is at a prompt: the target is connected and halted")
		if s.m.Plan.ClearOnly {
			s.m.Phase, s.m.Armed = PhaseStopping, true
			s.m.Queue = s.disarmQueue()
			s.dispatch()
			return nil, false
		}
		s.m.Queue = s.armQueue()
		s.dispatch()
		return nil, false
	case s.m.Phase == PhaseSupervising && !s.m.Timers[TimerRetry]:
		return s.unexpectedHalt()
	}
	return nil, false
}

// resume types g (or another resume): the target runs, and what that means
// depends on the phase.
func (s *stepper) resume(c Command) {
	s.do(Action{Kind: ActWrite, Cmd: c})
	s.move(InResumeSent)
	s.m.Halt = HaltNone
	switch s.m.Phase {
	case PhaseArming:
		s.m.Phase = PhaseSupervising
		s.note(hclog.Info, s.armedNote())
	case PhaseDisarming:
		s.m.Phase = PhaseSupervising
		s.m.Armed = false
	case PhaseStopping:
		s.m.Armed = false
		s.awaitLeave()
	}
}
