package cli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/kdlaunch/kdlaunch/htmlreport"
	"github.com/kdlaunch/kdlaunch/leaks"
	"github.com/kdlaunch/kdlaunch/leaks/records"
	"github.com/kdlaunch/kdlaunch/report"
)

// LeakFlags are report's flags for leak logs (logs with leak records, or
// kdlaunch transcripts of a leak session).
type LeakFlags struct {
	FoldedValue string `enum:"outstanding-bytes,allocs" default:"outstanding-bytes" help:"Leak logs: the value of --format folded, outstanding bytes (default) or allocation counts."`
}

// leakSniff is how much of a log is searched for a leak record before it
// is taken for a plain allocation log. The recipe's header record comes
// right after the preamble, where kdlaunch arms the breakpoints.
const leakSniff = 4 << 20

// isLeakLog reports whether the start of a log holds leak records.
func isLeakLog(head []byte) bool { return bytes.Contains(head, []byte(records.Prefix)) }

// runLeaks reports the logs as leak logs if they are. handled is false for
// plain allocation logs, which report as before; stdin is then the reader
// to use for "-" (it holds what was looked at).
func (c *ReportCmd) runLeaks(stdin io.Reader, stdout, stderr io.Writer, skip *report.Skip, format string) (handled bool, _ io.Reader, err error) {
	kinds := make([]bool, len(c.Logs))
	tag, strategy := c.Tag, c.Strategy
	var br *bufio.Reader
	anyLeak, anyPlain := false, false
	for i, p := range c.Logs {
		var head []byte
		if p == "-" {
			if br == nil {
				br = bufio.NewReaderSize(stdin, leakSniff)
				stdin = br
			}
			head, _ = br.Peek(leakSniff)
		} else {
			f, err := os.Open(p)
			if err != nil {
				return false, stdin, nil // readLog says what is wrong with it
			}
			head = make([]byte, leakSniff)
			n, _ := io.ReadFull(f, head)
			head = head[:n]
			f.Close()
		}
		kinds[i] = isLeakLog(head)
		// A flag wins; then the first log that tells, as for plain logs.
		var facts report.HeadFacts
		facts.Write(head)
		facts.Flush()
		if tag == "" {
			tag = facts.Tag
		}
		if strategy == "" {
			strategy = facts.Strategy
		}
		anyLeak = anyLeak || kinds[i]
		anyPlain = anyPlain || !kinds[i]
	}
	if !anyLeak {
		return false, stdin, nil
	}
	if anyPlain {
		for i, p := range c.Logs {
			if !kinds[i] {
				return true, stdin, fmt.Errorf("report: %s has no leak records (%s...) but the other logs have: report plain and leak logs separately", p, records.Prefix)
			}
		}
	}
	tr := leaks.NewTracker()
	for _, p := range c.Logs {
		if err := scanLeakLog(p, stdin, tr); err != nil {
			return true, stdin, err
		}
	}
	r := report.NewLeakReport(tr.Result(), skip)
	r.Tag, r.Strategy = tag, strategy
	opt := report.LeakWriteOptions{WriteOptions: report.WriteOptions{Top: c.Top}, Folded: c.FoldedValue}
	write := func(w io.Writer) error { return report.WriteLeak(w, r, format, opt) }
	if format == "html" {
		write = func(w io.Writer) error { return htmlreport.Write(w, leakPage(r, skip, c.Logs)) }
	}
	if c.Output == "" || c.Output == "-" {
		if format == "pprof" && report.IsTerminal(stdout) {
			return true, stdin, errors.New("report: --format pprof is binary: use -o FILE or redirect standard output")
		}
		if err := write(stdout); err != nil {
			return true, stdin, fmt.Errorf("report: write: %w", err)
		}
		return true, stdin, nil
	}
	perm := fs.FileMode(0o644)
	if fi, err := os.Stat(c.Output); err == nil {
		perm = fi.Mode().Perm()
	}
	if err := writeOutput(stderr, c.Output, perm, write); err != nil {
		return true, stdin, fmt.Errorf("report: write %s: %w", c.Output, err)
	}
	return true, stdin, nil
}

func scanLeakLog(p string, stdin io.Reader, tr *leaks.Tracker) error {
	name, r, f, err := openLog(p, stdin)
	if err != nil {
		return err
	}
	if f != nil {
		defer f.Close()
	}
	if _, err := leaks.Scan(r, tr); err != nil {
		return readError(name, err)
	}
	return nil
}
