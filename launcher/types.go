package launcher

import (
	"strconv"
	"time"
)

// Purpose says why a command is typed, so that its answer can be judged by
// what it was for (a bp that kd defers, a readback that disagrees) rather
// than by its text.
type Purpose int

// Purposes of commands.
const (
	PurposeArm        Purpose = iota // arms a breakpoint or sets the target up for the hunt (Plan.Arm)
	PurposeCheck                     // reads the target before arming (Plan.Check, the live check)
	PurposeDisarm                    // clears what Arm set (bc *, Plan.Disarm)
	PurposeResume                    // resumes the target (g)
	PurposeStack                     // takes the stack of a hit (kb)
	PurposeProbe                     // finds which special-pool allocator the kernel has (x)
	PurposeVerify                    // confirms what was armed before anything says armed (bl, readbacks)
	PurposeBugCheck                  // puts a bug check's stack and analysis into the log (kb, !analyze -v)
	PurposeReturnSite                // the leak recipe's breakpoint at a return site found while hunting
	PurposeCrossCheck                // the leak strategy's !poolused at the stop
	PurposeSurvey                    // reads what an earlier session left armed, before a clearing session clears it (Plan.Survey)
	purposeArmSlot                   // not typed: where the arm commands go once the probe has answered
)

var purposeNames = [...]string{"arm", "check", "disarm", "resume", "stack", "probe", "verify", "bug check", "return site", "cross-check", "survey", "arm slot"}

func (p Purpose) String() string {
	if int(p) < len(purposeNames) {
		return purposeNames[p]
	}
	return "purpose(" + strconv.Itoa(int(p)) + ")"
}

// Command is one line typed into kd at a prompt.
type Command struct {
	Text string
	// Purpose is filled in by the session from where the command came from
	// (Plan.Check, Plan.Arm, Plan.Verify, Plan.Disarm, or the session's own
	// probe, g, bc *, bl and kb).
	Purpose Purpose
	// Judge, if set, reads kd's answers once this command is finished: a
	// warning is told the user, an error ends the arming (nothing is left
	// armed, the target runs, the run exits with it). It is called inside
	// Step, so it must be a pure function of its argument.
	Judge func(Answers) (warnings []string, err error)
}

// Answers are kd's answers to the commands typed since the last
// connection, by command text (the lines between the command and its
// marker, joined by newlines).
type Answers map[string]string

// Plan is what a session types and when. Arm runs after every (re)connection
// and ends by resuming the target; Disarm runs before kdlaunch leaves (after
// "bc *") or when the hit rate is too high.
type Plan struct {
	Check []Command // once, after the first break-in, before Arm
	// Allocators: probe, at the first halt, which special-pool allocation
	// routines the kernel has (script.Families) and arm each that resolves,
	// before Arm. None resolving ends the run.
	Allocators bool
	Arm        []Command
	Verify     []Command // after Arm (and bl, if a breakpoint was set), before resuming
	Disarm     []Command
	// HitOnBreak: every break kdlaunch did not ask for is a hit whose stack
	// is taken with kb (the PoolHitTag recipe).
	HitOnBreak bool
	// Leaks: the leak strategy (Allocators probes its family); the session
	// arms its recipe and adds return sites as they are found.
	Leaks *LeakPlan
	// ClearOnly makes a clearing session (kdlaunch disarm): nothing is
	// armed. At the first halt after the connection it types Survey, then
	// bc * and Disarm, resumes the target and leaves kd. Until then all an
	// earlier session may have left counts as armed: PoolHitTag is target
	// memory and outlives any kd.
	ClearOnly bool
	// Survey reads what is armed before a clearing session clears it (bl,
	// dd nt!PoolHitTag L1); the first answer to each is kept in
	// Stats.Surveyed.
	Survey []Command
}

// Timing is how patient a session is.
type Timing struct {
	Settle         time.Duration // after the connection, before breaking in
	BreakTimeout   time.Duration // first wait for a prompt after a break
	BreakRetries   int           // then say what to check
	GiveUpOnBreak  bool          // after BreakRetries: give up instead of waiting on
	CommandTimeout time.Duration // warn when a command takes longer
	StopTimeout    time.Duration // wait this long for kd to leave, then kill it
	ConnectTimeout time.Duration // 0: wait for the target as long as it takes
	ResumeOnHalt   bool          // resume a target that halted on its own
	// ContinueBugCheck: after a bug check's kb and !analyze -v, resume it
	// (the target writes its dump and reboots) and arm again after the
	// reboot, instead of leaving it halted and ending the run.
	ContinueBugCheck bool
	// LeaveGrace is how long the stop watches the target after its last g
	// before leaving kd (0: DefaultLeaveGrace). A break that reached a
	// target already halted is queued and stops it again right after that
	// g; CTRL+B ENTER sent at once would leave it halted.
	LeaveGrace time.Duration
}

