package redact

import (
	"errors"
	"io/fs"
	"testing"
)

func TestWrapMasksTextKeepsType(t *testing.T) {
	orig := &fs.PathError{Op: "open", Path: `C:\kd\s3cret\kd.exe`, Err: fs.ErrNotExist}
	err := New("s3cret").Wrap(orig)
	if got, want := err.Error(), `open C:\kd\***\kd.exe: file does not exist`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe != orig {
		t.Errorf("errors.As lost the *fs.PathError: %#v", err)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Error("errors.Is lost fs.ErrNotExist")
	}
	if New("x").Wrap(nil) != nil {
		t.Error("Wrap(nil) must be nil")
	}
	var none *Redactor
	if got := none.Wrap(errors.New("a s3cret")).Error(); got != "a s3cret" {
		t.Errorf("nil redactor changed the text: %q", got)
	}
}
