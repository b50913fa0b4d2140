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

	"github.com/hashicorp/go-hclog"

	"github.com/kdlaunch/kdlaunch/config"
	"github.com/kdlaunch/kdlaunch/exitcode"
	"github.com/kdlaunch/kdlaunch/internal/statusline"
	"github.com/kdlaunch/kdlaunch/internal/vt"
	"github.com/kdlaunch/kdlaunch/launcher"
	"github.com/kdlaunch/kdlaunch/outfile"
	"github.com/kdlaunch/kdlaunch/redact"
	"github.com/kdlaunch/kdlaunch/remote"
	"github.com/kdlaunch/kdlaunch/transcript"
)

// KDFlags are the flags of every command that drives kd (run, disarm):
// which kd, its log, how it reaches the target, and what the terminal
// shows. They mean the same in each, and override the config file alike.
type KDFlags struct {
	Config         string `help:"Lab file (TOML, see config.example.toml); flags override it." placeholder:"FILE"`
	KD             string `name:"kd" help:"kd executable (default: kd on PATH, then the Windows Kits Debuggers folder)." placeholder:"PATH"`
	Log            string `help:"kd's debug log, appended to (default debug.log)." placeholder:"FILE"`
	SymbolPath     string `name:"symbol-path" help:"_NT_SYMBOL_PATH for kd (default: yours, else SRV*c:\\websymbols*https://msdl.microsoft.com/download/symbols)." placeholder:"PATH"`
	Server         string `help:"kd's debugging server transport (default npipe:pipe=livedebug), or none." placeholder:"TRANSPORT"`
	Pipe           string `help:"Name of kd's debugging server pipe: npipe:pipe=NAME." placeholder:"NAME"`
	Port           string `help:"Serial port of the target connection, e.g. com1 (with --baud)." placeholder:"COMn"`
	Baud           int    `help:"Baud rate for --port (default 19200, as kd and boot.ini)." placeholder:"N"`
	Connect        string `help:"kd -k connection string, e.g. net:port=50000,key=K or com:pipe,port=\\\\.\\pipe\\com_1,resets=0,reconnect." placeholder:"STRING"`
	ConnectTimeout string `help:"Give up if the target has not connected after this long (default: wait as long as it takes)." placeholder:"D"`
	Transcript     string `help:"Write a timestamped transcript of everything kd printed and was sent." placeholder:"FILE"`
	LogLevel       string `help:"Add kdlaunch's diagnostic log at this level to stderr, in the same kdlaunch: form as its messages: trace, debug, info, warn, error, or off." default:"off" enum:"trace,debug,info,warn,error,off"`
	Quiet          bool   `short:"q" help:"Keep kd's output off the terminal: it still goes to the log and the transcript; kdlaunch's own messages stay on stderr."`
	Console        string `help:"Windows: kd's console: auto (a pseudo console where Windows has one, else pipes), pseudo, or pipes (redirected I/O, see microsoft/WinDbg-Feedback issue 393)." placeholder:"MODE"`
}

// config is the file (or the defaults) with these flags applied; the
// caller applies its own flags, then validates.
func (f *KDFlags) config() (*config.Config, error) {
	cfg := config.Default()
	if f.Config != "" {
		var err error
		if cfg, err = config.Load(f.Config); err != nil {
			return nil, err
		}
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&cfg.KD.Path, f.KD)
	set(&cfg.KD.Log, f.Log)
	set(&cfg.KD.SymbolPath, f.SymbolPath)
	set(&cfg.KD.Transcript, f.Transcript)
	set(&cfg.KD.Console, f.Console)
	set(&cfg.Server.Transport, f.Server)
	if f.Pipe != "" {
		if strings.ContainsAny(f.Pipe, " ,=\"") {
			return nil, fmt.Errorf("%w: --pipe %q: a pipe name has no spaces, commas, '=' or quotes", config.ErrInvalid, f.Pipe)
		}
		cfg.Server.Transport = "npipe:pipe=" + f.Pipe
	}
	if err := setConnection(cfg, f.Connect, f.Port, f.Baud); err != nil {
		return nil, err
	}
	if f.ConnectTimeout != "" {
		v, err := config.ParseDuration(f.ConnectTimeout)
		if err != nil {
			return nil, fmt.Errorf("%w: --connect-timeout: %v", config.ErrInvalid, err)
		}
		cfg.Target.ConnectTimeout.Duration = v
	}
	return cfg, nil
}

// kdDriver is what run and disarm share between a loaded config and
// launcher.Supervise: kd found, its log ready, the locks held, its command
// line and environment; after open, the console, the transcript and the
// diagnostic log too.
type kdDriver struct {
	cfg      *config.Config
	mode     launcher.ConsoleMode
	kd       string // "" in a dry run without kd
	logPath  string
	password string
	red      *redact.Redactor
	args     []string
	env      []string
	locks    runLocks

	console *launcher.Console
	tr      *transcript.Writer
	logger  hclog.Logger
}

