package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kdlaunch/kdlaunch/exitcode"
	"github.com/kdlaunch/kdlaunch/launcher"
	"github.com/kdlaunch/kdlaunch/script"
)

const (
	blTwo = " 0 e fffff801`1e2a3b40     0001 (0001) nt!MmAllocateSpecialPool \"kb;g\"\n" +
		" 1 eu             0001 (0001) (nt!ExAllocateHeapSpecialPool)\n" +
		" 2 d fffff801`1e2a3c00     0001 (0001) mydrv!Alloc"
	ddDdk     = "fffff801`1e5c4b2c  206b6444"
	ddZero    = "fffff801`1e5c4b2c  00000000"
	ddDefault = "fffff801`1e5c4b2c  ffffff0f"
	ddNoSym   = "Couldn't resolve error at 'nt!PoolHitTag'"
)

func TestFoundLine(t *testing.T) {
	tests := []struct {
		name     string
		surveyed launcher.Answers
		want     string // "" : the target never reached a prompt
	}{
		{"nothing surveyed", nil, ""},
		{"nothing armed", launcher.Answers{"bl": "", script.PoolHitTagReadback: ddZero},
			"kdlaunch: found no breakpoint; nt!PoolHitTag 0 (no tag)"},
		{"the kernel's default", launcher.Answers{"bl": "", script.PoolHitTagReadback: ddDefault},
			"kdlaunch: found no breakpoint; nt!PoolHitTag 0xffffff0f (the kernel's default: no tag)"},
		{"breakpoints by id and expression, and the tag", launcher.Answers{"bl": blTwo, script.PoolHitTagReadback: ddDdk},
			`kdlaunch: found 3 breakpoints 0 nt!MmAllocateSpecialPool, 1 nt!ExAllocateHeapSpecialPool (deferred), 2 mydrv!Alloc (disabled); nt!PoolHitTag 0x206b6444 (tag "Ddk ": every allocation and free with it halts the target)`},
		{"one breakpoint", launcher.Answers{"bl": " 0 e fffff801`1e2a3b40     0001 (0001) nt!MmAllocateSpecialPool"},
			"kdlaunch: found 1 breakpoint 0 nt!MmAllocateSpecialPool"},
		{"no symbol for PoolHitTag", launcher.Answers{"bl": "", script.PoolHitTagReadback: ddNoSym},
			`kdlaunch: found no breakpoint; nt!PoolHitTag unreadable (kd: "Couldn't resolve error at 'nt!PoolHitTag'")`},
		{"not a tag", launcher.Answers{script.PoolHitTagReadback: "fffff801`1e5c4b2c  00000007"},
			"kdlaunch: found nt!PoolHitTag 0x00000007 (not a pool tag)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := foundLine(tt.surveyed)
			if ok != (tt.want != "") || got != tt.want {
				t.Errorf("foundLine = %q, %v\nwant       %q", got, ok, tt.want)
			}
		})
	}
}

func TestCheckHitTagCleared(t *testing.T) {
	tests := []struct {
		dd       string
		want     bool // an error
		read     bool
		exitCode int
	}{
		{ddZero, false, false, 0},
		{"1: kd> " + ddZero + "\r", false, false, 0},
		{ddDdk, true, true, exitcode.Failure},
		{ddDefault, true, true, exitcode.Failure},
		{ddNoSym, true, false, exitcode.Unresolved},
		{"fffff801`1e5c4b2c  ????????", true, false, exitcode.Unresolved},
		{"", true, false, exitcode.Unresolved},
	}
	for _, tt := range tests {
		err := checkHitTagCleared(tt.dd)
		if (err != nil) != tt.want {
			t.Errorf("%q: error %v, want one: %v", tt.dd, err, tt.want)
			continue
		}
		if err == nil {
			continue
		}
		var ce *ClearError
		if !errors.As(err, &ce) || ce.Read != tt.read {
			t.Errorf("%q: %#v, want a ClearError read=%v", tt.dd, err, tt.read)
		}
		// The run's exit code, as disarmResult gives it.
		got := disarmResult(&bytes.Buffer{}, &launcher.Stats{}, fmt.Errorf("session: %w", err), func(e error) error { return e })
		if c := codeOf(got); c != tt.exitCode {
			t.Errorf("%q: exit %d, want %d", tt.dd, c, tt.exitCode)
		}
		if !strings.Contains(err.Error(), "every breakpoint was cleared and the target resumed") {
			t.Errorf("%q: %q does not say what was done", tt.dd, err)
		}
	}
}

