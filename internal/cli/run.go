package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/kdlaunch/kdlaunch/config"
	"github.com/kdlaunch/kdlaunch/exitcode"
	"github.com/kdlaunch/kdlaunch/launcher"
	"github.com/kdlaunch/kdlaunch/pooltag"
	"github.com/kdlaunch/kdlaunch/report"
	"github.com/kdlaunch/kdlaunch/script"
)

// RunCmd is `kdlaunch run`: the batch file, automated and supervised.
type RunCmd struct {
	KDFlags       `embed:""`
	FreshLog      bool            `help:"Start the debug log afresh instead of appending (an existing log is overwritten)."`
	Tag           string          `help:"Pool tag to hunt (1-4 characters, e.g. Ddk): arms the strategy's breakpoint." placeholder:"TAG"`
	Strategy      script.Strategy `help:"special-pool (default: bp nt!MmAllocateSpecialPool, needs PoolTag set and a reboot), pool-hit-tag (ed nt!PoolHitTag, no reboot, every hit halts the target) or leaks (special pool, with a record of every allocation, return and free: the report shows who leaks)." placeholder:"NAME"`
	Command       []string        `help:"kd command typed after the strategy's (repeatable)." placeholder:"CMD" sep:"none"`
	ReplaceScript bool            `help:"Type only --command/[script] commands, not the strategy's breakpoint."`
	MaxHits       *int            `help:"Stop safely after this many breakpoint hits (0: no limit, even if the config sets one)." placeholder:"N"`
	Duration      string          `help:"Stop safely after this long (e.g. 30m, 8h)." placeholder:"D"`
	MaxRate       *float64        `help:"Disarm if hits per second exceed this (each hit halts the server; 0: no cap)." placeholder:"N"`
	Progress      time.Duration   `help:"Where stdout is not a terminal, print a progress line (hits, rate, top culprit) this often; 0 turns it off." default:"5m" placeholder:"D"`
	DryRun        bool            `help:"Preview, writing nothing and needing no kd: where kd is looked for and which is used, its command line and environment (secrets masked), and what is typed at the connection and at the stop."`
}

