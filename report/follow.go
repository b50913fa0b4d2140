package report

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"golang.org/x/term"

	"github.com/kdlaunch/kdlaunch/stacks"
)

// FollowOptions tune Follow.
type FollowOptions struct {
	Top   int   // stacks shown (0 = all)
	Width int   // table width (0 = 80)
	Skip  *Skip // nil = DefaultSkip
	// Poll is how often the file is read; 0 means min(interval, 250ms).
	Poll time.Duration
	// Clear says whether to clear the screen before each redraw: only a
	// terminal that honours ANSI escapes should get them, and the caller,
	// which owns the console, decides (nil: no clearing, plain output).
	Clear *bool
	// Writing reports whether a writer (kdlaunch run, which holds a lock
	// on its log for the whole run) still has the log open; nil means it
	// cannot be told. Once a writer was seen and has let go, Follow draws
	// the final count, says so and returns.
	Writing func(path string) (bool, error)
}

// Follow tails the log at path while kd (kdlaunch run) is still writing it,
// and every interval redraws the top stacks and the hit rate on w, until
// ctx is cancelled or the writer has finished (opt.Writing); then it draws a
// last time and returns nil. The file may not exist yet (it says it waits
// for it); if it is truncated or replaced, counting starts over. On a
// terminal the screen is cleared before each redraw, elsewhere a separator
// line is printed.
func Follow(ctx context.Context, path string, interval time.Duration, w io.Writer, opt FollowOptions) error {
	if interval <= 0 {
		interval = 2 * time.Second
	}
	poll := opt.Poll
	if poll <= 0 {
		poll = min(interval, 250*time.Millisecond)
	}
	skip := opt.Skip
	if skip == nil {
		skip = DefaultSkip()
	}
	clear := false
	if opt.Clear != nil {
		clear = *opt.Clear
	}
	fl := &follower{path: path, buf: make([]byte, 256<<10)}
	fl.reset()

	redraw := time.NewTicker(interval)
	defer redraw.Stop()
	reader := time.NewTicker(poll)
	defer reader.Stop()

	if err := fl.read(); err != nil {
		return err
	}
	fl.draw(w, clear, skip, opt)
	for {
		select {
		case <-ctx.Done():
			if err := fl.read(); err != nil {
				return err
			}
			fl.draw(w, clear, skip, opt)
			return fl.close()
		case <-reader.C:
			if err := fl.read(); err != nil {
				fl.close()
				return err
			}
			if fl.writerFinished(opt.Writing) {
				if err := fl.read(); err != nil {
					fl.close()
					return err
				}
				fl.draw(w, clear, skip, opt)
				head, tail := "kdlaunch run has finished writing ", ": these counts are final"
				fmt.Fprintln(w, head+fitFrame(fl.path, widthOf(opt.Width)-len(head)-len(tail))+tail)
				return fl.close()
			}
		case <-redraw.C:
			fl.draw(w, clear, skip, opt)
		}
	}
}

type follower struct {
	path string
	f    *os.File
	info os.FileInfo
	off  int64
	buf  []byte
	agg  *Aggregator
	tail *stacks.Tail
	note string

	writer    bool // a writer was seen holding the log
	drawn     bool // drawn at least once since the last reset
	waiting   bool // the file does not exist (yet)
	baseTime  time.Time
	baseCount int // hits already in the log at the first draw
	lastDraw  time.Time
	lastCount int
}

// writerFinished reports whether a writer that was seen holding the log
// has let go of it. A failing probe counts as no news.
func (fl *follower) writerFinished(writing func(string) (bool, error)) bool {
	if writing == nil || fl.waiting {
		return false
	}
	busy, err := writing(fl.path)
	if err != nil {
		return false
	}
	if busy {
		fl.writer = true
		return false
	}
	return fl.writer
}

func (fl *follower) reset() {
	fl.agg = NewAggregator()
	fl.tail = stacks.NewTail(func(s stacks.Stack) { fl.agg.Add(s) })
	fl.tail.OnNote(func(l string) { fl.agg.Note(l) })
	fl.off = 0
	fl.drawn = false
}

func (fl *follower) close() error {
	if fl.f == nil {
		return nil
	}
	err := fl.f.Close()
	fl.f = nil
	return err
}

