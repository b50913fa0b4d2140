package launcher

import (
	"fmt"
	"sync"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/windows"
)

// killJob is kd's kill-on-close Job Object, the same for pipes and the
// pseudo console: closing its handle (or kdlaunch dying, which closes it)
// makes the kernel kill every process still in it
// (JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE).
type killJob struct {
	mu   sync.Mutex
	h    windows.Handle
	open bool // the handle is still open
}

func newKillJob(h windows.Handle) killJob { return killJob{h: h, open: h != 0} }

// terminate ends kd and everything it started at once. false: there is no
// job (its assignment failed) or the call failed (logged), and the caller
// must end kd alone.
func (j *killJob) terminate(log hclog.Logger) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	if !j.open {
		return false
	}
	if err := windows.TerminateJobObject(j.h, killExitCode); err != nil {
		log.Warn("TerminateJobObject failed; terminating kd alone", "error", err)
		return false
	}
	return true
}

// close closes the handle once; whatever is still in the job dies with it.
func (j *killJob) close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if !j.open {
		return nil
	}
	j.open = false
	if err := windows.CloseHandle(j.h); err != nil {
		return fmt.Errorf("close Job Object: %w", err)
	}
	return nil
}
