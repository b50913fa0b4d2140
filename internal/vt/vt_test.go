package vt

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestEnableRefusesNonTerminals(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for name, w := range map[string]io.Writer{"buffer": &bytes.Buffer{}, "file": f} {
		if Enable(w) {
			t.Errorf("%s: Enable = true, want false (escapes would land in the file)", name)
		}
	}
}
