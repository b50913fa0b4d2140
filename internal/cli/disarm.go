package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/kdlaunch/kdlaunch/config"
	"github.com/kdlaunch/kdlaunch/exitcode"
	"github.com/kdlaunch/kdlaunch/launcher"
	"github.com/kdlaunch/kdlaunch/plural"
	"github.com/kdlaunch/kdlaunch/pooltag"
	"github.com/kdlaunch/kdlaunch/script"
)

// DisarmCmd is `kdlaunch disarm`: the clean-up after a second Ctrl+C or a
// killed kdlaunch. kd's own breakpoints went with that kd, but nt!PoolHitTag
// is target memory and stays set (every allocation with the tag then halts
// the target, with no debugger to resume it), and the target may have been
// left halted. Running kdlaunch run again would arm the hunt again.
type DisarmCmd struct {
	KDFlags `embed:""`
	DryRun  bool `help:"Preview, writing nothing and needing no kd: where kd is looked for, its command line and environment (secrets masked), and what is typed once the target is halted."`
}

// hitTagClear clears nt!PoolHitTag as Microsoft's page does.
const hitTagClear = "ed nt!PoolHitTag 0"

// disarmPlan is the clearing session's plan.
func disarmPlan() launcher.Plan {
	return launcher.Plan{
		ClearOnly: true,
		Survey:    []launcher.Command{{Text: "bl"}, {Text: script.PoolHitTagReadback}},
		Disarm: []launcher.Command{{Text: hitTagClear}, {Text: script.PoolHitTagReadback, Judge: func(a launcher.Answers) ([]string, error) {
			return nil, checkHitTagCleared(a[script.PoolHitTagReadback])
		}}},
	}
}

// ClearError is a disarm that could not confirm nt!PoolHitTag is 0 after
// writing it. Every breakpoint was cleared and the target resumed anyway.
type ClearError struct {
	Read  bool   // kd printed a value
	Value uint32 // that value
	KD    string // kd's first line, when it printed no value
}

func (e *ClearError) Error() string {
	const done = "every breakpoint was cleared and the target resumed"
	if !e.Read {
		return fmt.Sprintf("nt!PoolHitTag could not be read back after %s (kd: %q), so it may still be set: %s; %s, then run kdlaunch disarm again", hitTagClear, e.KD, done, script.SymbolFix)
	}
	return fmt.Sprintf("nt!PoolHitTag reads back %s after %s, so it is still set: %s; type %s at kd's prompt by hand and check it with %s", describeHitTag(e.Value), hitTagClear, done, hitTagClear, script.PoolHitTagReadback)
}

// checkHitTagCleared reads kd's answer to the readback: nil when
// nt!PoolHitTag is 0.
func checkHitTagCleared(ddOut string) error {
	v, ok := script.ParseDD(ddOut)
	switch {
	case !ok:
		return &ClearError{KD: firstAnswerLine(ddOut)}
	case v != 0:
		return &ClearError{Read: true, Value: v}
	}
	return nil
}

func firstAnswerLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if t := strings.TrimSpace(script.StripPrompt(l)); t != "" {
			return t
		}
	}
	return "nothing"
}

// describeHitTag says what a PoolHitTag value means.
func describeHitTag(v uint32) string {
	switch v {
	case 0:
		return "0 (no tag)"
	case 0xffffff0f:
		return "0xffffff0f (the kernel's default: no tag)"
	}
	if t, err := pooltag.Decode(v); err == nil {
		return fmt.Sprintf("%s (tag %s: every allocation and free with it halts the target)", pooltag.Hex(v), t.Quoted())
	}
	return pooltag.Hex(v) + " (not a pool tag)"
}

// foundLine is what the disarm found before it cleared anything, in one
// line: the breakpoints by id and expression, and nt!PoolHitTag. ok is
// false when the target never reached a prompt.
func foundLine(surveyed launcher.Answers) (line string, ok bool) {
	bl, haveBL := surveyed["bl"]
	dd, haveDD := surveyed[script.PoolHitTagReadback]
	if !haveBL && !haveDD {
		return "", false
	}
	var parts []string
	if haveBL {
		bps := script.ParseBL(bl)
		if len(bps) == 0 {
			parts = append(parts, "no breakpoint")
		} else {
			var each []string
			for _, b := range bps {
				s := fmt.Sprintf("%d %s", b.ID, b.Expr)
				switch {
				case b.Deferred:
					s += " (deferred)"
				case !b.Enabled:
					s += " (disabled)"
				}
				each = append(each, s)
			}
			parts = append(parts, plural.S(int64(len(bps)), "breakpoint")+" "+strings.Join(each, ", "))
		}
	}
	if haveDD {
		if v, ok := script.ParseDD(dd); ok {
			parts = append(parts, "nt!PoolHitTag "+describeHitTag(v))
		} else {
			parts = append(parts, fmt.Sprintf("nt!PoolHitTag unreadable (kd: %q)", firstAnswerLine(dd)))
		}
	}
	return "kdlaunch: found " + strings.Join(parts, "; "), true
}

