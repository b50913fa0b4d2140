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
	if _, err := Open(filepath.Join(t.TempDir(), "no", "such", "dir", "t.log")); err == nil || !regexp.MustCompile(`open transcript`).MatchString(err.Error()) {
		t.Errorf("Open in a missing folder: %v", err)
	}
}
