//go:build !windows

package fakekd

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// ptyKd is the built fakekd running on a real pty, as kdlaunch runs it on
// Unix: a written 0x03 reaches it as SIGINT through the line discipline.
type ptyKd struct {
	t    *testing.T
	cmd  *exec.Cmd
	ptmx *os.File
	out  *syncBuf
	read chan struct{} // closed when the reader has hit EOF/EIO
	pos  int
}

func startPty(t *testing.T, bin string, env []string, args ...string) *ptyKd {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	ptmx, err := pty.Start(cmd)
	if err != nil {
		t.Fatalf("pty.Start: %v", err)
	}
	p := &ptyKd{t: t, cmd: cmd, ptmx: ptmx, out: newSyncBuf(), read: make(chan struct{})}
	go func() {
		defer close(p.read)
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			p.out.Write(buf[:n])
			if err != nil {
				return // EIO once the child has exited and the slave is closed
			}
		}
	}()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
		p.ptmx.Close()
		<-p.read
	})
	return p
}

// expect waits for text after the cursor, on output with the pty's CRLF
// line ends turned back into LF.
func (p *ptyKd) expect(text string) string {
	p.t.Helper()
	deadline := time.After(waitLimit)
	for {
		out := strings.ReplaceAll(p.out.String(), "\r\n", "\n")
		if i := strings.Index(out[p.pos:], text); i >= 0 {
			seg := out[p.pos : p.pos+i+len(text)]
			p.pos += i + len(text)
			return seg
		}
		select {
		case <-p.out.notify:
		case <-deadline:
			p.t.Fatalf("timed out waiting for %q; output after cursor:\n%s", text, out[p.pos:])
		}
	}
}

func (p *ptyKd) write(s string) {
	p.t.Helper()
	if _, err := p.ptmx.Write([]byte(s)); err != nil {
		p.t.Fatalf("write %q: %v", s, err)
	}
}

func TestBinaryOverPty(t *testing.T) {
	bin := buildFakekd(t)
	dir := t.TempDir()
	statePath := filepath.Join(dir, "state.json")
	logPath := filepath.Join(dir, "debug.log")
	p := startPty(t, bin, []string{
		"FAKEKD_CONNECT_DELAY=50ms",
		"FAKEKD_HIT_INTERVAL=10ms",
		"FAKEKD_STATE=" + statePath,
		"_NT_DEBUG_LOG_FILE_OPEN=" + logPath,
		`_NT_SYMBOL_PATH=SRV*c:\websymbols*`,
	}, "-server", "npipe:pipe=livedebug")

	p.expect(bannerLine + "\n" + copyrightLine + "\n")
	p.expect(waitingLine)
	p.expect("Kernel Debugger connection established")

	p.write("\x03") // the terminal's interrupt character: SIGINT for the fake
	p.expect(strings.Join(breakInBox, "\n") + "\nnt!DbgBreakPointWithStatus:\nfffff801`d1efb1b0 cc              int     3\n")
	p.expect(": kd> ")

	p.write(`bp nt!MmAllocateSpecialPool ";kb;g"` + "\r")
	p.expect(": kd> ")
	p.write("g\r")
	for range 3 {
		p.expect("Breakpoint 0 hit\nnt!MmAllocateSpecialPool:\n")
		p.expect(hdrKbNew + "\n00 ")
	}

	p.write("\x03")
	p.expect("nt!DbgBreakPointWithStatus:\n")
	p.expect(": kd> ")
	p.write("bc *\r")
	p.expect(": kd> ")
	p.write("g\r")
	p.write("\x02\r") // CTRL+B ENTER: leave kd, target running

	errc := make(chan error, 1)
	go func() { errc <- p.cmd.Wait() }()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("fakekd exit: %v\n%s", err, p.out.String())
		}
	case <-time.After(waitLimit):
		t.Fatalf("fakekd did not exit on CTRL+B; output:\n%s", p.out.String())
	}

	data, err := os.ReadFile(statePath)
	if err != nil {
		t.Fatal(err)
	}
	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	if st.Target != targetRunning || len(st.Breakpoints) != 0 || len(st.CommandsWhileRunning) != 0 ||
		st.ExitReason != "ctrl-b" || st.Hits < 3 || st.BreaksReceived != 2 || st.BreaksWhileHalted != 0 ||
		st.Server != "npipe:pipe=livedebug" || st.Env["_NT_DEBUG_LOG_FILE_OPEN"] != logPath {
		t.Errorf("state:\n%s", data)
	}

	logData, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	log := string(logData)
	for _, want := range []string{
		bannerLine + "\n",
		"Opened log file '" + logPath + "'\n",
		"0: <debugger> -remote npipe:Pipe=livedebug,Server=",
		"Symbol search path is: SRV*c:\\websymbols*\n",
		`kd> bp nt!MmAllocateSpecialPool ";kb;g"` + "\n",
		"kd> g\n",
		"kd> bc *\n",
		"Breakpoint 0 hit\n",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if strings.Contains(log, "\r") {
		t.Error("log has CR line ends without FAKEKD_CRLF")
	}
	if n := strings.Count(log, "Breakpoint 0 hit"); n != st.Hits {
		t.Errorf("log has %d hits, state %d", n, st.Hits)
	}
}

// A stop signal ends the process with exit_reason "signal", and the break
// handler is installed before the banner: an immediate SIGINT must not kill
// the fake.
func TestBinarySignals(t *testing.T) {
	bin := buildFakekd(t)
	statePath := filepath.Join(t.TempDir(), "state.json")
	p := startPty(t, bin, []string{"FAKEKD_NEVER_CONNECT=1", "FAKEKD_STATE=" + statePath})
	p.expect(waitingLine)
	p.write("\x03")
	p.expect("^C") // the terminal's echo; the fake prints nothing before a connection
	deadline := time.Now().Add(waitLimit)
	for {
		data, _ := os.ReadFile(statePath)
		if strings.Contains(string(data), `"breaks_before_connect": 1`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("break not recorded:\n%s", data)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := p.cmd.Wait()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != 128+int(syscall.SIGTERM) {
		t.Fatalf("exit: %v", err)
	}
	data, _ := os.ReadFile(statePath)
	if !strings.Contains(string(data), `"exit_reason": "signal"`) {
		t.Errorf("state:\n%s", data)
	}
}
