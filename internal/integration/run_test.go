//go:build !windows

package integration

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The main job, x86 and x64: break only after the connection, breakpoint and
// g at prompts only, hits counted exactly, a clean stop that leaves the
// target running with no breakpoint, and a log that holds every hit.
func TestRunMaxHits(t *testing.T) {
	short(t)
	tests := []struct {
		name string
		env  map[string]string
	}{
		{"x64 kb", map[string]string{"FAKEKD_ARCH": "x64"}},
		{"x64 kn crlf", map[string]string{"FAKEKD_ARCH": "x64", "FAKEKD_STACK_FORMAT": "kn", "FAKEKD_CRLF": "1"}},
		{"x86 kb", map[string]string{"FAKEKD_ARCH": "x86"}},
		{"x86 plain prompt noise", map[string]string{"FAKEKD_ARCH": "x86", "FAKEKD_PROMPT": "plain", "FAKEKD_NOISE": "1"}},
		{"kdnet", map[string]string{"FAKEKD_SEED": "7"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := []string{"--tag", "Ddk", "--max-hits", "40"}
			if tt.name == "kdnet" {
				args = append(args, "--connect", "net:port=50000,key=1.2.3.4")
			}
			r := start(t, tt.env, args...)
			if code := r.wait(t, 60*time.Second); code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, r.stdout.String(), r.stderr.String())
			}
			s := r.fake(t)
			assertSafe(t, s)
			if s.Hits < 40 {
				t.Errorf("fake kd saw %d hits, want at least 40", s.Hits)
			}
			if got := r.summaryHits(t); got != s.Hits {
				t.Errorf("summary says %d hits, fake kd made %d", got, s.Hits)
			}
			log := r.read(t, r.log)
			if got := strings.Count(log, "Breakpoint 0 hit"); got != s.Hits {
				t.Errorf("log holds %d hits, fake kd made %d", got, s.Hits)
			}
			// The script, in order, each at a prompt: the allocator probe,
			// the live check, the breakpoint, bl confirming it, g; the stop.
			want := []string{"x nt!MmAllocateSpecialPool", "dd nt!MmSpecialPoolTag L1", `bp nt!MmAllocateSpecialPool ";kb;g"`, "bl", "g", "bc *", "g"}
			got := withoutMarkers(s.Commands)
			if !hasSubsequence(got, want) {
				t.Errorf("commands %q, want in order %q", got, want)
			}
			if s.Env["_NT_DEBUG_LOG_FILE_APPEND"] != r.log || s.Env["_NT_DEBUG_LOG_FILE_OPEN"] != "" {
				t.Errorf("log env %v, want only _NT_DEBUG_LOG_FILE_APPEND=%s", s.Env, r.log)
			}
			if s.Env["_NT_SYMBOL_PATH"] == "" {
				t.Errorf("_NT_SYMBOL_PATH not set")
			}
			if !strings.Contains(r.stdout.String(), "kdlaunch report "+r.log) {
				t.Errorf("summary does not say what to run next:\n%s", r.stdout.String())
			}
			tr := r.read(t, r.transcript)
			if !regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z < Breakpoint 0 hit$`).MatchString(tr) {
				t.Errorf("transcript has no timestamped hit line:\n%.2000s", tr)
			}
			if !strings.Contains(tr, `> bp nt!MmAllocateSpecialPool ";kb;g"`) {
				t.Errorf("transcript does not record the breakpoint sent")
			}
		})
	}
}

func withoutMarkers(cmds []string) []string {
	var out []string
	for _, c := range cmds {
		if !strings.HasPrefix(c, ".echo KDLAUNCH_DONE_") {
			out = append(out, strings.TrimSpace(c))
		}
	}
	return out
}

func hasSubsequence(got, want []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

// An earlier log is never destroyed; --fresh-log asks for a new one.
func TestRunAppendsLog(t *testing.T) {
	short(t)
	r := start(t, nil, "--tag", "Ddk", "--max-hits", "5")
	if err := os.WriteFile(r.log, []byte("EARLIER SESSION\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code := r.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("exit %d: %s", code, r.stderr.String())
	}
	if log := r.read(t, r.log); !strings.HasPrefix(log, "EARLIER SESSION\n") || !strings.Contains(log, "Breakpoint 0 hit") {
		t.Errorf("log lost its earlier content or got no hits:\n%.500s", log)
	}
}

// Ctrl+C (SIGINT) and SIGTERM start the safe stop.
func TestRunSignalStopsSafely(t *testing.T) {
	short(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			r := start(t, nil, "--tag", "Ddk")
			r.waitFake(t, 30*time.Second, "5 hits", func(s fakeState) bool { return s.Hits >= 5 })
			interrupt(t, r, sig)
			if code := r.wait(t, 30*time.Second); code != 0 {
				t.Fatalf("exit %d\nstderr:\n%s", code, r.stderr.String())
			}
			s := r.fake(t)
			assertSafe(t, s)
			if got := r.summaryHits(t); got != s.Hits {
				t.Errorf("summary %d hits, fake %d", got, s.Hits)
			}
		})
	}
}

// --duration stops safely when it runs out.
func TestRunDuration(t *testing.T) {
	short(t)
	r := start(t, nil, "--tag", "Ddk", "--duration", "2s")
	if code := r.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit %d: %s", code, r.stderr.String())
	}
	assertSafe(t, r.fake(t))
}

// A target that is already halted (initial breakpoint) gets no break.
func TestRunInitialBreakNoExtraBreak(t *testing.T) {
	short(t)
	r := start(t, map[string]string{"FAKEKD_INITIAL_BREAK": "1"}, "--tag", "Ddk", "--max-hits", "5")
	if code := r.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit %d: %s", code, r.stderr.String())
	}
	s := r.fake(t)
	assertSafe(t, s)
}

// The live check warns, in one line naming special pool and both values,
// when the target's tag is not the configured one; the run goes on.
func TestRunLiveCheck(t *testing.T) {
	short(t)
	t.Run("match", func(t *testing.T) {
		r := start(t, map[string]string{"FAKEKD_SPECIAL_POOL_TAG": "0x206b6444"}, "--tag", "Ddk", "--max-hits", "3")
		if code := r.wait(t, 30*time.Second); code != 0 {
			t.Fatalf("exit %d: %s", code, r.stderr.String())
		}
		if strings.Contains(strings.ToLower(r.stderr.String()), "warning: special pool") {
			t.Errorf("warned although the tags match:\n%s", r.stderr.String())
		}
	})
	t.Run("differs", func(t *testing.T) {
		r := start(t, map[string]string{"FAKEKD_SPECIAL_POOL_TAG": "0x31676154"}, "--tag", "Ddk", "--max-hits", "3")
		if code := r.wait(t, 30*time.Second); code != 0 {
			t.Fatalf("exit %d: %s", code, r.stderr.String())
		}
		out := r.stderr.String()
		found := false
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "special pool") && strings.Contains(l, "0x31676154") && strings.Contains(l, "0x206b6444") {
				found = true
			}
		}
		if !found {
			t.Errorf("no one-line special pool warning with both values:\n%s", out)
		}
		assertSafe(t, r.fake(t))
	})
	// A kernel without nt!MmAllocateSpecialPool (nor the segment heap's
	// allocator): no breakpoint could hit, so the run ends (exit 5) with
	// nothing armed; the warning names the other recipes.
	t.Run("no symbol", func(t *testing.T) {
		r := start(t, map[string]string{"FAKEKD_MISSING_SYMBOLS": "nt!MmAllocateSpecialPool"}, "--tag", "Ddk", "--duration", "2s")
		if code := r.wait(t, 30*time.Second); code != 5 {
			t.Fatalf("exit %d, want 5: %s", code, r.stderr.String())
		}
		assertSafe(t, r.fake(t))
		if !strings.Contains(r.stderr.String(), "PoolHitTag") {
			t.Errorf("missing-symbol warning does not name the alternatives:\n%s", r.stderr.String())
		}
	})
}

// Bad input: one clear line on stderr, non-zero exit, no panic.
func TestRunBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	syntax := write("syntax.toml", "[kd]\nlog = \"a\"\n[target\ntag = 1\n")
	unknown := write("unknown.toml", "[kd]\nlgo = \"x\"\n")
	badDur := write("dur.toml", "[limits]\nduration = \"soon\"\n")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"kd not found", []string{"--kd", filepath.Join(dir, "nope", "kd.exe"), "--tag", "Ddk"}, "kd"},
		{"config syntax", []string{"--config", syntax, "--tag", "Ddk"}, "line 3"},
		{"unknown key", []string{"--config", unknown, "--tag", "Ddk"}, "kd.lgo"},
		{"bad duration flag", []string{"--tag", "Ddk", "--duration", "soon"}, "bad duration"},
		{"bad duration config", []string{"--config", badDur, "--tag", "Ddk"}, "bad duration"},
		{"log folder not writable", []string{"--tag", "Ddk", "--log", "/proc/kdlaunch/debug.log"}, "not writable"},
		{"missing config", []string{"--config", filepath.Join(dir, "missing.toml")}, "missing.toml"},
		{"bad tag", []string{"--tag", "Ddk;g"}, "tag"},
		{"long tag", []string{"--tag", "Ddkxx"}, "tag"},
		{"bad baud", []string{"--tag", "Ddk", "--port", "com1", "--baud", "12345"}, "baud"},
		{"connection with spaces", []string{"--tag", "Ddk", "--connect", "com:port=com1 -b"}, "connection"},
		{"command with newline", []string{"--tag", "Ddk", "--command", "bl\ng"}, "line break"},
		{"nothing to arm", []string{}, "--tag"},
		{"negative max hits", []string{"--tag", "Ddk", "--max-hits", "-3"}, "max-hits"},
		{"unknown strategy", []string{"--tag", "Ddk", "--strategy", "magic"}, "strategy"},
		{"quit command", []string{"--tag", "Ddk", "--command", "q"}, "quits kd"},
		{"empty flag", []string{"--tag", "Ddk", "--pipe", ""}, "--pipe is empty"},
		{"max rate not a number", []string{"--tag", "Ddk", "--max-rate", "NaN"}, "max_rate"},
		{"transcript folder", []string{"--tag", "Ddk", "--transcript", os.TempDir()}, "is a folder"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"run", "--kd", fakekdCmd}, tt.args...)
			if tt.name == "kd not found" {
				args = append([]string{"run"}, tt.args...)
			}
			if tt.name != "log folder not writable" {
				args = append(args, "--log", filepath.Join(t.TempDir(), "debug.log"))
			}
			cmd := execCmd(t, args...)
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if exitCode(err) == 0 {
				t.Fatalf("exit 0, want non-zero; stderr: %s", stderr.String())
			}
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			if len(lines) != 1 {
				t.Errorf("stderr has %d lines, want 1:\n%s", len(lines), stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr %q does not name %q", stderr.String(), tt.want)
			}
			if strings.Contains(stderr.String(), "panic") || strings.Contains(stderr.String(), "goroutine ") {
				t.Errorf("panic: %s", stderr.String())
			}
		})
	}
}

// A target that never connects, with --connect-timeout: one line on stderr
// that says what to check, a non-zero exit, and no kd left behind.
func TestRunConnectTimeout(t *testing.T) {
	short(t)
	r := start(t, map[string]string{"FAKEKD_NEVER_CONNECT": "1"}, "--tag", "Ddk", "--connect-timeout", "1s")
	if code := r.wait(t, 20*time.Second); code == 0 {
		t.Fatalf("exit 0, want non-zero; stderr: %s", r.stderr.String())
	}
	// kdlaunch's messages share stderr; the error is its last line, and
	// the only one about the timeout.
	lines := strings.Split(strings.TrimSpace(r.stderr.String()), "\n")
	last := lines[len(lines)-1]
	if strings.Count(r.stderr.String(), "did not connect") != 1 || !strings.Contains(last, "did not connect within 1s") || !strings.Contains(last, "bcdedit") {
		t.Errorf("stderr, want one line naming the timeout and what to check:\n%s", r.stderr.String())
	}
	if strings.Contains(r.stdout.String(), "kdlaunch report") {
		t.Errorf("the summary suggests a report of a log without hits:\n%s", r.stdout.String())
	}
	if pid := r.fake(t).Pid; !waitGone(pid, 5*time.Second) {
		t.Errorf("fake kd pid %d still running", pid)
	}
}
