package launcher

import (
	"maps"
	"slices"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/kdlaunch/kdlaunch/script"
)

// What kd's answers decide: the allocator probe, every bp/bu answer and bl
// before anything says armed, a bug check in any state, a start failure, a
// g kd cannot carry out, and what a halt nobody asked for is. kd's text is
// recognised by script; this file is what the session does about it.

// answered: kd finished cmd with out. Its answer is kept for the commands
// that judge several answers together (the probe, the readbacks), and a
// breakpoint kd did not place, or one bl does not confirm, ends the arming.
func (s *stepper) answered(cmd Command, out []string) {
	text := strings.Join(out, "\n")
	a := make(Answers, len(s.m.Answers)+1)
	maps.Copy(a, s.m.Answers)
	a[cmd.Text] = text
	s.m.Answers = a
	switch cmd.Purpose {
	case PurposeArm:
		if _, ok := script.BreakpointExpr(cmd.Text); ok {
			if err := script.ParseBreakpointAnswer(text).Err(cmd.Text); err != nil {
				s.fail(err)
				return
			}
			if s.m.Phase == PhaseArming {
				s.m.ArmedBPs = append(slices.Clip(s.m.ArmedBPs), cmd.Text)
			}
		}
	case PurposeReturnSite:
		s.returnSiteAnswered(cmd.Text, text)
	case PurposeCrossCheck:
		s.m.PoolUsed = text
	case PurposeSurvey:
		if _, ok := s.m.Surveyed[cmd.Text]; !ok {
			// The first answer is what the earlier session left; a survey
			// repeated after a queued break finds it cleared.
			sv := make(Answers, len(s.m.Surveyed)+1)
			maps.Copy(sv, s.m.Surveyed)
			sv[cmd.Text] = text
			s.m.Surveyed = sv
		}
	case PurposeVerify:
		if cmd.Text == "bl" {
			if err := script.CheckBL(script.ParseBL(text), s.m.ArmedBPs); err != nil {
				s.fail(err)
				return
			}
		}
	}
	if cmd.Judge != nil {
		warnings, err := cmd.Judge(s.m.Answers)
		for _, w := range warnings {
			s.note(hclog.Warn, w)
		}
		if err != nil {
			s.fail(err)
		}
	}
}

// expandArm is what the arm slot becomes once the probe has answered: a
// breakpoint on every special-pool allocator the kernel has, the plan's own
// arm commands, bl to confirm every breakpoint, the plan's readbacks, and
// the g that starts the hunt. ok is false when the run fails instead.
func (s *stepper) expandArm() (q []Command, ok bool) {
	if s.leaking() {
		return s.expandLeaks()
	}
	if s.m.Plan.Allocators {
		if s.m.Allocators == nil {
			fams, err := script.CheckAllocators(script.ProbeFamilies(s.m.Answers))
			if err != nil {
				s.fail(err)
				return nil, false
			}
			var names []string
			for _, p := range fams {
				s.m.Allocators = append(s.m.Allocators, Command{Text: script.AllocatorBreakpoint(p.Family), Purpose: PurposeArm})
				names = append(names, p.Family.Alloc)
			}
			s.note(hclog.Info, "the target's kernel allocates special pool through "+strings.Join(names, " and ")+": arming it")
		}
		q = append(q, s.m.Allocators...)
	}
	q = append(q, withPurpose(s.m.Plan.Arm, PurposeArm)...)
	// The plan may end with its own resume: the checks go before it.
	resume := Command{Text: "g", Purpose: PurposeResume}
	if n := len(q); n > 0 && script.Resumes(q[n-1].Text) {
		resume, q = q[n-1], q[:n-1]
		resume.Purpose = PurposeResume
	}
	if slices.ContainsFunc(q, isBreakpoint) {
		q = append(q, Command{Text: "bl", Purpose: PurposeVerify})
	}
	q = append(q, withPurpose(s.m.Plan.Verify, PurposeVerify)...)
	return append(q, resume), true
}

func isBreakpoint(c Command) bool {
	_, ok := script.BreakpointExpr(c.Text)
	return ok
}

