//go:build !windows

package clitest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kdlaunch/kdlaunch/exitcode"
)

// The messages a newcomer meets, each one line that says what to do.
func TestMessages(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "lab.toml")
	os.WriteFile(cfg, []byte("[kd]\npath = 'kd'\n\n[limits]\nmax_hit = 3\n"), 0o600)
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"run", "--dry-run", "--tag", "Ddk", "--duration", "-5s"}, exitcode.Usage, "--duration: bad duration \"-5s\": must not be negative"},
		{[]string{"run", "--dry-run", "--tag", "Ddk", "--max-hits", "-3"}, exitcode.Usage, "--max-hits -3: give a positive number"},
		{[]string{"run", "--dry-run", "--config", cfg}, exitcode.Usage, `line 5: unknown config key "limits.max_hit": did you mean "limits.max_hits"?`},
		{[]string{"tag", "0x206b6444"}, exitcode.Usage, "run kdlaunch tag --decode 0x206b6444"},
	}
	for _, tt := range tests {
		r := kd(t, dir, tt.args...)
		r.oneLine(t, tt.code, tt.want)
		if strings.Contains(r.stderr, "short flag") {
			t.Errorf("%q: kong's short-flag message: %s", tt.args, r.stderr)
		}
	}
}

// tag says which views read the characters backwards: only dd's DWORD.
func TestTagBackwards(t *testing.T) {
	r := kd(t, t.TempDir(), "tag", "Ddk")
	if r.code != 0 || !strings.Contains(r.stdout, `dc and !pool show "Ddk "; only dd's DWORD view (206b6444) reads them backwards`) || strings.Contains(r.stdout, "pool dump shows the characters backwards") {
		t.Errorf("exit %d:\n%s", r.code, r.stdout)
	}
}

// A --skip module that no frame has is warned about; one that is, is not.
func TestReportSkipUnknownModule(t *testing.T) {
	dir := t.TempDir()
	r := kd(t, dir, "report", "--skip-add", "avscna", fixture(t))
	if r.code != 0 || !strings.Contains(r.stderr, "kdlaunch: warning: --skip avscna: no frame in the log is in module avscna") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
	r = kd(t, dir, "report", "--skip-add", "avscan", fixture(t))
	if r.code != 0 || strings.Contains(r.stderr, "warning") {
		t.Errorf("a module in the log: exit %d, stderr %q", r.code, r.stderr)
	}
}

// A run whose target never connects does not suggest a report of its
// empty log.
func TestConnectTimeoutNoReportHint(t *testing.T) {
	dir := t.TempDir()
	r := kdEnv(t, dir, []string{"FAKEKD_STATE=" + filepath.Join(dir, "state.json"), "FAKEKD_NEVER_CONNECT=1"},
		"run", "--kd", fakekd, "--tag", "Ddk", "--server", "none", "--log", filepath.Join(dir, "debug.log"), "--connect-timeout", "500ms")
	if r.code != exitcode.Failure || !strings.Contains(r.stderr, "did not connect within 500ms") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
	if strings.Contains(r.stdout, "kdlaunch report") {
		t.Errorf("the summary suggests a report:\n%s", r.stdout)
	}
}

// Counts of one read as one: "1 stack", "1 breakpoint hit", "restarted once".
func TestPlurals(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile(fixture(t))
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	second := strings.Index(text[strings.Index(text, "Breakpoint 0 hit")+1:], "Breakpoint 0 hit") + strings.Index(text, "Breakpoint 0 hit") + 1
	one := filepath.Join(dir, "one.log")
	os.WriteFile(one, []byte(text[:second]), 0o644)
	r := kd(t, dir, "report", one)
	if r.code != 0 || !strings.Contains(r.stdout, "1 stack, 1 unique, 1 breakpoint hit\n") {
		t.Errorf("exit %d:\n%s", r.code, r.stdout)
	}

	cfg := filepath.Join(dir, "lab.toml")
	os.WriteFile(cfg, []byte("[supervise]\nbackoff_initial = \"50ms\"\nbackoff_max = \"100ms\"\nmax_restarts = 1\n"), 0o600)
	r = kdEnv(t, dir, []string{"FAKEKD_STATE=" + filepath.Join(dir, "state.json"), "FAKEKD_CONNECT_DELAY=50ms", "FAKEKD_HIT_INTERVAL=10ms", "FAKEKD_CRASH_AFTER_HITS=1"},
		"run", "--kd", fakekd, "--tag", "Ddk", "--server", "none", "--config", cfg, "--log", filepath.Join(dir, "debug.log"))
	if r.code != exitcode.Failure || !strings.Contains(r.stderr, "was restarted once; giving up") {
		t.Errorf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
}
