package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/kdlaunch/kdlaunch/internal/vt"
	"github.com/kdlaunch/kdlaunch/report"
	"github.com/kdlaunch/kdlaunch/stacks"
)

// ReportCmd is `kdlaunch report [flags] LOG...`: it reads kd/WinDbg logs,
// groups identical stacks, names the culprit of each and prints the result.
type ReportCmd struct {
	Logs     []string      `arg:"" optional:"" name:"log" help:"kd/WinDbg debug logs to read; '-' reads standard input. Several logs are added up."`
	Format   string        `short:"f" enum:"table,json,folded,pprof" default:"table" help:"Output format: table (for a person), json, folded (flamegraph.pl, speedscope, inferno) or pprof (go tool pprof -http=: FILE)."`
	Output   string        `short:"o" placeholder:"FILE" help:"Write the output to FILE instead of standard output (FILE is replaced only once the logs were read)."`
	Top      int           `default:"10" help:"Stacks shown in the table (0 shows all); json, folded and pprof always hold every stack."`
	Skip     []string      `sep:"," default:"nt,ntoskrnl,ntkrnlmp,ntkrnlpa,ntkrpamp,hal,verifier,*!VerifierExAllocatePool*,*!VeAllocatePool*,*!VfAllocPool*" placeholder:"PATTERNS" help:"Frames that cannot be the culprit, from the innermost: modules (nt) or module!function patterns with * (nt!ExAllocatePool*), comma-separated; replaces the default, 'none' skips nothing (default: ${default})."`
	SkipAdd  []string      `sep:"," placeholder:"PATTERNS" help:"Patterns to skip in addition to --skip (e.g. Wdf01000,mydrv!MyAllocWrapper)."`
	Follow   bool          `help:"Follow a log that kdlaunch run is still writing: redraw the top stacks and the hit rate every --interval until Ctrl+C."`
	Interval time.Duration `default:"2s" help:"Redraw period for --follow."`
	LeakFlags

	// For tests: standard input (nil means os.Stdin) and the context
	// --follow runs under (nil means one cancelled by Ctrl+C only).
	stdin io.Reader
	ctx   context.Context
}

// Run executes the command, writing to s.Out and notes to s.Err.
func (c *ReportCmd) Run(s streams) error {
	stdin, stdout, stderr := c.stdin, s.Out, s.Err
	if stdin == nil {
		stdin = os.Stdin
	}
	if stdout == nil {
		stdout = os.Stdout
	}
	if stderr == nil {
		stderr = os.Stderr
	}
	if len(c.Logs) == 0 {
		return errors.New("report: no log given: kdlaunch report FILE... (- reads standard input)")
	}
	format := c.Format
	if format == "" {
		format = "table"
	}
	if !validFormat(format) {
		return fmt.Errorf("report: unknown --format %q (want %s)", format, strings.Join(report.Formats, ", "))
	}
	if c.Top < 0 {
		return fmt.Errorf("report: --top must be 0 (all) or more, not %d", c.Top)
	}
	skipList := c.Skip
	if skipList == nil {
		skipList = report.DefaultSkipList
	}
	skip, err := report.NewSkip(append(append([]string{}, skipList...), c.SkipAdd...))
	if err != nil {
		return fmt.Errorf("report: --skip: %w", err)
	}

	if c.Follow {
		return c.follow(stdout, skip)
	}
	if c.Output != "" && c.Output != "-" {
		if err := checkOutput(c.Output, c.Logs); err != nil {
			return err
		}
	}

	handled, stdin, err := c.runLeaks(stdin, stdout, skip, format)
	if handled || err != nil {
		return err
	}
	agg := report.NewAggregator()
	for _, p := range c.Logs {
		if err := readLog(p, stdin, stderr, agg); err != nil {
			return err
		}
	}
	r := agg.Report(skip)
	opt := report.WriteOptions{Top: c.Top}
	if format == "folded" || format == "pprof" {
		// These formats hold allocation stacks only.
		if n := len(r.BugChecks); n > 0 {
			fmt.Fprintf(stderr, "report: %d bug checks in the logs, not counted as allocations: --format table or json lists them\n", n)
		}
		if r.FreesTotal > 0 {
			fmt.Fprintf(stderr, "report: %d free stacks in the logs, not counted as allocations: --format table or json lists them\n", r.FreesTotal)
		}
	}

	if c.Output == "" || c.Output == "-" {
		if format == "pprof" && report.IsTerminal(stdout) {
			return errors.New("report: --format pprof is binary: use -o FILE or redirect standard output")
		}
		if err := report.Write(stdout, r, format, opt); err != nil {
			return fmt.Errorf("report: write: %w", err)
		}
		return nil
	}
	// A report written over an earlier one keeps that file's mode.
	perm := fs.FileMode(0o644)
	if fi, err := os.Stat(c.Output); err == nil {
		perm = fi.Mode().Perm()
	}
	if err := writeFileAtomic(c.Output, perm, func(w io.Writer) error { return report.Write(w, r, format, opt) }); err != nil {
		return fmt.Errorf("report: write %s: %w", c.Output, err)
	}
	return nil
}

