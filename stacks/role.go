package stacks

import "github.com/kdlaunch/kdlaunch/script"

// Role is what a stack is the stack of.
type Role int

// Roles of a stack.
const (
	// RoleAllocation: an allocation (the allocator at the top), or a stack
	// with no pool routine at the top at all (a --command breakpoint of
	// the user's), which is counted as before.
	RoleAllocation Role = iota
	// RoleFree: a free routine at the top (PoolHitTag breaks on frees
	// too, and so does a breakpoint on a special-pool free routine).
	RoleFree
	// RoleBugCheck: the stack of a crash (KeBugCheckEx and its helpers
	// near the top), printed by kb or !analyze -v at a bug check.
	RoleBugCheck
)

var roleNames = [...]string{"allocation", "free", "bug check"}

func (r Role) String() string {
	if int(r) < len(roleNames) {
		return roleNames[r]
	}
	return "role?"
}

// bugCheckDepth is how deep a bug check routine is looked for: above it
// sit only the break-in routine and the bug check's own helpers.
const bugCheckDepth = 8

// RoleOf says whether frames (innermost first) are an allocation's, a
// free's or a bug check's stack. A bug check wins: a Driver Verifier bug
// check raised inside an allocation has the allocator further down. Else
// the first kernel pool routine from the top decides, looking only at the
// kernel's own frames, so a driver's caller further out never counts.
func RoleOf(frames []string) Role {
	for i, f := range frames {
		if i >= bugCheckDepth {
			break
		}
		if script.RoleOf(f) == script.BugCheckRoutine {
			return RoleBugCheck
		}
	}
	for _, f := range frames {
		if !script.IsKernelFrame(f) {
			break
		}
		switch script.RoleOf(f) {
		case script.AllocRoutine:
			return RoleAllocation
		case script.FreeRoutine:
			return RoleFree
		}
	}
	return RoleAllocation
}
