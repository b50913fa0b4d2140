package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/kdlaunch/kdlaunch/config"
	"github.com/kdlaunch/kdlaunch/exitcode"
	"github.com/kdlaunch/kdlaunch/lock"
	"github.com/kdlaunch/kdlaunch/outfile"
	"github.com/kdlaunch/kdlaunch/remote"
)

// runLocks are what one run holds so that a second cannot share its log
// (report would mix the two sessions) or its server pipe (the second
// client file would replace the first's password).
type runLocks []*lock.Lock

func (l runLocks) release() {
	for _, x := range l {
		x.Release()
	}
}

// lockRun takes the log's lock and, with a debugging server, the server's
// lock in the config folder. Another run's lock is a Busy exit naming its
// pid.
func lockRun(cfg *config.Config, logPath string, stderr io.Writer) (runLocks, error) {
	var held runLocks
	l, err := lock.Acquire(lock.LogFile(logPath))
	if err != nil {
		return nil, busy(err, fmt.Sprintf("log %s is being written by another kdlaunch run", logPath), "wait for it to finish, or give another --log")
	}
	held = append(held, l)
	if cfg.Server.Transport == "none" {
		return held, nil
	}
	path, err := serverLockFile(cfg.Server.Transport)
	if err != nil {
		held.release()
		return nil, err
	}
	if err := outfile.MkdirAll(filepath.Dir(path), 0o700, createdFolder(stderr)); err != nil {
		held.release()
		return nil, fmt.Errorf("server lock %s: %w", path, err)
	}
	l, err = lock.Acquire(path)
	if err != nil {
		held.release()
		return nil, busy(err, fmt.Sprintf("kd's debugging server %s is already run by another kdlaunch", cfg.Server.Transport), "stop that run, or give another --pipe")
	}
	return append(held, l), nil
}

// busy turns a lock's BusyError into the one line the user sees.
func busy(err error, what, todo string) error {
	var be *lock.BusyError
	if !errors.As(err, &be) {
		return err
	}
	who := ""
	if be.PID != 0 {
		who = fmt.Sprintf(" (pid %d)", be.PID)
	}
	return &ExitError{Code: exitcode.Busy, Err: fmt.Errorf("%s%s: %s", what, who, todo)}
}

// serverID names a server transport by its pipe or port.
func serverID(transport string) string {
	id := remote.Param(transport, "pipe")
	if id == "" {
		id = remote.Param(transport, "port")
	}
	return id
}

// serverLockFile is the lock of one server pipe or port, in the config
// folder beside its client file. Pipe names are case-insensitive on
// Windows, so the lock's name is too.
func serverLockFile(transport string) (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the config folder for the server's lock: %w", err)
	}
	id := serverID(transport)
	if runtime.GOOS == "windows" {
		id = strings.ToLower(id)
	}
	kind, _, _ := strings.Cut(transport, ":")
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, strings.ToLower(kind)+"-"+id)
	return filepath.Join(dir, "kdlaunch", "server-"+name+".lock"), nil
}
