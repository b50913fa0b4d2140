package launcher

import (
	"errors"
	"testing"
)

func TestNext(t *testing.T) {
	tests := []struct {
		from    State
		in      Input
		want    State
		refused bool
	}{
		{Starting, InWaiting, Waiting, false},
		{Starting, InConnected, Connected, false},
		{Waiting, InConnected, Connected, false},
		{Waiting, InBreakSent, Waiting, true}, // never break before the connection
		{Starting, InBreakSent, Starting, true},
		{Connected, InConnected, Connected, false}, // KDNET prints two connection lines
		{Connected, InBreakSent, BreakingIn, false},
		{Connected, InPrompt, Halted, false}, // initial breakpoint: halted without a break
		{BreakingIn, InBreakSent, BreakingIn, false},
		{BreakingIn, InPrompt, Halted, false},
		{BreakingIn, InConnected, BreakingIn, false},
		{Halted, InBreakSent, Halted, true}, // never break a halted target
		{Halted, InCommandSent, Halted, false},
		{Halted, InResumeSent, Running, false},
		{Halted, InPrompt, Halted, false},
		{Halted, InConnected, Halted, false},
		{Running, InCommandSent, Running, true}, // nothing typed while the target runs
		{Running, InResumeSent, Running, true},
		{Running, InBreakSent, BreakingIn, false},
		{Running, InPrompt, Halted, false}, // halted on its own
		{Running, InConnected, Connected, false},
		{Running, InShutdown, Waiting, false}, // reboot: breakpoints lost
		{Halted, InShutdown, Waiting, false},
		{Connected, InWaiting, Waiting, false},
		{Waiting, InCommandSent, Waiting, true},
		{Connected, InCommandSent, Connected, true},
		{BreakingIn, InCommandSent, BreakingIn, true},
		{Running, InLeaveSent, Stopping, false},
		{Waiting, InLeaveSent, Stopping, false},
		{Halted, InLeaveSent, Stopping, false},
		{Stopping, InPrompt, Stopping, false},
		{Stopping, InConnected, Stopping, false},
		{Stopping, InBreakSent, Stopping, true},
		{Stopping, InCommandSent, Stopping, true},
		{Stopping, InResumeSent, Stopping, true},
		{Stopping, InExit, Exited, false},
		{Running, InExit, Exited, false},
		{Waiting, InExit, Exited, false},
		{Exited, InExit, Exited, false},
		{Exited, InPrompt, Exited, true},
		{Exited, InBreakSent, Exited, true},
		{Halted, InRunsAgain, Running, false}, // a person resumed the target from the debugging server
		{Running, InRunsAgain, Running, false},
		{Waiting, InRunsAgain, Waiting, false},
	}
	for _, tt := range tests {
		t.Run(tt.from.String()+"/"+tt.in.String(), func(t *testing.T) {
			got, err := Next(tt.from, tt.in)
			if got != tt.want {
				t.Errorf("Next(%s, %s) = %s, want %s", tt.from, tt.in, got, tt.want)
			}
			var r *RefusedError
			if refused := errors.As(err, &r); refused != tt.refused {
				t.Errorf("Next(%s, %s) refused = %v (%v), want %v", tt.from, tt.in, refused, err, tt.refused)
			}
		})
	}
}

// Every state has an answer for every input: no input can panic or wedge
// the machine.
func TestNextTotal(t *testing.T) {
	for s := Starting; s <= Exited; s++ {
		for in := InWaiting; in <= InRunsAgain; in++ {
			got, _ := Next(s, in)
			if got < Starting || got > Exited {
				t.Errorf("Next(%s, %s) = %d, out of range", s, in, got)
			}
			if in == InExit && got != Exited {
				t.Errorf("Next(%s, exit) = %s, want exited", s, got)
			}
		}
	}
}
