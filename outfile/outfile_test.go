//go:build !windows

package outfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func text(s string) func(io.Writer) error {
	return func(w io.Writer) error { _, err := io.WriteString(w, s); return err }
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestWriteKinds(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) (out, want string) // want: the file holding the result
	}{
		{"missing", func(t *testing.T, dir string) (string, string) {
			p := filepath.Join(dir, "new.txt")
			return p, p
		}},
		{"missing folder", func(t *testing.T, dir string) (string, string) {
			p := filepath.Join(dir, "a", "b", "new.txt")
			return p, p
		}},
		{"regular", func(t *testing.T, dir string) (string, string) {
			p := filepath.Join(dir, "old.txt")
			os.WriteFile(p, []byte("old old old"), 0o644)
			return p, p
		}},
		{"symlink", func(t *testing.T, dir string) (string, string) {
			os.Mkdir(filepath.Join(dir, "real"), 0o755)
			target := filepath.Join(dir, "real", "t.txt")
			os.WriteFile(target, []byte("old"), 0o644)
			link := filepath.Join(dir, "link")
			if err := os.Symlink("real/t.txt", link); err != nil {
				t.Fatal(err)
			}
			return link, target
		}},
		{"dangling symlink", func(t *testing.T, dir string) (string, string) {
			link := filepath.Join(dir, "link")
			if err := os.Symlink(filepath.Join(dir, "to-be.txt"), link); err != nil {
				t.Fatal(err)
			}
			return link, filepath.Join(dir, "to-be.txt")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			out, want := tt.setup(t, dir)
			var created []string
			if err := Write(out, Options{Perm: 0o644, Created: func(d string) { created = append(created, d) }}, text("new")); err != nil {
				t.Fatalf("Write: %v", err)
			}
			if got := read(t, want); got != "new" {
				t.Errorf("%s holds %q, want %q", want, got, "new")
			}
			if fi, err := os.Lstat(out); err != nil {
				t.Fatal(err)
			} else if out != want && fi.Mode()&os.ModeSymlink == 0 {
				t.Errorf("%s is no longer a symlink", out)
			}
			if tt.name == "missing folder" && (len(created) != 1 || created[0] != filepath.Dir(out)) {
				t.Errorf("created %q, want one report of %s", created, filepath.Dir(out))
			}
			if tt.name != "missing folder" && len(created) != 0 {
				t.Errorf("created %q, want none", created)
			}
			left, _ := filepath.Glob(filepath.Join(filepath.Dir(want), ".*tmp*"))
			if len(left) != 0 {
				t.Errorf("temporary files left: %q", left)
			}
		})
	}
}

func TestWriteDevNull(t *testing.T) {
	before, err := os.Stat(os.DevNull)
	if err != nil {
		t.Skip(err)
	}
	if err := Write(os.DevNull, Options{Perm: 0o644}, text("x")); err != nil {
		t.Fatalf("Write(%s): %v", os.DevNull, err)
	}
	after, err := os.Stat(os.DevNull)
	if err != nil || !os.SameFile(before, after) || after.Mode()&os.ModeCharDevice == 0 {
		t.Errorf("%s was replaced: %v %v", os.DevNull, after.Mode(), err)
	}
}

func TestWriteFIFO(t *testing.T) {
	p := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Skip(err)
	}
	got := make(chan string, 1)
	go func() {
		f, err := os.Open(p)
		if err != nil {
			got <- err.Error()
			return
		}
		defer f.Close()
		b, _ := io.ReadAll(f)
		got <- string(b)
	}()
	if err := Write(p, Options{Perm: 0o644}, text("through the pipe")); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if s := <-got; s != "through the pipe" {
		t.Errorf("reader got %q", s)
	}
	if fi, err := os.Lstat(p); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the FIFO was replaced: %v %v", fi.Mode(), err)
	}
}

func TestWriteRefusals(t *testing.T) {
	dir := t.TempDir()
	if err := Write(dir, Options{Perm: 0o644}, text("x")); !errors.Is(err, ErrIsFolder) {
		t.Errorf("a folder: %v, want ErrIsFolder", err)
	}
	if err := Check(dir); !errors.Is(err, ErrIsFolder) {
		t.Errorf("Check(folder): %v, want ErrIsFolder", err)
	}
	file := filepath.Join(dir, "f")
	os.WriteFile(file, []byte("keep"), 0o644)
	if err := Check(filepath.Join(file, "x")); err == nil || !strings.Contains(err.Error(), "not a folder") {
		t.Errorf("under a file: %v", err)
	}
	if os.Geteuid() == 0 {
		t.Skip("root writes into a read-only folder")
	}
	ro := filepath.Join(dir, "ro")
	os.Mkdir(ro, 0o755)
	old := filepath.Join(ro, "old")
	os.WriteFile(old, []byte("keep"), 0o644)
	os.Chmod(ro, 0o555)
	t.Cleanup(func() { os.Chmod(ro, 0o755) })
	err := Write(old, Options{Perm: 0o644}, text("new"))
	if err == nil || !strings.Contains(err.Error(), "cannot create a file in") || strings.Contains(err.Error(), ".tmp") {
		t.Errorf("read-only folder: %v", err)
	}
	if got := read(t, old); got != "keep" {
		t.Errorf("the old file now holds %q", got)
	}
}

func TestWriteFailureKeepsOld(t *testing.T) {
	p := filepath.Join(t.TempDir(), "old")
	os.WriteFile(p, []byte("keep"), 0o640)
	boom := errors.New("boom")
	if err := Write(p, Options{Perm: 0o644}, func(io.Writer) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("err %v, want boom", err)
	}
	if got := read(t, p); got != "keep" {
		t.Errorf("holds %q after a failed write", got)
	}
}

func TestWriteModes(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "m")
	os.WriteFile(p, []byte("x"), 0o640)
	os.Chmod(p, 0o640)
	if err := Write(p, Options{Perm: 0o644}, text("y")); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o640 {
		t.Errorf("a replaced file's mode %v, want it kept (0640)", fi.Mode().Perm())
	}
	if err := Write(p, Options{Perm: 0o600}, text("secret")); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("a secret's mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestCheckInputs(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.log")
	os.WriteFile(in, []byte("log"), 0o644)
	sym := filepath.Join(dir, "sym")
	os.Symlink(in, sym)
	hard := filepath.Join(dir, "hard")
	if err := os.Link(in, hard); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other")
	tests := []struct {
		out  string
		want bool
	}{
		{in, true}, {filepath.Join(dir, ".", "in.log"), true}, {sym, true}, {hard, true}, {other, false}, {"-", false},
	}
	for _, tt := range tests {
		err := CheckInputs(tt.out, []string{"-", in})
		var ie *InputError
		if got := errors.As(err, &ie); got != tt.want {
			t.Errorf("CheckInputs(%s): %v, want refused=%v", tt.out, err, tt.want)
		}
	}
}
