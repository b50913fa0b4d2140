package launcher

import "fmt"

// State is what kdlaunch knows of kd and the target. It changes only through
// Next, so every transition is in one table-tested place.
type State int

// States of one kd incarnation.
const (
	Starting   State = iota // kd started, nothing recognised yet
	Waiting                 // kd waits for the target ("Waiting to reconnect...")
	Connected               // the target is connected and running; no break sent yet
	BreakingIn              // a break was sent; no prompt yet
	Halted                  // kd shows a prompt: the target is stopped
	Running                 // the target runs after a resume command
	Stopping                // CTRL+B ENTER sent: kd is leaving, the target runs on
	Exited                  // kd's output ended
)

var stateNames = [...]string{"starting", "waiting", "connected", "breaking in", "halted", "running", "stopping", "exited"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", int(s))
}

// Input is something that happened: a line kd printed, or something kdlaunch
// is about to do to kd.
type Input int

// Inputs to the state machine.
const (
	InWaiting     Input = iota // kd printed that it waits for the target
	InConnected                // kd printed that the target connected
	InShutdown                 // the target is rebooting or was lost (kd waits for it again): breakpoints are gone
	InPrompt                   // kd printed a prompt
	InBreakSent                // kdlaunch is about to break in
	InResumeSent               // kdlaunch is about to send g (or another resume)
	InCommandSent              // kdlaunch is about to send an ordinary command
	InLeaveSent                // kdlaunch is about to send CTRL+B ENTER
	InExit                     // kd's output ended
	InRunsAgain                // kd's output shows a halted target running again (someone else resumed it)
)

var inputNames = [...]string{"waiting", "connected", "shutdown", "prompt", "break sent", "resume sent", "command sent", "leave sent", "exit", "runs again"}

func (in Input) String() string {
	if int(in) < len(inputNames) {
		return inputNames[in]
	}
	return fmt.Sprintf("input(%d)", int(in))
}

// RefusedError is returned by Next for an action that must not happen in the
// current state; the caller then does not do it.
type RefusedError struct {
	State State
	Input Input
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("%s refused while %s", e.Input, e.State)
}

// Next is the transition table. Inputs kdlaunch causes (break, resume,
// command, leave) are checked: a break is never sent to a halted target or
// one that is not connected, and nothing is typed while the target runs.
// Inputs kd causes are facts and always move the state.
func Next(s State, in Input) (State, error) {
	if s == Exited {
		if in == InExit {
			return Exited, nil
		}
		return Exited, &RefusedError{s, in}
	}
	switch in {
	case InExit:
		return Exited, nil
	case InLeaveSent:
		return Stopping, nil
	}
	if s == Stopping {
		// Leaving: whatever kd still prints changes nothing, and nothing
		// more may be sent.
		switch in {
		case InBreakSent, InResumeSent, InCommandSent:
			return s, &RefusedError{s, in}
		}
		return s, nil
	}
	switch in {
	case InWaiting:
		return Waiting, nil
	case InShutdown:
		return Waiting, nil
	case InConnected:
		switch s {
		case Starting, Waiting, Running:
			// Running: kd reconnected without a shutdown line (a transport
			// refresh); the breakpoints must be checked again.
			return Connected, nil
		}
		return s, nil
	case InPrompt:
		return Halted, nil
	case InBreakSent:
		switch s {
		case Connected, Running, BreakingIn:
			return BreakingIn, nil
		}
		return s, &RefusedError{s, in}
	case InResumeSent:
		if s == Halted {
			return Running, nil
		}
		return s, &RefusedError{s, in}
	case InCommandSent:
		if s == Halted {
			return Halted, nil
		}
		return s, &RefusedError{s, in}
	case InRunsAgain:
		if s == Halted {
			return Running, nil
		}
		return s, nil
	}
	return s, fmt.Errorf("unknown input %d", int(in))
}
