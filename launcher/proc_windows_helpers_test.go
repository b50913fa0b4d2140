//go:build windows

package launcher

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/windows"

	"github.com/kdlaunch/kdlaunch/fakekd"
	"github.com/kdlaunch/kdlaunch/internal/wintest"
)

// Helpers of the Windows process tests: the fake kd's setup and state, a
// watcher of its output, and the break-in and exit steps.

func setupWindows(t *testing.T) string {
	t.Helper()
	note, err := wintest.EnsureConsole()
	if err != nil {
		t.Logf("console: %v (console control events will fail; the chain falls back to 0x03)", err)
	} else {
		t.Logf("platform: %s; %s", wintest.Platform(), note)
	}
	fake, err := wintest.Binary("fakekd")
	if err != nil {
		t.Skipf("fakekd.exe: %v", err)
	}
	return fake
}

// fakeState is fakekd's state file, declared once in fakekd.
type fakeState = fakekd.State

func readFakeState(t *testing.T, path string) fakeState {
	t.Helper()
	var s fakeState
	var err error
	// The fake replaces the file by rename; on Windows a reader can
	// briefly collide with that, so retry a little.
	for i := 0; i < 20; i++ {
		var data []byte
		if data, err = os.ReadFile(path); err == nil {
			if err = json.Unmarshal(data, &s); err == nil {
				return s
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("state file %s: %v", path, err)
	return s
}

// watcher collects kd's output so tests can wait for text in it.
type watcher struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	eof  bool
	more chan struct{}
}

func watch(r io.Reader) *watcher {
	w := &watcher{more: make(chan struct{}, 1)}
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := r.Read(b)
			w.mu.Lock()
			w.buf.Write(b[:n])
			if err != nil {
				w.eof = true
			}
			w.mu.Unlock()
			select {
			case w.more <- struct{}{}:
			default:
			}
			if err != nil {
				return
			}
		}
	}()
	return w
}

func (w *watcher) text() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func (w *watcher) len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Len()
}

// waitFor waits until re matches the output after offset `from` and returns
// the offset just past the match.
func (w *watcher) waitFor(t *testing.T, from int, re *regexp.Regexp, timeout time.Duration) int {
	t.Helper()
	end, ok := w.tryWait(from, re, timeout)
	if !ok {
		t.Fatalf("no %q in kd's output within %v; output after offset %d:\n%s", re, timeout, from, tail(w.text()[from:], 3000))
	}
	return end
}

func (w *watcher) tryWait(from int, re *regexp.Regexp, timeout time.Duration) (int, bool) {
	deadline := time.After(timeout)
	for {
		w.mu.Lock()
		s := w.buf.String()
		eof := w.eof
		w.mu.Unlock()
		if loc := re.FindStringIndex(s[from:]); loc != nil {
			return from + loc[1], true
		}
		if eof {
			return from, false
		}
		select {
		case <-w.more:
		case <-deadline:
			return from, false
		}
	}
}

func (w *watcher) waitEOF(timeout time.Duration) bool {
	deadline := time.After(timeout)
	for {
		w.mu.Lock()
		eof := w.eof
		w.mu.Unlock()
		if eof {
			return true
		}
		select {
		case <-w.more:
		case <-deadline:
			return false
		}
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// syncBuffer is a log sink the test can read while the logger writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
	t  *testing.T
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.t.Log(strings.TrimRight(string(p), "\n"))
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func testLogger(t *testing.T) (hclog.Logger, *syncBuffer) {
	sink := &syncBuffer{t: t}
	return hclog.New(&hclog.LoggerOptions{Name: "launcher", Output: sink, Level: hclog.Debug}), sink
}

var (
	reConnected = regexp.MustCompile(`Kernel Debugger connection established`)
	rePrompt    = regexp.MustCompile(`\d*:?\s*kd> $`)
	reBreakBox  = regexp.MustCompile(`Break instruction exception - code 80000003`)
	reHit       = regexp.MustCompile(`Breakpoint 0 hit`)
)

// breakIn runs Interrupt attempts until kd shows a prompt after a break.
func breakIn(t *testing.T, p Proc, w *watcher) int {
	t.Helper()
	from := w.len()
	for attempt := 0; attempt < 4; attempt++ {
		if err := p.Interrupt(attempt); err != nil {
			t.Logf("Interrupt(%d): %v", attempt, err)
		}
		if end, ok := w.tryWait(from, reBreakBox, 3*time.Second); ok {
			return w.waitFor(t, end, rePrompt, 5*time.Second)
		}
	}
	t.Fatalf("kd did not break in after 4 attempts; output:\n%s", tail(w.text()[from:], 3000))
	return 0
}

func send(t *testing.T, p Proc, line string) {
	t.Helper()
	if _, err := p.Write([]byte(line + p.Newline())); err != nil {
		t.Fatalf("write %q: %v", line, err)
	}
}

// waitExit waits for kd to exit, failing the test after timeout.
func waitExit(t *testing.T, p Proc, timeout time.Duration) ExitStatus {
	t.Helper()
	ch := make(chan ExitStatus, 1)
	go func() { ch <- p.Wait() }()
	select {
	case st := <-ch:
		return st
	case <-time.After(timeout):
		_ = p.Kill()
		t.Fatalf("kd (pid %d) still running after %v", p.Pid(), timeout)
		return ExitStatus{}
	}
}

// processGone reports whether pid has exited (or waits up to timeout for it).
func processGone(pid int, timeout time.Duration) (bool, error) {
	h, err := windows.OpenProcess(windows.SYNCHRONIZE|windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(pid))
	if err != nil {
		if err == windows.ERROR_INVALID_PARAMETER {
			return true, nil // no such process any more
		}
		return false, fmt.Errorf("OpenProcess(%d): %w", pid, err)
	}
	defer windows.CloseHandle(h)
	ev, err := windows.WaitForSingleObject(h, uint32(timeout/time.Millisecond))
	if err != nil {
		return false, err
	}
	return ev == windows.WAIT_OBJECT_0, nil
}

func fakeEnv(state string, extra ...string) []string {
	env := append(os.Environ(),
		"FAKEKD_STATE="+state,
		"FAKEKD_CONNECT_DELAY=200ms",
		"FAKEKD_HIT_INTERVAL=40ms",
		"FAKEKD_CRLF=1",
	)
	return append(env, extra...)
}

// wineConsoleBreak is why the 0x03 break-in is not run under Wine.
const wineConsoleBreak = "Wine 8.0: a CTRL+C typed into a pseudo console ends the Go program on it " +
	"(exit code 0, whatever its console mode or handlers), so the fake cannot take a 0x03 break there; Windows runs this"

	// TestWindowsFakeKDSession walks one whole kd session through the process
	// layer, on pipes and in a pseudo console: start, connection, break-in, the
	// breakpoint script, hits, a second break, the safe stop (bc *, g, CTRL+B
	// ENTER) and kd's exit.
