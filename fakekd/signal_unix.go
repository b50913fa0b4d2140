//go:build !windows

package fakekd

import (
	"os"
	"syscall"
)

// defaultCrashCode is what FAKEKD_CRASH_AFTER_HITS exits with on Unix,
// where exit codes are 8 bits.
const defaultCrashCode = 3

// stopSignals end the session with exit_reason "signal". SIGINT is not
// among them: on a pty the line discipline turns a written 0x03 into SIGINT
// for the foreground process group, and that is kd's CTRL+C break.
var stopSignals = []os.Signal{syscall.SIGTERM, syscall.SIGHUP}

func enableCtrlC() {}
