package launcher

import (
	"fmt"
	"io"
	"strings"
	"sync"
)

// Console is the user's terminal: kd's output on one stream, kdlaunch's
// own messages on another (stderr, as "kdlaunch: ..." lines), and, when
// that is a terminal, a live status line. Writes are serialised so the
// status line is cleared before any text and redrawn after it.
type Console struct {
	mu       sync.Mutex
	out      io.Writer // kd's output; nil: not shown (--quiet)
	msgs     io.Writer // kdlaunch's messages
	status   io.Writer // nil: no status line (not a terminal)
	line     string
	drawn    bool
	midLine  bool // kd's last write did not end its line (a prompt)
	disabled bool
}

// ConsoleOptions say where a Console writes.
type ConsoleOptions struct {
	KD       io.Writer // kd's output; nil keeps it off the terminal (--quiet)
	Messages io.Writer // kdlaunch's own messages; nil: KD
	Status   io.Writer // the status line; nil: none
}

// NewConsole writes kd's output and kdlaunch's messages to out and, if
// status is non-nil, keeps a status line there.
func NewConsole(out, status io.Writer) *Console { return &Console{out: out, msgs: out, status: status} }

// NewConsoleWith is NewConsole with kd's output and kdlaunch's messages
// on streams of their own.
func NewConsoleWith(o ConsoleOptions) *Console {
	msgs := o.Messages
	if msgs == nil {
		msgs = o.KD
	}
	return &Console{out: o.KD, msgs: msgs, status: o.Status}
}

// MessagePrefix starts every message kdlaunch prints, so one format holds
// whichever part of kdlaunch speaks.
const MessagePrefix = "kdlaunch: "

// Output shows text from kd; eol ends the line.
func (c *Console) Output(text string, eol bool) {
	if c == nil || c.out == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clear()
	if eol {
		fmt.Fprintln(c.out, text)
	} else {
		fmt.Fprint(c.out, text)
	}
	c.midLine = !eol
	c.draw()
}

// Note prints one of kdlaunch's own messages on its own line, with
// MessagePrefix if it lacks it.
func (c *Console) Note(text string) {
	if c == nil || c.msgs == nil {
		return
	}
	if !strings.HasPrefix(text, MessagePrefix) {
		text = MessagePrefix + text
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clear()
	if c.midLine {
		// End kd's prompt line first: on a terminal both streams meet.
		fmt.Fprintln(c.out)
		c.midLine = false
	}
	fmt.Fprintln(c.msgs, text)
	c.draw()
}

// Status replaces the status line.
func (c *Console) Status(s string) {
	if c == nil || c.status == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clear()
	c.line = s
	c.draw()
}

// Close removes the status line for good.
func (c *Console) Close() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clear()
	c.disabled = true
}

func (c *Console) clear() {
	if c.status != nil && c.drawn {
		fmt.Fprint(c.status, "\r\x1b[K")
		c.drawn = false
	}
}

func (c *Console) draw() {
	// Drawing over a prompt would hide it; the next tick redraws.
	if c.status == nil || c.line == "" || c.midLine || c.disabled {
		return
	}
	fmt.Fprint(c.status, c.line)
	c.drawn = true
}
