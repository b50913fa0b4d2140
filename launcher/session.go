package launcher

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/kdlaunch/kdlaunch/script"
	"github.com/kdlaunch/kdlaunch/transcript"
)

// Command is one line typed into kd at a prompt.
type Command struct {
	Text string
	// Done receives kd's output for the command (lines between sending it and
	// its completion), for commands whose answer matters (the live check).
	Done func(output []string)
}

// Plan is what a session types and when. Arm runs after every (re)connection
// and ends by resuming the target; Disarm runs before kdlaunch leaves (after
// "bc *") or when the hit rate is too high.
type Plan struct {
	Check  []Command // once, after the first break-in, before Arm
	Arm    []Command
	Disarm []Command
	// HitOnBreak: every break kdlaunch did not ask for is a hit whose stack
	// is taken with kb (the PoolHitTag recipe).
	HitOnBreak bool
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

// Limits stop or disarm a session.
type Limits struct {
	MaxHits    int64
	MaxRate    float64 // hits per second over RateWindow; 0: no cap
	RateWindow time.Duration
}

// Stats are shared by all incarnations of kd in one run.
type Stats struct {
	Hits        int64
	Breaks      int
	Reconnects  int
	Restarts    int
	Started     time.Time
	Warnings    []string
	hitTimes    []time.Time
	StoppedSafe bool // the last stop cleared breakpoints and resumed the target
}

// Rate is hits per second over the last window.
func (s *Stats) Rate(now time.Time, window time.Duration) float64 {
	s.trim(now, window)
	if len(s.hitTimes) == 0 {
		return 0
	}
	span := window
	if el := now.Sub(s.Started); el < span {
		span = el
	}
	if span < time.Second {
		span = time.Second
	}
	return float64(len(s.hitTimes)) / span.Seconds()
}

func (s *Stats) trim(now time.Time, window time.Duration) {
	i := 0
	for i < len(s.hitTimes) && now.Sub(s.hitTimes[i]) > window {
		i++
	}
	s.hitTimes = s.hitTimes[i:]
}

// Outcome is why a session ended.
type Outcome int

// Outcomes.
const (
	OutcomeStopped  Outcome = iota // kdlaunch left kd on purpose
	OutcomeKdExited                // kd ended by itself (crash, q typed by someone)
	OutcomeAborted                 // a hard stop: kd killed
	OutcomeFailed                  // the session gave up (break never answered, no target)
)

// Result is how one session ended.
type Result struct {
	Outcome Outcome
	Exit    ExitStatus
	Tail    []string
	Err     error
	Armed   bool // breakpoints may still be armed on the target
}

type phase int

const (
	phaseArming phase = iota
	phaseSupervising
	phaseDisarming
	phaseStopping
)

// SessionConfig wires a session to its kd.
type SessionConfig struct {
	Proc       Proc
	Output     <-chan Output
	Plan       Plan
	Timing     Timing
	Limits     Limits
	Stats      *Stats
	Log        hclog.Logger
	Console    *Console
	Transcript *transcript.Writer
	Nonce      string
	Checked    *bool // the live check already ran in an earlier incarnation
	Redact     func(string) string
	Now        func() time.Time
}

// Session drives one kd incarnation. It runs on one goroutine and reacts to
// kd's output, its timers and the stop requests; the state machine (Next)
// decides what may be done.
type Session struct {
	SessionConfig
	st           State
	since        time.Time // when st last changed
	phase        phase
	queue        []Command
	inflight     *inflight
	armed        bool
	breakAsked   bool // kdlaunch sent a break that no prompt has answered yet
	breakTries   int
	breakTimer   *time.Timer
	settleTimer  *time.Timer
	stopTimer    *time.Timer
	leaveTimer   *time.Timer // the stop's last g was sent: leave kd when it fires with the target still running
	stopResumes  int         // g sent by the stop
	hitBreak     bool        // the current halt is a PoolHitTag hit
	halting      bool        // the target has stopped, or said it will: a prompt is on its way, a break would only be queued
	lost         bool        // kd reported the transport lost
	seq          int
	waitedSince  time.Time
	waitNoted    time.Time // last "still waiting" note
	selfHalts    int       // halts the target made by itself
	backlogWaits int       // break timeouts put off because kd's output was still unread
}

// A break's timeout is put off by backlogWait while kd's output is unread,
// at most maxBacklogWaits times in a row (a flood of hits from a running
// target must not put the retry off for ever).
const (
	backlogWait     = 100 * time.Millisecond
	maxBacklogWaits = 50
)

type inflight struct {
	cmd     Command
	marker  string
	sent    time.Time
	prompts int
	seen    bool
	out     []string
	warned  bool
}

func stopTimerSafe(t *time.Timer) {
	if t != nil {
		t.Stop()
	}
}

// timerC returns t's channel, or nil (which blocks forever) for no timer.
func timerC(t *time.Timer) <-chan time.Time {
	if t == nil {
		return nil
	}
	return t.C
}

// Run drives kd until it exits. stop asks for the safe stop (break, bc *,
// g, CTRL+B ENTER); cancelling ctx kills kd at once.
func (s *Session) Run(ctx context.Context, stop <-chan struct{}) Result {
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.Redact == nil {
		s.Redact = func(x string) string { return x }
	}
	s.since = s.Now()
	s.waitedSince = s.since
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	defer func() {
		stopTimerSafe(s.breakTimer)
		stopTimerSafe(s.settleTimer)
		stopTimerSafe(s.stopTimer)
		stopTimerSafe(s.leaveTimer)
	}()
	for {
		select {
		case o, ok := <-s.Output:
			if !ok {
				return s.exited(nil)
			}
			if r, done := s.handle(o); done {
				return r
			}
		case <-stop:
			stop = nil
			s.requestStop("stop requested")
		case <-ctx.Done():
			s.note(hclog.Warn, "stopping at once: kd is killed; the target may be left halted with breakpoints armed")
			_ = s.Proc.Kill()
			s.drain()
			return Result{Outcome: OutcomeAborted, Exit: s.Proc.Wait(), Armed: s.armed}
		case <-timerC(s.settleTimer):
			s.settleTimer = nil
			if s.st == Connected {
				if s.halting {
					// "(Initial Breakpoint requested)": the target stops by
					// itself once kd has loaded what it needs; break only if
					// no prompt comes.
					stopTimerSafe(s.breakTimer)
					s.breakTimer = time.NewTimer(s.Timing.BreakTimeout)
				} else {
					s.sendBreak()
				}
			}
		case <-timerC(s.breakTimer):
			s.breakTimer = nil
			if len(s.Output) > 0 && s.backlogWaits < maxBacklogWaits {
				// kd's output is not all read yet (a burst of target
				// output came with the break): the answer may be in it,
				// and a break sent now would reach a halted target and
				// halt it again after the next g. Read on first.
				s.backlogWaits++
				s.breakTimer = time.NewTimer(backlogWait)
				continue
			}
			s.backlogWaits = 0
			if s.st == Running || s.st == Connected {
				s.halting = false // the halt it announced never came
				s.sendBreak()
			} else if r, done := s.breakUnanswered(); done {
				return r
			}
		case <-timerC(s.leaveTimer):
			s.leaveTimer = nil
			if s.st == Running && s.phase == phaseStopping {
				// The target stayed running through the grace: leave it so.
				s.Stats.StoppedSafe = true
				s.leave()
			}
		case <-timerC(s.stopTimer):
			s.stopTimer = nil
			s.note(hclog.Warn, fmt.Sprintf("kd did not leave within %s of CTRL+B ENTER: killing it", s.Timing.StopTimeout))
			_ = s.Proc.Kill()
		case now := <-tick.C:
			if r, done := s.tick(now); done {
				return r
			}
		}
	}
}

// drain empties the output channel after a kill so the pump can finish.
func (s *Session) drain() {
	for range s.Output {
	}
}

func (s *Session) exited(tail []string) Result {
	s.move(InExit)
	st := s.waitExit()
	if s.phase == phaseStopping && !s.armed {
		return Result{Outcome: OutcomeStopped, Exit: st, Tail: tail}
	}
	return Result{Outcome: OutcomeKdExited, Exit: st, Tail: tail, Armed: s.armed}
}

// waitExit waits for kd after its output ended. A kd that closed its
// console (or, on Windows, whose stdout pipe broke) can run on deaf and
// mute; waiting for it without bound would hang kdlaunch and keep the next
// kd from starting, so it is killed after a grace.
func (s *Session) waitExit() ExitStatus {
	done := make(chan ExitStatus, 1)
	go func() { done <- s.Proc.Wait() }()
	grace := s.Timing.StopTimeout
	if grace <= 0 || grace > exitGrace {
		grace = exitGrace
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case st := <-done:
		return st
	case <-t.C:
	}
	s.note(hclog.Warn, fmt.Sprintf("kd's output ended but kd was still running %s later: killing it", grace))
	_ = s.Proc.Kill()
	return <-done
}

// exitGrace caps how long a kd whose output ended may take to exit.
const exitGrace = 5 * time.Second

// move applies an input; a refused one is reported and changes nothing.
func (s *Session) move(in Input) bool {
	next, err := Next(s.st, in)
	if err != nil {
		s.Log.Debug("refused", "state", s.st, "input", in)
		return false
	}
	if next != s.st {
		s.Log.Debug("state", "from", s.st, "to", next, "on", in)
		s.Transcript.Event(fmt.Sprintf("state %s -> %s (%s)", s.st, next, in))
		s.st = next
		s.since = s.Now()
	}
	return true
}

func (s *Session) note(level hclog.Level, msg string) {
	msg = s.Redact(msg)
	s.Log.Log(level, msg)
	s.Transcript.Event(msg)
	if level >= hclog.Warn && len(s.Stats.Warnings) < 100 {
		s.Stats.Warnings = append(s.Stats.Warnings, msg)
	}
	if s.Console != nil {
		s.Console.Note("kdlaunch: " + msg)
	}
}

func (s *Session) handle(o Output) (Result, bool) {
	for _, l := range o.Lines {
		s.line(l)
	}
	if o.Prompt != "" {
		s.prompt(o.Prompts)
	}
	if o.EOF {
		return s.exited(o.Tail), true
	}
	return Result{}, false
}

func (s *Session) line(l Line) {
	if f := s.inflight; f != nil {
		f.prompts += l.Prompts
		if script.IsMarker(l.Text, f.marker) {
			f.seen = true
		} else if len(f.out) < 10000 {
			f.out = append(f.out, script.StripPrompt(l.Text))
		}
	}
	switch l.Class {
	case script.Waiting:
		switch s.st {
		case Connected, BreakingIn, Halted, Running:
			// kd waits for a target it had: the connection broke (a reset
			// button, a crash without the shutdown text). Like a reboot,
			// that loses kd's breakpoints ("Reboot and shutdown" in docs/kd-protocol.md), and kd drops the
			// command it was running: its prompt and marker never come, so
			// keeping it in flight would leave the target halted at the
			// next prompt with nothing typed.
			s.targetGone("kd lost the target (reset or crash) and waits for it to reconnect: kd has lost its breakpoints")
			return
		case Waiting:
		default:
			s.note(hclog.Info, "waiting for the target to connect (reboot it now if it is not on its way)")
		}
		s.move(InWaiting)
		s.waitedSince = s.Now()
	case script.Connected, script.Established:
		if script.InitialBreakRequested(l.Text) && (s.st == Starting || s.st == Waiting || s.st == Running || s.st == Connected) {
			// The target will halt by itself: a break of ours on top would
			// be queued by kd and halt the target again after the next g.
			// Known before connected() runs, so a stop does not leave kd
			// just as the target halts (it would stay halted, frozen).
			s.halting = true
		}
		if s.st == Starting || s.st == Waiting || s.st == Running {
			s.connected()
		}
	case script.Shutdown:
		s.targetGone("the target is rebooting: kd has lost its breakpoints")
	case script.BreakpointHit:
		s.hit()
	case script.BreakException:
		if s.breakAsked {
			// Our break landed: the target is stopped even if the prompt
			// is slow to come (kd loads nt's symbols to show where it
			// stopped, which on the first break can take minutes). Another
			// break now would be queued and halt the target right after the
			// next g, possibly the last one before kdlaunch leaves.
			s.halting = true
		} else {
			// The target stopped by itself (a PoolHitTag hit, a hard-coded
			// breakpoint): a prompt follows, and a break now would reach a
			// halted target.
			s.halting = true
			if s.Plan.HitOnBreak && s.armed && s.phase == phaseSupervising {
				s.hitBreak = true
				s.hit()
			}
		}
	case script.TransportLost:
		s.lost = true
		s.note(hclog.Warn, "kd reports the transport to the target lost: check the cable or network; kd keeps trying (CTRL+R ENTER resyncs)")
	case script.Resync:
		if s.lost {
			s.note(hclog.Info, "kd refreshed the connection to the target")
		}
		s.lost = false
	}
}

// targetGone: the target left the line (reboot, reset). kd has lost its
// breakpoints and forgets any command or break in flight. A hunt re-arms at
// the reconnection; a stop has nothing left to clear, so it leaves at once
// instead of waiting for a target that may take minutes to boot (or never
// come back).
func (s *Session) targetGone(why string) {
	if s.st == Stopping || s.st == Exited {
		return // already leaving: CTRL+B ENTER is sent
	}
	s.armed = false
	s.queue, s.inflight = nil, nil
	s.breakAsked = false
	s.halting = false
	s.hitBreak = false
	stopTimerSafe(s.breakTimer)
	s.breakTimer = nil
	stopTimerSafe(s.settleTimer)
	s.settleTimer = nil
	stopTimerSafe(s.leaveTimer)
	s.leaveTimer = nil
	s.move(InShutdown)
	s.waitedSince = s.Now()
	if s.phase == phaseStopping {
		s.note(hclog.Info, why+"; nothing is left armed, so kdlaunch leaves kd now")
		s.leave()
		return
	}
	s.note(hclog.Info, why+"; they will be armed again when it reconnects")
}

func (s *Session) connected() {
	s.lost = false
	if s.st == Running {
		s.Stats.Reconnects++
	}
	s.move(InConnected)
	if s.phase == phaseStopping {
		if s.armed || s.halting {
			// Armed: clear it. Halting (initial breakpoint requested):
			// resume it, or kd would leave a frozen target.
			s.queue = s.disarmQueue()
			s.startDisarm()
		} else {
			// A new kd attaching cleared whatever an earlier one left
			// armed ("Leaving kd: CTRL+B ENTER" in docs/kd-protocol.md), and the target runs.
			s.Stats.StoppedSafe = true
			s.leave()
		}
		return
	}
	s.note(hclog.Info, "target connected")
	s.phase = phaseArming
	s.queue = s.armQueue()
	stopTimerSafe(s.settleTimer)
	s.settleTimer = time.NewTimer(s.Timing.Settle)
}

func (s *Session) armQueue() []Command {
	var q []Command
	if s.Checked != nil && !*s.Checked {
		q = append(q, s.Plan.Check...)
		*s.Checked = true
	}
	q = append(q, s.Plan.Arm...)
	if len(q) == 0 || !script.Resumes(q[len(q)-1].Text) {
		q = append(q, Command{Text: "g"})
	}
	return q
}

func (s *Session) disarmQueue() []Command {
	q := []Command{{Text: "bc *"}}
	q = append(q, s.Plan.Disarm...)
	return append(q, Command{Text: "g"})
}

func (s *Session) hit() {
	s.Stats.Hits++
	now := s.Now()
	s.Stats.hitTimes = append(s.Stats.hitTimes, now)
	if s.phase != phaseSupervising {
		return
	}
	if s.Limits.MaxHits > 0 && s.Stats.Hits >= s.Limits.MaxHits {
		s.requestStop(fmt.Sprintf("reached --max-hits %d", s.Limits.MaxHits))
		return
	}
	if s.Limits.MaxRate > 0 && s.Limits.RateWindow > 0 && now.Sub(s.Stats.Started) >= time.Second {
		if r := s.Stats.Rate(now, s.Limits.RateWindow); r > s.Limits.MaxRate {
			s.note(hclog.Warn, fmt.Sprintf("hit rate %.1f/s is above max_rate %.1f/s: every hit halts the target, so the breakpoint is cleared and the target resumed; the hunt continues without it", r, s.Limits.MaxRate))
			s.phase = phaseDisarming
			s.queue = s.disarmQueue()
			s.startDisarm()
		}
	}
}

// requestStop starts the safe stop from whatever state kd is in.
func (s *Session) requestStop(why string) {
	if s.phase == phaseStopping {
		return
	}
	s.note(hclog.Info, why+": stopping safely (break in, bc *, g, leave kd with the target running)")
	s.phase = phaseStopping
	stopTimerSafe(s.settleTimer)
	s.settleTimer = nil
	if !s.armed && s.inflight == nil && s.st != Halted && s.st != BreakingIn {
		s.leave()
		return
	}
	s.queue = s.disarmQueue()
	s.startDisarm()
}

func (s *Session) startDisarm() {
	switch s.st {
	case Halted:
		if s.inflight == nil {
			s.dispatch()
		}
	case Running, Connected:
		if s.halting {
			// The prompt is coming by itself; break only if it does not.
			stopTimerSafe(s.breakTimer)
			s.breakTimer = time.NewTimer(s.Timing.BreakTimeout)
			return
		}
		s.sendBreak()
	}
}

// awaitLeave follows the stop's g (state Running). If the target halts
// again within the grace, the prompt makes dispatch send bc * and g once
// more; if it stays quiet, the leave timer sends CTRL+B ENTER.
func (s *Session) awaitLeave() {
	s.stopResumes++
	grace := s.Timing.LeaveGrace
	if grace <= 0 {
		grace = DefaultLeaveGrace
	}
	if s.stopResumes > maxStopResumes {
		s.note(hclog.Warn, fmt.Sprintf("the target halted again after each of %d resumes: leaving kd anyway; it may be halted now", maxStopResumes))
		s.leave()
		return
	}
	if s.stopResumes > 1 {
		s.note(hclog.Info, "the target halted again right after g (a break kd had queued): resumed it again")
	}
	stopTimerSafe(s.leaveTimer)
	s.leaveTimer = time.NewTimer(grace)
}

func (s *Session) leave() {
	if !s.move(InLeaveSent) {
		return
	}
	s.Transcript.Input("<CTRL+B>")
	s.Log.Debug("leaving kd with CTRL+B ENTER")
	if _, err := s.Proc.Write([]byte(script.CtrlB + s.Proc.Newline())); err != nil {
		s.Log.Debug("write CTRL+B", "error", err)
	}
	stopTimerSafe(s.stopTimer)
	s.stopTimer = time.NewTimer(s.Timing.StopTimeout)
}

func (s *Session) sendBreak() {
	if !s.move(InBreakSent) {
		return
	}
	s.breakAsked = true
	s.Stats.Breaks++
	s.Transcript.Event(fmt.Sprintf("break-in, attempt %d", s.breakTries+1))
	if err := s.Proc.Interrupt(s.breakTries); err != nil {
		s.Log.Warn("break-in step failed", "attempt", s.breakTries+1, "error", err)
	}
	wait := s.Timing.BreakTimeout << min(s.breakTries, 4)
	s.breakTries++
	stopTimerSafe(s.breakTimer)
	s.breakTimer = time.NewTimer(wait)
}

func (s *Session) breakUnanswered() (Result, bool) {
	if s.st != BreakingIn {
		return Result{}, false
	}
	if s.halting {
		// kd said the break landed; only its prompt is late. Wait for it
		// rather than break a stopped target again.
		s.note(hclog.Warn, "kd reported the break-in but shows no prompt yet (loading symbols can take minutes); waiting for it")
		return Result{}, false
	}
	if s.breakTries == s.Timing.BreakRetries {
		msg := fmt.Sprintf("kd has not answered %d break-ins: check the target is on and the cable or network, that the port/baud or key match the target's bcdedit /dbgsettings, and try CTRL+R ENTER (resync)", s.breakTries)
		if s.Timing.GiveUpOnBreak {
			s.note(hclog.Error, msg+"; giving up")
			_ = s.Proc.Kill()
			s.drain()
			return Result{Outcome: OutcomeFailed, Exit: s.Proc.Wait(), Err: fmt.Errorf("break-in not answered after %d tries", s.breakTries), Armed: s.armed}, true
		}
		s.note(hclog.Warn, msg+"; still trying")
	}
	// Let the state machine re-send: BreakingIn accepts another break.
	s.sendBreak()
	return Result{}, false
}

func (s *Session) prompt(n int) {
	s.move(InPrompt)
	s.backlogWaits = 0
	s.breakAsked = false
	s.halting = false
	s.breakTries = 0
	stopTimerSafe(s.breakTimer)
	s.breakTimer = nil
	stopTimerSafe(s.settleTimer)
	s.settleTimer = nil
	if f := s.inflight; f != nil {
		f.prompts += n
		if !f.seen && f.prompts < 2 {
			return
		}
		s.inflight = nil
		if f.cmd.Done != nil {
			f.cmd.Done(f.out)
		}
	}
	s.dispatch()
}

// dispatch types the next queued command at a prompt, or decides what to do
// with a target halted with nothing left to type.
func (s *Session) dispatch() {
	if s.st != Halted || s.inflight != nil {
		return
	}
	if len(s.queue) == 0 {
		switch {
		case s.phase == phaseStopping:
			s.queue = s.disarmQueue()
		case s.hitBreak:
			s.hitBreak = false
			s.queue = []Command{{Text: "kb"}, {Text: "g"}}
		case s.phase == phaseArming && !s.armed:
			// A prompt before any connection line: some kd builds and kd-like
			// tools print none. A prompt proves the target is there.
			s.note(hclog.Info, "kd is at a prompt: the target is connected and halted")
			s.queue = s.armQueue()
		case s.phase == phaseSupervising && s.Timing.ResumeOnHalt:
			s.selfHalts++
			if s.selfHalts == 1 || s.selfHalts%100 == 0 {
				s.note(hclog.Warn, fmt.Sprintf("the target halted on its own (an unexpected break, or a breakpoint without g; %d so far): resuming it, since a halted server is frozen", s.selfHalts))
			}
			s.queue = []Command{{Text: "g"}}
		default:
			return
		}
	}
	c := s.queue[0]
	s.queue = s.queue[1:]
	if script.Resumes(c.Text) {
		s.send(c.Text)
		s.move(InResumeSent)
		switch s.phase {
		case phaseArming:
			s.phase = phaseSupervising
			s.note(hclog.Info, "breakpoint armed, target running")
		case phaseDisarming:
			s.phase = phaseSupervising
			s.armed = false
		case phaseStopping:
			s.armed = false
			s.awaitLeave()
		}
		return
	}
	if !s.move(InCommandSent) {
		return
	}
	s.seq++
	f := &inflight{cmd: c, marker: script.Marker(s.Nonce, s.seq), sent: s.Now()}
	s.inflight = f
	if s.phase == phaseArming && !isCheck(c, s.Plan.Check) {
		s.armed = true
	}
	s.send(c.Text)
	s.send(script.MarkerCommand(s.Nonce, s.seq))
}

func isCheck(c Command, check []Command) bool {
	for _, k := range check {
		if k.Text == c.Text {
			return true
		}
	}
	return false
}

func (s *Session) send(text string) {
	s.Transcript.Input(s.Redact(text))
	if !strings.HasPrefix(text, ".echo "+script.MarkerPrefix) && s.Console != nil {
		s.Console.Output(s.Redact(text), true)
	}
	if _, err := s.Proc.Write([]byte(text + s.Proc.Newline())); err != nil {
		s.Log.Debug("write to kd", "error", err)
	}
}

func (s *Session) tick(now time.Time) (Result, bool) {
	if f := s.inflight; f != nil && !f.warned && s.Timing.CommandTimeout > 0 && now.Sub(f.sent) > s.Timing.CommandTimeout {
		f.warned = true
		s.note(hclog.Warn, fmt.Sprintf("kd has not finished %q after %s (loading symbols can take minutes); still waiting", s.Redact(f.cmd.Text), s.Timing.CommandTimeout))
	}
	if s.Timing.ConnectTimeout > 0 && (s.st == Waiting || s.st == Starting) && s.phase != phaseStopping && now.Sub(s.waitedSince) > s.Timing.ConnectTimeout {
		// The error is what kdlaunch prints last, on stderr: one line with
		// the hint, not a log line repeating it.
		err := fmt.Errorf("the target did not connect within %s: check that it is on, that bcdedit /debug is on and its /dbgsettings match the connection", s.Timing.ConnectTimeout)
		s.Transcript.Event(err.Error())
		_ = s.Proc.Kill()
		s.drain()
		return Result{Outcome: OutcomeFailed, Exit: s.Proc.Wait(), Err: err}, true
	}
	if (s.st == Waiting || s.st == Starting) && s.phase != phaseStopping && now.Sub(s.waitedSince) >= 30*time.Second && now.Sub(s.waitNoted) >= 30*time.Second {
		// Without a status line (output to a file or pipe) this is the only
		// sign of life while the target reboots.
		s.waitNoted = now
		s.note(hclog.Info, fmt.Sprintf("still waiting for the target after %s", shortDur(now.Sub(s.waitedSince))))
	}
	s.Console.Status(s.statusLine(now))
	return Result{}, false
}

func (s *Session) statusLine(now time.Time) string {
	st := s.st.String()
	if s.lost {
		st += ", transport lost"
	}
	line := fmt.Sprintf("[%s %s] hits %d", st, shortDur(now.Sub(s.since)), s.Stats.Hits)
	if s.Limits.MaxHits > 0 {
		line += fmt.Sprintf("/%d", s.Limits.MaxHits)
	}
	win := s.Limits.RateWindow
	if win <= 0 {
		win = 10 * time.Second
	}
	return line + fmt.Sprintf(", %.1f/s, elapsed %s", s.Stats.Rate(now, win), shortDur(now.Sub(s.Stats.Started)))
}

func shortDur(d time.Duration) string {
	return d.Truncate(time.Second).String()
}
