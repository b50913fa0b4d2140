package stacks

import (
	"bytes"
	"errors"
	"io"
	"runtime"

	"github.com/kdlaunch/kdlaunch/script"
)

// chunkSize is how much text one worker parses at a time.
const chunkSize = 1 << 20

// boundaryWindow is how far back from the end of a chunk a cut point (a
// "Breakpoint N hit" line or a stack header) is looked for.
const boundaryWindow = 256 << 10

// Scan reads a whole log and calls fn for each stack, in log order, from
// the calling goroutine. It parses on all CPUs (GOMAXPROCS): one goroutine
// reads (and decodes UTF-16) while the others parse chunks that are cut at
// lines which reset the parser (hits and headers), so the result is the
// same as newParser's. fn must not keep s.Frames past the call if it
// modifies them.
func Scan(r io.Reader, fn func(s Stack)) (Stats, error) {
	return ScanWorkers(r, runtime.GOMAXPROCS(0), fn)
}

// ScanWorkers is Scan with an explicit number of parsing goroutines.
func ScanWorkers(r io.Reader, workers int, fn func(s Stack)) (Stats, error) {
	return scanWorkers(r, workers, fn, nil)
}

func scanWorkers(r io.Reader, workers int, fn func(s Stack), note func(string)) (Stats, error) {
	var st Stats
	text, enc, err := textReader(r)
	st.Encoding = enc
	if err != nil {
		return st, err
	}
	if workers < 1 {
		workers = 1
	}
	// Read the first chunk into a buffer that grows, so small logs cost
	// little; only a log larger than a chunk is parsed in parallel.
	first := make([]byte, 0, 64<<10)
	var rerr error
	for len(first) < chunkSize && rerr == nil {
		if len(first) == cap(first) {
			grown := make([]byte, len(first), min(2*cap(first), chunkSize))
			copy(grown, first)
			first = grown
		}
		var k int
		k, rerr = readFull(text, first[len(first):cap(first)])
		first = first[:len(first)+k]
	}
	n := len(first)
	st.Bytes = int64(n)
	if rerr != nil {
		// The whole input fits in one chunk: parse it here.
		m := newMachine(func(u *unique) { st.Stacks++; fn(u.stack()) })
		if note != nil {
			m.note = func(l []byte) { note(string(l)) }
		}
		m.feed(first[:n], true)
		m.eof()
		st.Hits, st.Lines = m.hits, m.lines
		if !errors.Is(rerr, io.EOF) {
			return st, rerr
		}
		return st, nil
	}
	return scanParallel(text, first, workers, fn, note, st)
}

// readFull reads until p is full or the reader fails (io.EOF at the end).
func readFull(r io.Reader, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k, err := r.Read(p[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

type chunk struct {
	buf    []byte
	n      int  // bytes of buf to parse
	cont   bool // continues the previous chunk's parser state
	open   bool // the next chunk continues this one: do not end the stack
	final  bool // the last chunk of the input
	worker int
	out    []*unique
	notes  []chunkNote
	hits   int
	lines  int64
	done   chan struct{}
}

// chunkNote is a noted line and how many of its chunk's stacks came before it.
type chunkNote struct {
	at   int
	line string
}

func scanParallel(text io.Reader, first []byte, workers int, fn func(Stack), note func(string), st Stats) (Stats, error) {
	nchunks := 2*workers + 2
	free := make(chan *chunk, nchunks)
	for i := 1; i < nchunks; i++ {
		free <- &chunk{buf: make([]byte, chunkSize)}
	}
	firstChunk := &chunk{buf: first} // full: the caller read it
	order := make(chan *chunk, nchunks)
	ins := make([]chan *chunk, workers)
	for i := range ins {
		ins[i] = make(chan *chunk, nchunks)
		go func(in <-chan *chunk) {
			var cur *chunk
			m := newMachine(func(u *unique) { cur.out = append(cur.out, u) })
			if note != nil {
				m.note = func(l []byte) { cur.notes = append(cur.notes, chunkNote{len(cur.out), string(l)}) }
			}
			for c := range in {
				cur = c
				if !c.cont {
					m.reset()
				}
				before := m.hits
				lines := m.lines
				m.feed(c.buf[:c.n], !c.open)
				if c.final {
					m.eof()
				} else if !c.open {
					m.end()
				}
				c.hits, c.lines = m.hits-before, m.lines-lines
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
		var carry []byte
		prevOpen, prevWorker, next := false, 0, 0
		for {
			var c *chunk
			var n int
			var err error
			if firstChunk != nil {
				c, n, firstChunk = firstChunk, len(first), nil
			} else {
				c = <-free
				n = copy(c.buf, carry)
				var k int
				k, err = readFull(text, c.buf[n:])
				bytesRead += int64(k)
				n += k
			}
			final := err != nil
			cut, open := n, false
			if !final {
				cut, open = cutPoint(c.buf[:n])
			}
			c.n, c.cont, c.open, c.final = cut, prevOpen, open, final
			c.out, c.notes, c.hits, c.lines = c.out[:0], c.notes[:0], 0, 0
			c.done = make(chan struct{})
			if prevOpen {
				c.worker = prevWorker
			} else {
				c.worker = next
				next = (next + 1) % workers
			}
			carry = c.buf[cut:n]
			prevOpen, prevWorker = open, c.worker
			order <- c
			ins[c.worker] <- c
			if final {
				if !errors.Is(err, io.EOF) {
					readErr = err
				}
				return
			}
		}
	}()

	for c := range order {
		<-c.done
		k := 0
		for i, u := range c.out {
			for ; k < len(c.notes) && c.notes[k].at <= i; k++ {
				note(c.notes[k].line)
			}
			st.Stacks++
			fn(u.stack())
		}
		for ; k < len(c.notes); k++ {
			note(c.notes[k].line)
		}
		st.Hits += c.hits
		st.Lines += c.lines
		free <- c
	}
	st.Bytes += bytesRead
	return st, readErr
}

// cutPoint chooses where to end a chunk: at the start of the last line
// within boundaryWindow of the end that resets the parser (a breakpoint hit
// or a stack header), so the next chunk can be parsed independently. If
// there is none, the chunk ends after its last complete line and is marked
// open: the same worker continues it with its state.
func cutPoint(b []byte) (cut int, open bool) {
	end := bytes.LastIndexByte(b, '\n')
	if end < 0 {
		return len(b), true // a line longer than a chunk
	}
	limit := len(b) - boundaryWindow
	for i := end; i > 0 && i > limit; {
		j := bytes.LastIndexByte(b[:i], '\n')
		if j < 0 {
			break
		}
		if line := b[j+1 : i]; len(line) > 0 && isResetLine(line) {
			return j + 1, false
		}
		i = j
	}
	return end + 1, true
}

// isResetLine reports whether a line (at the start of a chunk) leaves the
// machine in the same state whatever came before it.
func isResetLine(line []byte) bool {
	t := trimSpace(line)
	if len(t) == 0 {
		return false
	}
	switch t[0] {
	case 'B':
		return script.IsHit(t)
	case '#', 'C', 'F', 'R', 'M':
		_, ok := parseHeader(t)
		return ok
	}
	return false
}
