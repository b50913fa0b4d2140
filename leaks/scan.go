package leaks

import (
	"bytes"
	"errors"
	"io"
	"time"

	"github.com/kdlaunch/kdlaunch/stacks"
)

// ScanStats describe one log read by Scan.
type ScanStats struct {
	Bytes   int64
	Lines   int64
	Records int64
	Timed   bool // the input was a kdlaunch transcript: records have times
}

const scanBuf = 1 << 20

// maxLine is the longest line kept whole; a longer one is cut (its record,
// if any, is then counted as bad).
const maxLine = 64 << 10

// Scan reads a kd log (or a kdlaunch transcript, whose lines carry times)
// and feeds its records, and the stack after each allocation record, to t.
// Lines without records go to the stack parser in large runs, so the cost
// per byte is the stack parser's plus one search for the prefix.
func Scan(r io.Reader, t *Tracker) (ScanStats, error) {
	s := &scanner{t: t}
	s.tail = stacks.NewTail(t.Stack)
	buf := make([]byte, scanBuf)
	n := 0
	for {
		k, err := io.ReadFull(r, buf[n:])
		n += k
		s.st.Bytes += int64(k)
		final := err != nil
		if final && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			return s.st, err
		}
		end := bytes.LastIndexByte(buf[:n], '\n') + 1
		if final {
			end = n
		} else if end == 0 {
			end = n // a line longer than the buffer: cut it
		}
		if err := s.feed(buf[:end]); err != nil {
			return s.st, err
		}
		n = copy(buf, buf[end:n])
		if final {
			s.tail.Flush()
			return s.st, s.err
		}
	}
}

type scanner struct {
	t      *Tracker
	tail   *stacks.Tail
	st     ScanStats
	err    error
	mode   int // 0 undecided, 1 kd log, 2 transcript
	line   []byte
	at     time.Time
	lastTS []byte
}

func (s *scanner) write(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	_, err := s.tail.Write(b)
	return err // a *stacks.BinaryError for a log that is not text
}

// feed takes complete lines (the last may lack its newline at the end of
// the input).
func (s *scanner) feed(b []byte) error {
	if s.mode == 0 {
		first := b
		if i := bytes.IndexByte(first, '\n'); i >= 0 {
			first = first[:i]
		}
		if len(first) == 0 && len(b) == 0 {
			return nil
		}
		s.mode = 1
		if _, ok := stamp(first); ok {
			s.mode = 2
		}
	}
	if s.mode == 2 {
		return s.feedTranscript(b)
	}
	pos := 0
	for pos < len(b) {
		i := bytes.Index(b[pos:], []byte(Prefix))
		if i < 0 {
			s.st.Lines += int64(bytes.Count(b[pos:], []byte{'\n'}))
			return s.write(b[pos:])
		}
		at := pos + i
		ls := bytes.LastIndexByte(b[pos:at], '\n') + 1 + pos
		le := bytes.IndexByte(b[at:], '\n')
		if le < 0 {
			// The record's own newline is missing: the log ends inside it
			// (kd is still writing, or the file was cut), and a value may
			// be cut short.
			s.st.Lines++
			if err := s.write(b[pos:ls]); err != nil {
				return err
			}
			s.tail.Flush()
			s.t.Bad()
			return nil
		} else {
			le += at + 1
		}
		s.st.Lines += int64(bytes.Count(b[pos:ls], []byte{'\n'})) + 1
		if err := s.write(b[pos:ls]); err != nil {
			return err
		}
		s.record(b[ls:le], time.Time{})
		pos = le
	}
	return nil
}

// record ends the stack in progress (it belongs to the allocation before
// this record) and hands the record to the tracker.
func (s *scanner) record(line []byte, at time.Time) {
	s.tail.Flush()
	rec, ok := Parse(line)
	if !ok {
		// The echo of a bp command that prints records has the prefix
		// followed by format text: not a record, and not a bad one.
		if !bytes.Contains(line, []byte{'%'}) {
			s.t.Bad()
		}
		return
	}
	s.st.Records++
	s.t.Add(rec, at)
}

// feedTranscript strips each line's "<time> < " and keeps kd's lines only
// (">" is what kdlaunch typed, "#" its events).
func (s *scanner) feedTranscript(b []byte) error {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		var l []byte
		if i < 0 {
			l, b = b, nil
		} else {
			l, b = b[:i+1], b[i+1:]
		}
		s.st.Lines++
		body, ok := stamp(l)
		if !ok {
			// A line kd printed without its own newline ends up inside the
			// previous one; anything unstamped is passed on as it is.
			body = l
		} else {
			if body[0] != '<' {
				continue
			}
			ts := l[:24]
			if !bytes.Equal(ts, s.lastTS) {
				if at, err := time.Parse("2006-01-02T15:04:05.000Z", string(ts)); err == nil {
					s.at = at
					s.st.Timed = true
					s.lastTS = append(s.lastTS[:0], ts...)
				}
			}
			body = body[2:]
		}
		if Find(body) >= 0 {
			s.record(body, s.at)
			continue
		}
		if err := s.write(body); err != nil {
			return err
		}
	}
	return nil
}

// stamp reports whether l starts with a transcript stamp
// ("2026-12-01T21:33:23.123Z < ") and returns what follows the stamp and
// its space ("< line").
func stamp(l []byte) ([]byte, bool) {
	const layout = "dddd-dd-ddTdd:dd:dd.dddZ "
	if len(l) < len(layout)+2 {
		return nil, false
	}
	for i := 0; i < len(layout); i++ {
		c := l[i]
		if layout[i] == 'd' {
			if c < '0' || c > '9' {
				return nil, false
			}
		} else if c != layout[i] {
			return nil, false
		}
	}
	body := l[len(layout):]
	if (body[0] != '<' && body[0] != '>' && body[0] != '#') || body[1] != ' ' {
		return nil, false
	}
	return body, true
}
