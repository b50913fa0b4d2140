package stacks

import (
	"testing"

	"go.uber.org/goleak"
)

// Scan starts goroutines: none may outlive it.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
