//go:build !windows

package kdalike

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// The tests run kdalike as a process: this test binary under the name
// kdalike (testscript.Main installs it on PATH), fed through pipes, a
// break being SIGINT as on the pty.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"kdalike": Main})
}

func lookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func environ(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

func TestLoadDefaults(t *testing.T) {
	c, err := load(lookup(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.transport != "serial" || c.waits != 2 || c.connectDelay != 150*time.Millisecond || c.prompt != "mp" ||
		c.arch != "x64" || c.kernel != "legacy" || c.symbols != "full" || c.bugcheckCode != 0xc4 ||
		c.bugcheckAfterHits != 3 || c.reboots != 1 || c.exitCode != 3 || c.failedInserts != 0 {
		t.Errorf("defaults %+v", c)
	}
}

func TestLoadValues(t *testing.T) {
	env := map[string]string{
		"KDA_KERNEL": "segment-heap", "KDA_SYMBOLS": "export", "KDA_BUGCHECK": "arming", "KDA_BUGCHECK_CODE": "0xD5",
		"KDA_START_FAILURE": "kdnet", "KDA_START_FAILURE_TIMES": "2", "KDA_FAILED_INSERT": "always",
		"KDA_PERSON_BREAK_AFTER_HITS": "4", "KDA_FREE_EVERY": "3", "KDA_IGNORE_BREAKS": "-1", "KDA_CTRLB_DELAY": "never",
		"KDA_HIT_INTERVAL": "0s", "KDA_RESET_ON_CMD": "bp ",
	}
	c, err := load(lookup(env), environ(env))
	if err != nil {
		t.Fatal(err)
	}
	if c.kernel != "segment-heap" || c.symbols != "export" || c.bugcheck != "arming" || c.bugcheckCode != 0xd5 ||
		c.startFailure != "kdnet" || c.startFailureTimes != 2 || c.failedInserts != -1 || c.personBreakAtHits != 4 ||
		c.freeEvery != 3 || c.ignoreBreaks != -1 || c.ctrlbDelay != -1 || c.hitInterval != 0 || c.resetOnCmd != "bp " {
		t.Errorf("values %+v", c)
	}
}

// Every knob is strict: a malformed value (or a misspelt name) is an error
// that names it, where kdalike used to fall back to the default.
func TestLoadErrors(t *testing.T) {
	for k, v := range map[string]string{
		"KDA_TRANSPORT": "usb", "KDA_WAITS": "two", "KDA_CONNECT_DELAY": "soon", "KDA_HANDSHAKE": "yes",
		"KDA_INITIAL_DELAY": "-1s", "KDA_PROMPT": "fancy", "KDA_ARCH": "arm64", "KDA_KB": "kv",
		"KDA_HIT_INTERVAL": "20", "KDA_DBGPRINT": "2", "KDA_RACE": "both", "KDA_SELF_HALT": "-1",
		"KDA_EXIT_CODE": "x", "KDA_REBOOTS": "-1", "KDA_IGNORE_BREAKS": "-2", "KDA_CTRLB_DELAY": "later",
		"KDA_KERNEL": "win11", "KDA_SYMBOLS": "some", "KDA_BUGCHECK": "soon", "KDA_BUGCHECK_CODE": "0",
		"KDA_BUGCHECK_AFTER_HITS": "0", "KDA_START_FAILURE": "denied", "KDA_FAILED_INSERT": "sometimes",
		"KDA_PERSON_BREAK_AFTER_HITS": "-3", "KDA_FREE_EVERY": "often", "KDA_BURST": "1e3",
	} {
		env := map[string]string{k: v}
		_, err := load(lookup(env), environ(env))
		if err == nil || !strings.Contains(err.Error(), k) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s=%s: error %v", k, v, err)
		}
	}
	env := map[string]string{"KDA_BUGCHEK": "running", "KDA_WAITS": "x"}
	_, err := load(lookup(env), environ(env))
	if err == nil || !strings.Contains(err.Error(), "unknown knob KDA_BUGCHEK") || !strings.Contains(err.Error(), "KDA_WAITS") {
		t.Errorf("typo and bad value: %v", err)
	}
}

// The program: a bad knob is one line on stderr and exit 2.
func TestMainBadKnob(t *testing.T) {
	cmd := exec.Command(kdalikePath(t))
	cmd.Env = append(os.Environ(), "KDA_KERNEL=win11")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 ||
		strings.Count(string(out), "\n") != 1 || !strings.Contains(string(out), "KDA_KERNEL") {
		t.Errorf("exit %v, output %q", err, out)
	}
}

func kdalikePath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("kdalike")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// proc is one kdalike process driven through pipes.
type proc struct {
	t     *testing.T
	cmd   *exec.Cmd
	in    io.WriteCloser
	state string
	mu    sync.Mutex
	out   strings.Builder
	more  chan struct{}
	pos   int
	done  chan struct{}
}

func startKD(t *testing.T, env map[string]string, args ...string) *proc {
	t.Helper()
	dir := t.TempDir()
	p := &proc{t: t, state: filepath.Join(dir, "state.json"), more: make(chan struct{}, 1), done: make(chan struct{})}
	p.cmd = exec.Command(kdalikePath(t), args...)
	p.cmd.Env = append(os.Environ(), "KDA_STATE="+p.state, "KDA_CONNECT_DELAY=20ms", "KDA_WAITS=0", "KDA_HIT_INTERVAL=5ms")
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	var err error
	if p.in, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		r := bufio.NewReader(stdout)
		buf := make([]byte, 4096)
		for {
			n, err := r.Read(buf)
			p.mu.Lock()
			p.out.Write(buf[:n])
			p.mu.Unlock()
			select {
			case p.more <- struct{}{}:
			default:
			}
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		_ = p.cmd.Wait()
	})
	return p
}

func (p *proc) text() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// expect waits for s after the cursor and returns the text up to its end.
func (p *proc) expect(s string) string {
	p.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		out := p.text()
		if i := strings.Index(out[p.pos:], s); i >= 0 {
			seg := out[p.pos : p.pos+i+len(s)]
			p.pos += i + len(s)
			return seg
		}
		select {
		case <-p.more:
		case <-p.done:
			if !strings.Contains(p.text()[p.pos:], s) {
				p.t.Fatalf("kdalike ended without %q; after the cursor:\n%s", s, p.text()[p.pos:])
			}
		case <-deadline:
			p.t.Fatalf("no %q; after the cursor:\n%s", s, out[p.pos:])
		}
	}
}

