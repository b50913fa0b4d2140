// Package transcript writes a timestamped record of a kd session: every line
// kd printed, every line kdlaunch typed, and kdlaunch's own events, so a
// session can be replayed and audited after the fact.
package transcript

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Writer appends to a transcript file. It is safe for concurrent use: the
// output pump and the session both write to it.
type Writer struct {
	mu  sync.Mutex
	f   *os.File
	w   *bufio.Writer
	now func() time.Time
	err error

	// The timestamp is formatted once per millisecond, not once per line:
	// kd can print thousands of lines in one.
	stampMs int64
	stamp   string
}

// Open appends to path, creating it (mode 0600: a transcript can hold
// anything kd printed) if needed.
func Open(path string) (*Writer, error) {
	// Created like the log's folder, so both can live in a new lab folder.
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("open transcript %s: %w: choose another --transcript", path, err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open transcript %s: %w", path, err)
	}
	return &Writer{f: f, w: bufio.NewWriterSize(f, 64<<10), now: time.Now}, nil
}

// Output records a line kd printed.
func (t *Writer) Output(line string) { t.write('<', line) }

// Input records a line kdlaunch sent to kd.
func (t *Writer) Input(line string) { t.write('>', line) }

// Event records something kdlaunch did or noticed.
func (t *Writer) Event(msg string) { t.write('#', msg) }

func (t *Writer) write(dir byte, s string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err != nil {
		return
	}
	now := t.now()
	if ms := now.UnixMilli(); ms != t.stampMs || t.stamp == "" {
		t.stampMs, t.stamp = ms, now.UTC().Format("2006-01-02T15:04:05.000Z")
	}
	t.w.WriteString(t.stamp)
	t.w.WriteByte(' ')
	t.w.WriteByte(dir)
	t.w.WriteByte(' ')
	t.w.WriteString(s)
	_, t.err = t.w.WriteString("\n")
}

// Flush pushes buffered lines to the file; the pump calls it when kd goes
// quiet so a crash loses at most the last moment.
func (t *Writer) Flush() error {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err == nil {
		t.err = t.w.Flush()
	}
	return t.err
}

// Close flushes and closes the file, reporting the first write error.
func (t *Writer) Close() error {
	if t == nil {
		return nil
	}
	ferr := t.Flush()
	cerr := t.f.Close()
	if ferr != nil {
		return fmt.Errorf("write transcript %s: %w", t.f.Name(), ferr)
	}
	return cerr
}
