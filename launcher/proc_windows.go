//go:build windows

package launcher

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"unsafe"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/windows"
)

// Start runs kd in a pseudo console where Windows has one (conpty_windows.go),
// else, or with spec.Console == ConsolePipes, on pipes (startPipes), with a
// warning: kd on redirected pipes is the mode of microsoft/WinDbg-Feedback
// issue 393. A pseudo console that fails to start falls back to pipes unless
// it was asked for by name.
func Start(spec Spec, log hclog.Logger) (Proc, error) {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	choice, err := pseudoConsoleChoice(spec.Console)
	if err != nil {
		return nil, err
	}
	if choice.pseudo {
		p, err := startPseudo(spec, log)
		if err == nil || spec.Console == ConsolePseudo {
			return p, err
		}
		log.Warn("kd: no pseudo console; starting it on pipes", "error", err)
		choice.warn = PipesRisk
	}
	if choice.warn != "" {
		log.Warn(choice.warn)
	}
	return startPipes(spec, log)
}

// On pipes kd runs on plain anonymous pipes, in a process group of its own
// so that CTRL+BREAK can be aimed at it, on kdlaunch's own console (so that
// GenerateConsoleCtrlEvent reaches it), and inside a Job Object that kills it
// when kdlaunch goes away, however that happens.
type winProc struct {
	cmd   *exec.Cmd
	stdin *os.File // write end of kd's stdin
	out   *os.File // read end of kd's stdout+stderr
	job   killJob
	log   hclog.Logger
	chain *breakChain

	waitOnce  sync.Once
	status    ExitStatus
	closeOnce sync.Once
	closeErr  error
}

// startPipes runs kd with its input and (merged) output on pipes, in a new
// process group, and puts it in a kill-on-close Job Object.
//
// The Job Object is assigned right after CreateProcess returns: Go's os/exec
// has no hook between creating the process and letting it run. In that window
// (microseconds) kd runs outside the job: a child it created then would escape
// the job, and if kdlaunch died exactly then kd would survive it. kd.exe starts
// no children at start-up, so the window only matters for wrappers such as the
// Store "kd.exe" app alias. Closing it would take CREATE_SUSPENDED plus a
// thread enumeration to resume the process, which Go does not offer either
// (the pseudo console path, which calls CreateProcess itself, has no such
// window).
func startPipes(spec Spec, log hclog.Logger) (Proc, error) {
	path, err := absExecutable(spec.Path)
	if err != nil {
		return nil, err
	}

	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("stdin pipe for kd: %w", err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		_ = inR.Close()
		_ = inW.Close()
		return nil, fmt.Errorf("stdout pipe for kd: %w", err)
	}
	closeAll := func() {
		for _, f := range []*os.File{inR, inW, outR, outW} {
			_ = f.Close()
		}
	}

	job, err := newKillOnCloseJob()
	if err != nil {
		// Not fatal: kd still runs, but nothing ties its life to ours.
		log.Warn("no Job Object for kd: if kdlaunch is killed, kd may survive it", "error", err)
		job = 0
	}

	// exec.Command quotes every argument (and the program path, spaces and
	// all) with syscall.EscapeArg, and passes the path as lpApplicationName.
	cmd := exec.Command(path, spec.Args...)
	cmd.Env = spec.Env // nil: kdlaunch's own environment
	cmd.Dir = spec.Dir
	// One handle for stdout and stderr: kd's two streams arrive in the order
	// kd wrote them. Go passes only these handles to the child
	// (PROC_THREAD_ATTRIBUTE_HANDLE_LIST), so concurrent starts do not leak
	// pipe ends into each other.
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, outW
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// kd's pid becomes its process group id: the target of CTRL+BREAK.
		// The new group also has CTRL+C disabled, so a Ctrl+C typed at
		// kdlaunch reaches kdlaunch, not kd. No CREATE_NEW_CONSOLE: kd must
		// share kdlaunch's console for GenerateConsoleCtrlEvent to reach it.
		CreationFlags: windows.CREATE_NEW_PROCESS_GROUP,
	}
	if err := cmd.Start(); err != nil {
		closeAll()
		if job != 0 {
			_ = windows.CloseHandle(job)
		}
		return nil, fmt.Errorf("start %s: %w", path, err)
	}
	// The child has its own copies; keeping ours would hide kd's exit (no EOF).
	_ = inR.Close()
	_ = outW.Close()

	p := &winProc{cmd: cmd, stdin: inW, out: outR, job: newKillJob(job), log: log}
	p.chain = &breakChain{log: log, pid: cmd.Process.Pid, stdin: inW}
	if job != 0 {
		if err := assignToJob(job, cmd.Process.Pid); err != nil {
			// An empty job would make Kill a no-op: drop it, Kill then
			// terminates kd itself.
			log.Warn("kd not in a Job Object: if kdlaunch is killed, kd may survive it",
				"pid", cmd.Process.Pid, "error", err)
			_ = p.job.close()
		} else {
			log.Debug("kd started in a kill-on-close Job Object", "pid", cmd.Process.Pid, "path", path)
		}
	}
	return p, nil
}

