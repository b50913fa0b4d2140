package launcher

import (
	"time"

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
		rest, _ := s.expandArm()
		out = append(out, rest...)
	}
	return out
}
