package cli

import (
	"errors"
	"io"
	"testing"

	"github.com/hashicorp/go-hclog"
	"go.uber.org/goleak"

	"github.com/kdlaunch/kdlaunch/config"
	"github.com/kdlaunch/kdlaunch/launcher"
	"github.com/kdlaunch/kdlaunch/redact"
)

// supervise's signal watcher and the command's own stop reasons end with
// it, whatever ends the session (here: kd cannot be started at all).
func TestSuperviseLeavesNothingRunning(t *testing.T) {
	defer goleak.VerifyNone(t)
	d := &kdDriver{cfg: config.Default(), red: redact.New(),
		console: launcher.NewConsoleWith(launcher.ConsoleOptions{KD: io.Discard, Messages: io.Discard}),
		logger:  hclog.NewNullLogger()}
	defer d.close()
	o := d.options(disarmPlan(), launcher.Limits{}, timing(d.cfg))
	o.Start = func(launcher.Spec, hclog.Logger) (launcher.Proc, error) { return nil, errors.New("no kd here") }
	started, ended := false, false
	err := d.supervise(o, &launcher.Stats{}, func(requestStop func()) func() {
		started = requestStop != nil
		return func() { ended = true }
	})
	if !errors.As(err, new(*launcher.StartError)) {
		t.Errorf("error %v, want a launcher.StartError", err)
	}
	if !started || !ended {
		t.Errorf("the command's stop reasons: started %v, ended %v", started, ended)
	}
}
