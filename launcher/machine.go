package launcher

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/kdlaunch/kdlaunch/script"
)

// Phase is what the session is doing with the target, across kd's states.
type Phase int

// Phases of a session.
const (
	PhaseArming      Phase = iota // connected: check, arm, then resume
	PhaseSupervising              // armed and running: count hits
	PhaseDisarming                // the hit rate is too high: clear, resume, hunt on without the breakpoint
	PhaseStopping                 // the safe stop: break, bc *, g, leave
)

var phaseNames = [...]string{"arming", "supervising", "disarming", "stopping"}

func (p Phase) String() string {
	if int(p) < len(phaseNames) {
		return phaseNames[p]
	}
	return "phase(" + strconv.Itoa(int(p)) + ")"
}

// HaltCause is why the target is halted (or said it is about to halt).
type HaltCause int

// Causes of a halt.
const (
	HaltNone     HaltCause = iota // the target runs, or nothing announced the halt
	HaltOurBreak                  // kdlaunch's break landed
	HaltSelf                      // the target stopped by itself (a hard-coded breakpoint, a PoolHitTag hit)
	HaltInitial                   // "(Initial Breakpoint requested)" at the connection
	HaltPoolHit                   // a PoolHitTag hit: its stack is taken before resuming
	HaltBugCheck                  // a bug check: never resumed unless on_bugcheck says so
	HaltPerson                    // someone broke in from the debugging server (the break box, no break of ours)
	HaltInt3                      // a driver's own breakpoint (Where says where)
	HaltGoFailed                  // kd could not carry out a g (it could not insert a breakpoint)
	HaltLeakSite                  // the leak recipe's entry breakpoint waits for a new return site
	HaltFound                     // a clearing session found the target halted as kd attached (left so by an earlier session)
)

var haltNames = [...]string{"none", "our break", "by itself", "initial breakpoint", "pool hit", "bug check", "a person's break", "int 3", "failed g", "new return site", "found halted"}

func (h HaltCause) String() string {
	if int(h) < len(haltNames) {
		return haltNames[h]
	}
	return "halt(" + strconv.Itoa(int(h)) + ")"
}

// Timer names one of the session's timers. The session owns the real
// timers; the machine only says when to start and stop them, and hears
// when one fires.
type Timer int

// The session's timers.
const (
	TimerSettle Timer = iota // after the connection, before breaking in
	TimerBreak               // a break (or an announced halt) waits for its prompt
	TimerLeave               // the stop's last g: leave kd if the target stays running
	TimerStop                // CTRL+B ENTER sent: kill kd if it does not leave
	TimerRetry               // a g kd could not carry out: try it again
	numTimers
)

var timerNames = [...]string{"settle", "break", "leave", "stop", "retry"}

func (t Timer) String() string {
	if int(t) < len(timerNames) {
		return timerNames[t]
	}
	return "timer(" + strconv.Itoa(int(t)) + ")"
}

// Rules are what a session was told: they never change during it.
type Rules struct {
	Plan   Plan
	Timing Timing
	Limits Limits
	Nonce  string // makes the markers of this run unique
}

// Counters are the parts of Stats the machine keeps; the session writes
// them back to the run's Stats after every step.
type Counters struct {
	Hits        int64
	HitTimes    []time.Time // within the rate window
	Breaks      int
	Reconnects  int
	StoppedSafe bool
	Checked     bool // the live check ran (in this or an earlier incarnation)
	Braked      bool // the hit-rate brake cleared the breakpoint: it is not armed again, even after a reboot
	// Allocators are the breakpoints on the special-pool allocators the
	// probe found (Plan.Allocators); nil until the probe answered.
	Allocators []Command
	// Surveyed: the first answer to each Plan.Survey command this run.
	Surveyed Answers
	Started  time.Time
	// LeakHalts and PoolUsed are Stats'.
	LeakHalts LeakHalts
	PoolUsed  string
}

// InFlight is the command typed and not yet finished: kd's marker line and
// the next prompt end it (or, for a kd without .echo, a second prompt).
type InFlight struct {
	Cmd     Command
	Marker  string
	Sent    time.Time
	Prompts int
	Seen    bool     // the marker line came
	Out     []string // kd's answer so far
	Warned  bool     // the command-timeout warning was given
}

