package launcher

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// miniKD is an in-process kd: just enough of kd's behaviour to drive the
// session's reactions deterministically. The real fake kd (cmd/fakekd) is
// exercised by the integration tests.
type miniKD struct {
	mu        sync.Mutex
	pr        *io.PipeReader
	pw        *io.PipeWriter
	running   bool
	connected bool
	armed     bool
	lines     []string // every line typed
	whileRun  []string // lines typed while the target ran
	breaks    int
	ignore    int // breaks to ignore
	noEcho    bool
	// promptAfter: after "Break instruction exception" the rest of the
	// break-in text and the prompt come this late (kd loading symbols).
	promptAfter time.Duration
	halted      bool // stopped, prompt shown or on its way
	queued      int  // breaks that reached a stopped target
	// selfHaltOnBreak: the target stops by itself (int 3 in a driver) just
	// as a break is sent; kd queues the break, and the next g halts again.
	selfHaltOnBreak bool
	pendingBreak    bool
	noPromptFor     string // a command with this prefix gets no answer (the target was reset)...
	deaf            bool   // ...nor does anything after it, until the target reconnects
	exited          chan struct{}
	once            sync.Once
	hits            int
	failInserts     int // the next N g's with a breakpoint armed fail
	failedGs        int
	buf             strings.Builder
}

func newMiniKD() *miniKD { return &miniKD{} }

// open makes kd's output pipe. It runs inside the test's synctest bubble:
// a goroutine blocked on a pipe made outside it would keep the fake clock
// from advancing.
func (k *miniKD) open() {
	k.pr, k.pw = io.Pipe()
	k.exited = make(chan struct{})
}

func (k *miniKD) Output() io.Reader { return k.pr }
func (k *miniKD) Newline() string   { return "\r" }
func (k *miniKD) Pid() int          { return 4242 }
func (k *miniKD) Close() error      { return nil }
func (k *miniKD) Kill() error       { k.exit(); return nil }
func (k *miniKD) Wait() ExitStatus  { <-k.exited; return ExitStatus{} }

func (k *miniKD) exit() {
	k.once.Do(func() { close(k.exited); _ = k.pw.Close() })
}

func (k *miniKD) print(s string) { _, _ = k.pw.Write([]byte(s)) }

func (k *miniKD) connect() {
	k.mu.Lock()
	k.connected, k.running, k.halted, k.deaf = true, true, false, false
	k.mu.Unlock()
	k.print("Connected to Windows 10 19041 x64 target at (Wed Nov 25 22:01:02.051 2026 (UTC + 0:00)), ptr64 TRUE\nKernel Debugger connection established.\n")
}

func (k *miniKD) Interrupt(int) error {
	k.mu.Lock()
	k.breaks++
	if k.halted {
		k.queued++
		k.pendingBreak = true
	}
	if k.selfHaltOnBreak && k.running {
		k.selfHaltOnBreak = false
		k.running, k.halted = false, true
		k.queued++
		k.pendingBreak = true
		k.mu.Unlock()
		k.print("Break instruction exception - code 80000003 (first chance)\nDdkdrv!DdkCheck+0x3c:\n0: kd> ")
		return nil
	}
	if !k.connected || !k.running || k.ignore > 0 {
		if k.ignore > 0 {
			k.ignore--
		}
		k.mu.Unlock()
		return nil
	}
	k.running, k.halted = false, true
	delay := k.promptAfter
	k.mu.Unlock()
	go func() {
		k.print("Break instruction exception - code 80000003 (first chance)\n")
		time.Sleep(delay)
		k.print("nt!DbgBreakPointWithStatus:\n0: kd> ")
	}()
	return nil
}

// connectInitialBreak connects with "(Initial Breakpoint requested)" and
// halts by itself after delay.
func (k *miniKD) connectInitialBreak(delay time.Duration) {
	k.mu.Lock()
	k.connected, k.running = true, true
	k.mu.Unlock()
	k.print("Kernel Debugger connection established.  (Initial Breakpoint requested)\n")
	time.Sleep(delay)
	k.mu.Lock()
	k.running, k.halted = false, true
	k.mu.Unlock()
	k.print("Break instruction exception - code 80000003 (first chance)\nnt!DbgBreakPointWithStatus:\n0: kd> ")
}

