package transcript

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

func TestTranscript(t *testing.T) {
	p := filepath.Join(t.TempDir(), "t.log")
	if err := os.WriteFile(p, []byte("earlier\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	w.now = func() time.Time { return time.Date(2026, 11, 25, 22, 1, 2, 3e6, time.UTC) }
	w.Output("Breakpoint 0 hit")
	w.Input("g")
	w.Event("state running")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	want := "earlier\n2026-11-25T22:01:02.003Z < Breakpoint 0 hit\n2026-11-25T22:01:02.003Z > g\n2026-11-25T22:01:02.003Z # state running\n"
	if string(b) != want {
		t.Errorf("got\n%s\nwant\n%s", b, want)
	}
	var nilW *Writer
	nilW.Output("x") // a nil transcript records nothing and does not crash
	if err := nilW.Close(); err != nil {
		t.Error(err)
	}
	// A new lab folder is created, like the log's.
	w, err = Open(filepath.Join(t.TempDir(), "new", "lab", "t.log"))
	if err != nil {
		t.Fatalf("Open in a new folder: %v", err)
	}
	w.Close()
	// A folder that cannot be made (its parent is a file) is an error.
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(filepath.Join(file, "dir", "t.log")); err == nil || !regexp.MustCompile(`open transcript`).MatchString(err.Error()) {
		t.Errorf("Open under a file: %v", err)
	}
}
