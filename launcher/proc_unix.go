//go:build !windows

package launcher

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"

	"github.com/creack/pty"
	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"
)

// On Unix kd (the fake, or kd.exe under Wine) runs on a pty: that is what
// makes the terminal's interrupt character a break-in, and a hangup of the pty
// when kdlaunch dies takes kd with it.
type ptyProc struct {
	cmd  *exec.Cmd
	ptmx *os.File
	log  hclog.Logger

	waitOnce sync.Once
	status   ExitStatus
}

// Start runs kd on a new pty, in its own session, set up so that what kd
// prints is exactly what it would print over pipes on Windows.
func Start(spec Spec, log hclog.Logger) (Proc, error) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("open pty: %w", err)
	}
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 50, Cols: 250}); err != nil {
		log.Debug("pty size not set", "error", err)
	}
	if err := setTermios(tty); err != nil {
		_ = ptmx.Close()
		_ = tty.Close()
		return nil, fmt.Errorf("set up pty for %s: %w", spec.Path, err)
	}
	cmd := exec.Command(spec.Path, spec.Args...)
	cmd.Env = spec.Env
	cmd.Dir = spec.Dir
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		_ = ptmx.Close()
		_ = tty.Close()
		return nil, fmt.Errorf("start %s: %w", spec.Path, err)
	}
	// The child holds its own copy; keeping ours would hide its hangup.
	_ = tty.Close()
	return &ptyProc{cmd: cmd, ptmx: ptmx, log: log}, nil
}

// setTermios turns echo off (kd over Windows pipes does not echo either),
// and sets NOFLSH: without it the interrupt character that breaks in also
// flushes the pty's queues, dropping kd output not yet read (a lost hit).
func setTermios(tty *os.File) error {
	t, err := unix.IoctlGetTermios(int(tty.Fd()), ioctlGetTermios)
	if err != nil {
		return err
	}
	t.Lflag &^= unix.ECHO | unix.ECHONL
	t.Lflag |= unix.NOFLSH | unix.ISIG
	return unix.IoctlSetTermios(int(tty.Fd()), ioctlSetTermios, t)
}

func (p *ptyProc) Output() io.Reader           { return eofOnEIO{p.ptmx} }
func (p *ptyProc) Write(b []byte) (int, error) { return p.ptmx.Write(b) }
func (p *ptyProc) Newline() string             { return "\r" }
func (p *ptyProc) Pid() int                    { return p.cmd.Process.Pid }

// Interrupt types the terminal's interrupt character (what CTRL+C on a
// keyboard does). A kd that put its terminal in raw mode would read it as a
// plain byte, so every other attempt signals kd's process group directly.
func (p *ptyProc) Interrupt(attempt int) error {
	if attempt%2 == 0 {
		p.log.Debug("break-in: interrupt character on the pty", "attempt", attempt+1)
		_, err := p.ptmx.Write([]byte{0x03})
		return err
	}
	p.log.Info("break-in: SIGINT to kd's process group", "attempt", attempt+1, "pid", p.Pid())
	return syscall.Kill(-p.Pid(), syscall.SIGINT)
}

func (p *ptyProc) Wait() ExitStatus {
	p.waitOnce.Do(func() {
		err := p.cmd.Wait()
		var ee *exec.ExitError
		switch {
		case err == nil:
			p.status = ExitStatus{Code: 0}
		case errors.As(err, &ee):
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				p.status = ExitStatus{Code: -1, Signaled: true}
			} else {
				p.status = ExitStatus{Code: ee.ExitCode()}
			}
		default:
			p.status = ExitStatus{Code: -1, Err: err}
		}
	})
	return p.status
}

func (p *ptyProc) Kill() error {
	if err := syscall.Kill(-p.Pid(), syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill kd (pid %d): %w", p.Pid(), err)
	}
	return nil
}

func (p *ptyProc) Close() error { return p.ptmx.Close() }

// Linux reports the end of a pty's output as EIO, not EOF (creack/pty #21).
type eofOnEIO struct{ r io.Reader }

func (e eofOnEIO) Read(b []byte) (int, error) {
	n, err := e.r.Read(b)
	if err != nil && (errors.Is(err, syscall.EIO) || errors.Is(err, os.ErrClosed)) {
		err = io.EOF
	}
	return n, err
}
