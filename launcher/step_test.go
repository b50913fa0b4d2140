package launcher

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/session-table.md from the decision table")

func TestStepTable(t *testing.T) {
	for _, g := range table {
		for _, r := range g.rows {
			t.Run(g.title+"/"+r.why, func(t *testing.T) {
				next, acts := Step(r.given, r.ev)
				if got := render(acts); strings.Join(got, "\n") != strings.Join(r.does, "\n") {
					t.Errorf("given %s, on %s\ndoes  %q\nwant  %q", describe(r.given), r.ev, got, r.does)
				}
				if got := describe(next); got != r.then {
					t.Errorf("given %s, on %s\nthen  %s\nwant  %s", describe(r.given), r.ev, got, r.then)
				}
			})
		}
	}
}

// allEvents is one of each event Step knows, for the exhaustive checks.
var allEvents = []Event{
	evWaiting, evConnected, evEstablished, evInitial, evShutdown, evHit, evBreakExc, evLost, evResync, evOther,
	evPrompt, evEOF, evStop, evCancel, evTick,
	fires(TimerSettle), fires(TimerBreak), firesUnread(TimerBreak), fires(TimerLeave), fires(TimerStop),
	evFatal, evInsert, evStartFail, evStartMsg, fires(TimerRetry),
	line("*   You are seeing this message because you pressed either                    *"),
	line("leakydrv!LeakyCheck+0x3c:"),
	line("Bp expression 'nt!MmAllocateSpecialPool' could not be resolved, adding deferred bp"),
	line("KDLK1 N fffff802`1d61c3a5"), line("Breakpoint 2 hit"),
}

// everyMachine is every state in every phase, armed or not, halting or
// not, with every timer running (so every timer event is live).
func everyMachine() []Machine {
	var ms []Machine
	for st := Starting; st <= Exited; st++ {
		for ph := PhaseArming; ph <= PhaseStopping; ph++ {
			for _, a := range []bool{false, true} {
				for _, h := range []bool{false, true} {
					for _, extra := range []mod{func(*Machine) {}, bugChecked, personHalt, leakArmed(site1), leakWaitsForSite, clearing} {
						m := given(st, ph, timers(TimerSettle, TimerBreak, TimerLeave, TimerStop, TimerRetry), extra)
						m.Armed, m.Halting = a, h
						ms = append(ms, m)
					}
				}
			}
		}
	}
	return ms
}

// The rules that hold for every (state, event) pair, whatever the row
// table says: they are what keeps a production server from freezing.
func TestStepInvariants(t *testing.T) {
	for _, m := range everyMachine() {
		for _, ev := range allEvents {
			next, acts := Step(m, ev)
			where := fmt.Sprintf("given %s, on %s", describe(m), ev)
			st := m.State
			finished := false
			for _, a := range acts {
				if a.Kind == ActTrace && strings.HasPrefix(a.Text, "state ") {
					st = a.State
					continue
				}
				switch a.Kind {
				case ActBreak:
					// Never break a halted target (kd would queue the break and
					// halt it again after the next g), one that is not
					// connected, or one that said it is about to halt.
					if st != Connected && st != Running && st != BreakingIn {
						t.Errorf("%s: break sent while %s", where, st)
					}
				case ActWrite:
					// Nothing is typed while the target runs (kd would run
					// it at the next halt), and nothing after CTRL+B ENTER.
					if st != Halted {
						t.Errorf("%s: typed %q while %s", where, a.Cmd.Text, st)
					}
					if strings.TrimSpace(a.Cmd.Text) == "q" {
						t.Errorf("%s: typed q", where)
					}
					// A clearing session (kdlaunch disarm) arms nothing.
					if m.Plan.ClearOnly && (a.Cmd.Purpose == PurposeArm || a.Cmd.Purpose == PurposeProbe) {
						t.Errorf("%s: a clearing session typed %q (%s)", where, a.Cmd.Text, a.Cmd.Purpose)
					}
					// Nothing resumes a bug check (on_bugcheck = "stay"), and
					// nothing at all is typed into a person's break.
					if m.BugCheck != nil && a.Cmd.Purpose == PurposeResume {
						t.Errorf("%s: g typed into a bug check", where)
					}
					if m.PersonHalt && next.PersonHalt {
						t.Errorf("%s: typed %q into a person's break", where, a.Cmd.Text)
					}
				case ActFinish:
					finished = true
				case ActStartTimer:
					if a.D <= 0 && a.Timer != TimerSettle {
						t.Errorf("%s: %s timer started with %s", where, a.Timer, a.D)
					}
				}
			}
			if finished && acts[len(acts)-1].Kind != ActFinish {
				t.Errorf("%s: actions after finish: %q", where, render(acts))
			}
			if finished {
				for tm, on := range next.Timers {
					if on {
						t.Errorf("%s: finished with the %s timer running", where, Timer(tm))
					}
				}
			}
			if m.State == Exited && len(acts) > 0 && ev.Kind != EvEOF && ev.Kind != EvCancel && ev.Kind != EvTimer {
				for _, a := range acts {
					if a.Kind == ActWrite || a.Kind == ActBreak || a.Kind == ActLeave {
						t.Errorf("%s: %s after kd's output ended", where, a)
					}
				}
			}
			if ev.Kind == EvStop && m.Phase != PhaseStopping && next.Phase != PhaseStopping {
				t.Errorf("%s: a stop request left the phase %s", where, next.Phase)
			}
		}
	}
}

