package launcher

import (
	"time"

	"github.com/kdlaunch/kdlaunch/leaks/records"
	"github.com/kdlaunch/kdlaunch/script"
)

// Preview is what a session types at the first connection, in order, for
// --dry-run: the allocator probe, the live check, a breakpoint on each
// special-pool allocator (all of them here: which resolve is known only
// at the target), the plan's arm commands, bl, the readbacks, and the g.
// It is the arm queue expandArm builds, with the probe's answer assumed.
func Preview(p Plan) []Command {
	m := NewMachine(Rules{Plan: p}, Counters{}, time.Time{}, false)
	s := stepper{m: m}
	if p.ClearOnly {
		// A clearing session types its disarm queue at its first halt.
		return s.disarmQueue()
	}
	q := s.armQueue()
	var out []Command
	for _, c := range q {
		if c.Purpose != purposeArmSlot {
			out = append(out, c)
			continue
		}
		if p.Allocators {
			for _, f := range script.Families {
				s.m.Allocators = append(s.m.Allocators, Command{Text: script.AllocatorBreakpoint(f), Purpose: PurposeArm})
			}
		}
		if p.Leaks != nil {
			s.previewLeakTarget()
		}
		rest, _ := s.expandArm()
		out = append(out, rest...)
	}
	return out
}

// The leak recipe's preview is for an example target: x64, the legacy
// allocator (the probe and kd's connection line decide the real one), one
// return site found.
const previewSite = 0xfffff8021d61c3a5

func (s *stepper) previewLeakTarget() {
	s.m.Leak.Arch = records.ArchX64
	f := script.Families[0]
	s.m.Answers = Answers{"x " + f.Alloc: "fffff801`1e7a2b30 " + f.Alloc + " (<no parameter info>)"}
}

// PreviewLeakSite is what the leak strategy types, on Preview's example
// target, when an allocation through a new call site halts it (KDLK1 N):
// the site's return breakpoint, the entry breakpoint redefined, g. Nil for
// another strategy.
func PreviewLeakSite(p Plan) []Command {
	if p.Leaks == nil {
		return nil
	}
	s := stepper{m: NewMachine(Rules{Plan: p}, Counters{}, time.Time{}, false)}
	s.previewLeakTarget()
	if _, ok := s.expandLeaks(); !ok {
		return nil
	}
	s.m.Phase = PhaseSupervising
	s.m.Leak.NewSite, s.m.Leak.HasNewSite = previewSite, true
	return s.leakNewSite()
}

// PreviewStop is what the safe stop types once the target is halted: bc *,
// the plan's disarm commands, the leak strategy's !poolused, g.
func PreviewStop(p Plan) []Command {
	s := stepper{m: NewMachine(Rules{Plan: p}, Counters{}, time.Time{}, false)}
	s.m.Phase, s.m.Leak.Armed = PhaseStopping, true
	return s.disarmQueue()
}
