package launcher

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/kdlaunch/kdlaunch/script"
)

// The decision table: one row per behaviour. Each row is a situation (the
// machine before), an event, what kdlaunch does, and where it ends up. It is
// checked by TestStepTable and rendered into docs/session-table.md, so the
// doc is always what the code does.

var t0 = time.Date(2026, 11, 25, 22, 0, 0, 0, time.UTC)

// tableRules are the rules every row starts from: a special-pool hunt with
// short, recognisable durations.
var tableRules = Rules{
	Plan: Plan{Arm: []Command{{Text: script.SpecialPoolBreakpoint}}},
	Timing: Timing{Settle: time.Second, BreakTimeout: 2 * time.Second, BreakRetries: 3, CommandTimeout: time.Minute,
		StopTimeout: 5 * time.Second, ResumeOnHalt: true, LeaveGrace: 500 * time.Millisecond},
	Nonce: "n",
}

func line(text string) Event {
	return Event{Kind: EvLine, At: at, Line: Line{Text: text, Class: script.Classify(text)}}
}

var (
	evWaiting     = line("Waiting to reconnect...")
	evConnected   = line("Connected to Windows 10 19041 x64 target at (Wed Nov 25 22:01:02.051 2026 (UTC + 0:00)), ptr64 TRUE")
	evEstablished = line("Kernel Debugger connection established.")
	evInitial     = line("Kernel Debugger connection established.  (Initial Breakpoint requested)")
	evShutdown    = line("Shutdown occurred at (Wed Nov 25 22:03:04.000 2026 (UTC + 0:00))...unloading all symbol tables.")
	evHit         = line("Breakpoint 0 hit")
	evBreakExc    = line("Break instruction exception - code 80000003 (first chance)")
	evLost        = line("The transport connection between host kernel debugger and target Windows seems lost.")
	evResync      = line("KDTARGET: Refreshing KD connection")
	evMarker      = line("KDLAUNCH_DONE_n_1")
	evOther       = line("nt!DbgBreakPointWithStatus:")
	evPrompt      = Event{Kind: EvPrompt, At: at, Prompts: 1}
	evEOF         = Event{Kind: EvEOF, At: at}
	evStop        = Event{Kind: EvStop, At: at, Why: "stop requested"}
	evCancel      = Event{Kind: EvCancel, At: at}
	evTick        = Event{Kind: EvTick, At: at}
)

func fires(t Timer) Event { return Event{Kind: EvTimer, At: at, Timer: t} }
func firesUnread(t Timer) Event {
	return Event{Kind: EvTimer, At: at, Timer: t, Backlog: true}
}
func tickAfter(d time.Duration) Event { return Event{Kind: EvTick, At: t0.Add(d)} }

