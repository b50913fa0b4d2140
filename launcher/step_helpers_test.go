package launcher

import (
	"time"

	"github.com/kdlaunch/kdlaunch/script"
)

// The table's vocabulary: a machine in a given situation (given and its
// mods), and kd's answers as rows need them.

type mod func(*Machine)

// given is a machine in state st and phase ph, changed by mods. Phases
// after arming start armed unless a mod says otherwise.
func given(st State, ph Phase, mods ...mod) Machine {
	m := NewMachine(tableRules, Counters{Checked: true, Started: t0}, t0, false)
	m.State, m.Phase = st, ph
	if ph == PhaseSupervising || ph == PhaseDisarming {
		m.Armed = true
	}
	for _, f := range mods {
		f(&m)
	}
	return m
}

var (
	armed     mod = func(m *Machine) { m.Armed = true }
	disarmed  mod = func(m *Machine) { m.Armed = false }
	halting   mod = func(m *Machine) { m.Halting = true }
	asked     mod = func(m *Machine) { m.BreakAsked = true }
	lost      mod = func(m *Machine) { m.Lost = true }
	hitBreak  mod = func(m *Machine) { m.HitBreak = true; m.Halt = HaltPoolHit }
	noResume  mod = func(m *Machine) { m.Timing.ResumeOnHalt = false }
	giveUp    mod = func(m *Machine) { m.Timing.GiveUpOnBreak = true }
	poolHit   mod = func(m *Machine) { m.Plan.HitOnBreak = true }
	braked    mod = func(m *Machine) { m.Braked = true; m.Armed = false }
	unchecked mod = func(m *Machine) {
		m.Checked = false
		m.Plan.Check = []Command{{Text: script.SpecialPoolTagQuery, Judge: tagJudge}}
	}
)

func tries(n int) mod     { return func(m *Machine) { m.BreakTries = n } }
func backlogs(n int) mod  { return func(m *Machine) { m.BacklogWaits = n } }
func resumes(n int) mod   { return func(m *Machine) { m.StopResumes = n } }
func hits(n int64) mod    { return func(m *Machine) { m.Hits = n } }
func maxHits(n int64) mod { return func(m *Machine) { m.Limits.MaxHits = n } }
func connectIn(d time.Duration) mod {
	return func(m *Machine) { m.Timing.ConnectTimeout = d }
}
func timers(ts ...Timer) mod {
	return func(m *Machine) {
		for _, t := range ts {
			m.Timers[t] = true
		}
	}
}

// queue puts commands in the queue: "g" resumes, "bc *" disarms, anything
// else arms.
func queue(texts ...string) mod {
	return func(m *Machine) {
		m.Queue = nil
		for _, t := range texts {
			p := PurposeArm
			switch {
			case script.Resumes(t):
				p = PurposeResume
			case t == "bc *":
				p = PurposeDisarm
			case m.BugCheck != nil && (t == "kb" || t == "!analyze -v"):
				p = PurposeBugCheck
			case t == "kb":
				p = PurposeStack
			case t == "bl":
				p = PurposeVerify
			case t == "<arm>":
				m.Queue = append(m.Queue, Command{Purpose: purposeArmSlot})
				continue
			}
			m.Queue = append(m.Queue, Command{Text: t, Purpose: p})
		}
	}
}

// flight puts text in flight as marker n's command; seen: its marker came.
func flight(text string, p Purpose, seen bool) mod {
	return func(m *Machine) {
		m.Seq = 1
		m.Flight = &InFlight{Cmd: Command{Text: text, Purpose: p}, Marker: script.Marker(m.Nonce, 1), Sent: t0, Seen: seen}
		if p == PurposeCheck {
			m.Flight.Cmd.Judge = tagJudge
		}
	}
}

// tagJudge stands for the live check's judge: it warns when special pool
// does not hold the tag.
func tagJudge(a Answers) ([]string, error) {
	if a[script.SpecialPoolTagQuery] != "fffff801`1e5a3c40  206b6444" {
		return []string{"special pool: the target's MmSpecialPoolTag is not Ddk"}, nil
	}
	return nil, nil
}

var (
	allocators mod = func(m *Machine) { m.Plan.Allocators, m.Plan.Arm = true, nil }
	continueBC mod = func(m *Machine) { m.Timing.ContinueBugCheck = true }
	personHalt mod = func(m *Machine) { m.PersonHalt = true }
	// bugChecked: kd announced bug check 0xC4 with its parameters.
	bugChecked mod = func(m *Machine) {
		m.BugRec.Line("*** Fatal System Error: 0x000000c4")
		m.BugRec.Line("                       (0x0000000000000062,0xFFFFB30E4C1D2A10,0xFFFFB30E4B0C1E30,0x0000000000000001)")
		bc, _ := m.BugRec.Current()
		m.BugCheck = &bc
		m.Halt = HaltBugCheck
	}
)

// answers gives kd's answers so far, command then answer.
func answers(kv ...string) mod {
	return func(m *Machine) {
		m.Answers = Answers{}
		for i := 0; i+1 < len(kv); i += 2 {
			m.Answers[kv[i]] = kv[i+1]
		}
	}
}

func placed(cmds ...string) mod { return func(m *Machine) { m.ArmedBPs = cmds } }

// selfHalt: the target stopped by itself; kd printed these lines after the
// break exception.
func selfHalt(lines ...string) mod {
	return func(m *Machine) {
		m.Halting, m.Halt = true, HaltSelf
		m.HaltLines = append([]string{"Break instruction exception - code 80000003 (first chance)"}, lines...)
	}
}

// answering: cmd is in flight, its marker came, kd printed out.
func answering(cmd string, p Purpose, out ...string) mod {
	return func(m *Machine) {
		flight(cmd, p, true)(m)
		m.Flight.Out = out
	}
}

func failing(err error) mod { return func(m *Machine) { m.Failure = err } }

func goFailed(tries int) mod {
	return func(m *Machine) {
		f, _ := script.ParseInsertFailure(insertFailure)
		m.GoFail, m.GoTries, m.Halting, m.Halt = &f, tries, true, HaltGoFailed
	}
}

const insertFailure = "Unable to insert breakpoint 0 at fffff801`1e7a2b30, Win32 error 0n299"

// rateLimit sets max_rate to 1/s over 10 s with 15 hits in the last 10 s.
var rateLimit mod = func(m *Machine) {
	m.Limits.MaxRate, m.Limits.RateWindow = 1, 10*time.Second
	for i := range 15 {
		m.HitTimes = append(m.HitTimes, at.Add(-time.Duration(i)*500*time.Millisecond))
	}
	m.Hits = 15
}

// at is when every row's event happens: an hour into the run.
var at = t0.Add(time.Hour)
