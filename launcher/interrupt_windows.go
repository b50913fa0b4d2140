//go:build windows

package launcher

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/windows"

	"github.com/kdlaunch/kdlaunch/internal/vtlines"
)

// Break-in on Windows, and kdlaunch's own console signals.
//
// In a pseudo console (the default, conpty_windows.go) kd is on a console of
// its own, which kdlaunch's GenerateConsoleCtrlEvent cannot reach (it only
// reaches processes on the caller's console). The break is typed instead,
// as a person at kd's console would:
//
//  1. A 0x03 byte written to the pseudo console's input: with processed
//     input (a console's default) the console turns it into CTRL_C_EVENT
//     for kd, which is the key kd's break message names for the console
//     kernel debugger ("CTRL+C (if you run console kernel debugger)"). Every
//     attempt sends it.
//  2. From the second attempt of a break-in on (the first 0x03 brought no
//     prompt), and only if the console asked for win32-input-mode
//     (ESC[?9001h: it then reads key events encoded as VT on its input), a
//     Ctrl+Break key press: the console turns it into CTRL_BREAK_EVENT,
//     which a kd that ignores CTRL+C still takes as a break. Without
//     win32-input-mode the sequence would be typed as text into kd's
//     command line, so it is not sent.
//
// As on pipes, only kd's prompt proves a break landed.
//
// On pipes (--console pipes, or a Windows without pseudo consoles) every
// break-in attempt walks a fallback chain, logging each step, and
// returns the error of the last step it tried. As always, a nil error does
// not prove the break landed (GenerateConsoleCtrlEvent "succeeds" for a pid
// that is not a group and then does nothing): only kd's prompt proves it.
//
//  1. GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT, kd's pid). kd was started
//     with CREATE_NEW_PROCESS_GROUP, so its pid is its group id, and it
//     shares kdlaunch's console, so only kd (and anything it started)
//     receives the event. This is what works on Windows ("Break-in and the
//     break box" in docs/kd-protocol.md; the kd drivers kd-mcp and
//     mcp-windbg break in this way), and a retry sends it again. Only if the call
//     fails does the chain go on.
//  2. GenerateConsoleCtrlEvent(CTRL_C_EVENT, 0): every process on the
//     console, kdlaunch included (CTRL_C cannot be aimed at a group: it
//     "succeeds" and goes nowhere). Before sending, kdlaunch opens a
//     suppression window (SuppressedInterrupt) and makes sure the Go runtime
//     handles the event rather than the default handler, which would end
//     kdlaunch. Windows starts a new process group with CTRL+C disabled, so
//     this reaches kd only if kd re-enabled it.
//  3. A 0x03 byte (what CTRL+C types) written to kd's input, whether or not
//     step 2's call failed: once step 1 has failed nothing says a console
//     event can reach kd.
//
// Step 2 is deliberately not used while step 1 works: a CTRL+C to the whole
// console also reaches everything else on it (a `| tee` in the same
// pipeline, the cmd.exe running a batch file, which then asks "Terminate
// batch job (Y/N)?"), and it cannot reach a kd in its own process group.
//
// What Wine 8.0 does (checked with a probe program): with no console at all
// (wine started without a terminal) both events fail with "Invalid access";
// with a console, CTRL_BREAK_EVENT to a pid fails with "Invalid handle", and
// CTRL_C_EVENT to group 0 is delivered to the caller's own process group
// only, never to a CREATE_NEW_PROCESS_GROUP child, even one that re-enabled
// CTRL+C. So under Wine every break-in runs steps 1, 2 and 3, step 2 reaches
// only kdlaunch (and proves the suppression), and step 3 reaches the fake.
//
// kdlaunch's own Ctrl+C and close handling: the Go runtime installs a console
// control handler that turns CTRL_C_EVENT and CTRL_BREAK_EVENT into
// os.Interrupt (syscall.SIGINT) and CTRL_CLOSE_EVENT, CTRL_LOGOFF_EVENT and
// CTRL_SHUTDOWN_EVENT into syscall.SIGTERM (runtime/os_windows.go ctrlHandler),
// so signal.Notify(ch, os.Interrupt, syscall.SIGTERM) covers all of them. An
// event nobody Notify's for gets the default handler, which exits the process.
// For SIGTERM the runtime's handler blocks so the program can clean up, but
// Windows ends the process anyway a few seconds later (about 5 s for a closed
// console window); kd, on the same console, gets CTRL_CLOSE_EVENT too, and
// whatever is left dies with the Job Object. A user's Ctrl+C reaches kdlaunch
// only (kd's group has CTRL+C disabled); a user's Ctrl+Break reaches every
// process on the console, kd included, which then breaks into the target.