// armedNote is what the arming's g says: what is armed, as kd confirmed it.
func (s *stepper) armedNote() string {
	if s.leaking() {
		return s.leakArmedNote()
	}
	if len(s.m.ArmedBPs) == 0 {
		if len(s.m.Plan.Verify) > 0 {
			return "armed and read back, target running"
		}
		return "armed, target running"
	}
	var exprs []string
	for _, c := range s.m.ArmedBPs {
		e, _ := script.BreakpointExpr(c)
		exprs = append(exprs, e)
	}
	return "breakpoint armed on " + strings.Join(exprs, ", ") + " (kd placed it and bl lists it enabled), target running"
}

// fail ends the run with err once the target is safe: every breakpoint
// cleared and the target resumed (never into a bug check or a person's
// break, which are left halted). The error is the run's last line.
func (s *stepper) fail(err error) {
	if s.m.Failure != nil {
		return
	}
	s.m.Failure = err
	s.do(Action{Kind: ActTrace, Text: "ending the run: " + err.Error()})
	s.stopTimer(TimerSettle)
	s.stopTimer(TimerRetry)
	if s.m.Phase == PhaseStopping && len(s.m.Queue) > 0 {
		// Already clearing (a clearing session's readback): the rest of
		// the stop's queue clears and resumes; typing it all again would
		// change nothing.
		return
	}
	s.m.Phase = PhaseStopping
	if s.m.BugCheck != nil || s.m.PersonHalt {
		s.dispatch()
		return
	}
	s.m.Queue = s.disarmQueue()
	s.startDisarm()
}

// bugCheckLine feeds one line to the bug check recogniser. A bug check is
// recognised in every state: the target is stopped in it, so the queue is
// replaced by kb and !analyze -v, and nothing resumes it unless
// on_bugcheck = "continue".
func (s *stepper) bugCheckLine(text string) {
	ev := s.m.BugRec.Line(text)
	if !s.m.BugRec.Active() {
		s.m.BugCheck, s.m.BugContinued = nil, false // the target rebooted after its dump
		return
	}
	if ev == script.BugCheckNone {
		return
	}
	bc, _ := s.m.BugRec.Current()
	first := s.m.BugCheck == nil
	s.m.BugCheck = &bc
	if !first {
		return
	}
	s.do(Action{Kind: ActTrace, Text: "bug check " + bc.CodeString()})
	s.m.Halting, s.m.Halt, s.m.HitBreak = true, HaltBugCheck, false
	s.m.GoFail = nil
	s.stopTimer(TimerLeave) // the stop waits for the bug check's prompt, not to leave
	s.stopTimer(TimerRetry)
	var q []Command
	for _, c := range script.BugCheckCommands {
		q = append(q, Command{Text: c, Purpose: PurposeBugCheck})
	}
	s.m.Queue = q
}

// afterBugCheck: kb and !analyze -v are in the log. By default the
// breakpoints are cleared (bc *), the target is left halted for the person
// and the run ends; on_bugcheck = "continue"
// resumes it (the target writes its dump and reboots) and the hunt arms
// again after the reboot. The stop never resumes a bug check.
func (s *stepper) afterBugCheck() ([]Command, bool) {
	bc := *s.m.BugCheck
	e := &BugCheckError{BugCheck: bc}
	if s.m.Plan.ClearOnly && s.m.Phase != PhaseStopping {
		// A clearing session never resumes a bug check; it clears what it
		// can and leaves it halted.
		s.m.Phase, s.m.Armed = PhaseStopping, true
	}
	if s.m.Timing.ContinueBugCheck && s.m.Phase != PhaseStopping && s.m.Failure == nil && !s.m.BugContinued {
		s.note(hclog.Warn, strings.Replace(e.Error(), "and the target is left halted: ", "and on_bugcheck = \"continue\": resuming it (it writes its dump and reboots), then arming again; ", 1))
		s.m.Phase = PhaseSupervising
		s.m.BugContinued = true
		return []Command{{Text: "g", Purpose: PurposeResume}}, true
	}
	if s.m.Failure == nil {
		s.m.Failure = e
	}
	s.m.Phase = PhaseStopping
	if s.m.Armed {
		// bc * and the plan's disarm commands (ed nt!PoolHitTag 0) resume
		// nothing: the person finds the crash as it was, and nothing of the
		// hunt is left armed.
		s.m.Armed = false
		q := s.disarmQueue()
		return q[:len(q)-1], true // without its g
	}
	s.leave()
	return nil, false
}