func (p *proc) prompt() string { p.t.Helper(); return p.expect("kd> ") }

func (p *proc) send(l string) {
	p.t.Helper()
	if _, err := io.WriteString(p.in, l+"\n"); err != nil {
		p.t.Fatal(err)
	}
}

func (p *proc) brk() { _ = p.cmd.Process.Signal(syscall.SIGINT) }

// breakIn: the target has connected; break and wait for the prompt.
func (p *proc) breakIn() {
	p.t.Helper()
	p.expect("System Uptime")
	p.brk()
	p.expect("Break instruction exception")
	p.prompt()
}

func (p *proc) st() State {
	p.t.Helper()
	b, err := os.ReadFile(p.state)
	if err != nil {
		p.t.Fatal(err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		p.t.Fatalf("%v\n%s", err, b)
	}
	return s
}

func (p *proc) waitSt(what string, ok func(State) bool) State {
	p.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(p.state); err == nil {
			var s State
			if json.Unmarshal(b, &s) == nil && ok(s) {
				return s
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	p.t.Fatalf("state never reached %s:\n%s", what, p.text())
	return State{}
}

// What x, bp, bu, dd and bl answer for each kernel and kind of symbols.
func TestSymbolAnswers(t *testing.T) {
	tests := []struct {
		name          string
		env           map[string]string
		cmds          []string
		want, wantNot []string
		deferred      int
	}{
		{"legacy x", nil, []string{"x nt!MmAllocateSpecialPool"}, []string{"fffff801`1e7a2b30 nt!MmAllocateSpecialPool"}, nil, 0},
		{"segment heap: no MmAllocateSpecialPool", map[string]string{"KDA_KERNEL": "segment-heap"},
			[]string{"x nt!MmAllocateSpecialPool"}, nil, []string{"fffff801"}, 0},
		{"segment heap: allocator", map[string]string{"KDA_KERNEL": "segment-heap"},
			[]string{"x nt!ExAllocateHeapSpecialPool"}, []string{"nt!ExAllocateHeapSpecialPool"}, nil, 0},
		{"segment heap: free routine", map[string]string{"KDA_KERNEL": "segment-heap"},
			[]string{"x nt!ExpFreeHeapSpecialPool"}, []string{"nt!ExpFreeHeapSpecialPool"}, nil, 0},
		{"segment heap: bp deferred", map[string]string{"KDA_KERNEL": "segment-heap"},
			[]string{`bp nt!MmAllocateSpecialPool ";kb;g"`},
			[]string{"Bp expression 'nt!MmAllocateSpecialPool' could not be resolved, adding deferred bp"}, nil, 1},
		{"export symbols: bp deferred", map[string]string{"KDA_SYMBOLS": "export"},
			[]string{`bp nt!MmAllocateSpecialPool ";kb;g"`},
			[]string{"Defaulted to export symbols for ntkrnlmp.exe", "could not be resolved, adding deferred bp"}, nil, 1},
		{"export symbols: an export", map[string]string{"KDA_SYMBOLS": "export"},
			[]string{"x nt!ExAllocatePoolWithTag"}, []string{"nt!ExAllocatePoolWithTag (<no parameter info>)"}, nil, 0},
		{"export symbols: no variable", map[string]string{"KDA_SYMBOLS": "export"},
			[]string{"dd nt!MmSpecialPoolTag L1"}, []string{"Couldn't resolve error at 'nt!MmSpecialPoolTag L1'"}, nil, 0},
		{"no symbols", map[string]string{"KDA_SYMBOLS": "none"},
			[]string{"x nt!ExAllocatePoolWithTag"}, []string{"symbols could not be loaded for ntkrnlmp.exe"}, []string{"fffff801"}, 0},
		{"bu deferred silently", map[string]string{"KDA_SYMBOLS": "none"},
			[]string{`bu nt!MmAllocateSpecialPool ";kb;g"`}, nil, []string{"could not be resolved"}, 1},
		{"bl", map[string]string{"KDA_KERNEL": "segment-heap"},
			[]string{`bp nt!ExAllocateHeapSpecialPool ";kb;g"`, `bp nt!MmAllocateSpecialPool ";kb;g"`, "bl"},
			[]string{` 0 e Disable Clear  fffff801` + "`" + `1e83e988     0001 (0001) nt!ExAllocateHeapSpecialPool ";kb;g"`,
				" 1 eu Disable Clear  " + strings.Repeat(" ", 17) + `     0001 (0001) (nt!MmAllocateSpecialPool) ";kb;g"`}, nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := startKD(t, tt.env)
			p.breakIn()
			var answer string
			for _, c := range tt.cmds {
				p.send(c)
				answer = p.prompt()
			}
			for _, w := range tt.want {
				if !strings.Contains(answer, w) {
					t.Errorf("answer lacks %q:\n%s", w, answer)
				}
			}
			for _, w := range tt.wantNot {
				if strings.Contains(answer, w) {
					t.Errorf("answer has %q:\n%s", w, answer)
				}
			}
			if s := p.st(); len(s.Deferred) != tt.deferred || s.Kernel == "" || s.Symbols == "" {
				t.Errorf("state: deferred %q, kernel %q, symbols %q", s.Deferred, s.Kernel, s.Symbols)
			}
		})
	}
}

// A segment-heap kernel hits through ExAllocateHeapSpecialPool; a deferred
// bp never hits.
func TestSegmentHeapHits(t *testing.T) {
	p := startKD(t, map[string]string{"KDA_KERNEL": "segment-heap"})
	p.breakIn()
	p.send(`bp nt!MmAllocateSpecialPool ";kb;g"`)
	p.prompt()
	p.send("g")
	time.Sleep(50 * time.Millisecond) // ten hit intervals: a live breakpoint would have hit
	if s := p.st(); s.Hits != 0 {
		t.Fatalf("a deferred breakpoint hit %d times", s.Hits)
	}
	p.brk()
	p.prompt()
	p.send(`bp nt!ExAllocateHeapSpecialPool ";kb;g"`)
	p.prompt()
	p.send("g")
	hit := p.expect("nt!ExAllocatePoolWithTag+0x95")
	if !strings.Contains(hit, "Breakpoint 1 hit\nnt!ExAllocateHeapSpecialPool:\n") || !strings.Contains(hit, "nt!ExAllocateHeapPool+0x20e") {
		t.Errorf("hit:\n%s", hit)
	}
}

func TestBugCheck(t *testing.T) {
	arm := func(p *proc) {
		p.breakIn()
		p.send(`bp nt!MmAllocateSpecialPool ";kb;g"`)
		p.prompt()
		p.send("g")
	}
	tests := []struct {
		stage string
		drive func(p *proc)
	}{
		{"waiting", func(p *proc) {}},
		{"connected", func(p *proc) { p.expect("System Uptime"); p.brk() }},
		{"arming", arm},
		{"running", arm},
		{"stopping", func(p *proc) { arm(p); p.expect("Breakpoint 0 hit"); p.brk() }},
	}
	for _, tt := range tests {
		t.Run(tt.stage, func(t *testing.T) {
			t.Parallel()
			p := startKD(t, map[string]string{"KDA_BUGCHECK": tt.stage})
			tt.drive(p)
			got := p.expect("For analysis of this file, run !analyze -v\n")
			for _, w := range []string{"*** Fatal System Error: 0x000000c4\n", "(0x0000000000000062,0xFFFFB30E4C1D2A10,0xFFFFB30E4B0C1E30,0x0000000000000001)",
				"Break instruction exception - code 80000003 (first chance)", "A fatal system error has occurred.",
				"Debugger entered on first try; Bugcheck callbacks have not been invoked."} {
				if !strings.Contains(got, w) {
					t.Errorf("lacks %q:\n%s", w, got)
				}
			}
			if strings.Contains(got, "THIS IS NOT A BUG") {
				t.Error("the break-in box at a bug check")
			}
			p.prompt()
			p.send("kb")
			if kb := p.prompt(); !strings.Contains(kb, "nt!KeBugCheckEx+0x107") {
				t.Errorf("kb:\n%s", kb)
			}
			p.send("!analyze -v")
			if an := p.prompt(); !strings.Contains(an, "DRIVER_VERIFIER_DETECTED_VIOLATION (c4)") ||
				!strings.Contains(an, "BugCheck C4, {62, ffffb30e4c1d2a10, ffffb30e4b0c1e30, 1}") {
				t.Errorf("!analyze -v:\n%s", an)
			}
			s := p.st()
			if s.BugCheckCode != 0xc4 || s.BugCheckStage != tt.stage || s.Target != "halted" || s.GIntoBugCheck ||
				!slices.Equal(s.CommandsAfterBugCheck, []string{"kb", "!analyze -v"}) || len(s.BugCheckParams) != 4 {
				t.Errorf("state %+v", s)
			}
			p.send("g")
			s = p.waitSt("g into the bug check", func(s State) bool { return s.GIntoBugCheck })
			if s.Reboots != 1 || len(s.Safe()) == 0 {
				t.Errorf("after g: reboots %d, Safe %q", s.Reboots, s.Safe())
			}
		})
	}
}

func TestStartFailure(t *testing.T) {
	tests := []struct{ cause, conn, want string }{
		{"access-denied", "com:port=com2,baud=115200", "Could not start kernel debugging using com:port=com2,baud=115200 parameters, Win32 error 0n5\n    \"Access is denied.\"\n"},
		{"no-pipe", `com:pipe,port=\\.\pipe\vm1,resets=0,reconnect`, `Could not start kernel debugging using com:pipe,port=\\.\pipe\vm1,resets=0,reconnect parameters, Win32 error 0n2`},
		{"kdnet", "net:port=50001,key=1.2.3.4", "Win32 error 0n10048"},
	}
	for _, tt := range tests {
		t.Run(tt.cause, func(t *testing.T) {
			t.Parallel()
			p := startKD(t, map[string]string{"KDA_START_FAILURE": tt.cause}, "-k", tt.conn)
			p.expect(tt.want)
			<-p.done
			err := p.cmd.Wait()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Errorf("exit %v, want 1", err)
			}
			if s := p.st(); s.StartFailure != tt.cause || s.ExitReason != "start failed" || s.EverConnected {
				t.Errorf("state %+v", s)
			}
		})
	}
}

func TestFailedInsert(t *testing.T) {
	p := startKD(t, map[string]string{"KDA_FAILED_INSERT": "2"})
	p.breakIn()
	p.send(`bp nt!MmAllocateSpecialPool ";kb;g"`)
	p.prompt()
	for range 2 {
		p.send("g")
		got := p.prompt()
		if !strings.Contains(got, "Unable to insert breakpoint 0 at fffff801`1e7a2b30, Win32 error 0n299\n") ||
			!strings.Contains(got, "bp0 at fffff801`1e7a2b30 failed\n") {
			t.Errorf("answer to g:\n%s", got)
		}
	}
	if s := p.st(); s.Target != "halted" || s.GTyped != 2 || s.FailedInserts != 2 {
		t.Errorf("after two failed g's: %+v", s)
	}
	p.send("g")
	p.expect("Breakpoint 0 hit")
	if s := p.st(); s.GTyped != 3 || s.FailedInserts != 2 {
		t.Errorf("after the third g: %d g's, %d failed", s.GTyped, s.FailedInserts)
	}
}

func TestPersonBreak(t *testing.T) {
	p := startKD(t, map[string]string{"KDA_PERSON_BREAK_AFTER_HITS": "2"})
	p.breakIn()
	p.send(`bp nt!MmAllocateSpecialPool ";kb;g"`)
	p.prompt()
	p.send("g")
	p.expect("THIS IS NOT A BUG OR A SYSTEM CRASH")
	p.prompt()
	s := p.st()
	if s.PersonBreaks != 1 || len(s.Breaks) != 1 || s.Target != "halted" || s.PersonBreakResumed {
		t.Errorf("at the person's break: %+v", s)
	}
	p.send("r")
	p.prompt()
	p.send("g")
	s = p.waitSt("resumed", func(s State) bool { return s.PersonBreakResumed })
	if !slices.Equal(s.CommandsAtPersonBreak, []string{"r", "g"}) || s.PersonBreakResumedMs < 0 {
		t.Errorf("after the g: %+v", s)
	}
}

func TestPoolHitFrees(t *testing.T) {
	p := startKD(t, map[string]string{"KDA_FREE_EVERY": "2"})
	p.breakIn()
	p.send("ed nt!PoolHitTag 206b6444")
	p.prompt()
	for _, top := range []string{"nt!ExAllocatePoolWithTag+0x3a1", "nt!ExFreePoolWithTag+0x5f2", "nt!ExAllocatePoolWithTag+0x3a1", "nt!ExFreePoolWithTag+0x5f2"} {
		p.send("g")
		p.expect("Break instruction exception - code 80000003 (first chance)\n" + top + ":\n")
		p.prompt()
		p.send("kb")
		kb := p.prompt()
		if lines := strings.Split(kb, "\n"); len(lines) < 3 || !strings.HasSuffix(lines[1], " "+top) {
			t.Errorf("kb at %s:\n%s", top, kb)
		}
	}
	if s := p.st(); s.PoolHitAllocs != 2 || s.PoolHitFrees != 2 || s.Hits != 4 || s.PoolHitTag != 0x206b6444 {
		t.Errorf("state: %d allocs, %d frees, %d hits, tag %#x", s.PoolHitAllocs, s.PoolHitFrees, s.Hits, s.PoolHitTag)
	}
	p.send("ed nt!PoolHitTag 0")
	p.prompt()
	if s := p.st(); s.PoolHitTag != 0 {
		t.Errorf("tag %#x after ed 0", s.PoolHitTag)
	}
}

// FuzzLoad: any value of any knob loads or is refused with one line per
// knob, each naming it; a loaded config keeps every documented range.
func FuzzLoad(f *testing.F) {
	for _, s := range []string{"", "0", "1", "never", "always", "-1", "0xC4", "segment-heap", "150ms", "nonl"} {
		f.Add("KDA_CTRLB_DELAY", s)
		f.Add("KDA_FAILED_INSERT", s)
		f.Add("KDA_BUGCHECK_CODE", s)
		f.Add("KDA_IGNORE_BREAKS", s)
	}
	f.Fuzz(func(t *testing.T, name, val string) {
		if strings.ContainsAny(name, "=\x00") {
			return // not an environment variable name
		}
		env := map[string]string{name: val}
		c, err := load(lookup(env), environ(env))
		if err != nil {
			for _, l := range strings.Split(err.Error(), "\n") {
				if !strings.Contains(l, "KDA_") {
					t.Fatalf("error line names no knob: %q", l)
				}
			}
			return
		}
		if c.waits < 0 || c.connectDelay < 0 || c.hitInterval < 0 || c.ignoreBreaks < -1 || c.failedInserts < -1 ||
			c.bugcheckCode == 0 || c.bugcheckAfterHits < 1 || c.freeEvery < 0 || c.ctrlbDelay < -1 ||
			!slices.Contains([]string{"legacy", "segment-heap"}, c.kernel) || !slices.Contains([]string{"serial", "net", "pipe"}, c.transport) {
			t.Fatalf("%s=%q loaded out of range: %+v", name, val, c)
		}
	})
}