// checkOutput refuses an -o that would replace one of the logs, or that
// cannot be created, before any log is read.
func checkOutput(out string, logs []string) error {
	oi, oerr := os.Stat(out)
	for _, p := range logs {
		if p == "-" {
			continue
		}
		same := filepath.Clean(p) == filepath.Clean(out)
		if !same && oerr == nil {
			if li, err := os.Stat(p); err == nil {
				same = os.SameFile(oi, li)
			}
		}
		if same {
			return fmt.Errorf("report: -o %s is the input log %s: refusing to overwrite it", out, p)
		}
	}
	if oerr == nil && oi.IsDir() {
		return fmt.Errorf("report: -o %s is a directory: give a file name", out)
	}
	dir := filepath.Dir(out)
	if di, err := os.Stat(dir); err != nil {
		return fmt.Errorf("report: -o %s: folder %s does not exist", out, dir)
	} else if !di.IsDir() {
		return fmt.Errorf("report: -o %s: %s is not a folder", out, dir)
	}
	return nil
}

func validFormat(f string) bool {
	for _, v := range report.Formats {
		if f == v {
			return true
		}
	}
	return false
}

// readLog parses one log ("-" is stdin) into agg.
func readLog(p string, stdin io.Reader, stderr io.Writer, agg *report.Aggregator) error {
	name := p
	var r io.Reader
	if p == "-" {
		name, r = "standard input", stdin
	} else {
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("report: open log %s: %w", p, report.UnwrapPath(err))
		}
		defer f.Close()
		info, err := f.Stat()
		if err != nil {
			return fmt.Errorf("report: stat log %s: %w", p, err)
		}
		if info.IsDir() {
			return fmt.Errorf("report: %s is a directory, not a kd log", p)
		}
		r = f
	}
	st, err := stacks.ScanNotes(r, agg.Add, agg.Note)
	agg.EndLog()
	if errors.Is(err, stacks.ErrBinary) {
		return fmt.Errorf("report: %s looks binary, not a kd log: %w", name, err)
	}
	if err != nil {
		return fmt.Errorf("report: read log %s: %w", name, report.UnwrapPath(err))
	}
	agg.AddHits(st.Hits)
	switch {
	case st.Bytes == 0:
		fmt.Fprintf(stderr, "report: %s is empty: no kd output yet\n", name)
	case st.Stacks == 0:
		fmt.Fprintf(stderr, "report: no stacks in %s (%d lines, %d breakpoint hits): expected kb output with a ChildEBP/Child-SP/RetAddr header\n", name, st.Lines, st.Hits)
	}
	return nil
}

func (c *ReportCmd) follow(stdout io.Writer, skip *report.Skip) error {
	if len(c.Logs) != 1 || c.Logs[0] == "-" {
		return errors.New("report: --follow takes exactly one log file (not standard input)")
	}
	if c.Output != "" || c.Format != "" && c.Format != "table" {
		return errors.New("report: --follow draws a table on the terminal: -o and --format are not supported with it")
	}
	if c.Interval <= 0 {
		return fmt.Errorf("report: --interval must be positive, not %s", c.Interval)
	}
	ctx := c.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	clear := vt.Enable(stdout) // only a terminal that honours ANSI escapes is cleared
	err := report.Follow(ctx, c.Logs[0], c.Interval, stdout, report.FollowOptions{Top: c.Top, Skip: skip, Clear: &clear})
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}
