package leaks

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"time"

	"github.com/kdlaunch/kdlaunch/leaks/records"
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

// maxChunk bounds a chunk that has no record line to cut at; a kb stack is
// far shorter, so cutting such a chunk at any line splits no allocation's
// stack.
const maxChunk = 8 << 20

// sink takes what a scanner finds, in log order: the Tracker, or a chunk's
// event list that is replayed into it.
type sink interface {
	Add(rec records.Record, at time.Time)
	Stack(s stacks.Stack)
	Bad()
}

// Scan reads a kd log (or a kdlaunch transcript, whose lines carry times)
// and feeds its records, and the stack after each allocation record, to t.
// Lines without records go to the stack parser in large runs, so the cost
// per byte is the stack parser's plus one search for the prefix. A kd log
// larger than a chunk is parsed on all CPUs (GOMAXPROCS) in chunks cut at
// record lines, which end any stack, and replayed into t in log order, so
// the result is the same as one goroutine's.
func Scan(r io.Reader, t *Tracker) (ScanStats, error) {
	return ScanWorkers(r, runtime.GOMAXPROCS(0), t)
}

// ScanWorkers is Scan with an explicit number of parsing goroutines.
func ScanWorkers(r io.Reader, workers int, t *Tracker) (ScanStats, error) {
	// The first buffer grows, so a small log costs little.
	first := make([]byte, 0, 64<<10)
	var err error
	for len(first) < scanBuf && err == nil {
		if len(first) == min(cap(first), scanBuf) {
			first = append(first, make([]byte, min(cap(first), scanBuf-cap(first)))...)[:len(first)]
		}
		var k int
		k, err = io.ReadFull(r, first[len(first):min(cap(first), scanBuf)])
		first = first[:len(first)+k]
	}
	n := len(first)
	final := err != nil
	if final && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return ScanStats{Bytes: int64(n)}, err
	}
	line := first
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	_, transcript := stamp(line)
	if final || workers < 2 || transcript {
		s := newScanner(t)
		s.st.Bytes = int64(n)
		return s.sequential(r, first, final)
	}
	return scanParallel(r, first, workers, t)
}

func newScanner(k sink) *scanner {
	s := &scanner{sink: k}
	s.tail = stacks.NewTail(k.Stack)
	return s
}

// sequential parses first and then the rest of r in this goroutine.
func (s *scanner) sequential(r io.Reader, first []byte, final bool) (ScanStats, error) {
	if final {
		err := s.feed(first)
		s.tail.Flush()
		return s.st, err
	}
	buf := make([]byte, scanBuf)
	n := copy(buf, first)
	for {
		if !final {
			k, err := io.ReadFull(r, buf[n:])
			n += k
			s.st.Bytes += int64(k)
			final = err != nil
			if final && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				return s.st, err
			}
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
			return s.st, nil
		}
	}
}

// event is one thing a worker's scanner found.
type event struct {
	kind  uint8 // 0 record, 1 stack, 2 bad record
	rec   records.Record
	stack stacks.Stack
}

type collector struct{ ev []event }

func (c *collector) Add(rec records.Record, _ time.Time) { c.ev = append(c.ev, event{rec: rec}) }
func (c *collector) Stack(s stacks.Stack)                { c.ev = append(c.ev, event{kind: 1, stack: s}) }
func (c *collector) Bad()                                { c.ev = append(c.ev, event{kind: 2}) }

type chunk struct {
	buf   []byte
	final bool
	col   collector
	st    ScanStats
	err   error
	done  chan struct{}
}

// lastRecordLine returns the start of the last line of b that holds the
// prefix, or 0 if there is none after the first line.
func lastRecordLine(b []byte) int {
	i := bytes.LastIndex(b, []byte(records.Prefix))
	if i < 0 {
		return 0
	}
	return bytes.LastIndexByte(b[:i], '\n') + 1
}

