package fakekd

import (
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"
)

// Env is everything Run takes from the outside world, so tests can run the
// whole fake in-process.
type Env struct {
	Args     []string // argv, program name first
	Getenv   func(string) string
	Stdin    io.Reader
	Stdout   io.Writer
	Stderr   io.Writer
	Breaks   <-chan struct{}  // console break requests: SIGINT, CTRL+C, CTRL+BREAK
	Stop     <-chan os.Signal // SIGTERM, SIGHUP: exit with exit_reason "signal"
	Hostname string
	Pid      int
	Environ  []string // every variable, for the unknown-knob check (nil: no check)
}

// Run is the fake kd: it returns the process exit code. It returns once the
// session ends (CTRL+B, q, EOF, a stop signal, a simulated crash); the
// goroutine reading Stdin ends when its Read returns, which for a pipe means
// when the writer closes it.
func Run(e Env) int {
	cfg, err := LoadConfig(e.Getenv)
	if err != nil {
		fmt.Fprintf(e.Stderr, "fakekd: %v\n", err)
		return 2
	}
	if u := UnknownKnobs(e.Environ); len(u) > 0 {
		fmt.Fprintf(e.Stderr, "fakekd: unknown knob %s (see the knob table of package fakekd)\n", strings.Join(u, ", "))
		return 2
	}
	var cl CmdLine
	if len(e.Args) > 0 {
		cl, err = ParseCmdLine(e.Args[1:])
	}
	if err != nil {
		// kd's style: one line naming the problem, exit code 1.
		fmt.Fprintln(e.Stderr, err)
		return 1
	}
	m := newMachine(cfg, cl, e)
	m.start()

	events := make(chan inputEvent)
	done := make(chan struct{})
	defer close(done)
	go readInput(e.Stdin, events, done)

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for !m.exiting {
		m.out.flush()
		tc := m.timerChan(timer)
		select {
		case ev := <-events:
			switch ev.kind {
			case evLine:
				m.onLine(ev.line)
			case evBreak:
				m.onBreak()
			case evEOF:
				m.exit(0, "eof")
			}
		case <-e.Breaks:
			m.onBreak()
		case sig := <-e.Stop:
			m.exit(signalExitCode(sig), "signal")
		case <-tc:
			if m.pending != actNone && !time.Now().Before(m.deadline) {
				m.onTimer()
			}
			if m.dirty && time.Since(m.lastSave) >= saveCoalesce {
				m.save()
			}
		}
		timer.Stop()
	}
	m.save()
	m.out.close()
	return m.exitCode
}

// closedChan is always ready: the timer channel when something is due now.
var closedChan = func() chan time.Time {
	c := make(chan time.Time)
	close(c)
	return c
}()

// timerChan arms the loop's timer for the next due action or owed save.
func (m *machine) timerChan(t *time.Timer) <-chan time.Time {
	var due time.Time
	if m.pending != actNone {
		due = m.deadline
	}
	if m.dirty {
		if owed := m.lastSave.Add(saveCoalesce); due.IsZero() || owed.Before(due) {
			due = owed
		}
	}
	if due.IsZero() {
		return nil
	}
	d := time.Until(due)
	if d <= 0 {
		return closedChan
	}
	t.Reset(d)
	return t.C
}

// readInput feeds stdin to the loop until Read fails. done stops it from
// blocking on a send after Run has returned.
func readInput(r io.Reader, events chan<- inputEvent, done <-chan struct{}) {
	var sp lineSplitter
	buf := make([]byte, 4096)
	send := func(ev inputEvent) bool {
		select {
		case events <- ev:
			return true
		case <-done:
			return false
		}
	}
	for {
		n, err := r.Read(buf)
		for _, ev := range sp.feed(buf[:n]) {
			if !send(ev) {
				return
			}
		}
		if err != nil {
			send(inputEvent{kind: evEOF})
			return
		}
	}
}

// signalExitCode follows the shell convention 128+N, so a supervisor can
// tell a signalled exit from kd's own codes.
func signalExitCode(sig os.Signal) int {
	if s, ok := sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return 1
}