// disarmResult: the lines and exit codes of each way a disarm ends.
func TestDisarmResult(t *testing.T) {
	found := launcher.Answers{"bl": "", script.PoolHitTagReadback: ddDdk}
	tests := []struct {
		name   string
		stats  launcher.Stats
		err    error
		code   int
		stdout []string
	}{
		{"cleared", launcher.Stats{Surveyed: found, StoppedSafe: true}, nil, exitcode.OK,
			[]string{"kdlaunch: found no breakpoint; nt!PoolHitTag 0x206b6444", "kdlaunch: disarmed: every breakpoint cleared (bc *), nt!PoolHitTag set to 0"}},
		{"stopped before the target connected", launcher.Stats{StoppedSafe: true}, nil, exitcode.Failure, nil},
		{"a bug check at the break: left halted", launcher.Stats{Surveyed: found}, &launcher.BugCheckError{}, exitcode.HaltedBugCheck,
			[]string{"kdlaunch: found no breakpoint"}},
		{"someone holds the target", launcher.Stats{}, &launcher.PersonHaltError{}, exitcode.HaltedByPerson, nil},
		{"kd could not start", launcher.Stats{}, &script.StartError{}, exitcode.StartFailed, nil},
		{"a second Ctrl+C", launcher.Stats{Surveyed: found}, context.Canceled, exitcode.Interrupted, []string{"kdlaunch: found"}},
		{"kd kept exiting", launcher.Stats{}, &launcher.KDExitedError{Restarts: 5}, exitcode.Failure, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := disarmResult(&out, &tt.stats, tt.err, func(e error) error { return e })
			if c := codeOf(err); (err == nil && tt.code != 0) || (err != nil && c != tt.code) {
				t.Errorf("exit %d (%v), want %d", c, err, tt.code)
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if len(tt.stdout) == 0 && out.Len() != 0 {
				t.Errorf("stdout %q, want nothing", out.String())
			}
			for i, w := range tt.stdout {
				if i >= len(lines) || !strings.HasPrefix(lines[i], w) {
					t.Errorf("stdout line %d: %q, want it to start %q", i+1, out.String(), w)
				}
			}
			if tt.code == exitcode.OK && strings.Contains(out.String(), "kdlaunch: disarmed") != (tt.code == 0) {
				t.Errorf("disarmed said wrongly: %q", out.String())
			}
		})
	}
}

// disarm's config: run's, without a debugging server unless asked for.
func TestDisarmServerOnlyWhenAsked(t *testing.T) {
	dir := t.TempDir()
	withServer := filepath.Join(dir, "server.toml")
	without := filepath.Join(dir, "plain.toml")
	if err := os.WriteFile(withServer, []byte("[server]\ntransport = \"npipe:pipe=lab\"\n[kd]\nfresh_log = true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(without, []byte("[target]\nconnection = \"net:port=50000\"\nkey = \"1.2.3.4\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cmd  DisarmCmd
		want string
	}{
		{"no file, no flag", DisarmCmd{}, "none"},
		{"a file without [server]", DisarmCmd{KDFlags: KDFlags{Config: without}}, "none"},
		{"a file with [server]", DisarmCmd{KDFlags: KDFlags{Config: withServer}}, "npipe:pipe=lab"},
		{"--pipe", DisarmCmd{KDFlags: KDFlags{Pipe: "mine"}}, "npipe:pipe=mine"},
		{"--server", DisarmCmd{KDFlags: KDFlags{Server: "tcp:port=5005"}}, "tcp:port=5005"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := tt.cmd.load()
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Server.Transport != tt.want {
				t.Errorf("server %q, want %q", cfg.Server.Transport, tt.want)
			}
			if cfg.KD.FreshLog {
				t.Error("disarm would start the log afresh: it appends, always")
			}
		})
	}
}

// The plan types the survey, then the clearing, and arms nothing.
func TestDisarmPlan(t *testing.T) {
	p := disarmPlan()
	if !p.ClearOnly || len(p.Arm) != 0 || p.Allocators || len(p.Check) != 0 || len(p.Verify) != 0 {
		t.Fatalf("the plan arms something: %+v", p)
	}
	var got []string
	for _, c := range append(append([]launcher.Command(nil), p.Survey...), p.Disarm...) {
		got = append(got, c.Text)
	}
	if want := "bl|dd nt!PoolHitTag L1|ed nt!PoolHitTag 0|dd nt!PoolHitTag L1"; strings.Join(got, "|") != want {
		t.Errorf("plan %q, want %q", got, want)
	}
	judge := p.Disarm[len(p.Disarm)-1].Judge
	if _, err := judge(launcher.Answers{script.PoolHitTagReadback: ddZero}); err != nil {
		t.Errorf("a readback of 0: %v", err)
	}
	if _, err := judge(launcher.Answers{script.PoolHitTagReadback: ddDdk}); err == nil {
		t.Error("a readback of the tag passed")
	}
}

// Whatever kd answers, what the disarm found is one line, never a panic.
func FuzzFoundLine(f *testing.F) {
	f.Add(blTwo, ddDdk)
	f.Add("", ddNoSym)
	f.Add(" 7 eu 0001 (0001) (x)\r\n", "8055a5c0  206b6444\n1: kd> ")
	f.Fuzz(func(t *testing.T, bl, dd string) {
		line, ok := foundLine(launcher.Answers{"bl": bl, script.PoolHitTagReadback: dd})
		if !ok || !strings.HasPrefix(line, "kdlaunch: found ") {
			t.Fatalf("foundLine = %q, %v", line, ok)
		}
		if strings.ContainsAny(line, "\n\r") {
			t.Fatalf("more than one line: %q", line)
		}
	})
}
