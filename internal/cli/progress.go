package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/kdlaunch/kdlaunch/plural"
	"github.com/kdlaunch/kdlaunch/report"
	"github.com/kdlaunch/kdlaunch/stacks"
)

// logSummary is what a run's part of the log says so far.
type logSummary struct {
	Hits    int
	Stacks  int
	Culprit string // the top stack's culprit; "" without stacks
	Module  string
	Count   int // the top stack's count
	// A leak run's top leaker by outstanding bytes (Leak set; Leaker ""
	// when nothing is outstanding): who allocates most is not who leaks.
	Leak                 bool
	Leaker               string
	LeakCount, LeakBytes int64
}

// summarizeLeakLog is summarizeLog for a leak run: the same hits, and the
// top leaker by outstanding bytes from the run's leak records.
func summarizeLeakLog(path string, offset int64) (logSummary, error) {
	s, err := summarizeLog(path, offset)
	if err != nil {
		return s, err
	}
	lr, ok, err := scanLeakRun(path, offset)
	if err != nil {
		return s, err
	}
	s.Leak = true
	if ok && len(lr.Report.Stacks) > 0 && lr.Report.Stacks[0].OutstandingBytes > 0 {
		top := lr.Report.Stacks[0]
		s.Leaker, s.LeakCount, s.LeakBytes = top.Culprit, top.OutstandingCount, top.OutstandingBytes
	}
	return s, nil
}

// summarizeLog reads log from offset (where this run began appending, so
// earlier runs in the same log do not count) with report's aggregator and
// default skip list. Memory grows with unique stacks, not with the log.
func summarizeLog(path string, offset int64) (logSummary, error) {
	f, err := os.Open(path)
	if err != nil {
		return logSummary{}, err
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return logSummary{}, err
	}
	agg := report.NewAggregator()
	st, err := stacks.Scan(f, agg.Add)
	if err != nil {
		return logSummary{}, err
	}
	r := agg.Report(nil)
	s := logSummary{Hits: st.Hits, Stacks: r.StacksTotal}
	if len(r.Stacks) > 0 {
		top := r.Stacks[0]
		s.Culprit, s.Module, s.Count = top.Culprit, report.Module(top.Culprit), top.Count
	}
	return s, nil
}

// culpritLine is the summary's one line about who allocates.
func culpritLine(s logSummary) string {
	if s.Culprit == "" {
		return ""
	}
	return fmt.Sprintf("%s (module %s): %d of %s (%.0f%%)", s.Culprit, s.Module, s.Count, plural.S(int64(s.Stacks), "stack"), 100*float64(s.Count)/float64(s.Stacks))
}

// progressLine is the short line printed every --progress interval where
// stdout is not a terminal: hits so far, the rate since the last line, and
// the top culprit.
func progressLine(prev, cur logSummary, elapsed, since time.Duration) string {
	rate := 0.0
	if since > 0 {
		rate = float64(cur.Hits-prev.Hits) / since.Seconds()
	}
	line := fmt.Sprintf("kdlaunch: progress: %s in %s (%.1f/s over the last %s)", plural.S(int64(cur.Hits), "hit"), roughly(elapsed), rate, roughly(since))
	switch {
	case cur.Leak && cur.Leaker != "":
		line += fmt.Sprintf("; top leaker %s (module %s): %s outstanding (%s)", cur.Leaker, report.Module(cur.Leaker), plural.S(cur.LeakCount, "allocation"), report.Bytes(cur.LeakBytes))
	case cur.Leak:
		line += "; nothing outstanding yet"
	default:
		if c := culpritLine(cur); c != "" {
			line += "; top culprit " + c
		}
	}
	return line
}

// runProgress prints a progress line at each tick until ctx ends. read
// summarises the log; now is the clock (a fake one in tests).
func runProgress(ctx context.Context, ticks <-chan time.Time, started time.Time, now func() time.Time, read func() (logSummary, error), emit func(string)) {
	var prev logSummary
	last := started
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticks:
			cur, err := read()
			if err != nil {
				continue // the log is kd's; a moment it cannot be read is not worth a line
			}
			t := now()
			emit(progressLine(prev, cur, t.Sub(started), t.Sub(last)))
			prev, last = cur, t
		}
	}
}

// roughly rounds d for a person: to the second, or to the millisecond
// under one (a short --progress).
func roughly(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Second)
}
