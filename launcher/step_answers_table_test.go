package launcher

import "github.com/kdlaunch/kdlaunch/script"

// The rows of kd's answers: what they decide at arming, at a bug check, at
// a halt nobody asked for, and when kd cannot start.

const (
	xMm      = "x nt!MmAllocateSpecialPool"
	xMmFree  = "x nt!MmFreeSpecialPool"
	xHeap    = "x nt!ExAllocateHeapSpecialPool"
	xHeapFre = "x nt!ExpFreeHeapSpecialPool"
	bpHeap   = `bp nt!ExAllocateHeapSpecialPool ";kb;g"`
	bpMm     = `bp nt!MmAllocateSpecialPool ";kb;g"`
)

var (
	evFatal     = line("*** Fatal System Error: 0x000000c4")
	evInsert    = line(insertFailure)
	evStartFail = line("Could not start kernel debugging using com:port=com1,baud=115200 parameters, Win32 error 0n5")
	evStartMsg  = line(`    "Access is denied."`)
	errNotArmed = &script.ArmError{What: bpMm, Why: "kd could not resolve 'nt!MmAllocateSpecialPool' and deferred the breakpoint, which cannot hit until it resolves", Fix: script.SymbolFix}
)

var probeQueue = "queue " + xMm + "; " + xMmFree + "; " + xHeap + "; " + xHeapFre + "; <arm: breakpoints, bl, readbacks, g>"

// startFailed: kd printed that it cannot open the connection.
var startFailed mod = func(m *Machine) {
	f, _ := script.ParseStartFailure(evStartFail.Line.Text)
	m.StartFail = &f
}

func init() {
	table = append(table[:len(table)-2:len(table)-2], append(answerGroups, table[len(table)-2:]...)...)
}