// read reads whatever was appended since the last call.
func (fl *follower) read() error {
	if fl.f == nil {
		f, err := os.Open(fl.path)
		if errors.Is(err, fs.ErrNotExist) {
			fl.waiting = true
			return nil
		}
		if err != nil {
			return fmt.Errorf("open log %s: %w", fl.path, UnwrapPath(err))
		}
		info, err := f.Stat()
		if err != nil {
			f.Close()
			return fmt.Errorf("stat log %s: %w", fl.path, err)
		}
		if info.IsDir() {
			f.Close()
			return fmt.Errorf("%s is a directory, not a kd log", fl.path)
		}
		fl.f, fl.info, fl.waiting = f, info, false
	}
	if info, err := fl.f.Stat(); err == nil && info.Size() < fl.off {
		fl.restart("was truncated")
		if fl.f == nil {
			return nil
		}
	}
	for {
		n, err := fl.f.Read(fl.buf)
		if n > 0 {
			fl.off += int64(n)
			if _, werr := fl.tail.Write(fl.buf[:n]); werr != nil {
				return fmt.Errorf("%s looks binary, not a kd log: %w", fl.path, werr)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read log %s: %w", fl.path, err)
		}
	}
	// Replaced by a new file (rotation, or kd recreated it): start over.
	if info, err := os.Stat(fl.path); err == nil && !os.SameFile(info, fl.info) {
		fl.close()
		fl.reset()
		fl.note = fmt.Sprintf("%s was replaced: counting from its start", fl.path)
		return fl.read()
	}
	return nil
}

func (fl *follower) restart(why string) {
	if _, err := fl.f.Seek(0, io.SeekStart); err != nil {
		fl.close()
	}
	fl.reset()
	fl.note = fmt.Sprintf("%s %s: counting from its start", fl.path, why)
}

func (fl *follower) draw(w io.Writer, clear bool, skip *Skip, opt FollowOptions) {
	width := widthOf(opt.Width)
	now := time.Now()
	if fl.waiting {
		// Nothing to count yet: one line, not an empty table.
		if !clear {
			fmt.Fprintf(w, "---- %s ----\n", now.Format("15:04:05"))
		} else {
			io.WriteString(w, "\x1b[H\x1b[2J")
		}
		head, tail := now.Format("15:04:05")+"  waiting for ", " to appear (Ctrl+C stops)"
		fmt.Fprintln(w, head+fitFrame(fl.path, width-len(head)-len(tail))+tail)
		return
	}
	snap := fl.agg
	if p, ok := fl.tail.Pending(); ok {
		snap = fl.agg.Clone()
		snap.Add(p)
	}
	snap.hits = fl.tail.Hits()
	r := snap.Report(skip)

	count := r.Hits
	if count == 0 {
		count = r.StacksTotal
	}
	rates := "hit rate: measuring (the log already held " + fmt.Sprint(count) + ")"
	if !fl.drawn {
		fl.drawn = true
		fl.baseTime, fl.baseCount = now, count
	} else {
		rates = fmt.Sprintf("hit rate: %.1f/min over the last %s, %.1f/min since following began",
			rate(count-fl.lastCount, now.Sub(fl.lastDraw)), now.Sub(fl.lastDraw).Round(time.Second),
			rate(count-fl.baseCount, now.Sub(fl.baseTime)))
	}
	fl.lastDraw, fl.lastCount = now, count

	if clear {
		io.WriteString(w, "\x1b[H\x1b[2J")
	} else {
		fmt.Fprintf(w, "---- %s ----\n", now.Format("15:04:05"))
	}
	head := now.Format("15:04:05") + "  following "
	tail := "  (Ctrl+C stops)"
	fmt.Fprintln(w, head+fitFrame(fl.path, width-len(head)-len(tail))+tail)
	fmt.Fprintln(w, fit(rates, width))
	if fl.note != "" {
		fmt.Fprintln(w, fit(fl.note, width))
	}
	WriteTable(w, r, WriteOptions{Top: opt.Top, Width: opt.Width, Compact: true})
}

func widthOf(w int) int {
	if w <= 0 {
		return 80
	}
	return w
}

func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Minutes()
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

// UnwrapPath drops the *fs.PathError wrapper, whose text repeats the path,
// for messages that name the path themselves.
func UnwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