// load builds the configuration as run does, minus the hunt: no debugging
// server unless one is asked for (a clean-up needs nobody else on the
// target), and the log always appended to.
func (c *DisarmCmd) load() (*config.Config, error) {
	cfg, err := c.KDFlags.config()
	if err != nil {
		return nil, err
	}
	if c.Server == "" && c.Pipe == "" && !serverInFile(c.Config) {
		cfg.Server.Transport = "none"
	}
	cfg.KD.FreshLog = false
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// serverInFile reports whether the config file sets [server] transport
// itself (config.Load has already read and checked it).
func serverInFile(path string) bool {
	if path == "" {
		return false
	}
	var f struct {
		Server struct {
			Transport string `toml:"transport"`
		} `toml:"server"`
	}
	md, err := toml.DecodeFile(path, &f)
	return err == nil && md.IsDefined("server", "transport")
}

// Run connects to the target as run does, clears what an earlier session
// left, and leaves it running.
func (c *DisarmCmd) Run(s streams) error {
	cfg, err := c.load()
	if err != nil {
		return err
	}
	if w := cfg.PermissionWarning(); w != "" {
		fmt.Fprintln(s.Err, "kdlaunch: warning: "+w)
	}
	d, err := prepareKD(s, cfg, c.DryRun)
	if err != nil {
		return err
	}
	defer d.close()
	p := disarmPlan()
	if c.DryRun {
		dryRunHead(s.Out, "disarm", d.kd, cfg.KD.Path, d.args, kdOwnEnv(cfg, d.logPath, 0), d.red.String)
		dryRunDisarm(s.Out, p, d.red.String)
		return nil
	}
	if err := d.open(s, &c.KDFlags, "disarm"); err != nil {
		return err
	}
	d.console.Note(fmt.Sprintf("kdlaunch: %s, log %s; clearing what an earlier session left on the target (reboot it now if it is not connected)", d.red.String(d.kd), d.logPath))
	stats := &launcher.Stats{Started: time.Now()}
	t := timing(cfg)
	t.ContinueBugCheck = false // a clean-up never resumes a crash
	err = d.supervise(d.options(p, launcher.Limits{}, t), stats, nil)
	d.console.Close()
	return disarmResult(s.Out, stats, err, d.red.Wrap)
}

// disarmResult prints what the disarm found and did, and gives its error
// the exit code of the table.
func disarmResult(w io.Writer, stats *launcher.Stats, err error, wrap func(error) error) error {
	found, reached := foundLine(stats.Surveyed)
	if reached {
		fmt.Fprintln(w, found)
	}
	switch {
	case errors.Is(err, context.Canceled):
		return interrupted()
	case err != nil:
		err = wrap(err)
		var ce *ClearError
		if errors.As(err, &ce) {
			code := exitcode.Failure
			if !ce.Read {
				code = exitcode.Unresolved
			}
			return &ExitError{Code: code, Err: err}
		}
		return answerExit(err)
	case !reached || !stats.StoppedSafe:
		return &ExitError{Code: exitcode.Failure, Err: errors.New("nothing was cleared: kdlaunch stopped before the target showed a prompt (a reboot clears kd's breakpoints and nt!PoolHitTag by itself); run kdlaunch disarm again to be sure")}
	}
	fmt.Fprintf(w, "kdlaunch: disarmed: every breakpoint cleared (bc *), nt!PoolHitTag set to 0 and read back 0; the target is running and kd has left\n")
	return nil
}

// dryRunDisarm lists what disarm types, in order (launcher.Preview).
func dryRunDisarm(w io.Writer, p launcher.Plan, red func(string) string) {
	fmt.Fprintln(w, "typed once the target is halted (kd attaching to a halted target shows its prompt at once; otherwise a break-in, CTRL+BREAK on Windows, the interrupt character on a pty):")
	q := launcher.Preview(p)
	for i, c := range q {
		fmt.Fprintf(w, "  %d. %s\n", i+1, red(c.Text))
	}
	fmt.Fprintf(w, "  %d. CTRL+B ENTER    (kd leaves; the target keeps running)\n", len(q)+1)
}
