package fakekd

// Tests of the built binary that work on every platform.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// The binary is built once per test run, into a directory TestMain removes.
var (
	buildOnce sync.Once
	buildDir  string
	builtBin  string
	buildErr  error
)

func buildFakekd(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not on PATH: cannot build cmd/fakekd")
	}
	buildOnce.Do(func() {
		if buildDir, buildErr = os.MkdirTemp("", "fakekd-test"); buildErr != nil {
			return
		}
		builtBin = filepath.Join(buildDir, "fakekd")
		if runtime.GOOS == "windows" {
			builtBin += ".exe"
		}
		out, err := exec.Command(goTool, "build", "-o", builtBin, "github.com/kdlaunch/kdlaunch/cmd/fakekd").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// TestBinaryOverPipes drives the binary the way kdlaunch drives kd.exe on
// Windows: stdin/stdout pipes, CRLF line ends, and (as the pipe fallback) a
// raw 0x03 byte as the break.
func TestBinaryOverPipes(t *testing.T) {
	bin := buildFakekd(t)
	statePath := filepath.Join(t.TempDir(), "state.json")
	cmd := exec.Command(bin, "-k", `com:pipe,port=\\.\pipe\com_1,resets=0,reconnect`)
	cmd.Env = append(os.Environ(), "FAKEKD_CONNECT_DELAY=20ms", "FAKEKD_HIT_INTERVAL=5ms",
		"FAKEKD_CRLF=1", "FAKEKD_STATE="+statePath)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out := newSyncBuf()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	pos := 0
	expect := func(text string) {
		t.Helper()
		deadline := time.After(waitLimit)
		for {
			s := out.String()
			if i := strings.Index(s[pos:], text); i >= 0 {
				pos += i + len(text)
				return
			}
			select {
			case <-out.notify:
			case <-deadline:
				t.Fatalf("timed out waiting for %q; output:\n%s", text, s[pos:])
			}
		}
	}
	send := func(s string) {
		t.Helper()
		if _, err := stdin.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}

	expect("Opened \\\\.\\pipe\\com_1\r\nWaiting to reconnect...\r\n")
	expect(establishedLine + "\r\n")
	expect(uptimeLine + "\r\n")
	send("\x03")
	expect("nt!DbgBreakPointWithStatus:\r\n")
	expect("kd> ")
	send("bp nt!MmAllocateSpecialPool \";kb;g\"\r\ng\r\n")
	expect("Breakpoint 0 hit\r\n")
	expect("Breakpoint 0 hit\r\n")
	send("\x03")
	expect("nt!DbgBreakPointWithStatus:\r\n")
	expect("kd> ")
	send("bc *\r\ng\r\n\x02\r\n")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, out.String())
	}
	data, err := os.ReadFile(statePath)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"target": "running"`, `"breakpoints": []`, `"commands_while_running": []`,
		`"empty_lines": 0`, `"exit_reason": "ctrl-b"`, `"transport": "pipe"`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("state lacks %s:\n%s", want, data)
		}
	}
	if s := out.String(); strings.Count(s, "\n") != strings.Count(s, "\r\n") {
		t.Errorf("bare LF with FAKEKD_CRLF=1")
	}
}
