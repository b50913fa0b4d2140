//go:build !windows

// Package clitest runs the real kdlaunch binary as a user would, for the
// behaviour every command shares: output files, folders, locks, exit codes,
// messages, --dry-run, --quiet and shell completion.
package clitest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var (
	root     string
	kdlaunch string
	fakekd   string
)

func TestMain(m *testing.M) {
	os.Exit(build(m))
}

func build(m *testing.M) int {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		fmt.Fprintln(os.Stderr, "go env GOMOD:", err)
		return 1
	}
	root = filepath.Dir(strings.TrimSpace(string(out)))
	bin, err := os.MkdirTemp("", "kdlaunch-clitest")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(bin)
	kdlaunch = filepath.Join(bin, "kdlaunch")
	fakekd = filepath.Join(bin, "fakekd")
	for _, b := range [][]string{{"-o", kdlaunch, "."}, {"-o", fakekd, "./cmd/fakekd"}} {
		cmd := exec.Command("go", append([]string{"build"}, b...)...)
		cmd.Dir = root
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build:", err)
			return 1
		}
	}
	return m.Run()
}

// result is one finished kdlaunch.
type result struct {
	code           int
	stdout, stderr string
}

// env isolates kdlaunch's config folder and home in dir.
func env(dir string, extra ...string) []string {
	return append(append(os.Environ(), "HOME="+dir, "XDG_CONFIG_HOME="+filepath.Join(dir, "config"), "APPDATA="+filepath.Join(dir, "appdata")), extra...)
}

// kd runs kdlaunch with args in dir (its working folder and home).
func kd(t *testing.T, dir string, args ...string) result {
	t.Helper()
	return kdEnv(t, dir, nil, args...)
}

func kdEnv(t *testing.T, dir string, extra []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(kdlaunch, args...)
	cmd.Dir = dir
	cmd.Env = env(dir, extra...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run kdlaunch: %v", err)
	}
	return r
}

// oneLine checks a refusal: exit code want, one stderr line holding msg.
func (r result) oneLine(t *testing.T, want int, msg string) {
	t.Helper()
	if r.code != want {
		t.Errorf("exit %d, want %d\nstderr: %s", r.code, want, r.stderr)
	}
	if lines := strings.Split(strings.TrimSpace(r.stderr), "\n"); len(lines) != 1 || !strings.Contains(r.stderr, msg) {
		t.Errorf("stderr %q, want one line holding %q", r.stderr, msg)
	}
	if strings.Contains(r.stderr, "goroutine ") {
		t.Errorf("panic: %s", r.stderr)
	}
}

// fixture is a kd log with stacks, from the stacks package's test data.
func fixture(t *testing.T) string {
	t.Helper()
	return filepath.Join(root, "stacks", "testdata", "hits_x64.log")
}
