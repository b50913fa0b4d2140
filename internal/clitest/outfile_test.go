//go:build !windows

package clitest

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Every command that writes a file writes it the same way: regular files
// replaced atomically, symlinks followed, special files written in place.
func TestOutputPaths(t *testing.T) {
	commands := []struct {
		name string
		args func(out string) []string
		want string // in the written file
	}{
		{"report -o", func(out string) []string { return []string{"report", "-o", out, fixture(t)} }, "culprit"},
		{"target-setup -o", func(out string) []string { return []string{"target-setup", "--tag", "Ddk", "-o", out} }, "bcdedit"},
		{"tag --reg-file", func(out string) []string { return []string{"tag", "Ddk", "--reg-file", out} }, "\x00"},
	}
	kinds := []struct {
		name  string
		setup func(t *testing.T, dir string) (out, file string) // file: where the output lands
	}{
		{"regular", func(t *testing.T, dir string) (string, string) {
			p := filepath.Join(dir, "out")
			os.WriteFile(p, []byte("old"), 0o644)
			return p, p
		}},
		{"missing", func(t *testing.T, dir string) (string, string) { p := filepath.Join(dir, "out"); return p, p }},
		{"symlink", func(t *testing.T, dir string) (string, string) {
			os.Mkdir(filepath.Join(dir, "real"), 0o755)
			p := filepath.Join(dir, "real", "out")
			os.WriteFile(p, []byte("old"), 0o644)
			os.Symlink(p, filepath.Join(dir, "link"))
			return filepath.Join(dir, "link"), p
		}},
		{"dangling symlink", func(t *testing.T, dir string) (string, string) {
			p := filepath.Join(dir, "later")
			os.Symlink("later", filepath.Join(dir, "link"))
			return filepath.Join(dir, "link"), p
		}},
	}
	for _, c := range commands {
		for _, k := range kinds {
			t.Run(c.name+"/"+k.name, func(t *testing.T) {
				dir := t.TempDir()
				out, file := k.setup(t, dir)
				r := kd(t, dir, c.args(out)...)
				if r.code != 0 {
					t.Fatalf("exit %d: %s", r.code, r.stderr)
				}
				b, err := os.ReadFile(file)
				if err != nil || !strings.Contains(strings.ToLower(string(b)), c.want) {
					t.Errorf("%s: %v, %d bytes, want %q in it", file, err, len(b), c.want)
				}
				if out != file {
					if fi, err := os.Lstat(out); err != nil || fi.Mode()&os.ModeSymlink == 0 {
						t.Errorf("the symlink %s was replaced", out)
					}
				}
			})
		}
		t.Run(c.name+"/dev-null", func(t *testing.T) {
			before, err := os.Stat(os.DevNull)
			if err != nil {
				t.Skip(err)
			}
			r := kd(t, t.TempDir(), c.args(os.DevNull)...)
			after, _ := os.Stat(os.DevNull)
			if r.code != 0 || after.Mode()&os.ModeCharDevice == 0 || !os.SameFile(before, after) {
				t.Errorf("exit %d, %s is now %v: %s", r.code, os.DevNull, after.Mode(), r.stderr)
			}
		})
		t.Run(c.name+"/fifo", func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "fifo")
			if err := syscall.Mkfifo(p, 0o600); err != nil {
				t.Skip(err)
			}
			got := make(chan []byte, 1)
			go func() {
				f, err := os.Open(p)
				if err != nil {
					got <- nil
					return
				}
				defer f.Close()
				b, _ := io.ReadAll(f)
				got <- b
			}()
			r := kd(t, dir, c.args(p)...)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			if b := <-got; !strings.Contains(strings.ToLower(string(b)), c.want) {
				t.Errorf("the FIFO's reader got %d bytes", len(b))
			}
			if fi, err := os.Lstat(p); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
				t.Errorf("the FIFO was replaced")
			}
		})
		t.Run(c.name+"/folder", func(t *testing.T) {
			dir := t.TempDir()
			kd(t, dir, c.args(dir)...).oneLine(t, 1, "is a folder")
		})
		t.Run(c.name+"/read-only folder", func(t *testing.T) {
			if os.Geteuid() == 0 {
				t.Skip("root writes into a read-only folder")
			}
			dir := t.TempDir()
			ro := filepath.Join(dir, "ro")
			os.Mkdir(ro, 0o555)
			t.Cleanup(func() { os.Chmod(ro, 0o755) })
			kd(t, dir, c.args(filepath.Join(ro, "out"))...).oneLine(t, 1, "cannot create a file in "+ro)
		})
	}
}

// /dev/stdout is a magic link to whatever stdout is (here a pipe): the
// report goes there, as with any Unix tool.
func TestOutputDevStdout(t *testing.T) {
	if _, err := os.Stat("/dev/stdout"); err != nil {
		t.Skip(err)
	}
	r := kd(t, t.TempDir(), "report", "--format", "json", "-o", "/dev/stdout", fixture(t))
	if r.code != 0 || !strings.Contains(r.stdout, `"stacks_total"`) {
		t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

// An output that is an input, by any name, is refused and the input kept.
func TestOutputIsInput(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "debug.log")
	orig, _ := os.ReadFile(fixture(t))
	os.WriteFile(log, orig, 0o644)
	os.Symlink(log, filepath.Join(dir, "sym.log"))
	if err := os.Link(log, filepath.Join(dir, "hard.log")); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{log, "sym.log", "hard.log", "./debug.log"} {
		kd(t, dir, "report", "-o", out, log).oneLine(t, 1, "refusing to overwrite it")
		if b, _ := os.ReadFile(log); string(b) != string(orig) {
			t.Fatalf("-o %s changed the log", out)
		}
	}
	cfg := filepath.Join(dir, "lab.toml")
	os.WriteFile(cfg, []byte("[target]\ntag = \"Ddk\"\n"), 0o644)
	kd(t, dir, "target-setup", "--config", cfg, "-o", cfg).oneLine(t, 1, "refusing to overwrite it")
}

// The folder rule: a missing folder for a file kdlaunch writes is created,
// with one line that says so.
func TestOutputFolderCreated(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "new", "sub", "r.txt")
	r := kd(t, dir, "report", "-o", out, fixture(t))
	if r.code != 0 || !strings.Contains(r.stderr, "kdlaunch: created folder "+filepath.Dir(out)) {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
	if _, err := os.Stat(out); err != nil {
		t.Error(err)
	}
}