// conptyBreak is the break-in of a kd in a pseudo console.
type conptyBreak struct {
	log        hclog.Logger
	pid        int
	console    io.Writer   // the pseudo console's input
	win32Input func() bool // the console reads win32-input-mode key events
}

func (c *conptyBreak) interrupt(attempt int) error {
	n := attempt + 1
	if _, err := c.console.Write([]byte{0x03}); err != nil {
		c.log.Warn("break-in: typing CTRL+C (0x03) into kd's pseudo console failed", "attempt", n, "pid", c.pid, "error", err)
		return fmt.Errorf("break-in: type 0x03 into kd's console: %w", err)
	}
	c.log.Info("break-in: CTRL+C (0x03) typed into kd's pseudo console", "attempt", n, "pid", c.pid)
	if attempt == 0 {
		return nil
	}
	if !c.win32Input() {
		c.log.Info("break-in: no Ctrl+Break fallback: kd's pseudo console did not ask for win32-input-mode",
			"attempt", n, "pid", c.pid)
		return nil
	}
	if _, err := io.WriteString(c.console, vtlines.CtrlBreak()); err != nil {
		c.log.Warn("break-in: typing Ctrl+Break into kd's pseudo console failed", "attempt", n, "pid", c.pid, "error", err)
		return fmt.Errorf("break-in: type Ctrl+Break into kd's console: %w", err)
	}
	c.log.Info("break-in: Ctrl+Break typed into kd's pseudo console (win32-input-mode)", "attempt", n, "pid", c.pid)
	return nil
}

// breakChain is the per-kd state of the pipes chain.
type breakChain struct {
	log   hclog.Logger
	pid   int
	stdin io.Writer
}

// interrupt runs the steps of the chain for one attempt.
func (c *breakChain) interrupt(attempt int) error {
	n := attempt + 1
	err := windows.GenerateConsoleCtrlEvent(windows.CTRL_BREAK_EVENT, uint32(c.pid))
	if err == nil {
		c.log.Info("break-in: CTRL+BREAK sent to kd's process group", "attempt", n, "pid", c.pid)
		return nil
	}
	c.log.Warn("break-in: CTRL+BREAK to kd's process group failed; falling back to CTRL+C to the console, then 0x03 on kd's input",
		"attempt", n, "pid", c.pid, "error", err)

	beginSelfInterrupt()
	if err := windows.GenerateConsoleCtrlEvent(windows.CTRL_C_EVENT, 0); err != nil {
		cancelSelfInterrupt()
		c.log.Warn("break-in: CTRL+C to the console failed", "attempt", n, "pid", c.pid, "error", err)
	} else {
		c.log.Info("break-in: CTRL+C sent to every process on the console (kdlaunch ignores its own)",
			"attempt", n, "pid", c.pid)
	}

	if _, err := c.stdin.Write([]byte{0x03}); err != nil {
		c.log.Warn("break-in: writing 0x03 to kd's input failed", "attempt", n, "pid", c.pid, "error", err)
		return fmt.Errorf("break-in: write 0x03 to kd: %w", err)
	}
	c.log.Info("break-in: 0x03 written to kd's input", "attempt", n, "pid", c.pid)
	return nil
}

