//go:build windows

package launcher

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"unicode/utf16"
	"unsafe"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/windows"

	"github.com/kdlaunch/kdlaunch/internal/vtlines"
)

// kd in a pseudo console (ConPTY): kd gets a real console, as it has when a
// person runs it, instead of redirected pipes (microsoft/WinDbg-Feedback
// issue 393: kd on redirected stdio with no target yet can exhaust the host's
// NonPaged pool). kdlaunch talks to the console through two pipes: what it
// writes is typed on the console's keyboard, what it reads is the console's
// screen as VT, which internal/vtlines turns back into kd's lines.
// docs/windows-console.md says why golang.org/x/sys/windows and not a
// library, and what each choice below rests on.

// The pseudo console's size. Wide enough that no kd line wraps (the longest
// are kb frames with long C++ symbols, a few hundred columns); a wrap that
// comes anyway is joined back by vtlines. The height only sets how often
// ConPTY scrolls.
const (
	conptyWidth  = 4096
	conptyHeight = 50
)

var procCreatePseudoConsole = windows.NewLazySystemDLL("kernel32.dll").NewProc("CreatePseudoConsole")

// pseudoConsoleChoice decides, for this Windows, between a pseudo console and
// pipes (chooseConsole, table-tested on every platform).
func pseudoConsoleChoice(mode ConsoleMode) (consoleChoice, error) {
	build := windows.RtlGetVersion().BuildNumber
	return chooseConsole(mode, build, procCreatePseudoConsole.Find() == nil)
}

type conptyProc struct {
	log   hclog.Logger
	pid   int
	proc  windows.Handle // kd's process handle, until Close
	job   killJob
	hpc   windows.Handle
	in    *os.File // typed into the console
	out   *os.File // the console's VT output
	vt    *vtlines.Reader
	chain *conptyBreak

	mu         sync.Mutex
	consoleOut bool // ClosePseudoConsole done

	exited chan struct{} // closed by reap once kd is gone and the console closed
	status ExitStatus

	closeOnce sync.Once
	closeErr  error
}

