package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/kdlaunch/kdlaunch/launcher"
)

// dryRunPlan is what `run --dry-run` previews.
type dryRunPlan struct {
	KD         string // the kd that would run; "" when none was found
	Configured string // --kd or kd.path, for the search order
	Args, Env  []string
	Check      []launcher.Command // the live check, before arming
	Arm        []launcher.Command
	Disarm     []launcher.Command
	Redact     func(string) string
	Plan       launcher.Plan // what the session types is launcher.Preview of it
}

// connectQueue is what the session types once the target has connected and
// kd is halted (launcher.Preview): the allocator probe, the live check, the
// breakpoints, bl, the readbacks, and a resume.
func (p dryRunPlan) connectQueue() []launcher.Command {
	return launcher.Preview(p.Plan)
}

// stopQueue is what the safe stop types after breaking in: every
// breakpoint cleared, the strategy's own clean-up, a resume. It mirrors
// launcher's disarm queue.
func (p dryRunPlan) stopQueue() []string {
	var q []string
	for _, c := range launcher.PreviewStop(p.Plan) {
		q = append(q, c.Text)
	}
	return q
}

// dryRun prints the preview: where kd is (or where it would be looked
// for), its command line and environment, and the commands typed, in
// order, at the connection and at the stop. Secrets are masked.
func dryRun(w io.Writer, p dryRunPlan) {
	red := p.Redact
	if red == nil {
		red = func(s string) string { return s }
	}
	dryRunHead(w, "run", p.KD, p.Configured, p.Args, p.Env, red)
	fmt.Fprintln(w, "typed at each connection, in order (each at a prompt):")
	for i, c := range p.connectQueue() {
		what := ""
		switch c.Purpose {
		case launcher.PurposeProbe:
			what = "    (which allocator the kernel has, first connection only)"
		case launcher.PurposeCheck:
			what = "    (live check, first connection only)"
		case launcher.PurposeVerify:
			what = "    (kd confirms what is armed)"
		case launcher.PurposeResume:
			what = "    (resume the target)"
		case launcher.PurposeArm:
			if p.Plan.Allocators && strings.HasPrefix(c.Text, "bp nt!") {
				what = "    (if the probe finds it)"
			}
		}
		fmt.Fprintf(w, "  %d. %s%s\n", i+1, red(c.Text), what)
	}
	if site := launcher.PreviewLeakSite(p.Plan); site != nil {
		fmt.Fprintln(w, "the leak recipe above is an x64 target's with the legacy allocator (the probe and kd's connection line decide); when an allocation through a new call site halts the target (KDLK1 N <return address>), once per site per boot:")
		for i, c := range site {
			fmt.Fprintf(w, "  %d. %s\n", i+1, red(c.Text))
		}
	}
	fmt.Fprintln(w, "typed to stop safely:")
	fmt.Fprintln(w, "  1. break in (CTRL+BREAK on Windows, the interrupt character on a pty), wait for the prompt")
	for i, c := range p.stopQueue() {
		fmt.Fprintf(w, "  %d. %s\n", i+2, red(c))
	}
	fmt.Fprintf(w, "  %d. CTRL+B ENTER    (kd leaves; the target keeps running)\n", len(p.stopQueue())+2)
}

// dryRunHead is what every preview of kd starts with (run's and
// disarm's): where kd is or would be looked for, its command line and the
// environment kdlaunch sets for it.
func dryRunHead(w io.Writer, cmd, kd, configured string, args, env []string, red func(string) string) {
	order := launcher.KDSearchOrder(configured)
	if kd == "" {
		kd = "kd"
		fmt.Fprintf(w, "kd: not found on this machine; %s would look in this order:\n", cmd)
	} else {
		fmt.Fprintf(w, "kd: %s, the first found of:\n", red(kd))
	}
	for i, place := range order {
		fmt.Fprintf(w, "  %d. %s\n", i+1, red(place))
	}
	fmt.Fprintln(w, "command line:")
	fmt.Fprintln(w, "  "+red(kd+" "+strings.Join(quoteArgs(args), " ")))
	fmt.Fprintln(w, "environment kdlaunch sets for kd:")
	for _, e := range env {
		fmt.Fprintln(w, "  "+red(e))
	}
}
