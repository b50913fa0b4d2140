//go:build windows

package fakekd

import (
	"os"
	"syscall"

	"golang.org/x/sys/windows"
)

// defaultCrashCode is STATUS_ACCESS_VIOLATION, what a crashing kd.exe
// leaves as its exit code.
const defaultCrashCode = 0xC0000005

// stopSignals: Go delivers CTRL_CLOSE, CTRL_LOGOFF and CTRL_SHUTDOWN as
// SIGTERM. CTRL_C and CTRL_BREAK arrive as os.Interrupt: breaks.
var stopSignals = []os.Signal{syscall.SIGTERM}

var procSetConsoleCtrlHandler = windows.NewLazySystemDLL("kernel32.dll").NewProc("SetConsoleCtrlHandler")

// enableCtrlC undoes the "ignore CTRL+C" flag that CREATE_NEW_PROCESS_GROUP
// sets on the child (kd-protocol.md "Break-in and the break box"), so a CTRL_C_EVENT reaches the handler
// Go installs, just as CTRL_BREAK_EVENT always does. Failure is harmless:
// CTRL+BREAK still works.
func enableCtrlC() {
	procSetConsoleCtrlHandler.Call(0, 0)
}