// startPseudo starts kd attached to a new pseudo console, suspended, puts it
// in a kill-on-close Job Object, and only then lets it run: unlike pipes
// mode (os/exec), no instant of kd's life is outside the job.
func startPseudo(spec Spec, log hclog.Logger) (Proc, error) {
	path, err := absExecutable(spec.Path)
	if err != nil {
		return nil, err
	}
	cmdline, err := windows.UTF16PtrFromString(windows.ComposeCommandLine(append([]string{path}, spec.Args...)))
	if err != nil {
		return nil, fmt.Errorf("start %s: command line: %w", path, err)
	}
	app, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", path, err)
	}
	env := spec.Env
	if env == nil {
		env = os.Environ()
	}
	block, err := envBlock(env)
	if err != nil {
		return nil, fmt.Errorf("start %s: environment: %w", path, err)
	}
	var dir *uint16
	if spec.Dir != "" {
		if dir, err = windows.UTF16PtrFromString(spec.Dir); err != nil {
			return nil, fmt.Errorf("start %s: directory: %w", path, err)
		}
	}

	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("pseudo console input pipe: %w", err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		_, _ = inR.Close(), inW.Close()
		return nil, fmt.Errorf("pseudo console output pipe: %w", err)
	}
	var hpc windows.Handle
	err = windows.CreatePseudoConsole(windows.Coord{X: conptyWidth, Y: conptyHeight},
		windows.Handle(inR.Fd()), windows.Handle(outW.Fd()), 0, &hpc)
	// The console holds its own duplicates; ours would keep the output
	// from ever ending.
	_, _ = inR.Close(), outW.Close()
	if err != nil {
		_, _ = inW.Close(), outR.Close()
		return nil, fmt.Errorf("CreatePseudoConsole: %w", err)
	}
	fail := func(err error) (Proc, error) {
		// ClosePseudoConsole may write a last frame: let it go nowhere.
		_ = outR.Close()
		windows.ClosePseudoConsole(hpc)
		_ = inW.Close()
		return nil, err
	}

	attrs, err := windows.NewProcThreadAttributeList(1)
	if err != nil {
		return fail(fmt.Errorf("start %s: attribute list: %w", path, err))
	}
	defer attrs.Delete()
	// The attribute's value is the HPCON itself, not a pointer to it.
	if err := attrs.Update(windows.PROC_THREAD_ATTRIBUTE_PSEUDOCONSOLE,
		*(*unsafe.Pointer)(unsafe.Pointer(&hpc)), unsafe.Sizeof(hpc)); err != nil {
		return fail(fmt.Errorf("start %s: pseudo console attribute: %w", path, err))
	}
	si := &windows.StartupInfoEx{ProcThreadAttributeList: attrs.List()}
	si.Cb = uint32(unsafe.Sizeof(*si))
	// STARTF_USESTDHANDLES with no handles: kd must not inherit kdlaunch's
	// own standard handles (redirected ones would bypass the console); it
	// gets the pseudo console's.
	si.Flags = windows.STARTF_USESTDHANDLES

	job, jerr := newKillOnCloseJob()
	if jerr != nil {
		log.Warn("no Job Object for kd: if kdlaunch is killed, kd may survive it", "error", jerr)
		job = 0
	}
	// No CREATE_NEW_PROCESS_GROUP: it would disable CTRL+C in kd, and the
	// console's CTRL+C (a typed 0x03) is how kd is broken in here.
	flags := uint32(windows.EXTENDED_STARTUPINFO_PRESENT | windows.CREATE_UNICODE_ENVIRONMENT | windows.CREATE_SUSPENDED)
	var pi windows.ProcessInformation
	if err := windows.CreateProcess(app, cmdline, nil, nil, false, flags, &block[0], dir, &si.StartupInfo, &pi); err != nil {
		if job != 0 {
			_ = windows.CloseHandle(job)
		}
		return fail(fmt.Errorf("start %s: %w", path, err))
	}
	if job != 0 {
		if err := windows.AssignProcessToJobObject(job, pi.Process); err != nil {
			log.Warn("kd not in a Job Object: if kdlaunch is killed, kd may survive it", "pid", pi.ProcessId, "error", err)
			_ = windows.CloseHandle(job)
			job = 0
		}
	}
	if _, err := windows.ResumeThread(pi.Thread); err != nil {
		_ = windows.TerminateProcess(pi.Process, killExitCode)
		_ = windows.CloseHandle(pi.Thread)
		_ = windows.CloseHandle(pi.Process)
		if job != 0 {
			_ = windows.CloseHandle(job)
		}
		return fail(fmt.Errorf("start %s: ResumeThread: %w", path, err))
	}
	_ = windows.CloseHandle(pi.Thread)

	p := &conptyProc{
		log: log, pid: int(pi.ProcessId), proc: pi.Process, job: newKillJob(job),
		hpc: hpc, in: inW, out: outR, exited: make(chan struct{}),
	}
	p.vt = vtlines.NewReader(eofOnBrokenPipe{outR}, conptyWidth, conptyHeight)
	p.chain = &conptyBreak{log: log, pid: p.pid, console: inW, win32Input: p.vt.Win32InputMode}
	log.Debug("kd started in a pseudo console", "pid", p.pid, "path", path,
		"size", fmt.Sprintf("%dx%d", conptyWidth, conptyHeight), "job", job != 0)
	go p.reap()
	return p, nil
}

// reap waits for kd to exit, then closes the pseudo console: until then the
// console keeps its output pipe open and kd's output would never end.
// ClosePseudoConsole may block writing a last frame; the pump, which reads
// until the end of output, drains it.
func (p *conptyProc) reap() {
	defer close(p.exited)
	ev, err := windows.WaitForSingleObject(p.proc, windows.INFINITE)
	var code uint32
	switch {
	case err != nil || ev != windows.WAIT_OBJECT_0:
		p.status = ExitStatus{Code: -1, Err: fmt.Errorf("wait for kd (pid %d): %#x %v", p.pid, ev, err)}
	default:
		if err := windows.GetExitCodeProcess(p.proc, &code); err != nil {
			p.status = ExitStatus{Code: -1, Err: fmt.Errorf("exit code of kd (pid %d): %w", p.pid, err)}
		} else {
			// The whole 32-bit value: an NTSTATUS such as 0xC0000005.
			p.status = ExitStatus{Code: int(code)}
		}
	}
	p.closeConsole()
}

