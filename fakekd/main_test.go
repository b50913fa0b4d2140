package fakekd

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// Every in-process session must end its input goroutine and timers, and the
// pty tests must reap their processes and readers.
func TestMain(m *testing.M) { goleak.VerifyTestMain(cleanupM{m}) }

// cleanupM removes the binary the pty tests built once all tests ran.
type cleanupM struct{ m *testing.M }

func (c cleanupM) Run() int {
	code := c.m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	return code
}
