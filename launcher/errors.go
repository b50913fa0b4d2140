package launcher

import (
	"fmt"
	"strings"

	"github.com/kdlaunch/kdlaunch/script"
)

// The errors a run ends with when kd's answers stop it. Each is one line
// that says what happened and what to do; callers branch on the type
// (errors.As) for the exit code. Errors of kd's answers that script already
// types are returned as they are: *script.StartError (kd could not open the
// connection), *script.ArmError and *script.NoAllocatorError (a breakpoint
// that cannot hit; errors.Is(err, script.ErrNotArmed) for the first).

// BugCheckError: the target bug-checked and is left halted in kd's hands
// (on_bugcheck = "stay", or a stop came during the bug check).
type BugCheckError struct {
	BugCheck script.BugCheck
}

func (e *BugCheckError) Error() string {
	b := e.BugCheck
	s := "the target bug-checked: " + b.CodeString()
	if n := b.Name(); n != "" {
		s += " " + n
	}
	if p := b.ParamStrings(); len(p) > 0 {
		s += " (" + strings.Join(p, ", ") + ")"
	}
	if b.CausedBy != "" {
		s += ", probably caused by " + b.CausedBy
	}
	return s + "; kb and !analyze -v are in kd's log, and the target is left halted: " + b.Advice()
}

// PersonHaltError: the run stopped while someone held the target halted
// from the debugging server; kdlaunch typed nothing into their break.
type PersonHaltError struct{}

func (e *PersonHaltError) Error() string {
	return "stopped while someone holds the target halted from kd's debugging server: kdlaunch typed nothing into their break, and the target is left halted for them (g resumes it)"
}

// GoFailedError: kd could not resume the target with its breakpoints. The
// session then cleared every breakpoint and resumed it once more, so the
// target is left running with nothing armed. Unwrap gives kd's answer.
type GoFailedError struct {
	Err *script.GoError
}

func (e *GoFailedError) Error() string {
	f := e.Err.Failure
	return fmt.Sprintf("kd could not resume the target with breakpoint %d set after %d tries (kd: %q): kdlaunch cleared every breakpoint (bc *) and resumed it with nothing armed; the breakpoint's memory is not writable: set it on another address, or with bu on a symbol that resolves",
		f.ID, e.Err.Tries, f.Line)
}

func (e *GoFailedError) Unwrap() error { return e.Err }
