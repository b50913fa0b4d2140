package launcher

import (
	"fmt"
	"io"
)

// Proc is one running kd incarnation. It is the only seam between the
// session logic and the operating system: a pty on Unix (proc_unix.go), pipes,
// a process group and a Job Object on Windows (proc_windows.go).
type Proc interface {
	// Output is kd's merged stdout and stderr. Exactly one goroutine reads it.
	Output() io.Reader
	// Write sends bytes to kd's input.
	Write(p []byte) (int, error)
	// Newline is what ends a command line for this transport: "\r" on a pty
	// (the terminal's Enter key; ICRNL turns it into "\n"), "\r\n" on pipes.
	Newline() string
	// Interrupt asks kd to break into the target (CTRL+BREAK on Windows, the
	// terminal's interrupt character on a pty). attempt counts from 0 for one
	// break-in; platforms with a fallback chain pick the step from it and log
	// what they did. A nil error does not mean the break landed: only a prompt
	// proves that.
	Interrupt(attempt int) error
	// Pid is kd's process id.
	Pid() int
	// Wait blocks until kd has exited and its output has been fully drained by
	// the platform layer's bookkeeping; it returns kd's exit status.
	Wait() ExitStatus
	// Kill ends kd and everything it started, at once.
	Kill() error
	// Close releases the pty, pipes or Job Object. Closing the Job Object
	// kills anything still in it.
	Close() error
}

// Spec says how to start kd.
type Spec struct {
	Path string   // absolute path of the kd executable
	Args []string // arguments, without argv[0]
	Env  []string // full environment, "K=V"
	Dir  string   // working directory ("" = current)
	// Console is how kd gets its console on Windows (ignored elsewhere):
	// a pseudo console by default, or pipes.
	Console ConsoleMode
}

// ExitStatus is how a kd incarnation ended.
type ExitStatus struct {
	Code     int   // exit code; -1 when killed by a signal
	Signaled bool  // ended by a signal (Unix)
	Err      error // the wait itself failed
}

func (e ExitStatus) String() string {
	switch {
	case e.Err != nil:
		return fmt.Sprintf("wait failed: %v", e.Err)
	case e.Signaled:
		return "killed by a signal"
	default:
		return formatExitCode(e.Code)
	}
}
