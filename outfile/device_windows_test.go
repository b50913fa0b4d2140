package outfile

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// NUL and CON are devices: written in place, never replaced by a rename
// (which would fail, or create a file named NUL).
func TestWriteNUL(t *testing.T) {
	dir := t.TempDir()
	wd, _ := os.Getwd()
	os.Chdir(dir)
	defer os.Chdir(wd)
	for _, name := range []string{"NUL", "nul"} {
		if err := Write(name, Options{Perm: 0o644}, func(w io.Writer) error { _, err := io.WriteString(w, "x"); return err }); err != nil {
			t.Errorf("Write(%s): %v", name, err)
		}
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*"))
	hidden, _ := filepath.Glob(filepath.Join(dir, ".*"))
	if len(left)+len(hidden) != 0 {
		t.Errorf("files left: %q %q", left, hidden)
	}
}
