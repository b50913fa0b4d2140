package launcher

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/hashicorp/go-hclog"
	"github.com/kdlaunch/kdlaunch/plural"
	"github.com/kdlaunch/kdlaunch/redact"
)

// Options configure a supervised run.
type Options struct {
	Spec func(incarnation int) Spec // the command line and environment of each kd incarnation
	// Start starts kd; nil uses the platform's Start.
	Start   func(Spec, hclog.Logger) (Proc, error)
	Plan    Plan
	Timing  Timing
	Limits  Limits
	Restart RestartPolicy
	Sinks   Sinks // every incarnation's pump and session write here
}

// RestartPolicy says what to do when kd exits on its own.
type RestartPolicy struct {
	MaxRestarts    int           // then give up
	BackoffInitial time.Duration // first wait
	BackoffMax     time.Duration // cap
	HealthyAfter   time.Duration // an incarnation that ran this long resets the backoff and the count
}

// KDExitedError is the fatal error when kd keeps exiting: callers print it
// and exit non-zero.
type KDExitedError struct {
	Restarts int
	Exit     ExitStatus
	Tail     []string
}

func (e *KDExitedError) Error() string {
	msg := fmt.Sprintf("kd exited (%s) and was restarted %s; giving up", e.Exit, plural.Times(int64(e.Restarts)))
	if n := len(e.Tail); n > 0 {
		last := e.Tail[max(0, n-5):]
		msg += "; its last lines: " + strings.Join(last, " | ")
	}
	return msg
}

// ErrStartFailed is what every StartError is (errors.Is): kd did not start
// at all.
var ErrStartFailed = errors.New("start kd")

// StartError is a failure to start kd at all; Err is the operating system's
// reason (an *os.PathError, an exec error), kept for errors.As.
type StartError struct {
	Path string
	Err  error
}

func (e *StartError) Error() string {
	return fmt.Sprintf("%s %s: %v: --kd must name kd.exe or a program that behaves like it", ErrStartFailed, e.Path, e.Err)
}

// Unwrap gives both ErrStartFailed and the cause.
func (e *StartError) Unwrap() []error { return []error{ErrStartFailed, e.Err} }

// Supervise runs kd until a safe stop completes, restarting it when it exits
// on its own. stop asks for the safe stop; cancelling ctx kills kd at once.
func Supervise(ctx context.Context, stop <-chan struct{}, o Options, stats *Stats) error {
	start := o.Start
	if start == nil {
		start = Start
	}
	sk := o.Sinks.withDefaults()
	rules := Rules{Plan: o.Plan, Timing: o.Timing, Limits: o.Limits, Nonce: newNonce()}
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval = o.Restart.BackoffInitial
	bo.MaxInterval = o.Restart.BackoffMax
	bo.MaxElapsedTime = 0
	bo.RandomizationFactor = 0.3
	bo.Reset()
	stopping := false
	for incarnation := 0; ; incarnation++ {
		spec := o.Spec(incarnation)
		proc, err := start(spec, sk.Log)
		if err != nil {
			return sk.Redact.Wrap(&StartError{Path: spec.Path, Err: err})
		}
		sk.Log.Info("kd started", "pid", proc.Pid(), "incarnation", incarnation+1)
		sk.Transcript.Event(fmt.Sprintf("kd started, pid %d, incarnation %d", proc.Pid(), incarnation+1))
		out := make(chan Output, 64)
		pumpDone := make(chan struct{})
		go func() {
			defer close(pumpDone)
			Pump(proc.Output(), out, sk)
		}()
		began := time.Now()
		// Stopping: a stop came while kd was down; this incarnation only
		// clears what the last one may have left armed.
		sess := &Session{SessionConfig: SessionConfig{
			Proc: proc, Output: out, Rules: rules, Stats: stats, Sinks: sk, Stopping: stopping,
		}}
		r := sess.Run(ctx, stop)
		// The old kd must be fully gone (its pipe name free) before another
		// starts: output drained, process reaped, job closed.
		_ = proc.Kill()
		for range out {
		}
		<-pumpDone
		proc.Wait()
		_ = proc.Close()

		switch r.Outcome {
		case OutcomeStopped:
			return nil
		case OutcomeAborted:
			return context.Canceled
		case OutcomeFailed:
			return r.Err
		}
		if sess.Phase() == PhaseStopping && !r.Armed {
			return nil
		}
		stats.Restarts++
		if time.Since(began) >= o.Restart.HealthyAfter && o.Restart.HealthyAfter > 0 {
			bo.Reset()
			stats.Restarts = 1
		}
		if stats.Restarts > o.Restart.MaxRestarts {
			return &KDExitedError{Restarts: stats.Restarts - 1, Exit: r.Exit, Tail: redactAll(r.Tail, sk.Redact)}
		}
		wait := bo.NextBackOff()
		msg := fmt.Sprintf("kd exited unexpectedly (%s); restarting it in %s (restart %d of %d)", r.Exit, wait.Round(time.Millisecond), stats.Restarts, o.Restart.MaxRestarts)
		switch {
		case r.Armed && o.Plan.ClearOnly:
			msg += "; the new kd clears the target again"
		case r.Armed:
			msg += "; a new kd attaching clears the old breakpoints, which are then armed again"
		}
		stats.warn(sk.note(hclog.Warn, msg))
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-stop:
			t.Stop()
			stop = nil
			stopping = true
			if !r.Armed {
				return nil
			}
		case <-ctx.Done():
			t.Stop()
			return context.Canceled
		}
	}
}

func redactAll(lines []string, red *redact.Redactor) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = red.String(l)
	}
	return out
}

// newNonce makes markers unique to this run, so a marker in an old log or
// from another kdlaunch cannot end a command early.
func newNonce() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