// suppressMax bounds how long a self-sent CTRL+C may take to arrive before
// it is no longer expected (it normally arrives within milliseconds).
const suppressMax = 3 * time.Second

// selfInt tracks the CTRL+C events kdlaunch sent to its own console.
var selfInt selfIntState

type selfIntState struct {
	mu      sync.Mutex
	tokens  int            // self-sent events not yet claimed by SuppressedInterrupt
	arrived int            // self-sent events not yet seen by the private channel
	until   time.Time      // tokens expire then
	ch      chan os.Signal // private signal.Notify channel, nil when idle
	timer   *time.Timer    // unregisters ch once nothing is expected
}

// SuppressedInterrupt reports whether an os.Interrupt that kdlaunch has just
// received is one it caused itself (break-in step 2) and should ignore. Call
// it exactly once per os.Interrupt received: each self-sent CTRL+C answers
// true once, within a few seconds of being sent. A Ctrl+C the user presses
// in the instant between kdlaunch sending its own and receiving it is
// ignored instead of kdlaunch's own, which then counts as the user's, so a
// press is never lost. Always false when kdlaunch sent nothing (on Windows
// as long as CTRL+BREAK works).
func SuppressedInterrupt() bool {
	selfInt.mu.Lock()
	defer selfInt.mu.Unlock()
	if selfInt.tokens > 0 && time.Now().Before(selfInt.until) {
		selfInt.tokens--
		return true
	}
	selfInt.tokens = 0
	return false
}

func beginSelfInterrupt() {
	selfInt.mu.Lock()
	defer selfInt.mu.Unlock()
	if selfInt.ch == nil {
		// With a channel registered the runtime's console handler reports
		// the event as handled; without one, CTRL+C would end kdlaunch.
		ch := make(chan os.Signal, 8)
		signal.Notify(ch, os.Interrupt)
		selfInt.ch = ch
		go watchSelfInterrupt(ch)
	}
	if !time.Now().Before(selfInt.until) {
		selfInt.tokens = 0
	}
	selfInt.tokens++
	selfInt.arrived++
	selfInt.until = time.Now().Add(suppressMax)
	selfInt.rearm(suppressMax + 50*time.Millisecond)
}

// cancelSelfInterrupt takes back a beginSelfInterrupt whose event was not sent.
func cancelSelfInterrupt() {
	selfInt.mu.Lock()
	defer selfInt.mu.Unlock()
	selfInt.tokens = max(selfInt.tokens-1, 0)
	selfInt.arrived = max(selfInt.arrived-1, 0)
	if selfInt.arrived == 0 {
		selfInt.rearm(0)
	}
}

// rearm schedules the private channel's removal; callers hold selfInt.mu.
func (s *selfIntState) rearm(d time.Duration) {
	if s.timer != nil {
		s.timer.Stop()
	}
	s.timer = time.AfterFunc(d, endSelfInterrupt)
}

func watchSelfInterrupt(ch chan os.Signal) {
	for range ch {
		selfInt.mu.Lock()
		if selfInt.arrived > 0 {
			selfInt.arrived--
			if selfInt.arrived == 0 {
				// Every channel registered for os.Interrupt got this event
				// in the same pass of the runtime's signal loop; keep ours a
				// moment longer anyway, then give CTRL+C back.
				selfInt.rearm(100 * time.Millisecond)
			}
		}
		selfInt.mu.Unlock()
	}
}

// endSelfInterrupt unregisters the private channel once no self-sent event
// is expected any more, giving CTRL+C back to whoever else handles it (or to
// the default handler, which ends the process).
func endSelfInterrupt() {
	selfInt.mu.Lock()
	defer selfInt.mu.Unlock()
	if selfInt.ch == nil || (selfInt.arrived > 0 && time.Now().Before(selfInt.until)) {
		return
	}
	signal.Stop(selfInt.ch)
	close(selfInt.ch)
	selfInt.ch = nil
	selfInt.arrived = 0
}