// Step is pure: the same machine and event give the same result, and the
// machine it was given is not changed (a row can be replayed).
func TestStepIsPure(t *testing.T) {
	for _, g := range table {
		for _, r := range g.rows {
			before := describe(r.given)
			n1, a1 := Step(r.given, r.ev)
			n2, a2 := Step(r.given, r.ev)
			if describe(r.given) != before {
				t.Errorf("%s: Step changed its input: %s -> %s", r.why, before, describe(r.given))
			}
			if describe(n1) != describe(n2) || strings.Join(render(a1), "|") != strings.Join(render(a2), "|") {
				t.Errorf("%s: two Steps disagree", r.why)
			}
		}
	}
}

// The doc is rendered from the table and from Step itself; -update writes
// it, otherwise it must match.
func TestSessionTableDoc(t *testing.T) {
	got := renderDoc()
	path := filepath.Join("..", "docs", "session-table.md")
	if _, err := os.Stat(filepath.Join("..", "go.mod")); err != nil {
		// A test binary run outside the source tree (the Wine suite runs
		// launcher.test.exe in a folder of its own): nothing to compare.
		t.Skip("not run from the source tree: the doc is checked by go test ./launcher")
	}
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v: run go test ./launcher -run TestSessionTableDoc -update", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is not what the decision table says: run go test ./launcher -run TestSessionTableDoc -update and review the diff", path)
	}
}

func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", "<br>")
}

func renderDoc() []byte {
	var b bytes.Buffer
	b.WriteString(`# The session's decisions

Generated by ` + "`go test ./launcher -run TestSessionTableDoc -update`" + ` from launcher/step_table_test.go;
do not edit by hand. Every row is checked by TestStepTable.

kdlaunch's session is one pure function, ` + "`launcher.Step(Machine, Event) (Machine, []Action)`" + `: the
session goroutine turns kd's output, its timers and the stop request into events, and carries out the actions
Step returns. To answer "why did kdlaunch type g here?", find the situation and the event below.

A situation is kd's state (starting, waiting, connected, breaking in, halted, running, stopping, exited), the
session's phase (arming, supervising, disarming, stopping), and what is set: *armed* (breakpoints may be on the
target), *halting* (the target has stopped or said it will: a break now would be queued by kd), *break asked*
(a break of kdlaunch's is unanswered), the command *in flight* and the *queue*. Commands are typed only at a
prompt, each followed by a marker (` + "`.echo KDLAUNCH_DONE_<nonce>_<n>`" + `); "(arm)", "(disarm)", "(resume)",
"(check)", "(stack)" is the command's purpose. Durations are the table's: settle 1s, break timeout 2s (doubling
per retry), stop timeout 5s, leave grace 500ms.

Not here because they are the session's I/O, not decisions: waiting for kd to exit after its output ends (a kd
that runs on deaf and mute is killed after the stop timeout, at most 5 s), and the status line (a snapshot once
a second).

`)
	for _, g := range table {
		fmt.Fprintf(&b, "## %s\n\n| why | situation | event | kdlaunch does | then |\n|---|---|---|---|---|\n", g.title)
		for _, r := range g.rows {
			_, acts := Step(r.given, r.ev)
			does := strings.Join(render(acts), "\n")
			if does == "" {
				does = "nothing"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", cell(r.why), cell(describe(r.given)), cell(r.ev.String()), cell(does), cell(r.then))
		}
		b.WriteString("\n")
	}
	b.WriteString(`## Every state and event

What Step does for every event in every state, in the phase where the state matters most (supervising and
armed; the stop for *stopping*), with every timer running. TestStepInvariants checks, for every state, phase
and event, that no break reaches a halted or unconnected target, nothing is typed while the target runs or
after CTRL+B ENTER, and q is never typed.

`)
	for st := Starting; st <= Exited; st++ {
		ph := PhaseSupervising
		if st == Stopping {
			ph = PhaseStopping
		}
		m := given(st, ph, timers(TimerSettle, TimerBreak, TimerLeave, TimerStop))
		fmt.Fprintf(&b, "### %s\n\n| event | kdlaunch does | then |\n|---|---|---|\n", describe(m))
		for _, ev := range allEvents {
			next, acts := Step(m, ev)
			does := strings.Join(render(acts), "\n")
			if does == "" {
				does = "nothing"
			}
			fmt.Fprintf(&b, "| %s | %s | %s |\n", cell(ev.String()), cell(does), cell(describe(next)))
		}
		b.WriteString("\n")
	}
	return b.Bytes()
}
