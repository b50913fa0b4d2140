package launcher

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/kdlaunch/kdlaunch/script"
)

// SessionConfig wires a session to its kd.
type SessionConfig struct {
	Proc   Proc
	Output <-chan Output
	Rules  Rules
	Stats  *Stats // shared by the run's incarnations
	Sinks  Sinks
	// Stopping: a stop came while kd was down; this incarnation only clears
	// what the last one may have left armed.
	Stopping bool
}

// Session drives one kd incarnation. It runs on one goroutine, turns kd's
// output, its timers and the stop request into events for Step, and carries
// out the actions Step returns: Step decides, the session does the I/O.
type Session struct {
	SessionConfig
	m      Machine
	timers [numTimers]*time.Timer
	killed bool
}

// Run drives kd until it exits. stop asks for the safe stop (break, bc *,
// g, CTRL+B ENTER); cancelling ctx kills kd at once.
func (s *Session) Run(ctx context.Context, stop <-chan struct{}) Result {
	s.Sinks = s.Sinks.withDefaults()
	st := s.Stats
	s.m = NewMachine(s.Rules, Counters{
		Hits: st.Hits, HitTimes: st.hitTimes, Breaks: st.Breaks, Reconnects: st.Reconnects,
		StoppedSafe: st.StoppedSafe, Checked: st.checked, Braked: st.braked, Allocators: st.allocators, Surveyed: st.Surveyed, Started: st.Started,
		LeakHalts: st.LeakHalts, PoolUsed: st.PoolUsed,
	}, time.Now(), s.Stopping)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	defer func() {
		for _, t := range s.timers {
			if t != nil {
				t.Stop()
			}
		}
	}()
	for {
		var r *Result
		select {
		case o, ok := <-s.Output:
			if !ok {
				r = s.step(Event{Kind: EvEOF})
				break
			}
			r = s.batch(o)
		case <-stop:
			stop = nil
			r = s.step(Event{Kind: EvStop, Why: "stop requested"})
		case <-ctx.Done():
			r = s.step(Event{Kind: EvCancel})
		case <-timerC(s.timers[TimerSettle]):
			r = s.fired(TimerSettle)
		case <-timerC(s.timers[TimerBreak]):
			r = s.fired(TimerBreak)
		case <-timerC(s.timers[TimerLeave]):
			r = s.fired(TimerLeave)
		case <-timerC(s.timers[TimerStop]):
			r = s.fired(TimerStop)
		case <-timerC(s.timers[TimerRetry]):
			r = s.fired(TimerRetry)
		case <-tick.C:
			r = s.step(Event{Kind: EvTick})
			if r == nil && s.Sinks.Status != nil {
				s.Sinks.Status(s.m.Snapshot(time.Now()))
			}
		}
		if r != nil {
			return *r
		}
	}
}

// Phase is where the session stands (after Run: where it ended).
func (s *Session) Phase() Phase { return s.m.Phase }

// batch turns one Output of the pump into events: its lines, its prompt,
// its end.
func (s *Session) batch(o Output) *Result {
	for _, l := range o.Lines {
		if r := s.step(Event{Kind: EvLine, Line: l}); r != nil {
			return r
		}
	}
	if o.Prompt != "" {
		if r := s.step(Event{Kind: EvPrompt, Prompts: o.Prompts}); r != nil {
			return r
		}
	}
	if o.EOF {
		return s.step(Event{Kind: EvEOF, Tail: o.Tail})
	}
	return nil
}

func (s *Session) fired(t Timer) *Result {
	s.timers[t] = nil
	// Backlog: kd's output not yet read may hold the answer a break timer
	// waits for.
	return s.step(Event{Kind: EvTimer, Timer: t, Backlog: len(s.Output) > 0})
}