// DefaultLeaveGrace is enough for a queued break's "Break instruction
// exception" to arrive even over a 19200-baud line, and costs a stop little.
const DefaultLeaveGrace = 500 * time.Millisecond

// maxStopResumes bounds how often the stop resumes a target that keeps
// halting again before it leaves kd anyway.
const maxStopResumes = 5

// A break's timeout is put off by backlogWait while kd's output is unread,
// at most maxBacklogWaits times in a row (a flood of hits from a running
// target must not put the retry off for ever).
const (
	backlogWait     = 100 * time.Millisecond
	maxBacklogWaits = 50
)

// exitGrace caps how long a kd whose output ended may take to exit.
const exitGrace = 5 * time.Second

// waitNoteEvery is how often a session waiting for the target says so.
const waitNoteEvery = 30 * time.Second

// maxAnswerLines bounds what is kept of one command's answer.
const maxAnswerLines = 10000

// A g that kd cannot carry out (it could not insert a breakpoint) is
// retried maxGoTries times, waiting goRetryWait, then twice as long, ...
const (
	maxGoTries  = 3
	goRetryWait = time.Second
)

// maxHaltLines bounds what is kept of kd's lines between a halt's "Break
// instruction exception" and its prompt (enough for the break box and the
// location).
const maxHaltLines = 40

// maxWarnings bounds Stats.Warnings.
const maxWarnings = 100

// Limits stop or disarm a session.
type Limits struct {
	MaxHits    int64
	MaxRate    float64 // hits per second over RateWindow; 0: no cap
	RateWindow time.Duration
}

// Stats are shared by all incarnations of kd in one run. A session reads
// them when it starts and writes its counters back after every step, so
// they are also what the summary prints.
type Stats struct {
	Hits        int64
	Breaks      int
	Reconnects  int
	Restarts    int
	Started     time.Time
	Warnings    []string
	hitTimes    []time.Time
	StoppedSafe bool // the last stop cleared breakpoints and resumed the target
	// LeakHalts are the leak recipe's halts by breakpoint role; PoolUsed
	// is kd's answer to the stop's !poolused ("" if it was not asked).
	LeakHalts LeakHalts
	PoolUsed  string
	// Surveyed are kd's first answers to Plan.Survey in this run, by
	// command: what a clearing session found before it cleared anything.
	Surveyed   Answers
	checked    bool      // the live check ran (in this or an earlier incarnation)
	braked     bool      // the hit-rate brake fired: nothing is armed again this run
	allocators []Command // the allocator breakpoints the probe found (nil: not probed yet)
}

// Rate is hits per second over the last window.
func (s *Stats) Rate(now time.Time, window time.Duration) float64 {
	return hitRate(s.hitTimes, s.Started, now, window)
}

func (s *Stats) warn(msg string) {
	if len(s.Warnings) < maxWarnings {
		s.Warnings = append(s.Warnings, msg)
	}
}

// hitRate is hits per second over the window before now; a run younger than
// the window is measured over its age (at least a second).
func hitRate(times []time.Time, started, now time.Time, window time.Duration) float64 {
	times = trimHits(times, now, window)
	if len(times) == 0 {
		return 0
	}
	span := window
	if el := now.Sub(started); el < span {
		span = el
	}
	if span < time.Second {
		span = time.Second
	}
	return float64(len(times)) / span.Seconds()
}

func trimHits(times []time.Time, now time.Time, window time.Duration) []time.Time {
	i := 0
	for i < len(times) && now.Sub(times[i]) > window {
		i++
	}
	return times[i:]
}

// Outcome is why a session ended.
type Outcome int

// Outcomes.
const (
	OutcomeStopped  Outcome = iota // kdlaunch left kd on purpose
	OutcomeKDExited                // kd ended by itself (crash, q typed by someone)
	OutcomeAborted                 // a hard stop: kd killed
	OutcomeFailed                  // the session gave up (break never answered, no target)
)

var outcomeNames = [...]string{"stopped", "kd exited", "aborted", "failed"}

func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "outcome(" + strconv.Itoa(int(o)) + ")"
}

// Result is how one session ended.
type Result struct {
	Outcome Outcome
	Exit    ExitStatus
	Tail    []string
	Err     error
	Armed   bool // breakpoints may still be armed on the target
}

// Snapshot is what a session publishes for the status line once a second;
// the text is made elsewhere (internal/statusline).
type Snapshot struct {
	State   State
	Lost    bool          // kd reported the transport lost
	InState time.Duration // since the state last changed
	Hits    int64
	MaxHits int64         // 0: no limit
	Rate    float64       // hits per second over the rate window (10 s without one)
	Elapsed time.Duration // since the run started
}
