// Package lock keeps two kdlaunch runs apart: an OS file lock, held for the
// whole run, on a lock file that names the holder's pid. The OS drops the
// lock when the holder exits, however it exits, so a lock is never stale.
package lock

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// BusyError says that another process holds a lock.
type BusyError struct {
	Path string // the lock file
	PID  int    // the holder's pid, 0 if its lock file does not say
}

func (e *BusyError) Error() string {
	if e.PID == 0 {
		return fmt.Sprintf("%s is held by another process", e.Path)
	}
	return fmt.Sprintf("%s is held by process %d", e.Path, e.PID)
}

// ErrBusy matches every *BusyError with errors.Is.
var ErrBusy = errors.New("lock held by another process")

func (e *BusyError) Is(target error) bool { return target == ErrBusy }

// Lock is a held lock.
type Lock struct {
	f *os.File
}

// Acquire takes the lock at path (creating the file, not its folder)
// without waiting, and writes this process's pid into it. A lock another
// process holds is a *BusyError naming that process's pid.
func Acquire(path string) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, unwrapPath(err))
	}
	ok, err := tryLock(f, true)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if !ok {
		pid := readPID(f)
		f.Close()
		return nil, &BusyError{Path: path, PID: pid}
	}
	// The pid is written only once the lock is ours, so a holder's file
	// always names the holder.
	err = f.Truncate(0)
	if err == nil {
		_, err = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	if err != nil {
		unlock(f)
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, unwrapPath(err))
	}
	return &Lock{f: f}, nil
}

// Release drops the lock. The file stays: removing it would let a process
// that opened it just before lock a file no one else can see.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := unlock(l.f)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}

// Held reports whether a process holds the lock at path, and its pid. A
// missing lock file is not held.
func Held(path string) (held bool, pid int, err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, 0, nil
	}
	if err != nil {
		return false, 0, unwrapPath(err)
	}
	defer f.Close()
	ok, err := tryLock(f, false)
	if err != nil {
		return false, 0, err
	}
	if ok {
		return false, 0, unlock(f)
	}
	return true, readPID(f), nil
}

func readPID(f *os.File) int {
	b, err := io.ReadAll(io.NewSectionReader(f, 0, 32))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// LogFile is the lock file of a kd log: next to it, so that every user and
// every config folder sees the same one. The log itself is not locked:
// Windows' mandatory locks would stop kd writing it.
func LogFile(log string) string { return log + ".lock" }

// LogHeld reports whether a kdlaunch run still writes log (it holds the
// log's lock), and that run's pid. `report --follow` uses it to say that
// the writer has finished.
func LogHeld(log string) (held bool, pid int, err error) { return Held(LogFile(log)) }
