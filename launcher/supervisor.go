package launcher

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/kdlaunch/kdlaunch/plural"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/hashicorp/go-hclog"
	"github.com/kdlaunch/kdlaunch/transcript"
)

// Options configure a supervised run.
type Options struct {
	Spec func(incarnation int) Spec // the command line and environment of each kd incarnation
	// Start starts kd; nil uses the platform's Start.
	Start      func(Spec, hclog.Logger) (Proc, error)
	Plan       Plan
	Timing     Timing
	Limits     Limits
	Restart    RestartPolicy
	Log        hclog.Logger
	Console    *Console
	Transcript *transcript.Writer
	Sinks      Sinks
	Redact     func(string) string
}

// RestartPolicy says what to do when kd exits on its own.
type RestartPolicy struct {
	MaxRestarts    int           // then give up
	BackoffInitial time.Duration // first wait
	BackoffMax     time.Duration // cap
	HealthyAfter   time.Duration // an incarnation that ran this long resets the backoff and the count
}

// KdExitedError is the fatal error when kd keeps exiting: callers print it
// and exit non-zero.
type KdExitedError struct {
	Restarts int
	Exit     ExitStatus
	Tail     []string
}

func (e *KdExitedError) Error() string {
	msg := fmt.Sprintf("kd exited (%s) and was restarted %s; giving up", e.Exit, plural.Times(int64(e.Restarts)))
	if n := len(e.Tail); n > 0 {
		last := e.Tail[max(0, n-5):]
		msg += "; its last lines: " + strings.Join(last, " | ")
	}
	return msg
}

// ErrStartFailed wraps a failure to start kd at all.
var ErrStartFailed = errors.New("start kd")

// Supervise runs kd until a safe stop completes, restarting it when it exits
// on its own. stop asks for the safe stop; cancelling ctx kills kd at once.
func Supervise(ctx context.Context, stop <-chan struct{}, o Options, stats *Stats) error {
	start := o.Start
	if start == nil {
		start = Start
	}
	if o.Redact == nil {
		o.Redact = func(s string) string { return s }
	}
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval = o.Restart.BackoffInitial
	bo.MaxInterval = o.Restart.BackoffMax
	bo.MaxElapsedTime = 0
	bo.RandomizationFactor = 0.3
	bo.Reset()
	nonce := newNonce()
	checked := false
	stopping := false
	for incarnation := 0; ; incarnation++ {
		spec := o.Spec(incarnation)
		proc, err := start(spec, o.Log)
		if err != nil {
			return fmt.Errorf("%w %s: %s: --kd must name kd.exe or a program that behaves like it", ErrStartFailed, spec.Path, o.Redact(err.Error()))
		}
		o.Log.Info("kd started", "pid", proc.Pid(), "incarnation", incarnation+1)
		o.Transcript.Event(fmt.Sprintf("kd started, pid %d, incarnation %d", proc.Pid(), incarnation+1))
		out := make(chan Output, 64)
		pumpDone := make(chan struct{})
		go func() {
			defer close(pumpDone)
			Pump(proc.Output(), out, o.Sinks)
		}()
		began := time.Now()
		sess := &Session{SessionConfig: SessionConfig{
			Proc: proc, Output: out, Plan: o.Plan, Timing: o.Timing, Limits: o.Limits,
			Stats: stats, Log: o.Log, Console: o.Console, Transcript: o.Transcript,
			Nonce: nonce, Checked: &checked, Redact: o.Redact,
		}}
		if stopping {
			// A stop came while kd was down: this incarnation only clears what
			// the last one may have left armed.
			sess.phase = phaseStopping
		}
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
		if sess.phase == phaseStopping && !r.Armed {
			return nil
		}
		stats.Restarts++
		if time.Since(began) >= o.Restart.HealthyAfter && o.Restart.HealthyAfter > 0 {
			bo.Reset()
			stats.Restarts = 1
		}
		if stats.Restarts > o.Restart.MaxRestarts {
			return &KdExitedError{Restarts: stats.Restarts - 1, Exit: r.Exit, Tail: redactAll(r.Tail, o.Redact)}
		}
		wait := bo.NextBackOff()
		msg := fmt.Sprintf("kd exited unexpectedly (%s); restarting it in %s (restart %d of %d)", r.Exit, wait.Round(time.Millisecond), stats.Restarts, o.Restart.MaxRestarts)
		if r.Armed {
			msg += "; a new kd attaching clears the old breakpoints, which are then armed again"
		}
		o.Log.Warn(msg)
		o.Transcript.Event(msg)
		stats.Warnings = append(stats.Warnings, msg)
		o.Console.Note("kdlaunch: " + msg)
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

func redactAll(lines []string, f func(string) string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = f(l)
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
