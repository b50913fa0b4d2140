package launcher

import (
	"bytes"
	"io"
	"time"

	"github.com/kdlaunch/kdlaunch/script"
)

// Line is one complete line of kd output, already redacted.
type Line struct {
	Text  string
	Class script.Kind
	// Prompts counts the kd prompts in this line that were not published as
	// Output.Prompts (kd printed them and went on in the same read).
	Prompts int
}

// Output is what the pump publishes: the lines completed by one read, then
// possibly a prompt (kd is waiting for a command), then possibly the end of
// kd's output. Batching per read keeps a flood of hits cheap.
type Output struct {
	Lines   []Line
	Prompt  string // non-empty: kd printed this prompt and waits for input
	Prompts int    // how many prompts kd printed since the last Output (>= 1 with Prompt)
	EOF     bool
	Tail    []string // with EOF: kd's last lines, for the exit diagnosis
	At      time.Time
}

const (
	maxLine   = 64 << 10 // a line longer than this is cut, never buffered without bound
	tailLines = 40
)

// Pump is the one goroutine that owns kd's output. It reads as fast as kd
// writes (kd must never block on its output, or the target slows down), copies
// every line to the sinks (kd's lines go to the log's "kd" sub-logger) and publishes Outputs on out. It closes out after
// the EOF Output.
func Pump(r io.Reader, out chan<- Output, s Sinks) {
	defer close(out)
	s = s.withDefaults()
	log := s.Log.Named("kd")
	debug := log.IsDebug()
	tail := newRing(tailLines)
	buf := make([]byte, 64<<10)
	var partial []byte
	pub := 0       // bytes of partial already published as prompts (and shown)
	var con []byte // console text of one read, written at once

	emitLine := func(o *Output, raw []byte) {
		raw = bytes.TrimRight(raw, "\r")
		text := s.Redact.String(string(raw))
		rest := text
		if pub > 0 && pub <= len(rest) {
			rest = rest[pub:]
		}
		n, _ := script.SplitPrompts(rest)
		o.Lines = append(o.Lines, Line{Text: text, Class: script.Classify(text), Prompts: n})
		tail.add(text)
		if s.Console != nil {
			con = append(append(con, rest...), '\n')
		}
		s.Transcript.Output(text)
		if debug {
			log.Debug("kd", "line", text)
		}
	}

	for {
		n, err := r.Read(buf)
		data := buf[:n]
		o := Output{At: time.Now(), Lines: make([]Line, 0, bytes.Count(data, []byte{'\n'}))}
		con = con[:0]
		for len(data) > 0 {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				break
			}
			if len(partial) > 0 {
				partial = append(partial, data[:i]...)
				emitLine(&o, partial)
				partial = partial[:0]
			} else {
				emitLine(&o, data[:i])
			}
			pub = 0
			data = data[i+1:]
		}
		partial = append(partial, data...)
		if len(partial) > maxLine {
			emitLine(&o, partial)
			partial, pub = partial[:0], 0
		}
		if len(con) > 0 {
			s.Console.Output(string(con[:len(con)-1]), true)
		}
		if len(partial) > pub {
			fresh := string(partial[pub:])
			if k := script.Prompts(fresh); k > 0 {
				p := s.Redact.String(fresh)
				o.Prompt = p
				o.Prompts = k
				pub = len(partial)
				if s.Console != nil {
					s.Console.Output(p, false)
				}
				s.Transcript.Output(p)
			}
		}
		if err != nil {
			if len(partial) > pub {
				con = con[:0]
				emitLine(&o, partial)
				if len(con) > 0 {
					s.Console.Output(string(con[:len(con)-1]), true)
				}
			}
			o.EOF = true
			o.Tail = tail.lines()
			if err != io.EOF {
				log.Debug("kd output ended", "error", err)
			}
			_ = s.Transcript.Flush()
			out <- o
			return
		}
		if len(o.Lines) > 0 || o.Prompt != "" {
			out <- o
		}
		if n < len(buf) {
			// kd went quiet for a moment: a good time to make the transcript durable.
			_ = s.Transcript.Flush()
		}
	}
}

// ring keeps the last n lines for diagnostics; memory stays flat however long
// kd runs.
type ring struct {
	buf  []string
	next int
	full bool
}

func newRing(n int) *ring { return &ring{buf: make([]string, n)} }

func (r *ring) add(s string) {
	r.buf[r.next] = s
	r.next = (r.next + 1) % len(r.buf)
	if r.next == 0 {
		r.full = true
	}
}

func (r *ring) lines() []string {
	if !r.full {
		return append([]string(nil), r.buf[:r.next]...)
	}
	return append(append([]string(nil), r.buf[r.next:]...), r.buf[:r.next]...)
}
