//go:build !windows

package clitest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func fakeRun(t *testing.T, dir string, args ...string) result {
	t.Helper()
	return kdEnv(t, dir, []string{"FAKEKD_STATE=" + filepath.Join(dir, "state.json"), "FAKEKD_CONNECT_DELAY=100ms", "FAKEKD_HIT_INTERVAL=20ms"},
		append([]string{"run", "--kd", fakekd, "--tag", "Ddk", "--server", "none"}, args...)...)
}

// kdlaunch's own messages are one format on stderr; --quiet keeps kd's
// output off stdout (the log still has it); the summary names the top
// culprit and its module; where stdout is not a terminal, progress lines
// come; a missing log folder is created with a line.
func TestRunQuietMessagesSummary(t *testing.T) {
	for _, quiet := range []bool{false, true} {
		dir := t.TempDir()
		log := filepath.Join(dir, "lab", "debug.log")
		args := []string{"--log", log, "--max-hits", "20", "--progress", "100ms"}
		if quiet {
			args = append(args, "--quiet")
		}
		r := fakeRun(t, dir, args...)
		if r.code != 0 {
			t.Fatalf("quiet=%v: exit %d\n%s", quiet, r.code, r.stderr)
		}
		for _, l := range strings.Split(strings.TrimRight(r.stderr, "\n"), "\n") {
			if !strings.HasPrefix(l, "kdlaunch: ") {
				t.Errorf("quiet=%v: stderr line %q is not a kdlaunch: message", quiet, l)
			}
		}
		if !strings.Contains(r.stderr, "kdlaunch: created folder "+filepath.Dir(log)) {
			t.Errorf("quiet=%v: no line for the created log folder:\n%s", quiet, r.stderr)
		}
		if !strings.Contains(r.stderr, "kdlaunch: progress: ") || !strings.Contains(r.stderr, "top culprit ") {
			t.Errorf("quiet=%v: no progress line with a culprit:\n%s", quiet, r.stderr)
		}
		kdEcho := strings.Contains(r.stdout, "Breakpoint 0 hit")
		if kdEcho == quiet {
			t.Errorf("quiet=%v: kd's output on stdout: %v\n%s", quiet, kdEcho, r.stdout)
		}
		if strings.Contains(r.stdout, "kdlaunch: ") && !strings.Contains(r.stdout, "kdlaunch: stopped") {
			t.Errorf("quiet=%v: a kdlaunch message on stdout:\n%s", quiet, r.stdout)
		}
		b, _ := os.ReadFile(log)
		if !strings.Contains(string(b), "Breakpoint 0 hit") {
			t.Errorf("quiet=%v: the log lacks kd's output", quiet)
		}
		culprit := ""
		for _, l := range strings.Split(r.stdout, "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), "culprit:") {
				culprit = l
			}
		}
		rep := kd(t, dir, "report", "--format", "json", log)
		if culprit == "" || !strings.Contains(culprit, "(module ") || !strings.Contains(rep.stdout, strings.Fields(culprit)[1]) {
			t.Errorf("quiet=%v: summary culprit line %q does not match the report:\n%s", quiet, culprit, rep.stdout)
		}
		if !strings.Contains(r.stdout, "next:     kdlaunch report") {
			t.Errorf("quiet=%v: a run with hits does not point to the report", quiet)
		}
	}
}

// --dry-run previews and creates nothing, not even the log's folder.
func TestDryRunCreatesNothing(t *testing.T) {
	dir := t.TempDir()
	r := fakeRun(t, dir, "--dry-run", "--log", filepath.Join(dir, "lab", "debug.log"), "--transcript", filepath.Join(dir, "t", "t.log"))
	if r.code != 0 || strings.Contains(r.stderr, "created folder") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("--dry-run wrote %v", entries)
	}
}