// describe is a machine in a few words: its state and phase, then only
// what is set.
func describe(m Machine) string {
	parts := []string{m.State.String() + ", " + m.Phase.String()}
	flag := func(on bool, s string) {
		if on {
			parts = append(parts, s)
		}
	}
	flag(m.Armed, "armed")
	flag(m.Halting, "halting")
	flag(m.BreakAsked, "break asked")
	flag(m.HitBreak, "pool hit")
	flag(m.Lost, "transport lost")
	flag(m.Braked, "rate brake on")
	flag(m.StoppedSafe, "stopped safely")
	flag(m.BugCheck != nil, "in a bug check")
	flag(m.BugContinued, "bug check continued")
	flag(m.PersonHalt, "a person's break")
	flag(m.GoFail != nil, "g failed")
	flag(m.GoTries > 0, fmt.Sprintf("%d failed g's", m.GoTries))
	flag(m.StartFail != nil, "start failure")
	flag(m.Failure != nil, "failing")
	flag(m.Plan.ClearOnly, "clearing only")
	flag(len(m.Surveyed) > 0, "surveyed "+strings.Join(slices.Sorted(maps.Keys(m.Surveyed)), ", "))
	flag(len(m.ArmedBPs) > 0, fmt.Sprintf("%d breakpoints placed", len(m.ArmedBPs)))
	flag(m.BreakTries > 0, fmt.Sprintf("%d breaks sent", m.BreakTries))
	flag(m.StopResumes > 0, fmt.Sprintf("%d stop resumes", m.StopResumes))
	flag(m.BacklogWaits > 0, fmt.Sprintf("%d backlog waits", m.BacklogWaits))
	if l := m.Leak; m.Plan.Leaks != nil {
		parts = append(parts, describeLeak(l, m.LeakHalts))
	}
	if f := m.Flight; f != nil {
		s := fmt.Sprintf("in flight %q", f.Cmd.Text)
		if f.Seen {
			s += " (marker seen)"
		}
		parts = append(parts, s)
	}
	if len(m.Queue) > 0 {
		var q []string
		for _, c := range m.Queue {
			if c.Purpose == purposeArmSlot {
				q = append(q, "<arm: breakpoints, bl, readbacks, g>")
				continue
			}
			q = append(q, c.Text)
		}
		parts = append(parts, "queue "+strings.Join(q, "; "))
	}
	return strings.Join(parts, ", ")
}

func render(acts []Action) []string {
	var out []string
	for _, a := range acts {
		if a.Kind == ActTrace {
			continue // state changes: the "then" column shows them
		}
		out = append(out, a.String())
	}
	return out
}

type row struct {
	why   string // the behaviour, in words: why kdlaunch does this
	given Machine
	ev    Event
	does  []string // render(actions)
	then  string   // describe(next)
}