var answerGroups = []struct {
	title string
	rows  []row
}{
	{"kd's answers at arming", []row{
		{"special pool: at the first halt, probe which allocator the kernel has before arming", given(Waiting, PhaseArming, allocators), evConnected,
			[]string{"info: target connected", "start settle timer 1s"}, "connected, arming, " + probeQueue},
		{"a segment-heap kernel (1903+): only nt!ExAllocateHeapSpecialPool resolves, so that is armed, and said", given(Halted, PhaseArming, allocators,
			answers(xMm, "", xMmFree, "", xHeap, "fffff801`1e7a2b30 nt!ExAllocateHeapSpecialPool (<no parameter info>)"),
			answering(xHeapFre, PurposeProbe, "fffff801`1e7a3c40 nt!ExpFreeHeapSpecialPool (<no parameter info>)"), queue("<arm>")), evPrompt,
			[]string{"stop break timer", "info: the target's kernel allocates special pool through nt!ExAllocateHea...", `type "` + `bp nt!ExAllocateHeapSpecialPool \";kb;g\"` + `" (arm) + marker`}[1:],
			`halted, arming, armed, in flight "` + `bp nt!ExAllocateHeapSpecialPool \";kb;g\"` + `", queue bl; g`},
		{"no allocator resolves (export-only or no symbols): one line with the cause and the fix; nothing armed, the target resumed, the run ends", given(Halted, PhaseArming, allocators,
			answers(xMm, "*** ERROR: Symbol file could not be found.  Defaulted to export symbols for ntkrnlmp.exe - ", xMmFree, "", xHeap, ""),
			answering(xHeapFre, PurposeProbe), queue("<arm>")), evPrompt,
			[]string{`type "bc *" (disarm) + marker`}, `halted, stopping, failing, in flight "bc *", queue g`},
		{"kd deferred the bp (it cannot hit): never supervise it; clear, resume, end the run", given(Halted, PhaseArming, armed,
			answering(bpMm, PurposeArm, "Bp expression 'nt!MmAllocateSpecialPool' could not be resolved, adding deferred bp"), queue("bl", "g")), evPrompt,
			[]string{`type "bc *" (disarm) + marker`}, `halted, stopping, armed, failing, in flight "bc *", queue g`},
		{"a --command breakpoint kd could not resolve: the same", given(Halted, PhaseArming, armed,
			answering("bp mydrv!Alloc", PurposeArm, "Couldn't resolve error at 'mydrv!Alloc'"), queue("bl", "g")), evPrompt,
			[]string{`type "bc *" (disarm) + marker`}, `halted, stopping, armed, failing, in flight "bc *", queue g`},
		{"kd placed the bp: on to bl", given(Halted, PhaseArming, armed, answering(bpMm, PurposeArm), queue("bl", "g")), evPrompt,
			[]string{`type "bl" (verify) + marker`}, `halted, arming, armed, 1 breakpoints placed, in flight "bl", queue g`},
		{"bl lists it deferred: it cannot hit; clear, resume, end the run", given(Halted, PhaseArming, armed, placed(bpMm),
			answering("bl", PurposeVerify, " 0 eu             0001 (0001) (nt!MmAllocateSpecialPool) \"kb;g\""), queue("g")), evPrompt,
			[]string{`type "bc *" (disarm) + marker`}, `halted, stopping, armed, failing, 1 breakpoints placed, in flight "bc *", queue g`},
		{"bl lists it enabled and resolved: only now is it armed, and said so", given(Halted, PhaseArming, armed, placed(bpMm),
			answering("bl", PurposeVerify, " 0 e fffff801`1e2a3b40     0001 (0001) nt!MmAllocateSpecialPool \"kb;g\""), queue("g")), evPrompt,
			[]string{`type "g" (resume)`, "info: breakpoint armed on nt!MmAllocateSpecialPool"}, "running, supervising, armed, 1 breakpoints placed"},
		{"a readback's judge refuses (pool-hit-tag: nt!PoolHitTag does not hold the tag): clear, resume, end the run", given(Halted, PhaseArming, armed,
			func(m *Machine) {
				answering(script.PoolHitTagReadback, PurposeVerify, "fffff801`1e5a3c40  00000000")(m)
				m.Flight.Cmd.Judge = func(Answers) ([]string, error) { return nil, errNotArmed }
			}, queue("g")), evPrompt,
			[]string{`type "bc *" (disarm) + marker`}, `halted, stopping, armed, failing, in flight "bc *", queue g`},
		{"the failing run's last g: the target runs with nothing armed; then leave", given(Halted, PhaseStopping, failing(errNotArmed), queue("g")), evPrompt,
			[]string{`type "g" (resume)`, "start leave timer 500ms"}, "running, stopping, failing, 1 stop resumes"},
		{"kd left: the run ends with the one line that says why", given(Stopping, PhaseStopping, failing(errNotArmed), timers(TimerStop)), evEOF,
			[]string{"stop stop timer", "finish: failed: bp nt!MmAllocateSpecialPool \";kb;g\""}, "exited, stopping, failing"},
	}},
	{"Bug checks", []row{
		{"a bug check while the hunt runs: never resumed; kb and !analyze -v are queued for its prompt", given(Running, PhaseSupervising), evFatal,
			nil, "running, supervising, armed, halting, in a bug check, queue kb; !analyze -v"},
		{"its prompt: kb, then !analyze -v, into the log", given(Running, PhaseSupervising, bugChecked, halting, queue("kb", "!analyze -v")), evPrompt,
			[]string{`type "kb" (bug check) + marker`}, `halted, supervising, armed, in a bug check, in flight "kb", queue !analyze -v`},
		{"both are in the log: clear the breakpoints (bc * resumes nothing)", given(Halted, PhaseSupervising, bugChecked,
			answering("!analyze -v", PurposeBugCheck)), evPrompt,
			[]string{`type "bc *" (disarm) + marker`}, `halted, stopping, in a bug check, failing, in flight "bc *"`},
		{"then leave the target halted for the person; the run ends with the bug check's line", given(Halted, PhaseStopping, bugChecked, failing(errNotArmed),
			answering("bc *", PurposeDisarm)), evPrompt,
			[]string{"leave (CTRL+B ENTER)", "start stop timer 5s"}, "stopping, stopping, in a bug check, failing"},
		{"on_bugcheck = continue: resume it (dump, reboot) and arm again after the reboot", given(Halted, PhaseSupervising, bugChecked, continueBC,
			answering("!analyze -v", PurposeBugCheck)), evPrompt,
			[]string{"warn: the target bug-checked", `type "g" (resume)`}, "running, supervising, armed, in a bug check, bug check continued"},
		{"the reboot after the dump ends the bug check: armed again at the reconnection", given(Running, PhaseSupervising, bugChecked, continueBC), evShutdown,
			[]string{"info: the target is rebooting"}, "waiting, supervising"},
		{"a bug check as the target boots comes with the connection: nothing is armed, its prompt brings kb", given(Connected, PhaseArming, queue("<arm>"), timers(TimerSettle)), evFatal,
			nil, "connected, arming, halting, in a bug check, queue kb; !analyze -v"},
		{"settled in a bug check: no break (it is halted), wait for its prompt", given(Connected, PhaseArming, bugChecked, halting, queue("kb", "!analyze -v"), timers(TimerSettle)), fires(TimerSettle),
			[]string{"start break timer 2s"}, "connected, arming, halting, in a bug check, queue kb; !analyze -v"},
		{"a bug check's prompt is slow: never break into it, wait", given(Connected, PhaseArming, bugChecked, halting, queue("kb", "!analyze -v"), timers(TimerBreak)), fires(TimerBreak),
			[]string{"warn: the target bug-checked but kd shows no prompt yet"}, "connected, arming, halting, in a bug check, queue kb; !analyze -v"},
		{"a bug check as kdlaunch arms replaces the arm commands", given(Halted, PhaseArming, armed, flight("bp x", PurposeArm, false), queue("bl", "g")), evFatal,
			nil, `halted, arming, armed, halting, in a bug check, in flight "bp x", queue kb; !analyze -v`},
		{"pool-hit-tag: a bug check's break is not a hit", given(Running, PhaseSupervising, poolHit, bugChecked), evBreakExc,
			nil, "running, supervising, armed, halting, in a bug check"},
		{"a bug check during the stop: the stop never types g into it (the leave grace waits for its prompt)", given(Running, PhaseStopping, resumes(1), timers(TimerLeave)), evFatal,
			[]string{"stop leave timer"}, "running, stopping, halting, in a bug check, 1 stop resumes, queue kb; !analyze -v"},
		{"a stop in a bug check: its kb and !analyze -v, bc *, then leave it halted; never g", given(Halted, PhaseSupervising, bugChecked), evStop,
			[]string{"info: stop requested: the target is held halted by a bug check", `type "bc *" (disarm) + marker`}, `halted, stopping, in a bug check, failing, in flight "bc *"`},
	}},
	{"Halts kdlaunch did not cause", []row{
		{"a person's break (the break box, no break of ours): left halted, said once", given(Running, PhaseSupervising,
			selfHalt("*   You are seeing this message because you pressed either                    *", "nt!DbgBreakPointWithStatus:")), evPrompt,
			[]string{"warn: someone broke into the target"}, "halted, supervising, armed, a person's break"},
		{"the initial breakpoint's break box is expected: not a person's break", given(Connected, PhaseArming, halting, func(m *Machine) { m.Halt = HaltInitial }, queue("<arm>"), timers(TimerSettle)), evBreakExc,
			nil, "connected, arming, halting, queue <arm: breakpoints, bl, readbacks, g>"},
		{"a person's break holds the target: queued commands wait too", given(Halted, PhaseArming, personHalt, queue("bp x", "g")), evPrompt,
			nil, "halted, arming, a person's break, queue bp x; g"},
		{"a break box while a break of kdlaunch's is still out (kd queued it): that break landing, not a person's", given(Running, PhaseSupervising,
			selfHalt("*   You are seeing this message because you pressed either                    *", "nt!DbgBreakPointWithStatus:"), func(m *Machine) { m.BreaksOut = 1 }), evPrompt,
			[]string{"warn: the target halted on its own", `type "g" (resume)`}, "running, supervising, armed"},
		{"a person's break: kd's prompts after their commands change nothing", given(Halted, PhaseSupervising, personHalt), evPrompt,
			nil, "halted, supervising, armed, a person's break"},
		{"a person's break: a hit means they resumed the target; go on", given(Halted, PhaseSupervising, personHalt), evHit,
			[]string{"info: the target runs again"}, "running, supervising, armed"},
		{"a stop during a person's break: nothing typed under their hands; leave it halted, the run says so", given(Halted, PhaseSupervising, personHalt), evStop,
			[]string{"info: stop requested: the target is held halted by someone at kd's debugg...", "leave (CTRL+B ENTER)", "start stop timer 5s"}, "stopping, stopping, armed, a person's break, failing"},
		{"a driver's int 3: on_unexpected_halt = resume names where it stopped and resumes", given(Running, PhaseSupervising, selfHalt("leakydrv!LeakyCheck+0x3c:")), evPrompt,
			[]string{"warn: the target halted on its own at leakydrv!LeakyCheck+0x3c", `type "g" (resume)`}, "running, supervising, armed"},
		{"a g kd cannot carry out (it cannot insert a breakpoint): kd stays at its prompt", given(Running, PhaseSupervising), evInsert,
			nil, "running, supervising, armed, halting, g failed"},
		{"the failed g's prompt: no g now; try again after a second", given(Running, PhaseSupervising, goFailed(0)), evPrompt,
			[]string{"warn: kd could not resume the target", "start retry timer 1s"}, "halted, supervising, armed, 1 failed g's"},
		{"the retry's wait is over: g again", given(Halted, PhaseSupervising, timers(TimerRetry), func(m *Machine) { m.GoTries = 1 }), fires(TimerRetry),
			[]string{`type "g" (resume)`}, "running, supervising, armed, 1 failed g's"},
		{"the third failed g: clear every breakpoint and resume with nothing armed; the run ends quoting kd", given(Running, PhaseSupervising, goFailed(2)), evPrompt,
			[]string{`type "bc *" (disarm) + marker`}, `halted, stopping, armed, 3 failed g's, failing, in flight "bc *", queue g`},
	}},
	{"kd cannot start", []row{
		{"kd says it cannot open the connection: wait for its message line", given(Starting, PhaseArming), evStartFail,
			nil, "starting, arming, start failure"},
		{"its message is kept for the one line; kd exits by itself", given(Starting, PhaseArming, startFailed), evStartMsg,
			nil, "starting, arming, start failure"},
		{"kd exited: one line with the cause and what to check; the run ends at once (no restart)", given(Starting, PhaseArming, startFailed), evEOF,
			[]string{"finish: failed: kd could not open com:port=com1,baud=115200"}, "exited, arming, start failure"},
		{"kd said it cannot start but stays: killed at the next tick, the same line", given(Starting, PhaseArming, startFailed), evTick,
			[]string{"kill kd", "finish: failed: kd could not open com:port=com1,baud=115200"}, "starting, arming, start failure"},
		{"kd exits before printing anything: an ordinary crash, the supervisor restarts it with backoff", given(Starting, PhaseArming), evEOF,
			[]string{"finish: kd exited"}, "exited, arming"},
	}},
}