// Run starts and supervises kd.
func (c *RunCmd) Run(s streams) error {
	cfg, err := c.load()
	if err != nil {
		return err
	}
	if w := cfg.PermissionWarning(); w != "" {
		fmt.Fprintln(s.Err, "kdlaunch: warning: "+w)
	}
	tag, err := parseTag(cfg.Target.Tag)
	if err != nil {
		return err
	}
	arm, disarm, err := plan(cfg, tag)
	if err != nil {
		return err
	}
	if c.Progress < 0 {
		return fmt.Errorf("%w: --progress %s: give how often to print progress, e.g. 5m, or 0 for never", config.ErrInvalid, c.Progress)
	}
	d, err := prepareKD(s, cfg, c.DryRun)
	if err != nil {
		return err
	}
	defer d.close()
	logPath := d.logPath
	var logStart int64 // this run's part of the log starts here
	if fi, err := os.Stat(logPath); err == nil && !cfg.KD.FreshLog {
		logStart = fi.Size()
	}
	if c.DryRun {
		checks := []launcher.Command(nil)
		if tag != nil && cfg.Target.Strategy.SpecialPool() {
			checks = liveCheck(*tag)
		}
		dryRun(s.Out, dryRunPlan{
			KD: d.kd, Configured: cfg.KD.Path, Args: d.args, Env: kdOwnEnv(cfg, logPath, 0),
			Check: checks, Arm: arm, Disarm: disarm, Redact: d.red.String,
			Plan: launcher.Plan{Check: checks, Arm: arm, Disarm: disarm, Allocators: probesAllocators(cfg, tag), Verify: readback(cfg, tag), Leaks: leakPlan(cfg, tag)},
		})
		return nil
	}
	if err := d.open(s, &c.KDFlags, "run"); err != nil {
		return err
	}
	d.console.Note(fmt.Sprintf("kdlaunch: %s, log %s; follow the hunt live with: kdlaunch report --follow %s", d.red.String(d.kd), logPath, logPath))

	stats := &launcher.Stats{Started: time.Now()}
	lopts := d.options(launcher.Plan{Arm: arm, Disarm: disarm, HitOnBreak: cfg.Target.Strategy.HitOnBreak(),
		Allocators: probesAllocators(cfg, tag), Verify: readback(cfg, tag), Leaks: leakPlan(cfg, tag)},
		launcher.Limits{MaxHits: int64(cfg.Limits.MaxHits), MaxRate: cfg.Limits.MaxRate, RateWindow: cfg.Limits.RateWindow.Duration},
		timing(cfg))
	if tag != nil && cfg.Target.Strategy.SpecialPool() {
		lopts.Plan.Check = liveCheck(*tag)
	}
	err = d.supervise(lopts, stats, func(requestStop func()) func() {
		stopDuration := func() bool { return false }
		if dur := cfg.Limits.Duration.Duration; dur > 0 {
			stopDuration = time.AfterFunc(dur, func() {
				d.console.Note(fmt.Sprintf("kdlaunch: --duration %s reached", dur))
				requestStop()
			}).Stop
		}
		stopProgress := func() {}
		if c.Progress > 0 && !report.IsTerminal(s.Out) {
			stopProgress = startProgress(c.Progress, stats.Started, logPath, logStart, lopts.Plan.Leaks != nil, d.console.Note)
		}
		return func() { stopProgress(); stopDuration() }
	})
	d.console.Close()
	if (!errors.Is(err, launcher.ErrStartFailed) && !errors.As(err, new(*script.StartError))) || stats.Restarts > 0 {
		// A kd that never started has nothing to summarise.
		summary(s, stats, logPath, logStart, leakTag(lopts.Plan.Leaks), err)
	}
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return interrupted()
		}
		return answerExit(d.red.Wrap(err))
	}
	return nil
}

// answerExit gives a target left halted (a bug check, a person's break) its
// exit code from the table; codeOf maps script's errors of kd's answers.
func answerExit(err error) error {
	code := 0
	switch {
	case errors.As(err, new(*launcher.BugCheckError)):
		code = exitcode.HaltedBugCheck
	case errors.As(err, new(*launcher.PersonHaltError)):
		code = exitcode.HaltedByPerson
	default:
		return err
	}
	return &ExitError{Code: code, Err: err}
}

func sigName(s os.Signal) string {
	if s == os.Interrupt {
		return "interrupt"
	}
	return s.String()
}

// load builds the configuration: defaults, then the file, then flags.
func (c *RunCmd) load() (*config.Config, error) {
	cfg, err := c.KDFlags.config()
	if err != nil {
		return nil, err
	}
	if c.Tag != "" {
		cfg.Target.Tag = c.Tag
	}
	if c.Strategy != "" {
		cfg.Target.Strategy = c.Strategy
	}
	if c.FreshLog {
		cfg.KD.FreshLog = true
	}
	cfg.Script.Commands = append(cfg.Script.Commands, c.Command...)
	if c.ReplaceScript {
		cfg.Script.Replace = true
	}
	// Pointers: a flag given as 0 lifts a limit the config file sets.
	if c.MaxHits != nil {
		if *c.MaxHits < 0 {
			return nil, fmt.Errorf("%w: --max-hits %d: give a positive number, or 0 for no limit", config.ErrInvalid, *c.MaxHits)
		}
		cfg.Limits.MaxHits = *c.MaxHits
	}
	if c.MaxRate != nil {
		cfg.Limits.MaxRate = *c.MaxRate
	}
	if c.Duration != "" {
		v, err := config.ParseDuration(c.Duration)
		if err != nil {
			return nil, fmt.Errorf("%w: --duration: %v", config.ErrInvalid, err)
		}
		cfg.Limits.Duration.Duration = v
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	for _, cmd := range cfg.Script.Commands {
		if err := script.ValidateCommand(cmd); err != nil {
			return nil, fmt.Errorf("%w: %v", config.ErrInvalid, err)
		}
	}
	return cfg, nil
}

func parseTag(s string) (*pooltag.Tag, error) {
	if s == "" {
		return nil, nil
	}
	if err := pooltag.ValidateForKd(s); err != nil {
		return nil, fmt.Errorf("%w: %v", config.ErrInvalid, err)
	}
	t, err := pooltag.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", config.ErrInvalid, err)
	}
	return &t, nil
}

// plan is what is typed after each connection, and before leaving.
func plan(cfg *config.Config, tag *pooltag.Tag) (arm, disarm []launcher.Command, err error) {
	if tag != nil && !cfg.Script.Replace {
		a, d, err := script.Recipe(cfg.Target.Strategy, *tag)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %v", config.ErrInvalid, err)
		}
		for _, t := range a {
			if t == script.SpecialPoolBreakpoint && probesAllocators(cfg, tag) {
				continue // the session arms every allocator the kernel has
			}
			arm = append(arm, launcher.Command{Text: t})
		}
		for _, t := range d {
			disarm = append(disarm, launcher.Command{Text: t})
		}
	}
	for _, t := range cfg.Script.Commands {
		arm = append(arm, launcher.Command{Text: t})
	}
	if len(arm) == 0 && !probesAllocators(cfg, tag) {
		return nil, nil, fmt.Errorf("%w: nothing to arm: give --tag TAG (the seed's bp nt!MmAllocateSpecialPool) or --command CMD", config.ErrInvalid)
	}
	return arm, disarm, nil
}

// probesAllocators: the special-pool recipe arms whichever allocator the
// target's kernel has, found by the session's probe at the first halt.
func probesAllocators(cfg *config.Config, tag *pooltag.Tag) bool {
	return tag != nil && !cfg.Script.Replace && cfg.Target.Strategy.SpecialPool()
}

func leakTag(p *launcher.LeakPlan) string {
	if p == nil {
		return ""
	}
	return p.Tag
}

// leakPlan is the leak strategy's part of the plan: the session arms its
// recipe itself, and the stop asks !poolused for the tag.
func leakPlan(cfg *config.Config, tag *pooltag.Tag) *launcher.LeakPlan {
	if tag == nil || cfg.Script.Replace || !cfg.Target.Strategy.Leaks() {
		return nil
	}
	return &launcher.LeakPlan{Tag: strings.TrimRight(tag.String(), " ")}
}

// readback confirms the pool-hit-tag recipe before anything says armed:
// nt!PoolHitTag resolves and reads back the tag.
func readback(cfg *config.Config, tag *pooltag.Tag) []launcher.Command {
	if tag == nil || cfg.Script.Replace || !cfg.Target.Strategy.HitOnBreak() {
		return nil
	}
	t := *tag
	return []launcher.Command{
		{Text: script.PoolHitTagQuery},
		{Text: script.PoolHitTagReadback, Judge: func(a launcher.Answers) ([]string, error) {
			return nil, script.CheckPoolHitTagArmed(t, a[script.PoolHitTagQuery], a[script.PoolHitTagReadback])
		}},
	}
}

// liveCheck reads the target's special pool tag before arming, and warns
// (without stopping) when it does not match. It runs after the allocator
// probe: its warning about nt!MmAllocateSpecialPool is left out when
// another allocator resolves (a segment-heap kernel has none of it).
func liveCheck(tag pooltag.Tag) []launcher.Command {
	return []launcher.Command{{Text: script.SpecialPoolTagQuery, Judge: func(a launcher.Answers) ([]string, error) {
		probes := script.ProbeFamilies(a)
		_, none := script.CheckAllocators(probes)
		for _, p := range probes {
			if none != nil && (p.Alloc.ExportOnly || p.Alloc.NoSymbols) {
				return nil, nil // nt's symbols are missing: the run ends with the one line that says so
			}
		}
		var out []string
		for _, w := range script.CheckSpecialPool(tag, a[script.SpecialPoolTagQuery], a[script.AllocatorQuery]) {
			if none == nil && strings.HasPrefix(w, "special pool: "+script.AllocatorSymbol+" does not resolve") {
				continue
			}
			out = append(out, "warning: "+w)
		}
		return out, nil
	}}}
}

func summary(s streams, st *launcher.Stats, logPath string, logStart int64, tag string, err error) {
	el := time.Since(st.Started).Truncate(time.Second)
	rate := 0.0
	if secs := time.Since(st.Started).Seconds(); secs > 0 {
		rate = float64(st.Hits) / secs
	}
	head := "kdlaunch: stopped safely: breakpoints cleared, target running, kd left"
	if err != nil || !st.StoppedSafe {
		head = "kdlaunch: stopped"
	}
	fmt.Fprintln(s.Out, head)
	fmt.Fprintf(s.Out, "  hits:     %d in %s (%.1f/s)\n", st.Hits, el, rate)
	if st.Restarts > 0 || st.Reconnects > 0 {
		fmt.Fprintf(s.Out, "  restarts: %d, reconnects: %d\n", st.Restarts, st.Reconnects)
	}
	if n := len(st.Warnings); n > 0 {
		fmt.Fprintf(s.Out, "  warnings: %d (see above)\n", n)
	}
	if lr, ok, lerr := scanLeakRun(logPath, logStart); lerr == nil && ok {
		for _, l := range leakSummaryLines(lr, st.LeakHalts, st.PoolUsed, tag) {
			fmt.Fprintln(s.Out, l)
		}
	} else if ls, serr := summarizeLog(logPath, logStart); serr == nil && ls.Culprit != "" {
		fmt.Fprintf(s.Out, "  culprit:  %s\n", culpritLine(ls))
	}
	fmt.Fprintf(s.Out, "  log:      %s\n", logPath)
	if st.Hits == 0 {
		// Nothing was hit (a target that never connected, say): a report
		// of this log would only say it has no stacks.
		return
	}
	fmt.Fprintf(s.Out, "  next:     kdlaunch report %s\n", quoteArg(logPath))
}

// startProgress prints a progress line every interval until the returned
// function is called; that function returns once the goroutine has ended.
func startProgress(every time.Duration, started time.Time, logPath string, logStart int64, leak bool, note func(string)) func() {
	read := func() (logSummary, error) { return summarizeLog(logPath, logStart) }
	if leak {
		read = func() (logSummary, error) { return summarizeLeakLog(logPath, logStart) }
	}
	ctx, cancel := context.WithCancel(context.Background())
	t := time.NewTicker(every)
	done := make(chan struct{})
	go func() {
		defer close(done)
		runProgress(ctx, t.C, started, time.Now, read, note)
	}()
	return func() {
		t.Stop()
		cancel()
		<-done
	}
}

// setConnection applies --connect or --port/--baud (run and target-setup
// share them, so host and target cannot be told different things).
func setConnection(cfg *config.Config, connect, port string, baud int) error {
	switch {
	case connect != "":
		if port != "" || baud != 0 {
			return fmt.Errorf("%w: give either --connect or --port/--baud, not both", config.ErrInvalid)
		}
		cfg.Target.Connection = connect
	case port != "" || baud != 0:
		if port == "" {
			port = "com1"
		}
		if baud == 0 {
			baud = 19200
		}
		if !script.ValidBaud(baud) {
			return fmt.Errorf("%w: --baud %d: kd takes 9600, 19200, 38400, 57600 or 115200", config.ErrInvalid, baud)
		}
		conn, err := script.SerialConnection(port, baud)
		if err != nil || conn.COMPort == 0 {
			return fmt.Errorf("%w: --port %q: use a COM port name such as com1 (for KDNET use --connect net:port=N,key=K)", config.ErrInvalid, port)
		}
		cfg.Target.Connection = conn.String()
	}
	return nil
}
