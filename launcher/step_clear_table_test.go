package launcher

import "errors"

// The rows of a clearing session (kdlaunch disarm): it arms nothing, and
// clears what an earlier session may have left: kd's breakpoints and
// nt!PoolHitTag, which is target memory and outlives any kd.

const (
	ddHitTag = "dd nt!PoolHitTag L1"
	edHitTag = "ed nt!PoolHitTag 0"
)

var errNotCleared = errors.New("nt!PoolHitTag reads back 206b6444 after ed nt!PoolHitTag 0")

// clearing is the plan kdlaunch disarm gives: survey bl and PoolHitTag,
// then bc *, the PoolHitTag write and its readback.
var clearing mod = func(m *Machine) {
	m.Plan = Plan{ClearOnly: true,
		Survey: []Command{{Text: "bl"}, {Text: ddHitTag}},
		Disarm: []Command{{Text: edHitTag}, {Text: ddHitTag}},
	}
}

// clearQueue queues what the clearing types at its first prompt.
var clearQueue mod = func(m *Machine) {
	s := stepper{m: *m}
	m.Queue = s.disarmQueue()
}

var found mod = func(m *Machine) { m.Halting, m.Halt = true, HaltFound }

func surveyed(kv ...string) mod {
	return func(m *Machine) {
		m.Surveyed = Answers{}
		for i := 0; i+1 < len(kv); i += 2 {
			m.Surveyed[kv[i]] = kv[i+1]
		}
	}
}

const (
	clearQ     = "queue bl; " + ddHitTag + "; bc *; " + edHitTag + "; " + ddHitTag + "; g"
	blLeftOver = " 0 e fffff801`1e2a3b40     0001 (0001) nt!MmAllocateSpecialPool \"kb;g\""
)

func init() {
	n := len(table)
	table = append(table[:n-1:n-1], append(clearGroups, table[n-1:]...)...)
}

var clearGroups = []struct {
	title string
	rows  []row
}{
	{"Clearing (kdlaunch disarm)", []row{
		{"the connection: everything an earlier session left counts as armed; settle first, as the arming does", given(Waiting, PhaseArming, clearing), evConnected,
			[]string{"info: target connected: clearing what an earlier session may have left armed", "start settle timer 1s"}, "connected, stopping, armed, clearing only, " + clearQ},
		{"a target left halted shows its prompt at once: no break is sent; survey first", given(Connected, PhaseStopping, armed, clearing, clearQueue, timers(TimerSettle)), evPrompt,
			[]string{"stop settle timer", "info: the target is halted with no break sent", `type "bl" (survey) + marker`}, `halted, stopping, armed, clearing only, in flight "bl", queue ` + clearQ[len("queue bl; "):]},
		{"kd shows a break as it attaches to a halted target: that is the halt found, not a person's break", given(Connected, PhaseStopping, armed, clearing, clearQueue, timers(TimerSettle)), evBreakExc,
			nil, "connected, stopping, armed, halting, clearing only, " + clearQ},
		{"its prompt: survey, whatever box kd showed", given(Connected, PhaseStopping, armed, clearing, found, clearQueue, timers(TimerSettle)), evPrompt,
			[]string{"stop settle timer", "info: the target is halted with no break sent", `type "bl" (survey) + marker`}, `halted, stopping, armed, clearing only, in flight "bl", queue ` + clearQ[len("queue bl; "):]},
		{"settled with the target running: break in to clear", given(Connected, PhaseStopping, armed, clearing, clearQueue, timers(TimerSettle)), fires(TimerSettle),
			[]string{"break in (attempt 1)", "start break timer 2s"}, "breaking in, stopping, armed, break asked, clearing only, 1 breaks sent, " + clearQ},
		{"a PoolHitTag left set halts the running target by itself: wait for that prompt, no break", given(Connected, PhaseStopping, armed, halting, clearing, clearQueue, timers(TimerSettle)), fires(TimerSettle),
			[]string{"start break timer 2s"}, "connected, stopping, armed, halting, clearing only, " + clearQ},
		{"a prompt with no connection line: the target is there; survey", given(Starting, PhaseArming, clearing), evPrompt,
			[]string{"info: kd is at a prompt: the target is connected and halted", `type "bl" (survey) + marker`}, `halted, stopping, armed, clearing only, in flight "bl", queue ` + clearQ[len("queue bl; "):]},
		{"bl's answer is kept: what the earlier session left, for the report", given(Halted, PhaseStopping, armed, clearing,
			answering("bl", PurposeSurvey, blLeftOver), clearQueue, func(m *Machine) { m.Queue = m.Queue[1:] }), evPrompt,
			[]string{`type "dd nt!PoolHitTag L1" (survey) + marker`}, `halted, stopping, armed, clearing only, surveyed bl, in flight "dd nt!PoolHitTag L1", queue bc *; ed nt!PoolHitTag 0; dd nt!PoolHitTag L1; g`},
		{"a survey repeated after a queued break keeps the first answer: the report says what was found", given(Halted, PhaseStopping, clearing, surveyed("bl", blLeftOver),
			answering("bl", PurposeSurvey), queue("g")), evPrompt,
			[]string{`type "g" (resume)`, "start leave timer 500ms"}, "running, stopping, clearing only, surveyed bl, 1 stop resumes"},
		{"PoolHitTag does not read back 0: the run will fail, but the rest of the clearing goes on (never typed twice)", given(Halted, PhaseStopping, armed, clearing,
			func(m *Machine) {
				answering(ddHitTag, PurposeDisarm, "fffff801`1e5a3c40  206b6444")(m)
				m.Flight.Cmd.Judge = func(Answers) ([]string, error) { return nil, errNotCleared }
			}, queue("g")), evPrompt,
			[]string{`type "g" (resume)`, "start leave timer 500ms"}, "running, stopping, failing, clearing only, 1 stop resumes"},
		{"Ctrl+C while clearing: the clearing is the safe stop, and it goes on", given(BreakingIn, PhaseStopping, armed, asked, clearing, clearQueue, timers(TimerBreak)), evStop,
			nil, "breaking in, stopping, armed, break asked, clearing only, " + clearQ},
		{"Ctrl+C before the target connected: nothing to clear yet; leave", given(Waiting, PhaseArming, clearing), evStop,
			[]string{"info: stop requested: stopping safely", "leave (CTRL+B ENTER)", "start stop timer 5s"}, "stopping, stopping, stopped safely, clearing only"},
		{"a bug check at the break: kb and !analyze -v first", given(BreakingIn, PhaseStopping, armed, asked, clearing, clearQueue, timers(TimerBreak)), evFatal,
			nil, "breaking in, stopping, armed, halting, break asked, in a bug check, clearing only, queue kb; !analyze -v"},
		{"then survey and clear with no g: the target is left halted in its bug check, and the run says so", given(Halted, PhaseStopping, armed, clearing, bugChecked,
			answering("!analyze -v", PurposeBugCheck)), evPrompt,
			[]string{`type "bl" (survey) + marker`}, `halted, stopping, in a bug check, failing, clearing only, in flight "bl", queue dd nt!PoolHitTag L1; bc *; ed nt!PoolHitTag 0; dd nt!PoolHitTag L1`},
		{"the target rebooted while it was cleared: a reboot resets PoolHitTag and kd's breakpoints; leave", given(BreakingIn, PhaseStopping, armed, asked, clearing, clearQueue, timers(TimerBreak)), evShutdown,
			[]string{"stop break timer", "info: the target is rebooting", "leave (CTRL+B ENTER)", "start stop timer 5s"}, "stopping, stopping, stopped safely, clearing only"},
	}},
}
