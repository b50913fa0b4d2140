// Package stacks finds the stack backtraces in kd and WinDbg output (kb, kv,
// kn, kp, kP, k, kc, !thread, !analyze -v STACK_TEXT, x86 and x64, every
// layout listed in kd-facts.md section 3.5) and yields each as the list of
// its call sites, innermost first.
//
// The parser streams: it holds one stack in progress and an intern table of
// the distinct stacks seen, so memory grows with the number of distinct
// stacks, not with the size of the log. Columns are found from the stack
// header (ChildEBP/Child-SP/RetAddr/Args to Child/Call Site) by counting
// values, not by fixed offsets; indentation, CRLF, UTF-16 (.logopen /u),
// prompts, commands, DbgPrint lines and debugger warnings between or inside
// stacks are tolerated, and a log cut off in the middle of a stack is not an
// error.
//
// A frame is the call site as kd printed it (module!function+0xoffset,
// module+0xoffset, or a bare 0x address) without the annotations kd appends:
// " [file @ line]", "(FPO: ...)", "(CONV: ...)", "(TrapFrame @ ...)",
// "[Stdcall: N]", and without kp/kP parameter lists. A row that has its
// address columns but no call site becomes the frame "?".
//
// A stack ends at a blank line, a prompt ("0: kd> "), the next header, a
// "Breakpoint N hit" line, more than a few unrecognised lines, or the end of
// the input.
package stacks

import (
	"bytes"
	"errors"
	"io"
	"strings"
)

// Stack is one stack backtrace.
type Stack struct {
	// Frames are the call sites, innermost (frame 00) first. Parsers share
	// the slice between identical stacks: do not modify it.
	Frames []string

	key string
}

// Key returns the frames joined with "\n": equal keys mean identical stacks.
func (s Stack) Key() string {
	if s.key == "" && len(s.Frames) > 0 {
		return strings.Join(s.Frames, "\n")
	}
	return s.key
}

func (u *unique) stack() Stack { return Stack{Frames: u.frames, key: u.key} }

// Stats describes one parsed input.
type Stats struct {
	Encoding Encoding
	Bytes    int64 // bytes of text (UTF-8, after decoding) read
	Lines    int64
	Hits     int // "Breakpoint N hit" lines
	Stacks   int // stacks yielded
}

// Parser yields the stacks of one log, one at a time, in a single goroutine.
// Scan is the faster way to read a whole log.
type Parser struct {
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

// NewParser returns a parser reading r, which may be UTF-8 (or ANSI) or
// UTF-16 text.
func NewParser(r io.Reader) *Parser {
	p := &Parser{src: r}
	p.m = newMachine(func(u *unique) { p.queue = append(p.queue, u.stack()) })
	return p
}

// Next returns the next stack, or io.EOF after the last one. Other errors
// are read errors or a *BinaryError (errors.Is(err, ErrBinary)).
func (p *Parser) Next() (Stack, error) {
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
func (p *Parser) Hits() int { return p.m.hits }

// Stats returns what was read so far.
func (p *Parser) Stats() Stats {
	s := p.stats
	s.Hits, s.Lines = p.m.hits, p.m.lines
	return s
}

const parserBuf = 256 << 10

func (p *Parser) fill() {
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