// table is grouped as a session goes: waiting, connecting, breaking in,
// arming, supervising, faults, the safe stop, the end.
var table = []struct {
	title string
	rows  []row
}{
	{"Waiting for the target", []row{
		{"kd waits for the target: say so once", given(Starting, PhaseArming), evWaiting,
			[]string{"info: waiting for the target to connect"}, "waiting, arming"},
		{"no break before the connection: kd's other lines change nothing", given(Waiting, PhaseArming), evOther,
			nil, "waiting, arming"},
		{"the connection: queue the arm commands, let kd settle before breaking in", given(Waiting, PhaseArming), evConnected,
			[]string{"info: target connected", "start settle timer 1s"}, "connected, arming, queue <arm: breakpoints, bl, readbacks, g>"},
		{"KDNET prints two connection lines: the second changes nothing", given(Connected, PhaseArming, queue("bp x", "g"), timers(TimerSettle)), evEstablished,
			nil, "connected, arming, queue bp x; g"},
		{"the first connection of the run also queues the live check, once", given(Waiting, PhaseArming, unchecked), evEstablished,
			[]string{"info: target connected", "start settle timer 1s"}, "connected, arming, queue dd nt!MmSpecialPoolTag L1; <arm: breakpoints, bl, readbacks, g>"},
		{"(Initial Breakpoint requested): the target will halt by itself, so no break of ours", given(Waiting, PhaseArming), evInitial,
			[]string{"info: target connected", "start settle timer 1s"}, "connected, arming, halting, queue <arm: breakpoints, bl, readbacks, g>"},
		{"no connection within connect_timeout: one line with what to check, exit", given(Waiting, PhaseArming, connectIn(time.Minute)), tickAfter(2 * time.Minute),
			[]string{"kill kd", "finish: failed: the target did not connect within 1m0s"}, "waiting, arming"},
		{"still waiting after 30 s: a sign of life without a status line", given(Waiting, PhaseArming), tickAfter(31 * time.Second),
			[]string{"info: still waiting for the target after 31s"}, "waiting, arming"},
	}},
	{"Breaking in", []row{
		{"settled: break in", given(Connected, PhaseArming, queue("bp x", "g"), timers(TimerSettle)), fires(TimerSettle),
			[]string{"break in (attempt 1)", "start break timer 2s"}, "breaking in, arming, break asked, 1 breaks sent, queue bp x; g"},
		{"settled, initial breakpoint coming: wait for its prompt, break only if none comes", given(Connected, PhaseArming, halting, queue("bp x", "g"), timers(TimerSettle)), fires(TimerSettle),
			[]string{"start break timer 2s"}, "connected, arming, halting, queue bp x; g"},
		{"the announced halt never came: break in after all", given(Connected, PhaseArming, halting, timers(TimerBreak)), fires(TimerBreak),
			[]string{"break in (attempt 1)", "start break timer 2s"}, "breaking in, arming, break asked, 1 breaks sent"},
		{"our break landed (the prompt may take minutes): no second break", given(BreakingIn, PhaseArming, asked, tries(1), timers(TimerBreak)), evBreakExc,
			nil, "breaking in, arming, halting, break asked, 1 breaks sent"},
		{"slow prompt after a landed break: wait for it, never break a stopped target", given(BreakingIn, PhaseArming, asked, halting, tries(1), timers(TimerBreak)), fires(TimerBreak),
			[]string{"warn: kd reported the break-in but shows no prompt yet"}, "breaking in, arming, halting, break asked, 1 breaks sent"},
		{"break unanswered: again, waiting twice as long", given(BreakingIn, PhaseArming, asked, tries(1), timers(TimerBreak)), fires(TimerBreak),
			[]string{"break in (attempt 2)", "start break timer 4s"}, "breaking in, arming, break asked, 2 breaks sent"},
		{"kd's output not all read when the break timer fires: read on first (the answer may be in it)", given(BreakingIn, PhaseArming, asked, tries(1), timers(TimerBreak)), firesUnread(TimerBreak),
			[]string{"start break timer 100ms"}, "breaking in, arming, break asked, 1 breaks sent, 1 backlog waits"},
		{"the backlog wait is bounded: a flood of output cannot put the retry off for ever", given(BreakingIn, PhaseArming, asked, tries(1), backlogs(maxBacklogWaits), timers(TimerBreak)), firesUnread(TimerBreak),
			[]string{"break in (attempt 2)", "start break timer 4s"}, "breaking in, arming, break asked, 2 breaks sent"},
		{"break-ins ignored break_retries times: say what to check, keep trying", given(BreakingIn, PhaseArming, asked, tries(3), timers(TimerBreak)), fires(TimerBreak),
			[]string{"warn: kd has not answered 3 break-ins", "break in (attempt 4)", "start break timer 16s"}, "breaking in, arming, break asked, 4 breaks sent"},
		{"ignored breaks with on_break_failure = give-up: say what to check, exit", given(BreakingIn, PhaseArming, asked, tries(3), giveUp, timers(TimerBreak)), fires(TimerBreak),
			[]string{"error: kd has not answered 3 break-ins", "kill kd", "finish: failed: break-in not answered after 3 tries"}, "breaking in, arming, break asked, 3 breaks sent"},
	}},
	{"Arming", []row{
		{"the break's prompt: type the first arm command, with its marker", given(BreakingIn, PhaseArming, asked, tries(1), queue("bp x", "g"), timers(TimerBreak)), evPrompt,
			[]string{"stop break timer", `type "bp x" (arm) + marker`}, `halted, arming, armed, in flight "bp x", queue g`},
		{"a prompt before the marker: the command is still running", given(Halted, PhaseArming, armed, flight("bp x", PurposeArm, false), queue("g")), evPrompt,
			nil, `halted, arming, armed, in flight "bp x", queue g`},
		{"the marker came: the command is done at the next prompt", given(Halted, PhaseArming, armed, flight("bp x", PurposeArm, false), queue("g")), evMarker,
			nil, `halted, arming, armed, in flight "bp x" (marker seen), queue g`},
		{"armed: g, the hunt begins", given(Halted, PhaseArming, armed, flight("bp x", PurposeArm, true), queue("g")), evPrompt,
			[]string{`type "g" (resume)`, "info: breakpoint armed on x"}, "running, supervising, armed, 1 breakpoints placed"},
		{"the live check's answer goes to its judge (it warns on a wrong tag)", given(Halted, PhaseArming, flight(script.SpecialPoolTagQuery, PurposeCheck, true), queue("bp x", "g")), evPrompt,
			[]string{"warn: special pool: the target's MmSpecialPoolTag is not Ddk", `type "bp x" (arm) + marker`}, `halted, arming, armed, in flight "bp x", queue g`},
		{"a prompt with no connection line (some kd-like tools print none): the target is there, arm", given(Starting, PhaseArming), evPrompt,
			[]string{"info: kd is at a prompt: the target is connected and halted", `type "bp nt!MmAllocateSpecialPool \";kb;g\"" (arm) + marker`}, `halted, arming, armed, in flight "bp nt!MmAllocateSpecialPool \";kb;g\"", queue bl; g`},
	}},
	{"Supervising", []row{
		{"a hit: counted, nothing typed (the breakpoint's own ;kb;g resumes)", given(Running, PhaseSupervising), evHit,
			nil, "running, supervising, armed"},
		{"--max-hits reached: the safe stop begins with a break", given(Running, PhaseSupervising, hits(4), maxHits(5)), evHit,
			[]string{"info: reached --max-hits 5", "break in (attempt 1)", "start break timer 2s"}, "breaking in, stopping, armed, break asked, 1 breaks sent, queue bc *; g"},
		{"hit rate above max_rate: the rate brake clears the breakpoint, the hunt goes on without it", given(Running, PhaseSupervising, rateLimit), evHit,
			[]string{"warn: hit rate 1.6/s is above max_rate 1.0/s", "break in (attempt 1)", "start break timer 2s"}, "breaking in, disarming, armed, break asked, rate brake on, 1 breaks sent, queue bc *; g"},
		{"the rate brake survives a reboot: the breakpoint is not armed again, nothing is typed", given(Waiting, PhaseSupervising, braked), evConnected,
			[]string{"info: target connected; the hit-rate brake is on, so the breakpoint stays..."}, "connected, supervising, rate brake on"},
		{"after a reboot with the rate brake on, an initial breakpoint is only resumed", given(Waiting, PhaseSupervising, braked), evInitial,
			[]string{"info: target connected; the hit-rate brake is on, so the breakpoint stays...", "start break timer 2s"}, "connected, supervising, halting, rate brake on, queue g"},
		{"a stop after the rate brake: nothing armed, the target runs; the stop is safe", given(Running, PhaseSupervising, braked), evStop,
			[]string{"info: stop requested: stopping safely", "leave (CTRL+B ENTER)", "start stop timer 5s"}, "stopping, stopping, rate brake on, stopped safely"},
		{"the rate brake's g: the target runs with nothing armed", given(Halted, PhaseDisarming, queue("g")), evPrompt,
			[]string{`type "g" (resume)`}, "running, supervising"},
		{"the target halted by itself: a prompt follows, so no break", given(Running, PhaseSupervising), evBreakExc,
			nil, "running, supervising, armed, halting"},
		{"halted by itself, on_unexpected_halt = resume: a halted server is frozen, so g", given(Running, PhaseSupervising, halting), evPrompt,
			[]string{"warn: the target halted on its own", `type "g" (resume)`}, "running, supervising, armed"},
		{"halted by itself, on_unexpected_halt = stay: leave it halted for the person, and say so", given(Running, PhaseSupervising, halting, noResume), evPrompt,
			[]string{"warn: the target halted on its own"}, "halted, supervising, armed"},
		{"pool-hit-tag: a halt kdlaunch did not ask for: what it is shows by its prompt", given(Running, PhaseSupervising, poolHit), evBreakExc,
			nil, "running, supervising, armed, halting"},
		{"pool-hit-tag: at the prompt, a halt in the pool routines is a hit: take its stack", given(Running, PhaseSupervising, poolHit, halting, selfHalt("nt!ExpAllocateBigPool+0x1e3:")), evPrompt,
			[]string{`type "kb" (stack) + marker`}, `halted, supervising, armed, in flight "kb", queue g`},
		{"pool-hit-tag hit at its prompt: take its stack, then g", given(Running, PhaseSupervising, poolHit, halting, hitBreak), evPrompt,
			[]string{`type "kb" (stack) + marker`}, `halted, supervising, armed, in flight "kb", queue g`},
	}},
	{"Faults", []row{
		{"reboot: kd lost its breakpoints; armed again at the reconnection", given(Running, PhaseSupervising), evShutdown,
			[]string{"info: the target is rebooting"}, "waiting, supervising"},
		{"reconnected after a reboot: arm again", given(Waiting, PhaseSupervising, disarmed), evConnected,
			[]string{"info: target connected", "start settle timer 1s"}, "connected, arming, queue <arm: breakpoints, bl, readbacks, g>"},
		{"kd reconnects without a shutdown line (a transport refresh): arm again", given(Running, PhaseSupervising), evEstablished,
			[]string{"info: target connected", "start settle timer 1s"}, "connected, arming, armed, queue <arm: breakpoints, bl, readbacks, g>"},
		{"reset while a command runs: kd drops it, so it leaves the flight (its prompt never comes)", given(Halted, PhaseArming, armed, flight("bp x", PurposeArm, false), queue("g")), evWaiting,
			[]string{"info: kd lost the target (reset or crash) and waits for it to reconnect"}, "waiting, arming"},
		{"transport lost: shown in the status line and the log; kd keeps trying", given(Running, PhaseSupervising), evLost,
			[]string{"warn: kd reports the transport to the target lost"}, "running, supervising, armed, transport lost"},
		{"kd refreshed the connection: the transport is back", given(Running, PhaseSupervising, lost), evResync,
			[]string{"info: kd refreshed the connection to the target"}, "running, supervising, armed"},
		{"kd exits by itself with breakpoints armed: the supervisor restarts it", given(Running, PhaseSupervising), evEOF,
			[]string{"finish: kd exited, armed"}, "exited, supervising, armed"},
		{"a command kd takes long over: one warning, keep waiting", given(Halted, PhaseArming, armed, flight("bp x", PurposeArm, false)), evTick,
			[]string{`warn: kd has not finished "bp x" after 1m0s`}, `halted, arming, armed, in flight "bp x"`},
	}},
	{"The safe stop", []row{
		{"stop while waiting, nothing armed: leave kd at once", given(Waiting, PhaseArming), evStop,
			[]string{"info: stop requested: stopping safely", "leave (CTRL+B ENTER)", "start stop timer 5s"}, "stopping, stopping, stopped safely"},
		{"stop just after an initial breakpoint was announced: resume it first, or kd would leave it frozen", given(Connected, PhaseArming, halting, queue("bp x", "g"), timers(TimerSettle)), evStop,
			[]string{"stop settle timer", "info: stop requested: stopping safely", "start break timer 2s"}, "connected, stopping, halting, queue bc *; g"},
		{"stop while armed and running: break in to clear", given(Running, PhaseSupervising), evStop,
			[]string{"info: stop requested: stopping safely", "break in (attempt 1)", "start break timer 2s"}, "breaking in, stopping, armed, break asked, 1 breaks sent, queue bc *; g"},
		{"stop at a prompt: clear at once", given(Halted, PhaseSupervising, noResume), evStop,
			[]string{"info: stop requested: stopping safely", `type "bc *" (disarm) + marker`}, `halted, stopping, armed, in flight "bc *", queue g`},
		{"stop while the target halts by itself: wait for its prompt rather than queue a break", given(Running, PhaseSupervising, halting), evStop,
			[]string{"info: stop requested: stopping safely", "start break timer 2s"}, "running, stopping, armed, halting, queue bc *; g"},
		{"a second stop request changes nothing", given(BreakingIn, PhaseStopping, asked), evStop,
			nil, "breaking in, stopping, break asked"},
		{"the stop's g: watch the target for the leave grace before leaving", given(Halted, PhaseStopping, armed, queue("g")), evPrompt,
			[]string{`type "g" (resume)`, "start leave timer 500ms"}, "running, stopping, 1 stop resumes"},
		{"the target stayed running through the grace: leave, the stop was safe", given(Running, PhaseStopping, resumes(1), timers(TimerLeave)), fires(TimerLeave),
			[]string{"leave (CTRL+B ENTER)", "start stop timer 5s"}, "stopping, stopping, stopped safely, 1 stop resumes"},
		{"queued break during stop: the target halts again right after g; clear and resume again", given(Running, PhaseStopping, resumes(1), halting, timers(TimerLeave)), evPrompt,
			[]string{`type "bc *" (disarm) + marker`}, `halted, stopping, 1 stop resumes, in flight "bc *", queue g`},
		{"the second g of the stop: said once", given(Halted, PhaseStopping, resumes(1), queue("g")), evPrompt,
			[]string{`type "g" (resume)`, "info: the target halted again right after g", "start leave timer 500ms"}, "running, stopping, 2 stop resumes"},
		{"the target halts after every g: after 5 resumes leave anyway, and say it may be halted", given(Halted, PhaseStopping, resumes(maxStopResumes), queue("g")), evPrompt,
			[]string{`type "g" (resume)`, "warn: the target halted again after each of 5 resumes", "leave (CTRL+B ENTER)", "start stop timer 5s"}, "stopping, stopping, 6 stop resumes"},
		{"reboot during the stop: nothing is left armed, leave now rather than wait for the boot", given(BreakingIn, PhaseStopping, armed, asked, tries(1), queue("bc *", "g"), timers(TimerBreak)), evShutdown,
			[]string{"stop break timer", "info: the target is rebooting", "leave (CTRL+B ENTER)", "start stop timer 5s"}, "stopping, stopping, stopped safely, 1 breaks sent"},
		{"a stopping incarnation meets a target: a new kd attaching cleared the old breakpoints; leave", given(Waiting, PhaseStopping), evConnected,
			[]string{"leave (CTRL+B ENTER)", "start stop timer 5s"}, "stopping, stopping, stopped safely"},
		{"a stopping incarnation meets an initial breakpoint: resume it before leaving, or it stays frozen", given(Waiting, PhaseStopping), evInitial,
			[]string{"start break timer 2s"}, "connected, stopping, halting, queue bc *; g"},
		{"kd does not leave after CTRL+B ENTER: kill it", given(Stopping, PhaseStopping, timers(TimerStop)), fires(TimerStop),
			[]string{"warn: kd did not leave within 5s of CTRL+B ENTER", "kill kd"}, "stopping, stopping"},
		{"leaving: a late prompt is not typed into", given(Stopping, PhaseStopping, timers(TimerStop)), evPrompt,
			nil, "stopping, stopping"},
	}},
	{"The end", []row{
		{"kd left after the stop: the run ends as asked", given(Stopping, PhaseStopping, timers(TimerStop)), evEOF,
			[]string{"stop stop timer", "finish: stopped"}, "exited, stopping"},
		{"kd exited during the stop with breakpoints still armed: a new kd clears them", given(BreakingIn, PhaseStopping, armed, asked, timers(TimerBreak)), evEOF,
			[]string{"stop break timer", "finish: kd exited, armed"}, "exited, stopping, armed, break asked"},
		{"a second Ctrl+C: kill kd at once, warn that the target may be halted", given(Running, PhaseSupervising), evCancel,
			[]string{"warn: stopping at once: kd is killed", "kill kd", "finish: aborted, armed"}, "running, supervising, armed"},
	}},
}