func (k *miniKD) hit() {
	k.mu.Lock()
	ok := k.running && k.armed
	if ok {
		k.hits++
	}
	k.mu.Unlock()
	if ok {
		k.print("Breakpoint 0 hit\nnt!MmAllocateSpecialPool:\n # RetAddr           : Args to Child                                                           : Call Site\n00 fffff801`1e2a3b40 : 00000000`00000000 00000000`00000000 00000000`00000000 00000000`00000000 : nt!MmAllocateSpecialPool\n")
	}
}

// hitUntilExit hits every `every`, at most n times, and returns early once
// kd has exited; false means kd was still running after the n hits.
func (k *miniKD) hitUntilExit(n int, every time.Duration) bool {
	for i := 0; i < n; i++ {
		time.Sleep(every)
		k.hit()
		select {
		case <-k.exited:
			return true
		default:
		}
	}
	return false
}

func (k *miniKD) Write(b []byte) (int, error) {
	k.mu.Lock()
	k.buf.Write(b)
	s := k.buf.String()
	var cmds []string
	for {
		i := strings.IndexAny(s, "\r\n")
		if i < 0 {
			break
		}
		cmds = append(cmds, s[:i])
		s = s[i+1:]
	}
	k.buf.Reset()
	k.buf.WriteString(s)
	k.mu.Unlock()
	for _, c := range cmds {
		k.run(c)
	}
	return len(b), nil
}

func (k *miniKD) run(c string) {
	k.mu.Lock()
	k.lines = append(k.lines, c)
	if k.deaf || (k.noPromptFor != "" && strings.HasPrefix(c, k.noPromptFor)) {
		k.deaf = true
		k.mu.Unlock()
		return
	}
	if k.running {
		k.whileRun = append(k.whileRun, c)
		k.mu.Unlock()
		return
	}
	k.mu.Unlock()
	switch {
	case c == "\x02":
		k.exit()
	case c == "g" && k.failInserts > 0 && k.armed:
		// kd cannot write the breakpoint into the target: it says so and
		// stays at its prompt.
		k.mu.Lock()
		k.failInserts--
		k.failedGs++
		k.mu.Unlock()
		k.print("Unable to insert breakpoint 0 at fffff801`1e2a3b40, Win32 error 0n299\n    \"Only part of a ReadProcessMemory or WriteProcessMemory request was completed.\"\nbp0 at fffff801`1e2a3b40 failed\n0: kd> ")
	case c == "g":
		k.mu.Lock()
		k.running, k.halted = true, false
		again := k.pendingBreak
		if again {
			k.pendingBreak = false
			k.running, k.halted = false, true
		}
		k.mu.Unlock()
		if again {
			k.print("Break instruction exception - code 80000003 (first chance)\nnt!DbgBreakPointWithStatus:\n0: kd> ")
		}
	case strings.HasPrefix(c, "bp "):
		k.mu.Lock()
		k.armed = true
		k.mu.Unlock()
		k.print("0: kd> ")
	case c == "bl":
		k.mu.Lock()
		armed := k.armed
		k.mu.Unlock()
		if armed {
			k.print(" 0 e fffff801`1e2a3b40     0001 (0001) nt!MmAllocateSpecialPool \"kb;g\"\n")
		}
		k.print("0: kd> ")
	case c == "bc *":
		k.mu.Lock()
		k.armed = false
		k.mu.Unlock()
		k.print("0: kd> ")
	case strings.HasPrefix(c, ".echo ") && !k.noEcho:
		k.print(strings.TrimPrefix(c, ".echo ") + "\n0: kd> ")
	default:
		k.print(fmt.Sprintf("Couldn't resolve error at '%s'\n0: kd> ", c))
	}
}

func (k *miniKD) snapshot() (lines, whileRun []string, armed, running bool, breaks int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.lines...), append([]string(nil), k.whileRun...), k.armed, k.running, k.breaks
}
