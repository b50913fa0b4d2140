// Package cli is kdlaunch's command line: one file per command, each a kong
// struct with a Run method that returns an error for Main to print.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"

	"github.com/alecthomas/kong"
	"github.com/kdlaunch/kdlaunch/config"
	"github.com/kdlaunch/kdlaunch/exitcode"
	"github.com/kdlaunch/kdlaunch/script"
)

// CLI is the root of kdlaunch's commands.
type CLI struct {
	Version kong.VersionFlag `help:"Print the version and exit."`

	Run         RunCmd         `cmd:"" help:"Start kd, wait for the target, break in, arm the breakpoint, supervise, and stop leaving the target running."`
	Disarm      DisarmCmd      `cmd:"" help:"Clean up after a second Ctrl+C or a killed kdlaunch: connect as run does, clear every breakpoint and nt!PoolHitTag, leave the target running."`
	Report      ReportCmd      `cmd:"" help:"Turn kd logs into the answer: top stacks, culprits, json/folded/pprof."`
	Tag         TagCmd         `cmd:"" help:"Encode a pool tag as the PoolTag registry value (and back), with ready-to-run lines."`
	TargetSetup TargetSetupCmd `cmd:"" name:"target-setup" help:"Print the target-side script (bcdedit, PoolTag) that matches a host configuration."`
	Completion  CompletionCmd  `cmd:"" help:"Print the shell completion script: bash, zsh, fish or powershell."`
}

// ExitError carries a specific exit code from exitcode's table.
type ExitError = exitcode.Error

// Main parses args, runs the command and returns the process exit code.
func Main(args []string, version string) int {
	return run(args, version, os.Stdout, os.Stderr)
}

func run(args []string, version string, stdout, stderr io.Writer) (code int) {
	var root CLI
	exited := -1
	parser, err := kong.New(&root,
		kong.Name("kdlaunch"),
		kong.Description("Drive kd.exe to find who allocates a leaking Windows kernel pool tag."),
		kong.UsageOnError(),
		kong.Vars{"version": version},
		kong.Writers(stdout, stderr),
		kong.Exit(func(c int) { exited = c; panic(exitPanic{}) }),
		kong.Help(helpWithExitCodes),
	)
	if err != nil {
		fmt.Fprintf(stderr, "kdlaunch: %v\n", err)
		return exitcode.Usage
	}
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(exitPanic); !ok {
				panic(r)
			}
			code = exited
		}
	}()
	answerCompletion(parser)
	ctx, err := parser.Parse(joinNegativeValues(args, valueFlags(parser.Model.Node)))
	if err == nil {
		err = emptyFlag(ctx)
	}
	if err != nil {
		fmt.Fprintf(stderr, "kdlaunch: %v\n", err)
		return exitcode.Usage
	}
	ctx.Bind(streams{stdout, stderr})
	if err := ctx.Run(); err != nil {
		fmt.Fprintf(stderr, "kdlaunch: %v\n", err)
		return codeOf(err)
	}
	return exitcode.OK
}

// codeOf maps a command's error to its row in the exit code table. kd's
// answers (script's typed errors) map here; a failure with a code of its
// own (the target left halted at a bug check or for a person) comes as an
// *ExitError (exitcode.Error) from wherever it is found.
func codeOf(err error) int {
	var ee *ExitError
	switch {
	case errors.As(err, &ee):
		return ee.Code
	case errors.Is(err, config.ErrInvalid), errors.Is(err, config.ErrUnknownKey), errors.As(err, new(*config.SyntaxError)):
		return exitcode.Usage
	case errors.As(err, new(*script.StartError)):
		return exitcode.StartFailed
	case errors.Is(err, script.ErrNotArmed), errors.As(err, new(*script.NoAllocatorError)), errors.As(err, new(*script.GoError)):
		return exitcode.Unresolved
	}
	return exitcode.Failure
}

// helpWithExitCodes is kong's help followed by the exit code table, so
// --help and the README tell the same story.
func helpWithExitCodes(options kong.HelpOptions, ctx *kong.Context) error {
	if err := kong.DefaultHelpPrinter(options, ctx); err != nil {
		return err
	}
	_, err := fmt.Fprint(ctx.Stdout, "\n"+exitcode.Help())
	return err
}

// emptyFlag refuses a string flag given an empty value (--log "" from an
// unset variable, say): each command would otherwise treat it as not given
// and silently fall back to the default or the config file.
func emptyFlag(ctx *kong.Context) error {
	for _, f := range ctx.Flags() {
		if f.Set && f.Target.Kind() == reflect.String && f.Target.String() == "" {
			return fmt.Errorf("--%s is empty: give a value, or leave the flag out for its default", f.Name)
		}
	}
	return nil
}

// exitPanic unwinds out of kong's --help/--version handling without calling
// os.Exit, so tests can run commands in-process.
type exitPanic struct{}

// streams are the command's stdout and stderr; commands take them as a Run
// parameter (kong binds them) so tests can capture output.
type streams struct {
	Out io.Writer
	Err io.Writer
}

// valueFlags are the long flags, in every command, that take a value.
func valueFlags(n *kong.Node) map[string]bool {
	m := map[string]bool{}
	var walk func(*kong.Node)
	walk = func(n *kong.Node) {
		for _, f := range n.Flags {
			if !f.IsBool() && !f.IsCounter() {
				m["--"+f.Name] = true
			}
		}
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(n)
	return m
}

// joinNegativeValues writes "--duration -5s" as "--duration=-5s": kong
// would read "-5s" as a bundle of short flags and say so confusingly; the
// command then refuses the negative value in its own words. Only a value
// that starts with "-" and a digit is joined, so "--log -v" stays an
// error about a missing value.
func joinNegativeValues(args []string, flags map[string]bool) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		if flags[a] && i+1 < len(args) && isNegative(args[i+1]) {
			out = append(out, a+"="+args[i+1])
			i++
			continue
		}
		out = append(out, a)
	}
	return out
}

func isNegative(s string) bool {
	return len(s) >= 2 && s[0] == '-' && (s[1] >= '0' && s[1] <= '9' || s[1] == '.')
}