// Machine is everything that decides what a session does next. Step is the
// only thing that changes it.
type Machine struct {
	Rules
	State  State
	Since  time.Time // when State last changed
	Phase  Phase
	Halt   HaltCause // why the target is halted or about to be
	Armed  bool      // breakpoints may be armed on the target
	Lost   bool      // kd reported the transport lost
	Queue  []Command // typed one per prompt
	Flight *InFlight // nil: nothing in flight
	Seq    int       // markers typed

	// BreakAsked: kdlaunch sent a break that no prompt has answered yet.
	BreakAsked bool
	// Halting: the target has stopped, or said it will: a prompt is on its
	// way, and a break would only be queued by kd (and halt the target
	// again after the next g).
	Halting bool
	// HitBreak: the current halt is a PoolHitTag hit whose stack is taken.
	HitBreak bool

	BreakTries   int // breaks sent since the last prompt
	BacklogWaits int // break timeouts put off because kd's output was unread
	StopResumes  int // g typed by the stop
	SelfHalts    int // halts the target made by itself

	// kd's answers since the connection, and what they decided.
	Answers  Answers
	ArmedBPs []string // bp/bu/bm commands kd accepted since the connection
	// Failure ends the run once the target is left running with nothing
	// armed (or, for a bug check or a person's break, left halted).
	Failure      error
	BugRec       script.BugCheckRecognizer
	BugCheck     *script.BugCheck      // the target is stopped in this bug check
	BugContinued bool                  // on_bugcheck = "continue" resumed it once
	StartFail    *script.StartFailure  // kd said it cannot open the connection
	GoFail       *script.InsertFailure // kd could not carry out the last g
	GoTries      int                   // g's kd could not carry out in a row
	PersonHalt   bool                  // a person's break holds the target: type nothing
	BreaksOut    int                   // breaks sent that no break-in halt has answered yet (kd queues one that reaches a halted target)
	HaltLines    []string              // kd's lines since the last break exception, to tell what the halt is
	Where        string                // where the last unexplained halt stopped

	WaitedSince time.Time // the target was last seen leaving (or kd started)
	WaitNoted   time.Time // last "still waiting" note
	Timers      [numTimers]bool

	Leak LeakState // the leak strategy's recipe on this target

	Counters
}

// NewMachine is a session's first state: kd just started, nothing printed.
// stopping starts it in the stop (a stop came while kd was down: this
// incarnation only clears what the last one may have left armed).
func NewMachine(r Rules, c Counters, now time.Time, stopping bool) Machine {
	m := Machine{Rules: r, State: Starting, Since: now, WaitedSince: now, Counters: c}
	if stopping {
		m.Phase = PhaseStopping
	}
	return m
}

// Snapshot is what the status line shows at now.
func (m Machine) Snapshot(now time.Time) Snapshot {
	win := m.rateWindow()
	return Snapshot{
		State: m.State, Lost: m.Lost, InState: now.Sub(m.Since), Hits: m.Hits, MaxHits: m.Limits.MaxHits,
		Rate: hitRate(m.HitTimes, m.Started, now, win), Elapsed: now.Sub(m.Started),
	}
}

// rateWindow is the window hit rates are measured over: the limit's, or
// 10 s for the status line when there is no rate limit.
func (m Machine) rateWindow() time.Duration {
	if m.Limits.RateWindow > 0 {
		return m.Limits.RateWindow
	}
	return 10 * time.Second
}

// EventKind says what happened.
type EventKind int

// Events a session reacts to.
const (
	EvLine   EventKind = iota // kd printed a line (Line, already classified)
	EvPrompt                  // kd printed Prompts prompts and waits
	EvEOF                     // kd's output ended (Tail: its last lines)
	EvTimer                   // Timer fired (Backlog: kd's output is not all read yet)
	EvStop                    // the safe stop was asked for (Why)
	EvCancel                  // stop at once: kd is killed
	EvTick                    // a second passed
)