func scanParallel(r io.Reader, first []byte, workers int, t *Tracker) (ScanStats, error) {
	nchunks := 2*workers + 2
	free := make(chan *chunk, nchunks)
	for i := 0; i < nchunks; i++ {
		free <- &chunk{}
	}
	order := make(chan *chunk, nchunks)
	ins := make([]chan *chunk, workers)
	for i := range ins {
		ins[i] = make(chan *chunk, nchunks)
		go func(in <-chan *chunk) {
			var cur *chunk
			s := newScanner(sinkFunc{&cur})
			s.mode = 1
			for c := range in {
				cur = c
				s.st = ScanStats{}
				c.err = s.feed(c.buf)
				s.tail.Flush()
				c.st = s.st
				close(c.done)
			}
		}(ins[i])
	}

	var readErr error
	var bytesRead int64
	go func() {
		defer func() {
			for _, in := range ins {
				close(in)
			}
			close(order)
		}()
		carry := first
		bytesRead = int64(len(first))
		next := 0
		for {
			c := <-free
			buf := append(c.buf[:0], carry...)
			final := false
			for {
				if cap(buf)-len(buf) < scanBuf {
					grown := make([]byte, len(buf), len(buf)+scanBuf)
					copy(grown, buf)
					buf = grown
				}
				k, err := io.ReadFull(r, buf[len(buf):len(buf)+scanBuf])
				buf = buf[:len(buf)+k]
				bytesRead += int64(k)
				if err != nil {
					final = true
					if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
						readErr = err
					}
					break
				}
				if lastRecordLine(buf) > 0 || len(buf) >= maxChunk {
					break
				}
			}
			cut := len(buf)
			if !final {
				end := bytes.LastIndexByte(buf, '\n') + 1
				if cut = lastRecordLine(buf[:end]); cut == 0 {
					cut = end
				}
				if cut == 0 {
					cut = len(buf) // one line longer than a chunk
				}
			}
			// The rest goes to the next chunk: keep it out of this buffer,
			// which a worker is about to read.
			carry = append([]byte(nil), buf[cut:]...)
			c.buf, c.final = buf[:cut], final
			c.col.ev, c.err = c.col.ev[:0], nil
			c.done = make(chan struct{})
			order <- c
			ins[next] <- c
			next = (next + 1) % workers
			if final || readErr != nil {
				return
			}
		}
	}()

	var st ScanStats
	var err error
	for c := range order {
		<-c.done
		if err == nil {
			err = c.err
		}
		if err == nil {
			for _, e := range c.col.ev {
				switch e.kind {
				case 0:
					t.Add(e.rec, time.Time{})
				case 1:
					t.Stack(e.stack)
				case 2:
					t.Bad()
				}
			}
			st.Lines += c.st.Lines
			st.Records += c.st.Records
		}
		free <- c
	}
	st.Bytes = bytesRead
	if err == nil {
		err = readErr
	}
	return st, err
}

// sinkFunc sends a worker's findings to the chunk it is working on.
type sinkFunc struct{ cur **chunk }

func (f sinkFunc) Add(rec records.Record, at time.Time) { (*f.cur).col.Add(rec, at) }
func (f sinkFunc) Stack(s stacks.Stack)                 { (*f.cur).col.Stack(s) }
func (f sinkFunc) Bad()                                 { (*f.cur).col.Bad() }

type scanner struct {
	sink   sink
	tail   *stacks.Tail
	st     ScanStats
	mode   int // 0 undecided, 1 kd log, 2 transcript
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
		i := bytes.Index(b[pos:], []byte(records.Prefix))
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
			s.sink.Bad()
			return nil
		}
		le += at + 1
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
	rec, ok := records.Parse(line)
	if !ok {
		if !records.IsEcho(line) {
			s.sink.Bad()
		}
		return
	}
	s.st.Records++
	s.sink.Add(rec, at)
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
		if records.Find(body) >= 0 {
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