// prepareKD checks what kd needs before anything starts. A dry run needs
// no kd, writes nothing and takes no lock.
func prepareKD(s streams, cfg *config.Config, dryRun bool) (*kdDriver, error) {
	mode, err := launcher.ParseConsoleMode(cfg.KD.Console)
	if err != nil {
		return nil, fmt.Errorf("%w: kd.console / --console: %v", config.ErrInvalid, err)
	}
	if err := launcher.CheckConsole(mode); err != nil {
		return nil, fmt.Errorf("%w: %v", config.ErrInvalid, err)
	}
	kd, err := launcher.FindKD(cfg.KD.Path)
	var notFound *launcher.KDNotFoundError
	switch {
	case dryRun && errors.As(err, &notFound):
		kd = "" // a preview needs no kd: it says where it would look
	case err != nil:
		return nil, err
	}
	if err := checkTranscript(cfg.KD.Transcript); err != nil {
		return nil, err
	}
	var logPath string
	if dryRun {
		logPath, err = prepareLog(cfg.KD.Log, nil)
	} else {
		logPath, err = prepareLog(cfg.KD.Log, s.Err)
	}
	if err != nil {
		return nil, err
	}
	d := &kdDriver{cfg: cfg, mode: mode, kd: kd, logPath: logPath}
	if !dryRun {
		if d.locks, err = lockRun(cfg, logPath, s.Err); err != nil {
			return nil, err
		}
	}
	d.password = cfg.Server.Password
	if cfg.Server.Transport != "none" && d.password == "" && !cfg.Server.AllowUnauthenticated {
		if d.password, err = remote.NewPassword(24); err != nil {
			d.close()
			return nil, err
		}
	}
	d.red = redact.New(append(cfg.Secrets(), d.password)...)
	d.args = kdArgs(cfg, d.password)
	d.env = kdEnv(os.Environ(), cfg, logPath)
	return d, nil
}

// open starts what kd's output goes to (the transcript, the console, the
// diagnostic log) and writes the debugging server's client file. what
// names the command in the transcript.
func (d *kdDriver) open(s streams, f *KDFlags, what string) error {
	if d.cfg.KD.Transcript != "" {
		if err := outfile.MkdirAll(filepath.Dir(d.cfg.KD.Transcript), 0o755, createdFolder(s.Err)); err != nil {
			return fmt.Errorf("transcript %s: %w", d.cfg.KD.Transcript, err)
		}
		tr, err := transcript.Open(d.cfg.KD.Transcript)
		if err != nil {
			return err
		}
		d.tr = tr
		tr.Event("kdlaunch " + what + ": " + d.red.String(d.kd+" "+strings.Join(d.args, " ")))
	}

	// kd's output on stdout (none with --quiet); every message of
	// kdlaunch's, hclog's diagnostics included, as a kdlaunch: line on
	// stderr; the status line there too when it is a terminal.
	opts := launcher.ConsoleOptions{KD: s.Out, Messages: s.Err}
	if f.Quiet {
		opts.KD = nil
	}
	if vt.Enable(s.Err) {
		opts.Status = s.Err
	}
	d.console = launcher.NewConsoleWith(opts)
	d.logger = hclog.New(&hclog.LoggerOptions{Level: hclog.LevelFromString(f.LogLevel), Output: &hclogLines{note: d.console.Note}, DisableTime: true})

	if d.cfg.Server.Transport != "none" {
		if d.password == "" {
			d.console.Note(fmt.Sprintf("kdlaunch: warning: kd's debugging server %s has no password: anyone who can open it controls the target's kernel (allow_unauthenticated_server = true)", d.cfg.Server.Transport))
		}
		if err := writeClient(d.cfg, d.password, d.console, s.Err); err != nil {
			return err
		}
	}
	return nil
}

// close ends what open started and releases the locks; it may be called
// more than once.
func (d *kdDriver) close() {
	if d.console != nil {
		d.console.Close()
	}
	if d.tr != nil {
		d.tr.Close()
		d.tr = nil
	}
	d.locks.release()
	d.locks = nil
}

// options are the launcher options of this kd: its command line for each
// incarnation, the plan and limits the command gives, and the config's
// timing and restart policy.
func (d *kdDriver) options(plan launcher.Plan, limits launcher.Limits, t launcher.Timing) launcher.Options {
	cfg := d.cfg
	return launcher.Options{
		Spec: func(n int) launcher.Spec {
			return launcher.Spec{Path: d.kd, Args: d.args, Env: kdEnvFor(d.env, cfg, d.logPath, n), Console: d.mode}
		},
		Plan:    plan,
		Timing:  t,
		Limits:  limits,
		Restart: launcher.RestartPolicy{MaxRestarts: cfg.Supervise.MaxRestarts, BackoffInitial: cfg.Supervise.BackoffInitial.Duration, BackoffMax: cfg.Supervise.BackoffMax.Duration, HealthyAfter: cfg.Supervise.HealthyAfter.Duration},
		Sinks: launcher.Sinks{Console: d.console, Transcript: d.tr, Log: d.logger, Redact: d.red,
			Status: func(sn launcher.Snapshot) { d.console.Status(statusline.Text(sn)) }},
	}
}

// supervise runs kd until its session ends. The first Ctrl+C, SIGTERM or
// SIGHUP asks for the safe stop; a second kills kd at once (the error is
// then context.Canceled). more, if set, is given the stop request for the
// command's own reasons to stop (--duration).
func (d *kdDriver) supervise(o launcher.Options, stats *launcher.Stats, more func(requestStop func()) func()) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := make(chan struct{})
	var once sync.Once
	requestStop := func() { once.Do(func() { close(stop) }) }
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	sigDone := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		n := 0
		for {
			select {
			case sig := <-sigs:
				if sig == os.Interrupt && launcher.SuppressedInterrupt() {
					continue // our own CTRL_C break-in, under Wine
				}
				n++
				if n == 1 {
					d.console.Note(fmt.Sprintf("kdlaunch: %s: stopping safely; press Ctrl+C again to stop at once (the target may then be left halted with breakpoints armed)", sigName(sig)))
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
	defer wg.Wait()
	defer close(sigDone)
	if more != nil {
		defer more(requestStop)()
	}
	return launcher.Supervise(ctx, stop, o, stats)
}

// interrupted is the error of a second Ctrl+C: kd was killed, and what the
// target holds is unknown.
func interrupted() error {
	return &ExitError{Code: exitcode.Interrupted, Err: errors.New("stopped at once on a second interrupt: the target may be halted or have breakpoints armed; kdlaunch disarm clears them")}
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
