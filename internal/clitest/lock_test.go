//go:build !windows

package clitest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kdlaunch/kdlaunch/exitcode"
	"github.com/kdlaunch/kdlaunch/lock"
)

// startRun starts a kdlaunch run against the fake kd that hunts until
// interrupted, and waits until it holds its log's lock.
func startRun(t *testing.T, dir, log string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	full := append([]string{"run", "--kd", fakekd, "--tag", "Ddk", "--log", log}, args...)
	cmd := exec.Command(kdlaunch, full...)
	cmd.Dir = dir
	cmd.Env = env(dir, "FAKEKD_STATE="+filepath.Join(dir, "state.json"), "FAKEKD_CONNECT_DELAY=100ms", "FAKEKD_HIT_INTERVAL=20ms")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; ; i++ {
		if held, _, _ := lock.LogHeld(log); held {
			return cmd, &out
		}
		if i > 500 {
			t.Fatalf("the run never locked its log:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A second run on the same log, or with the same server pipe, is refused
// with one line naming the first's pid, while the first runs on.
func TestSecondRunRefused(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "debug.log")
	first, out := startRun(t, dir, log, "--pipe", "kdltest")
	pid := fmt.Sprintf("(pid %d)", first.Process.Pid)
	if held, p, _ := lock.LogHeld(log); !held || p != first.Process.Pid {
		t.Errorf("LogHeld = %v, %d; want the first run's pid %d", held, p, first.Process.Pid)
	}

	r := kd(t, dir, "run", "--kd", fakekd, "--tag", "Ddk", "--log", log, "--server", "none")
	r.oneLine(t, exitcode.Busy, "log "+log+" is being written by another kdlaunch run "+pid)
	r = kd(t, dir, "run", "--kd", fakekd, "--tag", "Ddk", "--log", filepath.Join(dir, "other.log"), "--pipe", "kdltest")
	r.oneLine(t, exitcode.Busy, "kd's debugging server npipe:pipe=kdltest is already run by another kdlaunch "+pid)

	waitFor(t, "a hit in the log", func() bool {
		b, _ := os.ReadFile(log)
		return strings.Contains(string(b), "Breakpoint 0 hit")
	})
	first.Process.Signal(syscall.SIGINT)
	if err := first.Wait(); err != nil {
		t.Fatalf("the first run: %v\n%s", err, out.String())
	}
	if held, _, _ := lock.LogHeld(log); held {
		t.Error("the log is still held after the run ended")
	}
	if !strings.Contains(out.String(), "stopped safely") {
		t.Errorf("the first run did not stop safely:\n%s", out.String())
	}
}

// waitFor polls ok, for what a real process does in its own time.
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for i := 0; !ok(); i++ {
		if i > 1000 {
			t.Fatalf("never saw %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