// step feeds one event to Step and carries out its actions; a non-nil
// result ends the session.
func (s *Session) step(ev Event) *Result {
	ev.At = time.Now()
	var acts []Action
	s.m, acts = Step(s.m, ev)
	s.save()
	for _, a := range acts {
		if r := s.act(a); r != nil {
			return r
		}
	}
	return nil
}

// save writes the machine's counters back to the run's Stats.
func (s *Session) save() {
	st, c := s.Stats, s.m.Counters
	st.Hits, st.hitTimes, st.Breaks, st.Reconnects = c.Hits, c.HitTimes, c.Breaks, c.Reconnects
	st.StoppedSafe, st.checked, st.braked, st.allocators, st.Surveyed = c.StoppedSafe, c.Checked, c.Braked, c.Allocators, c.Surveyed
	st.LeakHalts, st.PoolUsed = c.LeakHalts, c.PoolUsed
}

func (s *Session) act(a Action) *Result {
	sk := s.Sinks
	switch a.Kind {
	case ActWrite:
		s.send(a.Cmd.Text, true)
		if a.Marker != "" {
			s.send(a.Marker, false)
		}
	case ActBreak:
		sk.Transcript.Event("break-in, attempt " + strconv.Itoa(a.Attempt+1))
		if err := s.Proc.Interrupt(a.Attempt); err != nil {
			sk.Log.Warn("break-in step failed", "attempt", a.Attempt+1, "error", err)
		}
	case ActLeave:
		sk.Transcript.Input("<CTRL+B>")
		sk.Log.Debug("leaving kd with CTRL+B ENTER")
		if _, err := s.Proc.Write([]byte(script.CtrlB + s.Proc.Newline())); err != nil {
			sk.Log.Debug("write CTRL+B", "error", err)
		}
	case ActStartTimer:
		if t := s.timers[a.Timer]; t != nil {
			t.Stop()
		}
		s.timers[a.Timer] = time.NewTimer(a.D)
	case ActStopTimer:
		if t := s.timers[a.Timer]; t != nil {
			t.Stop()
			s.timers[a.Timer] = nil
		}
	case ActNote:
		msg := sk.note(a.Level, a.Text)
		if a.Level >= hclog.Warn {
			s.Stats.warn(msg)
		}
	case ActTrace:
		sk.Log.Debug(a.Text)
		sk.Transcript.Event(sk.Redact.String(a.Text))
	case ActKill:
		_ = s.Proc.Kill()
		s.killed = true
	case ActFinish:
		r := a.Result
		r.Exit = s.waitExit()
		return &r
	}
	return nil
}

// send types one line into kd; markers are kept off the console.
func (s *Session) send(text string, show bool) {
	sk := s.Sinks
	sk.Transcript.Input(sk.Redact.String(text))
	if show && !strings.HasPrefix(text, ".echo "+script.MarkerPrefix) {
		sk.Console.Output(sk.Redact.String(text), true)
	}
	if _, err := s.Proc.Write([]byte(text + s.Proc.Newline())); err != nil {
		sk.Log.Debug("write to kd", "error", err)
	}
}

// waitExit waits for kd at the end of the session. A killed kd's output is
// drained first so the pump can finish. A kd whose output ended can run on
// deaf and mute (it closed its console, or on Windows its stdout pipe
// broke); waiting for it without bound would hang kdlaunch and keep the
// next kd from starting, so it is killed after a grace.
func (s *Session) waitExit() ExitStatus {
	if s.killed {
		for range s.Output {
		}
		return s.Proc.Wait()
	}
	done := make(chan ExitStatus, 1)
	go func() { done <- s.Proc.Wait() }()
	grace := s.m.Timing.StopTimeout
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
	s.Stats.warn(s.Sinks.note(hclog.Warn, "kd's output ended but kd was still running "+grace.String()+" later: killing it"))
	_ = s.Proc.Kill()
	return <-done
}

// timerC returns t's channel, or nil (which blocks forever) for no timer.
func timerC(t *time.Timer) <-chan time.Time {
	if t == nil {
		return nil
	}
	return t.C
}
