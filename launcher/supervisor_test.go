package launcher

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/kdlaunch/kdlaunch/redact"
)

// crashKD prints its lines and exits with code 1 at once.
type crashKD struct {
	r    io.Reader
	done chan struct{}
}

func newCrashKD(out string) *crashKD {
	return &crashKD{r: strings.NewReader(out), done: make(chan struct{})}
}

func (k *crashKD) Output() io.Reader           { return k.r }
func (k *crashKD) Write(p []byte) (int, error) { return len(p), nil }
func (k *crashKD) Newline() string             { return "\r" }
func (k *crashKD) Interrupt(int) error         { return nil }
func (k *crashKD) Pid() int                    { return 7 }
func (k *crashKD) Wait() ExitStatus            { return ExitStatus{Code: 1} }
func (k *crashKD) Kill() error                 { return nil }
func (k *crashKD) Close() error                { return nil }

// A kd that keeps crashing is restarted with a growing backoff, then given
// up on with its exit code and its last lines, secrets masked.
func TestSuperviseGivesUpOnACrashingKD(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		starts := 0
		var began []time.Time
		o := Options{
			Spec: func(int) Spec { return Spec{Path: "kd"} },
			Start: func(Spec, hclog.Logger) (Proc, error) {
				starts++
				began = append(began, time.Now())
				return newCrashKD("Microsoft (R) Windows Debugger\nserver password=s3cret refused\n"), nil
			},
			Plan:    Plan{Arm: []Command{{Text: "bp x"}}},
			Timing:  Timing{StopTimeout: time.Second},
			Restart: RestartPolicy{MaxRestarts: 3, BackoffInitial: time.Second, BackoffMax: 10 * time.Second},
			Sinks:   Sinks{Redact: redact.New("s3cret")},
		}
		stats := &Stats{Started: time.Now()}
		err := Supervise(context.Background(), make(chan struct{}), o, stats)
		var ke *KDExitedError
		if !errors.As(err, &ke) {
			t.Fatalf("err = %v, want a *KDExitedError", err)
		}
		if starts != 4 || ke.Restarts != 3 || ke.Exit.Code != 1 {
			t.Errorf("started %d times, error says %d restarts with exit %d; want 4 starts, 3 restarts, exit 1", starts, ke.Restarts, ke.Exit.Code)
		}
		if msg := err.Error(); strings.Contains(msg, "s3cret") || !strings.Contains(msg, "password=*** refused") {
			t.Errorf("error %q: want kd's last lines with the secret masked", msg)
		}
		for i := 2; i < len(began); i++ {
			if began[i].Sub(began[i-1]) <= began[1].Sub(began[0])/2 {
				t.Errorf("restart waits %v: the backoff does not grow", began)
			}
		}
		if len(stats.Warnings) != 3 {
			t.Errorf("warnings %q, want one per restart", stats.Warnings)
		}
	})
}

// A kd that cannot start at all: the error is ErrStartFailed, keeps the
// operating system's error for errors.As, and masks secrets in its text.
func TestSuperviseStartFailureKeepsItsCause(t *testing.T) {
	cause := &fs.PathError{Op: "fork/exec", Path: `C:\dbg\s3cret\kd.exe`, Err: fs.ErrNotExist}
	o := Options{
		Spec:  func(int) Spec { return Spec{Path: `C:\dbg\s3cret\kd.exe`} },
		Start: func(Spec, hclog.Logger) (Proc, error) { return nil, cause },
		Sinks: Sinks{Redact: redact.New("s3cret")},
	}
	err := Supervise(context.Background(), nil, o, &Stats{})
	var pe *fs.PathError
	var se *StartError
	if !errors.Is(err, ErrStartFailed) || !errors.As(err, &pe) || !errors.As(err, &se) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %#v: want ErrStartFailed wrapping a *StartError and the *fs.PathError", err)
	}
	if msg := err.Error(); strings.Contains(msg, "s3cret") || !strings.Contains(msg, "--kd must name kd.exe") {
		t.Errorf("error %q: want the secret masked and what to do", msg)
	}
}