var eventNames = [...]string{"line", "prompt", "eof", "timer", "stop", "cancel", "tick"}

func (k EventKind) String() string {
	if int(k) < len(eventNames) {
		return eventNames[k]
	}
	return "event(" + strconv.Itoa(int(k)) + ")"
}

// Event is one input to Step.
type Event struct {
	Kind    EventKind
	At      time.Time
	Line    Line     // EvLine
	Prompts int      // EvPrompt
	Tail    []string // EvEOF
	Timer   Timer    // EvTimer
	Backlog bool     // EvTimer
	Why     string   // EvStop
}

func (e Event) String() string {
	switch e.Kind {
	case EvLine:
		return fmt.Sprintf("%s line %q", e.Line.Class, e.Line.Text)
	case EvPrompt:
		if e.Prompts > 1 {
			return fmt.Sprintf("%d prompts", e.Prompts)
		}
		return "prompt"
	case EvTimer:
		if e.Backlog {
			return e.Timer.String() + " timer fires, kd's output unread"
		}
		return e.Timer.String() + " timer fires"
	case EvStop:
		return "stop (" + e.Why + ")"
	}
	return e.Kind.String()
}

// ActionKind says what the session is to do.
type ActionKind int

// Actions Step asks for; the session carries them out in order.
const (
	ActWrite      ActionKind = iota // type Cmd.Text, then Marker's .echo if Marker is set
	ActBreak                        // break in (Attempt counts from 0 within one break-in)
	ActLeave                        // CTRL+B ENTER: kd leaves, the target runs on
	ActStartTimer                   // (re)start Timer with D
	ActStopTimer                    // stop Timer
	ActNote                         // tell the user (Level, Text); warnings go into Stats
	ActTrace                        // the transcript and the debug log only (Text)
	ActKill                         // kill kd at once
	ActFinish                       // the session ends with Result (the session adds kd's exit status)
)

// Action is one thing Step asks the session to do.
type Action struct {
	Kind    ActionKind
	Cmd     Command // ActWrite
	Marker  string  // ActWrite: the marker that ends the command ("" for a resume)
	Attempt int     // ActBreak
	Timer   Timer   // ActStartTimer, ActStopTimer
	D       time.Duration
	Level   hclog.Level // ActNote
	Text    string      // ActNote, ActTrace
	State   State       // ActTrace of a state change: the new state
	Result  Result      // ActFinish
}

func (a Action) String() string {
	switch a.Kind {
	case ActWrite:
		if a.Marker != "" {
			return fmt.Sprintf("type %q (%s) + marker", a.Cmd.Text, a.Cmd.Purpose)
		}
		return fmt.Sprintf("type %q (%s)", a.Cmd.Text, a.Cmd.Purpose)
	case ActBreak:
		return fmt.Sprintf("break in (attempt %d)", a.Attempt+1)
	case ActLeave:
		return "leave (CTRL+B ENTER)"
	case ActStartTimer:
		return fmt.Sprintf("start %s timer %s", a.Timer, a.D)
	case ActStopTimer:
		return fmt.Sprintf("stop %s timer", a.Timer)
	case ActNote:
		return fmt.Sprintf("%s: %s", a.Level, shorten(a.Text))
	case ActTrace:
		return "trace: " + a.Text
	case ActKill:
		return "kill kd"
	case ActFinish:
		s := "finish: " + a.Result.Outcome.String()
		if a.Result.Armed {
			s += ", armed"
		}
		if a.Result.Err != nil {
			s += ": " + shorten(a.Result.Err.Error())
		}
		return s
	}
	return "action(" + strconv.Itoa(int(a.Kind)) + ")"
}

// shorten keeps a table cell readable: the start of a message is what says
// which one it is.
func shorten(s string) string {
	cut := len(s)
	for _, sep := range []string{": ", "; ", " ("} {
		if i := strings.Index(s[min(20, len(s)):], sep); i >= 0 {
			cut = min(cut, 20+i)
		}
	}
	s = s[:cut]
	s = strings.TrimSpace(s)
	if len(s) > 70 {
		s = s[:67] + "..."
	}
	return s
}
