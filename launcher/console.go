package launcher

import (
	"fmt"
	"io"
	"sync"
)

// Console is the user's terminal: kd's output on one stream, and, when that
// stream is a terminal, a live status line on another. Writes are serialised
// so the status line is cleared before kd's text and redrawn after it.
type Console struct {
	mu       sync.Mutex
	out      io.Writer
	status   io.Writer // nil: no status line (not a terminal)
	line     string
	drawn    bool
	midLine  bool // kd's last write did not end its line (a prompt)
	disabled bool
}

// NewConsole writes kd's output to out and, if status is non-nil, keeps a
// status line there.
func NewConsole(out, status io.Writer) *Console { return &Console{out: out, status: status} }

// Output shows text from kd; eol ends the line.
func (c *Console) Output(text string, eol bool) {
	if c == nil {
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

// Note prints one of kdlaunch's own messages on its own line.
func (c *Console) Note(text string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clear()
	if c.midLine {
		fmt.Fprintln(c.out)
		c.midLine = false
	}
	fmt.Fprintln(c.out, text)
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
