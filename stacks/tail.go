package stacks

import "bytes"

// Tail parses a log that is still being written: Write the new bytes as they
// appear; only complete lines are parsed, a partial last line waits for its
// newline, and the stack in progress is not yielded until something ends it
// (see Pending). The encoding is detected from the first bytes.
type Tail struct {
	m       *machine
	fn      func(Stack)
	sniffed bool
	enc     Encoding
	head    []byte
	dec     utf16State
	buf     []byte
	err     error
}

// NewTail returns a Tail that calls fn for each completed stack.
func NewTail(fn func(Stack)) *Tail {
	t := &Tail{fn: fn}
	t.m = newMachine(func(u *unique) { t.fn(u.stack()) })
	return t
}

// tailSniff is how many bytes Tail waits for (unless a newline comes first)
// before it decides the encoding.
const tailSniff = 512

// Write parses the complete lines in p (after any partial line kept from
// before). It fails with a *BinaryError if the log is not text; the error
// sticks.
func (t *Tail) Write(p []byte) (int, error) {
	if t.err != nil {
		return 0, t.err
	}
	data := p
	if !t.sniffed {
		t.head = append(t.head, p...)
		if len(t.head) < tailSniff && bytes.IndexByte(t.head, '\n') < 0 {
			return len(p), nil
		}
		sample := t.head
		if len(sample) > sniffLen {
			sample = sample[:sniffLen]
		}
		enc, skip, err := sniff(sample)
		if err != nil {
			t.err = err
			return 0, err
		}
		t.sniffed, t.enc = true, enc
		t.dec.be = enc == UTF16BE
		data = t.head[skip:]
		t.head = nil
	}
	old := len(t.buf)
	if t.enc == UTF8 {
		t.buf = append(t.buf, data...)
	} else {
		t.buf = t.dec.decode(t.buf, data)
	}
	if bytes.IndexByte(t.buf[old:], '\n') < 0 && len(t.buf) <= maxTailLine {
		return len(p), nil // no new line yet: do not rescan the partial one
	}
	n := t.m.feed(t.buf, false)
	if n == 0 && len(t.buf) > maxTailLine {
		// A very long line: take it as it is.
		t.m.line(t.buf)
		n = len(t.buf)
	}
	t.buf = t.buf[:copy(t.buf, t.buf[n:])]
	return len(p), nil
}

const maxTailLine = 1 << 20

// Flush ends the stack in progress (and parses a last line without newline).
func (t *Tail) Flush() {
	if len(t.buf) > 0 {
		t.m.line(t.buf)
		t.buf = t.buf[:0]
	}
	t.m.eof()
}

// Pending returns the frames of the stack in progress, if any: the part of
// the last stack that is on complete lines.
func (t *Tail) Pending() (Stack, bool) {
	f := t.m.pending()
	if f == nil {
		return Stack{}, false
	}
	return Stack{Frames: f}, true
}

// Hits returns the "Breakpoint N hit" lines seen.
func (t *Tail) Hits() int { return t.m.hits }
