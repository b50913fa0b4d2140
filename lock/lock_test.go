package lock

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestAcquireHeldRelease(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.lock")
	if held, _, err := Held(p); held || err != nil {
		t.Fatalf("a missing lock file: held %v, %v", held, err)
	}
	l, err := Acquire(p)
	if err != nil {
		t.Fatal(err)
	}
	held, pid, err := Held(p)
	if !held || pid != os.Getpid() || err != nil {
		t.Errorf("held %v pid %d err %v, want held by %d", held, pid, err, os.Getpid())
	}
	_, err = Acquire(p)
	var be *BusyError
	if !errors.As(err, &be) || be.PID != os.Getpid() || !errors.Is(err, ErrBusy) {
		t.Errorf("second Acquire: %v, want a BusyError naming pid %d", err, os.Getpid())
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if held, _, err := Held(p); held || err != nil {
		t.Errorf("after Release: held %v, %v", held, err)
	}
	l2, err := Acquire(p)
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	l2.Release()
	if err := l2.Release(); err != nil {
		t.Errorf("a second Release: %v", err)
	}
}

func TestAcquireMissingFolder(t *testing.T) {
	if _, err := Acquire(filepath.Join(t.TempDir(), "no", "x.lock")); err == nil {
		t.Error("Acquire in a missing folder succeeded")
	}
}

func TestLogHeld(t *testing.T) {
	log := filepath.Join(t.TempDir(), "debug.log")
	if held, _, _ := LogHeld(log); held {
		t.Error("a log no one locked is held")
	}
	l, err := Acquire(LogFile(log))
	if err != nil {
		t.Fatal(err)
	}
	if held, pid, _ := LogHeld(log); !held || pid != os.Getpid() {
		t.Errorf("LogHeld: %v %d", held, pid)
	}
	l.Release()
	if held, _, _ := LogHeld(log); held {
		t.Error("held after Release")
	}
}