func (p *conptyProc) closeConsole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.consoleOut {
		windows.ClosePseudoConsole(p.hpc)
		p.consoleOut = true
	}
}

func (p *conptyProc) Output() io.Reader           { return p.vt }
func (p *conptyProc) Write(b []byte) (int, error) { return p.in.Write(b) }

// Newline is the console's Enter key. "\r\n" would also type a Ctrl+J, which
// a console hands kd as one more (empty) line, and kd repeats its last
// command on an empty line.
func (p *conptyProc) Newline() string { return "\r" }
func (p *conptyProc) Pid() int        { return p.pid }

func (p *conptyProc) Interrupt(attempt int) error { return p.chain.interrupt(attempt) }

func (p *conptyProc) Wait() ExitStatus {
	<-p.exited
	return p.status
}

// Kill terminates the Job Object (kd and whatever it started), or kd alone
// without one.
func (p *conptyProc) Kill() error {
	if p.job.terminate(p.log) {
		return nil
	}
	select {
	case <-p.exited:
		return nil
	default:
	}
	if err := windows.TerminateProcess(p.proc, killExitCode); err != nil && !errors.Is(err, windows.ERROR_ACCESS_DENIED) {
		return fmt.Errorf("kill kd (pid %d): %w", p.pid, err)
	}
	return nil
}

// Close closes the console's input, the Job Object (which kills whatever is
// still in it), waits for kd to be gone and its console closed, and closes
// the output's read end.
func (p *conptyProc) Close() error {
	p.closeOnce.Do(func() {
		var errs []error
		if err := p.in.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
			errs = append(errs, err)
		}
		if err := p.job.close(); err != nil {
			errs = append(errs, err)
		}
		select {
		case <-p.exited:
		default:
			// No job (or it did not kill kd yet): end kd ourselves, or
			// reap never returns.
			_ = windows.TerminateProcess(p.proc, killExitCode)
			// A last frame nobody reads must not hold ClosePseudoConsole.
			_ = p.out.Close()
			<-p.exited
		}
		if err := p.out.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
			errs = append(errs, err)
		}
		if err := windows.CloseHandle(p.proc); err != nil {
			errs = append(errs, err)
		}
		p.closeErr = errors.Join(errs...)
	})
	return p.closeErr
}

// envBlock is CreateProcess's environment block: "K=V\0" each, then "\0".
// As os/exec does, a variable given twice keeps its last value (names are
// case-insensitive on Windows) and SYSTEMROOT is kept, without which
// programs fail in odd ways.
func envBlock(env []string) ([]uint16, error) {
	var list []string
	seen := map[string]int{}
	for _, kv := range env {
		if strings.IndexByte(kv, 0) >= 0 {
			return nil, fmt.Errorf("variable %q holds a NUL", kv)
		}
		name, _, ok := strings.Cut(kv[min(1, len(kv)):], "=") // "=C:=C:\" names start with '='
		if !ok {
			continue
		}
		key := strings.ToUpper(kv[:min(1, len(kv))] + name)
		if i, dup := seen[key]; dup {
			list[i] = kv
			continue
		}
		seen[key] = len(list)
		list = append(list, kv)
	}
	if _, ok := seen["SYSTEMROOT"]; !ok {
		if v, ok := os.LookupEnv("SYSTEMROOT"); ok {
			list = append(list, "SYSTEMROOT="+v)
		}
	}
	var block []uint16
	for _, kv := range list {
		block = append(block, utf16.Encode([]rune(kv))...)
		block = append(block, 0)
	}
	if len(block) == 0 {
		block = append(block, 0)
	}
	return append(block, 0), nil
}

// CheckConsole tells, before kd starts, whether mode can be had here: an
// error only for ConsolePseudo on a Windows without pseudo consoles.
func CheckConsole(mode ConsoleMode) error {
	_, err := pseudoConsoleChoice(mode)
	return err
}
