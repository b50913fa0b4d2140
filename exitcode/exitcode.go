// Package exitcode is kdlaunch's one table of process exit codes, the same
// for every command. The README and `kdlaunch --help` print Table; scripts
// that run kdlaunch for hours branch on these numbers, so a code never
// changes meaning.
package exitcode

import (
	"fmt"
	"strings"
)

const (
	// OK: the command did its job; for run, the safe stop completed (also
	// after the first Ctrl+C or SIGTERM): no breakpoint, target running.
	OK = 0
	// Failure: a runtime error (a file that cannot be read or written, kd
	// exiting again and again, a connect timeout). Nothing is left armed.
	Failure = 1
	// Usage: a bad flag, argument or config file; nothing was started.
	Usage = 2
	// Busy: another kdlaunch run holds the log or the server pipe.
	Busy = 3
	// StartFailed: kd started but reported that it could not work (a bad
	// connection string, a port in use, a missing symbol path).
	StartFailed = 4
	// Unresolved: the breakpoint could not be resolved (no symbols for the
	// allocator, or a routine this Windows build does not have).
	Unresolved = 5
	// HaltedBugCheck: the target bug-checked and is left halted in kd.
	HaltedBugCheck = 6
	// HaltedByPerson: someone broke into the target (the remote console,
	// CTRL+C in kd) and it is left halted for them.
	HaltedByPerson = 7
	// Interrupted: a second Ctrl+C stopped kdlaunch at once; the target may
	// be halted or have breakpoints armed (128+SIGINT, as shells report).
	Interrupted = 130
)

// Code is one row of Table.
type Code struct {
	Code    int
	Meaning string
}

// Table lists every exit code, in order, for the README and --help.
var Table = []Code{
	{OK, "done; for run: stopped safely (also after a first Ctrl+C): breakpoints cleared, target running"},
	{Failure, "runtime error (file, kd kept exiting, connect timeout); nothing left armed"},
	{Usage, "bad flag, argument or config file; nothing started"},
	{Busy, "another kdlaunch run holds the log or the server pipe"},
	{StartFailed, "kd reported that it could not start (connection string, port, symbols)"},
	{Unresolved, "the breakpoint could not be resolved (symbols, Windows build)"},
	{HaltedBugCheck, "the target bug-checked: it is left halted in kd"},
	{HaltedByPerson, "someone broke into the target: it is left halted for them"},
	{Interrupted, "second Ctrl+C: stopped at once; the target may be halted with breakpoints armed (kdlaunch disarm clears them)"},
}

// Help is Table as text for kong's --help.
func Help() string {
	var b strings.Builder
	b.WriteString("Exit codes (every command):\n")
	for _, c := range Table {
		fmt.Fprintf(&b, "  %3d  %s\n", c.Code, c.Meaning)
	}
	return b.String()
}

// Error carries the exit code a failure ends kdlaunch with.
type Error struct {
	Code int
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }
