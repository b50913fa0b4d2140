package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/kdlaunch/kdlaunch/config"
	"github.com/kdlaunch/kdlaunch/exitcode"
	"github.com/kdlaunch/kdlaunch/internal/statusline"
	"github.com/kdlaunch/kdlaunch/internal/vt"
	"github.com/kdlaunch/kdlaunch/launcher"
	"github.com/kdlaunch/kdlaunch/outfile"
	"github.com/kdlaunch/kdlaunch/pooltag"
	"github.com/kdlaunch/kdlaunch/redact"
	"github.com/kdlaunch/kdlaunch/remote"
	"github.com/kdlaunch/kdlaunch/report"
	"github.com/kdlaunch/kdlaunch/script"
	"github.com/kdlaunch/kdlaunch/transcript"
)

// RunCmd is `kdlaunch run`: the batch file, automated and supervised.
type RunCmd struct {
	Config         string          `help:"Lab file (TOML, see config.example.toml); flags override it." placeholder:"FILE"`
	KD             string          `name:"kd" help:"kd executable (default: kd on PATH, then the Windows Kits Debuggers folder)." placeholder:"PATH"`
	Log            string          `help:"kd's debug log, appended to (default debug.log)." placeholder:"FILE"`
	FreshLog       bool            `help:"Start the debug log afresh instead of appending (an existing log is overwritten)."`
	SymbolPath     string          `name:"symbol-path" help:"_NT_SYMBOL_PATH for kd (default: yours, else SRV*c:\\websymbols*https://msdl.microsoft.com/download/symbols)." placeholder:"PATH"`
	Server         string          `help:"kd's debugging server transport (default npipe:pipe=livedebug), or none." placeholder:"TRANSPORT"`
	Pipe           string          `help:"Name of kd's debugging server pipe: npipe:pipe=NAME." placeholder:"NAME"`
	Port           string          `help:"Serial port of the target connection, e.g. com1 (with --baud)." placeholder:"COMn"`
	Baud           int             `help:"Baud rate for --port (default 19200, as kd and boot.ini)." placeholder:"N"`
	Connect        string          `help:"kd -k connection string, e.g. net:port=50000,key=K or com:pipe,port=\\\\.\\pipe\\com_1,resets=0,reconnect." placeholder:"STRING"`
	Tag            string          `help:"Pool tag to hunt (1-4 characters, e.g. Ddk): arms the strategy's breakpoint." placeholder:"TAG"`
	Strategy       script.Strategy `help:"special-pool (default: bp nt!MmAllocateSpecialPool, needs PoolTag set and a reboot) or pool-hit-tag (ed nt!PoolHitTag, no reboot, every hit halts the target)." placeholder:"NAME"`
	Command        []string        `help:"kd command typed after the strategy's (repeatable)." placeholder:"CMD" sep:"none"`
	ReplaceScript  bool            `help:"Type only --command/[script] commands, not the strategy's breakpoint."`
	MaxHits        *int            `help:"Stop safely after this many breakpoint hits (0: no limit, even if the config sets one)." placeholder:"N"`
	Duration       string          `help:"Stop safely after this long (e.g. 30m, 8h)." placeholder:"D"`
	MaxRate        *float64        `help:"Disarm if hits per second exceed this (each hit halts the server; 0: no cap)." placeholder:"N"`
	ConnectTimeout string          `help:"Give up if the target has not connected after this long (default: wait as long as it takes)." placeholder:"D"`
	Transcript     string          `help:"Write a timestamped transcript of everything kd printed and was sent." placeholder:"FILE"`
	LogLevel       string          `help:"Add kdlaunch's diagnostic log at this level to stderr, in the same kdlaunch: form as its messages: trace, debug, info, warn, error, or off." default:"off" enum:"trace,debug,info,warn,error,off"`
	Quiet          bool            `short:"q" help:"Keep kd's output off the terminal: it still goes to the log and the transcript; kdlaunch's own messages stay on stderr."`
	Progress       time.Duration   `help:"Where stdout is not a terminal, print a progress line (hits, rate, top culprit) this often; 0 turns it off." default:"5m" placeholder:"D"`
	DryRun         bool            `help:"Preview, writing nothing and needing no kd: where kd is looked for and which is used, its command line and environment (secrets masked), and what is typed at the connection and at the stop."`
	Console        string          `help:"Windows: kd's console: auto (a pseudo console where Windows has one, else pipes), pseudo, or pipes (redirected I/O, see microsoft/WinDbg-Feedback issue 393)." placeholder:"MODE"`
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
	consoleMode, err := launcher.ParseConsoleMode(cfg.KD.Console)
	if err != nil {
		return fmt.Errorf("%w: kd.console / --console: %v", config.ErrInvalid, err)
	}
	if err := launcher.CheckConsole(consoleMode); err != nil {
		return fmt.Errorf("%w: %v", config.ErrInvalid, err)
	}
	kd, err := launcher.FindKD(cfg.KD.Path)
	var notFound *launcher.KDNotFoundError
	switch {
	case c.DryRun && errors.As(err, &notFound):
		kd = "" // a preview needs no kd: dryRun says where it would look
	case err != nil:
		return err
	}
	if err := checkTranscript(cfg.KD.Transcript); err != nil {
		return err
	}
	var logPath string
	if c.DryRun {
		logPath, err = prepareLog(cfg.KD.Log, nil)
	} else {
		logPath, err = prepareLog(cfg.KD.Log, s.Err)
	}
	if err != nil {
		return err
	}
	if c.Progress < 0 {
		return fmt.Errorf("%w: --progress %s: give how often to print progress, e.g. 5m, or 0 for never", config.ErrInvalid, c.Progress)
	}
	var logStart int64 // this run's part of the log starts here
	if fi, err := os.Stat(logPath); err == nil && !cfg.KD.FreshLog {
		logStart = fi.Size()
	}
	if !c.DryRun {
		locks, err := lockRun(cfg, logPath, s.Err)
		if err != nil {
			return err
		}
		defer locks.release()
	}

	password := cfg.Server.Password
	if cfg.Server.Transport != "none" && password == "" && !cfg.Server.AllowUnauthenticated {
		if password, err = remote.NewPassword(24); err != nil {
			return err
		}
	}
	red := redact.New(append(cfg.Secrets(), password)...)
	args := kdArgs(cfg, password)
	env := kdEnv(os.Environ(), cfg, logPath)
	if c.DryRun {
		checks := []launcher.Command(nil)
		if tag != nil && cfg.Target.Strategy.SpecialPool() {
			checks = liveCheck(*tag)
		}
		dryRun(s.Out, dryRunPlan{
			KD: kd, Configured: cfg.KD.Path, Args: args, Env: kdOwnEnv(cfg, logPath, 0),
			Check: checks, Arm: arm, Disarm: disarm, Redact: red.String,
		})
		return nil
	}

	var tr *transcript.Writer
	if cfg.KD.Transcript != "" {
		if err := outfile.MkdirAll(filepath.Dir(cfg.KD.Transcript), 0o755, createdFolder(s.Err)); err != nil {
			return fmt.Errorf("transcript %s: %w", cfg.KD.Transcript, err)
		}
		if tr, err = transcript.Open(cfg.KD.Transcript); err != nil {
			return err
		}
		defer tr.Close()
		tr.Event("kdlaunch run: " + red.String(kd+" "+strings.Join(args, " ")))
	}

	// kd's output on stdout (none with --quiet); every message of
	// kdlaunch's, hclog's diagnostics included, as a kdlaunch: line on
	// stderr; the status line there too when it is a terminal.
	opts := launcher.ConsoleOptions{KD: s.Out, Messages: s.Err}
	if c.Quiet {
		opts.KD = nil
	}
	if vt.Enable(s.Err) {
		opts.Status = s.Err
	}
	console := launcher.NewConsoleWith(opts)
	defer console.Close()
	logger := hclog.New(&hclog.LoggerOptions{Level: hclog.LevelFromString(c.LogLevel), Output: &hclogLines{note: console.Note}, DisableTime: true})

	if cfg.Server.Transport != "none" {
		if password == "" {
			console.Note(fmt.Sprintf("kdlaunch: warning: kd's debugging server %s has no password: anyone who can open it controls the target's kernel (allow_unauthenticated_server = true)", cfg.Server.Transport))
		}
		if err := writeClient(cfg, password, console, s.Err); err != nil {
			return err
		}
	}
	console.Note(fmt.Sprintf("kdlaunch: %s, log %s; follow the hunt live with: kdlaunch report --follow %s", red.String(kd), logPath, logPath))

	stats := &launcher.Stats{Started: time.Now()}
	lopts := launcher.Options{
		Spec: func(n int) launcher.Spec {
			return launcher.Spec{Path: kd, Args: args, Env: kdEnvFor(env, cfg, logPath, n), Console: consoleMode}
		},
		Plan: launcher.Plan{Arm: arm, Disarm: disarm, HitOnBreak: cfg.Target.Strategy.HitOnBreak(),
			Allocators: probesAllocators(cfg, tag), Verify: readback(cfg, tag)},
		Timing:  timing(cfg),
		Limits:  launcher.Limits{MaxHits: int64(cfg.Limits.MaxHits), MaxRate: cfg.Limits.MaxRate, RateWindow: cfg.Limits.RateWindow.Duration},
		Restart: launcher.RestartPolicy{MaxRestarts: cfg.Supervise.MaxRestarts, BackoffInitial: cfg.Supervise.BackoffInitial.Duration, BackoffMax: cfg.Supervise.BackoffMax.Duration, HealthyAfter: cfg.Supervise.HealthyAfter.Duration},
		Sinks: launcher.Sinks{Console: console, Transcript: tr, Log: logger, Redact: red,
			Status: func(sn launcher.Snapshot) { console.Status(statusline.Text(sn)) }},
	}
	if tag != nil && cfg.Target.Strategy.SpecialPool() {
		lopts.Plan.Check = liveCheck(*tag)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := make(chan struct{})
	var once sync.Once
	requestStop := func() { once.Do(func() { close(stop) }) }
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	sigDone := make(chan struct{})
	defer close(sigDone)
	go func() {
		n := 0
		for {
			select {
			case sig := <-sigs:
				if sig == os.Interrupt && launcher.SuppressedInterrupt() {
					continue // our own CTRL_C break-in, under Wine
				}
				n++
				if n == 1 {
					console.Note(fmt.Sprintf("kdlaunch: %s: stopping safely; press Ctrl+C again to stop at once (the target may then be left halted with breakpoints armed)", sigName(sig)))
					requestStop()
				} else {
					cancel()
					return
				}
			case <-sigDone:
				return
			}
		}
	}()
	if d := cfg.Limits.Duration.Duration; d > 0 {
		t := time.AfterFunc(d, func() {
			console.Note(fmt.Sprintf("kdlaunch: --duration %s reached", d))
			requestStop()
		})
		defer t.Stop()
	}

	stopProgress := func() {}
	if c.Progress > 0 && !report.IsTerminal(s.Out) {
		stopProgress = startProgress(c.Progress, stats.Started, logPath, logStart, console.Note)
	}
	err = launcher.Supervise(ctx, stop, lopts, stats)
	stopProgress()
	console.Close()
	if (!errors.Is(err, launcher.ErrStartFailed) && !errors.As(err, new(*script.StartError))) || stats.Restarts > 0 {
		// A kd that never started has nothing to summarise.
		summary(s, stats, logPath, logStart, err)
	}
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return &ExitError{Code: exitcode.Interrupted, Err: errors.New("stopped at once on a second interrupt: the target may be halted or have breakpoints armed; run kdlaunch again to clear them")}
		}
		return answerExit(red.Wrap(err))
	}
	return nil
}

// Exit codes of runs that kd's answers ended (the same numbers as the
// exit code table: a script can tell them apart).
const (
	exitStartFailed    = 4 // kd could not open the connection
	exitUnresolved     = 5 // a breakpoint that cannot hit: nothing was armed
	exitHaltedBugCheck = 6 // the target bug-checked and is left halted
	exitHaltedByPerson = 7 // someone holds the target halted from the debugging server
)

// answerExit gives the errors of kd's answers their exit codes.
func answerExit(err error) error {
	code := 0
	switch {
	case errors.As(err, new(*script.StartError)):
		code = exitStartFailed
	case errors.Is(err, script.ErrNotArmed), errors.As(err, new(*script.NoAllocatorError)):
		code = exitUnresolved
	case errors.As(err, new(*launcher.BugCheckError)):
		code = exitHaltedBugCheck
	case errors.As(err, new(*launcher.PersonHaltError)):
		code = exitHaltedByPerson
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
	cfg := config.Default()
	if c.Config != "" {
		var err error
		if cfg, err = config.Load(c.Config); err != nil {
			return nil, err
		}
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&cfg.KD.Path, c.KD)
	set(&cfg.KD.Log, c.Log)
	set(&cfg.KD.SymbolPath, c.SymbolPath)
	set(&cfg.KD.Transcript, c.Transcript)
	set(&cfg.KD.Console, c.Console)
	set(&cfg.Server.Transport, c.Server)
	set(&cfg.Target.Tag, c.Tag)
	if c.Strategy != "" {
		cfg.Target.Strategy = c.Strategy
	}
	if c.FreshLog {
		cfg.KD.FreshLog = true
	}
	if c.Pipe != "" {
		if strings.ContainsAny(c.Pipe, " ,=\"") {
			return nil, fmt.Errorf("%w: --pipe %q: a pipe name has no spaces, commas, '=' or quotes", config.ErrInvalid, c.Pipe)
		}
		cfg.Server.Transport = "npipe:pipe=" + c.Pipe
	}
	if err := setConnection(cfg, c.Connect, c.Port, c.Baud); err != nil {
		return nil, err
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
	for _, d := range []struct {
		flag string
		v    string
		dst  *config.Duration
	}{{"--duration", c.Duration, &cfg.Limits.Duration}, {"--connect-timeout", c.ConnectTimeout, &cfg.Target.ConnectTimeout}} {
		if d.v == "" {
			continue
		}
		v, err := config.ParseDuration(d.v)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", config.ErrInvalid, d.flag, err)
		}
		d.dst.Duration = v
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

func timing(cfg *config.Config) launcher.Timing {
	s := cfg.Supervise
	return launcher.Timing{
		Settle:         s.Settle.Duration,
		BreakTimeout:   s.BreakTimeout.Duration,
		BreakRetries:   s.BreakRetries,
		GiveUpOnBreak:  s.OnBreakFailure == config.BreakFailureGiveUp,
		CommandTimeout: s.CommandTimeout.Duration,
		StopTimeout:    s.StopTimeout.Duration,
		ConnectTimeout: cfg.Target.ConnectTimeout.Duration,
		ResumeOnHalt:   s.UnexpectedHalts == config.HaltResume,
		// A bug check is left halted unless the config says continue.
		ContinueBugCheck: s.OnBugCheck == config.BugCheckContinue,
	}
}

// prepareLog makes the log path absolute, creates its folder (the batch
// file's c:\debug often does not exist on a fresh host, and kd would then
// run for hours logging nothing) with a line on stderr, and proves the
// folder is writable without touching an existing log's contents. With
// stderr nil (--dry-run) it only refuses a folder and writes nothing.
func prepareLog(p string, stderr io.Writer) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("log %s: %w", p, err)
	}
	if fi, err := os.Stat(abs); err == nil && fi.IsDir() {
		return "", fmt.Errorf("log %s is a folder: give a file name, e.g. %s", abs, filepath.Join(abs, "debug.log"))
	}
	if stderr == nil {
		return abs, nil
	}
	if err := outfile.MkdirAll(filepath.Dir(abs), 0o755, createdFolder(stderr)); err != nil {
		return "", fmt.Errorf("log folder not writable: %w: choose another --log", err)
	}
	f, err := os.OpenFile(abs, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return "", fmt.Errorf("log folder not writable: %w: choose another --log", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("log %s: %w", abs, err)
	}
	return abs, nil
}

// checkTranscript refuses a transcript path that is a folder before the log
// is touched, with a message that says what to give instead.
func checkTranscript(p string) error {
	if p == "" {
		return nil
	}
	if fi, err := os.Stat(p); err == nil && fi.IsDir() {
		return fmt.Errorf("transcript %s is a folder: give a file name, e.g. %s", p, filepath.Join(p, "transcript.log"))
	}
	return nil
}

func writeClient(cfg *config.Config, password string, console *launcher.Console, stderr io.Writer) error {
	path := cfg.Server.ClientFile
	if path == "" {
		var err error
		if path, err = remote.DefaultClientFile(serverID(cfg.Server.Transport)); err != nil {
			return err
		}
	}
	if err := outfile.MkdirAll(filepath.Dir(path), 0o700, createdFolder(stderr)); err != nil {
		return fmt.Errorf("client file %s: %w", path, err)
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	if err := remote.WriteClientFile(path, remote.ClientCommand(cfg.Server.Transport, password, host)); err != nil {
		return err
	}
	console.Note("kdlaunch: the command line to join kd's debugging server (with its password) is in " + path)
	return nil
}

func summary(s streams, st *launcher.Stats, logPath string, logStart int64, err error) {
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
	if ls, serr := summarizeLog(logPath, logStart); serr == nil && ls.Culprit != "" {
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
func startProgress(every time.Duration, started time.Time, logPath string, logStart int64, note func(string)) func() {
	ctx, cancel := context.WithCancel(context.Background())
	t := time.NewTicker(every)
	done := make(chan struct{})
	go func() {
		defer close(done)
		runProgress(ctx, t.C, started, time.Now, func() (logSummary, error) { return summarizeLog(logPath, logStart) }, note)
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
