package fakekd

import (
	"os"
	"os/signal"
)

// Main runs fakekd as a program and returns its exit code.
//
// The break handler is installed before anything is printed: a driver may
// send CTRL+BREAK as soon as it sees output, and without a handler the
// default action would kill the process (kd-protocol.md "Break-in and the break box").
func Main() int {
	enableCtrlC()
	sigs := make(chan os.Signal, 64)
	signal.Notify(sigs, os.Interrupt)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, stopSignals...)

	// Forward interrupts as break requests; a burst beyond the buffer is
	// many breaks at once, which the fake would count as one anyway.
	breaks := make(chan struct{}, 64)
	go func() {
		for range sigs {
			select {
			case breaks <- struct{}{}:
			default:
			}
		}
	}()

	host, err := os.Hostname()
	if err != nil {
		host = "HOST"
	}
	return Run(Env{
		Args:     os.Args,
		Getenv:   os.Getenv,
		Stdin:    os.Stdin,
		Stdout:   os.Stdout,
		Stderr:   os.Stderr,
		Breaks:   breaks,
		Stop:     stop,
		Hostname: host,
		Pid:      os.Getpid(),
		Environ:  os.Environ(),
	})
}
