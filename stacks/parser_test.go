package stacks

import (
	"bytes"
	"errors"
	"io"
)

// parser yields the stacks of one log, one at a time, in a single goroutine:
// the sequential reference that Scan (parallel, in chunks) is tested against.
type parser struct {
	src   io.Reader
	text  io.Reader
	m     *machine
	queue []Stack
	buf   []byte
	start int // unparsed data is buf[start:]
	stats Stats
	err   error
	done  bool
}

// newParser returns a parser reading r, which may be UTF-8 (or ANSI) or
// UTF-16 text.
func newParser(r io.Reader) *parser {
	p := &parser{src: r}
	p.m = newMachine(func(u *unique) { p.queue = append(p.queue, u.stack()) })
	return p
}

// Next returns the next stack, or io.EOF after the last one. Other errors
// are read errors or a *BinaryError (errors.Is(err, ErrBinary)).
func (p *parser) Next() (Stack, error) {
	for len(p.queue) == 0 {
		if p.done {
			if p.err != nil {
				return Stack{}, p.err
			}
			return Stack{}, io.EOF
		}
		p.fill()
	}
	s := p.queue[0]
	p.queue = p.queue[1:]
	p.stats.Stacks++
	return s, nil
}

// Hits returns the "Breakpoint N hit" lines seen so far.
func (p *parser) Hits() int { return p.m.hits }

// Stats returns what was read so far.
func (p *parser) Stats() Stats {
	s := p.stats
	s.Hits, s.Lines = p.m.hits, p.m.lines
	return s
}

const parserBuf = 256 << 10

func (p *parser) fill() {
	if p.text == nil {
		text, enc, err := textReader(p.src)
		if err != nil {
			p.err, p.done = err, true
			return
		}
		p.text, p.stats.Encoding = text, enc
		p.buf = make([]byte, 0, parserBuf)
	}
	// Keep the unparsed tail, then read more behind it.
	n := copy(p.buf[:cap(p.buf)], p.buf[p.start:])
	p.buf, p.start = p.buf[:n], 0
	if n == cap(p.buf) {
		// A line longer than the buffer: take it as it is.
		p.m.line(p.buf)
		p.buf = p.buf[:0]
		n = 0
	}
	r, err := p.text.Read(p.buf[n:cap(p.buf)])
	p.buf = p.buf[:n+r]
	p.stats.Bytes += int64(r)
	final := err != nil
	if !final && bytes.IndexByte(p.buf[n:], '\n') < 0 {
		return // no new line yet: do not rescan the partial one
	}
	p.start = p.m.feed(p.buf, final)
	if final {
		p.m.eof()
		p.done = true
		if !errors.Is(err, io.EOF) {
			p.err = err
		}
	}
}
