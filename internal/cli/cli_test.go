package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runMain runs kdlaunch in-process as a user would and returns the exit
// code, stdout and stderr.
func runMain(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, "test", &out, &errb)
	return code, out.String(), errb.String()
}

// wantOneLine checks a refusal: a non-zero exit and one stderr line that
// holds want.
func wantOneLine(t *testing.T, args []string, want string) {
	t.Helper()
	code, _, stderr := runMain(t, args...)
	if code == 0 {
		t.Errorf("%q: exit 0, want non-zero", args)
	}
	if lines := strings.Split(strings.TrimSpace(stderr), "\n"); len(lines) != 1 || !strings.Contains(stderr, want) {
		t.Errorf("%q: stderr %q, want one line holding %q", args, stderr, want)
	}
}

// fakeKD is an existing file for --kd: --dry-run never starts it.
func fakeKD(t *testing.T) string {
	t.Helper()
	p, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// An empty flag value (--log "$UNSET") is refused, not taken as "not given".
func TestEmptyFlagRefused(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		args []string
		flag string
	}{
		{[]string{"run", "--dry-run", "--kd", fakeKD(t), "--tag", "Ddk", "--log", ""}, "--log"},
		{[]string{"run", "--dry-run", "--kd", fakeKD(t), "--tag", "Ddk", "--log", filepath.Join(dir, "d.log"), "--connect="}, "--connect"},
		{[]string{"run", "--dry-run", "--kd", "", "--tag", "Ddk"}, "--kd"},
		{[]string{"report", "-o", "", "x.log"}, "--output"},
		{[]string{"tag", "Ddk", "--reg-file", ""}, "--reg-file"},
		{[]string{"tag", "--decode", ""}, "--decode"},
		{[]string{"target-setup", "--tag", ""}, "--tag"},
		{[]string{"target-setup", "--write-config", ""}, "--write-config"},
	}
	for _, tt := range tests {
		wantOneLine(t, tt.args, tt.flag+" is empty")
	}
}

func TestReportNoLog(t *testing.T) {
	wantOneLine(t, []string{"report"}, "no log given")
}

// --dry-run prints and writes nothing: no log, no log folder.
func TestRunDryRunWritesNothing(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "sub", "debug.log")
	code, out, stderr := runMain(t, "run", "--dry-run", "--kd", fakeKD(t), "--tag", "Ddk", "--server", "none", "--log", log)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, "_NT_DEBUG_LOG_FILE_APPEND="+log) {
		t.Errorf("stdout %q does not name the log", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "sub")); !os.IsNotExist(err) {
		t.Errorf("--dry-run created the log folder (stat: %v)", err)
	}
	wantOneLine(t, []string{"run", "--dry-run", "--kd", fakeKD(t), "--tag", "Ddk", "--log", dir}, "is a folder")
}

// A transcript that is a folder is refused before the log is touched.
func TestRunTranscriptFolder(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "debug.log")
	wantOneLine(t, []string{"run", "--kd", fakeKD(t), "--tag", "Ddk", "--log", log, "--transcript", dir}, "transcript "+dir+" is a folder")
	if _, err := os.Stat(log); !os.IsNotExist(err) {
		t.Errorf("the log was created (stat: %v)", err)
	}
}

// q, qq and qd would leave kd with the target halted and breakpoints armed.
func TestRunRefusesQuit(t *testing.T) {
	dir := t.TempDir()
	base := []string{"run", "--dry-run", "--kd", fakeKD(t), "--tag", "Ddk", "--log", filepath.Join(dir, "d.log")}
	for _, cmd := range []string{"q", "QQ", " qd ", "k; q", "r;qd", `bp nt!Foo "kb;q"`} {
		wantOneLine(t, append(base, "--command", cmd), "quits kd")
	}
	cfg := filepath.Join(dir, "lab.toml")
	if err := os.WriteFile(cfg, []byte("[script]\ncommands = [\"q\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wantOneLine(t, append(base, "--config", cfg), "quits kd")
	for _, cmd := range []string{"!pool", "qux", `bp nt!Foo "kb;g"`, ".echo q"} {
		if code, _, stderr := runMain(t, append(base, "--command", cmd)...); code != 0 {
			t.Errorf("--command %q refused: %s", cmd, stderr)
		}
	}
}

func TestRunMaxRateNotANumber(t *testing.T) {
	dir := t.TempDir()
	for _, v := range []string{"NaN", "Inf"} {
		wantOneLine(t, []string{"run", "--dry-run", "--kd", fakeKD(t), "--tag", "Ddk", "--log", filepath.Join(dir, "d.log"), "--max-rate", v}, "max_rate")
	}
}

// A bad --config path names the file and the problem once.
func TestRunConfigPath(t *testing.T) {
	dir := t.TempDir()
	wantOneLine(t, []string{"run", "--config", dir, "--tag", "Ddk"}, "is a folder")
	code, _, stderr := runMain(t, "run", "--config", filepath.Join(dir, "none.toml"), "--tag", "Ddk")
	if code == 0 || strings.Count(stderr, "none.toml") != 1 {
		t.Errorf("missing config: exit %d, stderr %q: want the path named once", code, stderr)
	}
}

// Flags override the file, 0 included: --max-hits 0 lifts the file's limit.
func TestRunLimitFlagsOverrideConfig(t *testing.T) {
	cfgPath := filepath.Join(t.TempDir(), "lab.toml")
	if err := os.WriteFile(cfgPath, []byte("[limits]\nmax_hits = 5\nmax_rate = 3.0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	zero, zeroRate, seven := 0, 0.0, 7
	tests := []struct {
		name string
		cmd  RunCmd
		hits int
		rate float64
	}{
		{"file alone", RunCmd{}, 5, 3},
		{"zero lifts both", RunCmd{MaxHits: &zero, MaxRate: &zeroRate}, 0, 0},
		{"a new value", RunCmd{MaxHits: &seven}, 7, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.cmd
			c.Config, c.Tag = cfgPath, "Ddk"
			cfg, err := c.load()
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Limits.MaxHits != tt.hits || cfg.Limits.MaxRate != tt.rate {
				t.Errorf("max_hits %d, max_rate %g; want %d, %g", cfg.Limits.MaxHits, cfg.Limits.MaxRate, tt.hits, tt.rate)
			}
		})
	}
}