// absExecutable makes spec.Path absolute: CreateProcess resolves a relative
// name against the current directory and the search path in ways that differ
// from Go's (and Wine refuses relative names outright).
func absExecutable(path string) (string, error) {
	if path == "" {
		return "", errors.New("start kd: no executable path")
	}
	if filepath.IsAbs(path) {
		return path, nil
	}
	if filepath.Base(path) == path {
		// A bare name: resolve it the way FindKD does.
		p, err := exec.LookPath(path)
		if err != nil {
			return "", fmt.Errorf("start kd: %w", err)
		}
		path = p
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("start kd: %w", err)
	}
	return abs, nil
}

func newKillOnCloseJob() (windows.Handle, error) {
	job, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		return 0, fmt.Errorf("CreateJobObject: %w", err)
	}
	info := windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION{}
	info.BasicLimitInformation.LimitFlags = windows.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
	if _, err := windows.SetInformationJobObject(job, windows.JobObjectExtendedLimitInformation,
		uintptr(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info))); err != nil {
		_ = windows.CloseHandle(job)
		return 0, fmt.Errorf("SetInformationJobObject(KILL_ON_JOB_CLOSE): %w", err)
	}
	return job, nil
}

func assignToJob(job windows.Handle, pid int) error {
	h, err := windows.OpenProcess(windows.PROCESS_SET_QUOTA|windows.PROCESS_TERMINATE, false, uint32(pid))
	if err != nil {
		return fmt.Errorf("OpenProcess: %w", err)
	}
	defer func() { _ = windows.CloseHandle(h) }()
	if err := windows.AssignProcessToJobObject(job, h); err != nil {
		return fmt.Errorf("AssignProcessToJobObject: %w", err)
	}
	return nil
}

func (p *winProc) Output() io.Reader           { return eofOnBrokenPipe{p.out} }
func (p *winProc) Write(b []byte) (int, error) { return p.stdin.Write(b) }
func (p *winProc) Newline() string             { return "\r\n" }
func (p *winProc) Pid() int                    { return p.cmd.Process.Pid }

// Interrupt is one step of the break-in fallback chain (see interrupt_windows.go).
func (p *winProc) Interrupt(attempt int) error {
	return p.chain.interrupt(attempt)
}

func (p *winProc) Wait() ExitStatus {
	p.waitOnce.Do(func() {
		err := p.cmd.Wait()
		var ee *exec.ExitError
		switch {
		case err == nil:
			p.status = ExitStatus{Code: 0}
		case errors.As(err, &ee):
			// On Windows the exit code is the whole 32-bit value: an NTSTATUS
			// such as 0xC0000005 when kd crashed; formatExitCode shows it in hex.
			p.status = ExitStatus{Code: int(uint32(ee.ExitCode()))}
		default:
			p.status = ExitStatus{Code: -1, Err: err}
		}
	})
	return p.status
}

// killExitCode is what Kill makes kd (and anything it started) exit with:
// the same 1 that os.Process.Kill uses.
const killExitCode = 1

// Kill terminates the Job Object: kd and every process it started, at once.
// Without a job (assignment failed) it terminates kd alone.
func (p *winProc) Kill() error {
	if p.job.terminate(p.log) {
		return nil
	}
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill kd (pid %d): %w", p.Pid(), err)
	}
	return nil
}

// Close closes kd's input, the Job Object (which kills whatever is still in
// it: JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE) and the read end of kd's output.
func (p *winProc) Close() error {
	p.closeOnce.Do(func() {
		var errs []error
		if err := p.stdin.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
			errs = append(errs, err)
		}
		if err := p.job.close(); err != nil {
			errs = append(errs, err)
		}
		if err := p.out.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
			errs = append(errs, err)
		}
		p.closeErr = errors.Join(errs...)
	})
	return p.closeErr
}

// When the last writer of an anonymous pipe goes away ReadFile fails with
// ERROR_BROKEN_PIPE; Go's os.File already maps that to io.EOF, and a read on a
// pipe we closed ourselves reports os.ErrClosed: both are the end of output.
type eofOnBrokenPipe struct{ r io.Reader }

func (e eofOnBrokenPipe) Read(b []byte) (int, error) {
	n, err := e.r.Read(b)
	if err != nil && (errors.Is(err, windows.ERROR_BROKEN_PIPE) || errors.Is(err, os.ErrClosed)) {
		err = io.EOF
	}
	return n, err
}
