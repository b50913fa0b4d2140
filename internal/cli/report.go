package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"sort"
	"strings"
	"time"

	"github.com/kdlaunch/kdlaunch/htmlreport"
	"github.com/kdlaunch/kdlaunch/internal/vt"
	"github.com/kdlaunch/kdlaunch/lock"
	"github.com/kdlaunch/kdlaunch/outfile"
	"github.com/kdlaunch/kdlaunch/plural"
	"github.com/kdlaunch/kdlaunch/pooltag"
	"github.com/kdlaunch/kdlaunch/pprofweb"
	"github.com/kdlaunch/kdlaunch/report"
	"github.com/kdlaunch/kdlaunch/script"
	"github.com/kdlaunch/kdlaunch/stacks"
)

// ReportCmd is `kdlaunch report [flags] LOG...`: it reads kd/WinDbg logs,
// groups identical stacks, names the culprit of each and prints the result.
type ReportCmd struct {
	Logs      []string      `arg:"" optional:"" name:"log" help:"kd/WinDbg debug logs to read; '-' reads standard input. Several logs are added up."`
	Format    string        `short:"f" enum:"table,json,folded,pprof,html" default:"table" help:"Output format: table (for a person), json, folded (flamegraph.pl, speedscope, inferno), pprof (go tool pprof -http=: FILE) or html (one self-contained page with an interactive icicle; use -o)."`
	Output    string        `short:"o" placeholder:"FILE" help:"Write the output to FILE instead of standard output (FILE is replaced only once the logs were read)."`
	Top       int           `default:"10" help:"Stacks shown in the table (0 shows all); json, folded and pprof always hold every stack."`
	Skip      []string      `sep:"," default:"nt,ntoskrnl,ntkrnlmp,ntkrnlpa,ntkrpamp,hal,verifier,*!VerifierExAllocatePool*,*!VeAllocatePool*,*!VfAllocPool*" placeholder:"PATTERNS" help:"Frames that cannot be the culprit, from the innermost: modules (nt) or module!function patterns with * (nt!ExAllocatePool*), comma-separated; replaces the default, 'none' skips nothing (default: ${default})."`
	SkipAdd   []string      `sep:"," placeholder:"PATTERNS" help:"Patterns to skip in addition to --skip (e.g. Wdf01000,mydrv!MyAllocWrapper)."`
	Follow    bool          `help:"Follow a log that kdlaunch run is still writing: redraw the top stacks and the hit rate every --interval until Ctrl+C."`
	Interval  time.Duration `default:"2s" help:"Redraw period for --follow."`
	Tag       string        `placeholder:"TAG" help:"The pool tag the logs hunted, for json and html (default: what the live check or PoolHitTag command in the log tells)."`
	Strategy  string        `placeholder:"NAME" help:"How the logs were recorded, special-pool or pool-hit-tag, for json and html (default: what the commands in the log tell)."`
	Web       bool          `help:"Serve the pprof web UI (flame graph, top, peek) for the logs on --http until Ctrl+C; no Go toolchain needed."`
	HTTP      string        `name:"http" default:"127.0.0.1:0" placeholder:"ADDR" help:"Address for --web (default: 127.0.0.1 on a free port)."`
	NoBrowser bool          `help:"With --web: print the URL but do not open a browser."`
	LeakFlags

	// For tests: standard input (nil means os.Stdin) and the context
	// --follow runs under (nil means one cancelled by Ctrl+C only).
	stdin io.Reader
	ctx   context.Context
	// ready gets the --web URL once the server listens (tests).
	ready func(url string)
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
	if !validFormat(format) && format != "html" {
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

	if err := checkTagStrategy(c.Tag, c.Strategy); err != nil {
		return err
	}
	if c.Follow {
		return c.follow(stdout, skip)
	}
	if c.Output != "" && c.Output != "-" {
		if err := checkOutput(c.Output, c.Logs); err != nil {
			return err
		}
	}

	if c.Web {
		if c.Output != "" || c.Format != "" && c.Format != "table" {
			return errors.New("report: --web serves the pprof UI: -o and --format are not supported with it")
		}
	} else if c.HTTP != "127.0.0.1:0" && c.HTTP != "" || c.NoBrowser {
		return errors.New("report: --http and --no-browser go with --web")
	}

	handled, stdin, err := c.runLeaks(stdin, stdout, stderr, skip, format)
	if handled || err != nil {
		return err
	}
	agg := report.NewAggregator()
	var sources []htmlreport.Source
	// kd's clock is read only for the page: it looks at every byte again.
	var clock *report.SessionClock
	if format == "html" {
		clock = report.NewSessionClock()
	}
	tag, strategy := c.Tag, c.Strategy
	for _, p := range c.Logs {
		var facts report.HeadFacts
		watch := []logWatcher{&facts}
		if clock != nil {
			watch = append(watch, clock)
		}
		n, err := readLog(p, stdin, stderr, agg, watch...)
		if err != nil {
			return err
		}
		// A flag wins; then the first log that tells.
		if tag == "" {
			tag = facts.Tag
		}
		if strategy == "" {
			strategy = facts.Strategy
		}
		name := p
		if p == "-" {
			name = "standard input"
		}
		sources = append(sources, htmlreport.Source{Path: name, Bytes: n})
	}
	r := agg.Report(skip)
	r.Tag, r.Strategy = tag, strategy
	if warn := report.UnresolvedWarning(r); warn != "" && format != "table" {
		fmt.Fprintln(stderr, "kdlaunch: report: "+warn)
	}
	for _, m := range unseenSkipModules(skipList, c.SkipAdd, r) {
		fmt.Fprintf(stderr, "kdlaunch: warning: --skip %s: no frame in the log is in module %s; check its spelling (kdlaunch report --format json lists the modules)\n", m, m)
	}
	if c.Web {
		return c.web(r, stderr, skip)
	}
	opt := report.WriteOptions{Top: c.Top}
	if format == "folded" || format == "pprof" {
		// These formats hold allocation stacks only.
		if n := len(r.BugChecks); n > 0 {
			fmt.Fprintf(stderr, "kdlaunch: report: %s in the logs, not counted as allocations: --format table or json lists them\n", plural.N(int64(n), "bug check", "bug checks"))
		}
		if r.FreesTotal > 0 {
			fmt.Fprintf(stderr, "kdlaunch: report: %s in the logs, not counted as allocations: --format table or json lists them\n", plural.N(int64(r.FreesTotal), "free stack", "free stacks"))
		}
	}
	write := func(w io.Writer) error {
		if format == "html" {
			return htmlreport.Write(w, htmlreport.Input{Report: r, Skip: skip, Sources: sources, Start: clock.First, End: clock.Last})
		}
		return report.Write(w, r, format, opt)
	}

	if c.Output == "" || c.Output == "-" {
		if format == "pprof" && report.IsTerminal(stdout) {
			return errors.New("report: --format pprof is binary: use -o FILE or redirect standard output")
		}
		if format == "html" && report.IsTerminal(stdout) {
			return errors.New("report: --format html writes a page: use -o report.html or redirect standard output")
		}
		if err := write(stdout); err != nil {
			return fmt.Errorf("report: write: %w", err)
		}
		return nil
	}
	// A report written over an earlier one keeps that file's mode.
	perm := fs.FileMode(0o644)
	if fi, err := os.Stat(c.Output); err == nil {
		perm = fi.Mode().Perm()
	}
	if err := writeOutput(stderr, c.Output, perm, write); err != nil {
		return fmt.Errorf("report: write %s: %w", c.Output, err)
	}
	return nil
}

// checkOutput refuses an -o that would replace one of the logs (also
// through a symlink or a hard link), or that cannot be written, before any
// log is read.
func checkOutput(out string, logs []string) error {
	var ie *outfile.InputError
	if err := outfile.CheckInputs(out, logs); errors.As(err, &ie) {
		return fmt.Errorf("report: -o %s is the input log %s: refusing to overwrite it", out, ie.Input)
	}
	if err := outfile.Check(out); err != nil {
		return fmt.Errorf("report: -o %s: %w", out, err)
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

// logWatcher reads a log alongside the stack parser (report.HeadFacts,
// report.SessionClock).
type logWatcher interface {
	io.Writer
	Flush()
}

// checkTagStrategy refuses a --tag kd could not have hunted and a
// --strategy kdlaunch does not have.
func checkTagStrategy(tag, strategy string) error {
	if tag != "" {
		if _, err := pooltag.Parse(tag); err != nil {
			return fmt.Errorf("report: --tag %q: %w", tag, err)
		}
	}
	if strategy == "" {
		return nil
	}
	if _, err := script.ParseStrategy(strategy); err != nil {
		return fmt.Errorf("report: --strategy: %w", err)
	}
	return nil
}

// openLog opens one log argument ("-" is stdin) for reading: name is how
// messages call it; a folder is refused. The caller closes f when it is not
// nil.
func openLog(p string, stdin io.Reader) (name string, r io.Reader, f *os.File, err error) {
	if p == "-" {
		return "standard input", stdin, nil, nil
	}
	f, err = os.Open(p)
	if err != nil {
		return p, nil, nil, fmt.Errorf("report: open log %s: %w", p, report.UnwrapPath(err))
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return p, nil, nil, fmt.Errorf("report: stat log %s: %w", p, err)
	}
	if info.IsDir() {
		f.Close()
		return p, nil, nil, fmt.Errorf("report: %s is a directory, not a kd log", p)
	}
	return p, f, f, nil
}

// readError says what went wrong reading a log, a binary file in its own
// words.
func readError(name string, err error) error {
	if errors.Is(err, stacks.ErrBinary) {
		return fmt.Errorf("report: %s looks binary, not a kd log: %w", name, err)
	}
	return fmt.Errorf("report: read log %s: %w", name, report.UnwrapPath(err))
}

// readLog parses one log ("-" is stdin) into agg and returns its size in
// bytes; every watcher also gets the bytes read, and a Flush at the end.
func readLog(p string, stdin io.Reader, stderr io.Writer, agg *report.Aggregator, watch ...logWatcher) (int64, error) {
	name, r, f, err := openLog(p, stdin)
	if err != nil {
		return 0, err
	}
	if f != nil {
		defer f.Close()
	}
	if len(watch) > 0 {
		ws := make([]io.Writer, len(watch))
		for i, w := range watch {
			ws[i] = w
			defer w.Flush()
		}
		r = io.TeeReader(r, io.MultiWriter(ws...))
	}
	st, err := stacks.ScanNotes(r, agg.Add, agg.Note)
	agg.EndLog()
	if err != nil {
		return 0, readError(name, err)
	}
	agg.AddHits(st.Hits)
	switch {
	case st.Bytes == 0:
		fmt.Fprintf(stderr, "kdlaunch: report: %s is empty: no kd output yet\n", name)
	case st.Stacks == 0:
		fmt.Fprintf(stderr, "kdlaunch: report: no stacks in %s (%s, %s): expected kb output with a ChildEBP/Child-SP/RetAddr header\n", name, plural.S(int64(st.Lines), "line"), plural.N(int64(st.Hits), "breakpoint hit", "breakpoint hits"))
	}
	return st.Bytes, nil
}

// logWriting reports whether kdlaunch run still holds the lock it keeps on
// its log for the whole run, so --follow can say when the run has finished.
// nil: no such probe yet (the lock is another change); Follow then simply
// follows until Ctrl+C. Wiring the probe is this one assignment.
var logWriting = func(path string) (bool, error) {
	held, _, err := lock.LogHeld(path)
	return held, err
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
	err := report.Follow(ctx, c.Logs[0], c.Interval, stdout, report.FollowOptions{Top: c.Top, Skip: skip, Clear: &clear, Writing: logWriting})
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// web serves the pprof UI for r until Ctrl+C.
func (c *ReportCmd) web(r *report.Report, stderr io.Writer, skip *report.Skip) error {
	ctx := c.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	err := pprofweb.Serve(ctx, r, pprofweb.Options{Addr: c.HTTP, Browser: !c.NoBrowser, Out: stderr, Skip: skip, Ready: c.ready})
	if err != nil {
		return fmt.Errorf("report: --web: %w", err)
	}
	return nil
}

// leakPage is the page of leak logs: the icicle and the culprit tables
// count outstanding allocations (the leak), and the leak view lists every
// stack with its allocations, frees and growth.
func leakPage(lr *report.LeakReport, skip *report.Skip, logs []string) htmlreport.Input {
	r := &report.Report{StacksTotal: int(lr.OutstandingCount), UniqueStacks: lr.UniqueStacks, Stacks: []report.StackCount{}, Modules: []report.ModuleCount{}}
	lv := &htmlreport.Leaks{Axis: "allocation"}
	for _, s := range lr.Stacks {
		lv.Stacks = append(lv.Stacks, htmlreport.LeakStack{Culprit: s.Culprit, Frames: s.Frames, Allocs: int(s.AllocCount), Frees: int(s.FreeCount),
			Outstanding: int(s.OutstandingCount), AllocBytes: s.AllocBytes, OutstandingBytes: s.OutstandingBytes})
		if s.OutstandingCount > 0 {
			r.Stacks = append(r.Stacks, report.StackCount{Count: int(s.OutstandingCount), Culprit: s.Culprit, Frames: s.Frames})
		}
	}
	sort.SliceStable(r.Stacks, func(i, j int) bool { return r.Stacks[i].Count > r.Stacks[j].Count })
	for i := range r.Stacks {
		r.Stacks[i].Percent = float64(int(float64(r.Stacks[i].Count)*10000/float64(max(r.StacksTotal, 1))+0.5)) / 100
	}
	for _, m := range lr.Modules {
		if m.OutstandingCount > 0 {
			r.Modules = append(r.Modules, report.ModuleCount{Module: m.Module, Count: int(m.OutstandingCount)})
		}
	}
	for _, p := range lr.Growth.ByAllocs {
		lv.Growth = append(lv.Growth, htmlreport.GrowthPoint{Hit: int(p.Allocs), Outstanding: int(p.OutstandingCount), OutstandingBytes: p.OutstandingBytes})
	}
	in := htmlreport.Input{Report: r, Skip: skip, Leaks: lv, Outstanding: true}
	for _, p := range logs {
		src := htmlreport.Source{Path: p}
		if p == "-" {
			src.Path = "standard input"
		} else if fi, err := os.Stat(p); err == nil {
			src.Bytes = fi.Size()
		}
		in.Sources = append(in.Sources, src)
	}
	return in
}
