package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/kdlaunch/kdlaunch/launcher"
	"github.com/kdlaunch/kdlaunch/leaks/records"
	"github.com/kdlaunch/kdlaunch/script"
)

// dryRunPlan is what `run --dry-run` previews.
type dryRunPlan struct {
	KD         string // the kd that would run; "" when none was found
	Configured string // --kd or kd.path, for the search order
	Args, Env  []string
	Check      []launcher.Command // the live check, before arming
	Arm        []launcher.Command
	Disarm     []launcher.Command
	Leaks      *launcher.LeakPlan // the leak strategy: the session arms its recipe
	Redact     func(string) string
}

// connectQueue is what the session types once the target has connected and
// kd is halted: the live check, the breakpoints, and a resume (g) unless
// the last command resumes by itself. It mirrors launcher's arm queue.
func (p dryRunPlan) connectQueue() []string {
	var q []string
	if p.Leaks != nil {
		q = append(q, script.ProbeCommands()...)
	}
	for _, c := range p.Check {
		q = append(q, c.Text)
	}
	if p.Leaks != nil {
		q = append(q, leakArmExample()...)
	}
	for _, c := range p.Arm {
		q = append(q, c.Text)
	}
	if len(q) == 0 || !script.Resumes(q[len(q)-1]) {
		q = append(q, "g")
	}
	return q
}

// stopQueue is what the safe stop types after breaking in: every
// breakpoint cleared, the strategy's own clean-up, a resume. It mirrors
// launcher's disarm queue.
func (p dryRunPlan) stopQueue() []string {
	q := []string{"bc *"}
	for _, c := range p.Disarm {
		q = append(q, c.Text)
	}
	if p.Leaks != nil {
		q = append(q, script.PoolUsedCommand(p.Leaks.Tag))
	}
	return append(q, "g")
}

// The dry run's example target for the leak recipe: x64, the legacy
// allocator, one return site found.
const (
	leakExampleArch = records.ArchX64
	leakExampleSite = 0xfffff8021d61c3a5
)

// leakArmExample is what the leak recipe types at the connection on the
// example target (the probe's family and the connection line's
// architecture decide the real one), ending before the g.
func leakArmExample() []string {
	r, err := records.NewRecipe(leakExampleArch, records.FamilyLegacy)
	if err != nil {
		return nil
	}
	entry, _ := r.EntryBreakpoint(0, nil)
	return []string{r.Header(), r.FreeBreakpoint(1), entry, "bl"}
}

// leakSiteExample is what it types when an allocation through a new call
// site halts the target (KDLK1 N <ra>): once per site per boot.
func leakSiteExample() []string {
	r, err := records.NewRecipe(leakExampleArch, records.FamilyLegacy)
	if err != nil {
		return nil
	}
	entry, _ := r.EntryBreakpoint(0, []uint64{leakExampleSite})
	return []string{r.ReturnBreakpoint(2, leakExampleSite), entry, "g"}
}

// dryRun prints the preview: where kd is (or where it would be looked
// for), its command line and environment, and the commands typed, in
// order, at the connection and at the stop. Secrets are masked.
func dryRun(w io.Writer, p dryRunPlan) {
	red := p.Redact
	if red == nil {
		red = func(s string) string { return s }
	}
	order := launcher.KDSearchOrder(p.Configured)
	kd := p.KD
	if kd == "" {
		kd = "kd"
		fmt.Fprintf(w, "kd: not found on this machine; run would look in this order:\n")
	} else {
		fmt.Fprintf(w, "kd: %s, the first found of:\n", red(kd))
	}
	for i, place := range order {
		fmt.Fprintf(w, "  %d. %s\n", i+1, red(place))
	}
	fmt.Fprintln(w, "command line:")
	fmt.Fprintln(w, "  "+red(kd+" "+strings.Join(quoteArgs(p.Args), " ")))
	fmt.Fprintln(w, "environment kdlaunch sets for kd:")
	for _, e := range p.Env {
		fmt.Fprintln(w, "  "+red(e))
	}
	fmt.Fprintln(w, "typed at each connection, in order (each at a prompt):")
	checks := map[string]bool{}
	for _, c := range p.Check {
		checks[c.Text] = true
	}
	probes := map[string]bool{}
	if p.Leaks != nil {
		for _, c := range script.ProbeCommands() {
			probes[c] = true
		}
	}
	for i, c := range p.connectQueue() {
		what := ""
		switch {
		case checks[c]:
			what = "    (live check, first connection only)"
		case probes[c]:
			what = "    (which allocator the kernel has, first connection only)"
		case c == "g":
			what = "    (resume the target)"
		}
		fmt.Fprintf(w, "  %d. %s%s\n", i+1, red(c), what)
	}
	if p.Leaks != nil {
		fmt.Fprintf(w, "the leak recipe (above for an x64 target with %s; the probe and kd's connection line decide), and when an allocation through a new call site halts the target (KDLK1 N <return address>), once per site per boot:\n", records.FamilyLegacy)
		for i, c := range leakSiteExample() {
			fmt.Fprintf(w, "  %d. %s\n", i+1, red(c))
		}
	}
	fmt.Fprintln(w, "typed to stop safely:")
	fmt.Fprintln(w, "  1. break in (CTRL+BREAK on Windows, the interrupt character on a pty), wait for the prompt")
	for i, c := range p.stopQueue() {
		fmt.Fprintf(w, "  %d. %s\n", i+2, red(c))
	}
	fmt.Fprintf(w, "  %d. CTRL+B ENTER    (kd leaves; the target keeps running)\n", len(p.stopQueue())+2)
}
