//go:build !windows

package kdalike

import (
	"os"
	"os/signal"
	"syscall"
)

// pollableStdin returns stdin through Go's poller, so that closing it ends
// a pending read and really lets go of the terminal.
func pollableStdin() *os.File {
	_ = syscall.SetNonblock(0, true)
	return os.NewFile(0, "/dev/stdin")
}

// muteOutput points stdout and stderr at /dev/null (closing them would let
// the state file reuse their numbers).
func muteOutput() {
	if null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0); err == nil {
		_ = syscall.Dup2(int(null.Fd()), 1)
		_ = syscall.Dup2(int(null.Fd()), 2)
		_ = null.Close()
	}
}

func killSelf() {
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

func ignoreHangup() { signal.Ignore(syscall.SIGHUP) }
