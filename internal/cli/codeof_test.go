package cli

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/kdlaunch/kdlaunch/config"
	"github.com/kdlaunch/kdlaunch/exitcode"
	"github.com/kdlaunch/kdlaunch/script"
)

func TestCodeOf(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{errors.New("x"), exitcode.Failure},
		{fmt.Errorf("%w: bad", config.ErrInvalid), exitcode.Usage},
		{fmt.Errorf("config: %w", config.ErrUnknownKey), exitcode.Usage},
		{&config.SyntaxError{Err: errors.New("x")}, exitcode.Usage},
		{fmt.Errorf("run: %w", &script.StartError{}), exitcode.StartFailed},
		{fmt.Errorf("arm: %w", &script.ArmError{What: "bp"}), exitcode.Unresolved},
		{&script.NoAllocatorError{}, exitcode.Unresolved},
		{&script.GoError{}, exitcode.Unresolved},
		{&ExitError{Code: exitcode.HaltedBugCheck, Err: errors.New("bug check")}, exitcode.HaltedBugCheck},
		{fmt.Errorf("wrapped: %w", &ExitError{Code: exitcode.Interrupted, Err: context.Canceled}), exitcode.Interrupted},
	}
	for _, tt := range tests {
		if got := codeOf(tt.err); got != tt.want {
			t.Errorf("codeOf(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}
