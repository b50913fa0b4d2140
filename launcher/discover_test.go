package launcher

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// fakeFS is a fake filesystem root for kdFinder: a set of file paths and
// directories, spelled as the target OS spells them.
type fakeFS map[string]bool // path -> isDir

type fakeInfo struct {
	name string
	dir  bool
}

func (i fakeInfo) Name() string { return i.name }
func (i fakeInfo) Size() int64  { return 0 }
func (i fakeInfo) Mode() fs.FileMode {
	return map[bool]fs.FileMode{true: fs.ModeDir | 0o755, false: 0o755}[i.dir]
}
func (i fakeInfo) ModTime() time.Time { return time.Time{} }
func (i fakeInfo) IsDir() bool        { return i.dir }
func (i fakeInfo) Sys() any           { return nil }

func (f fakeFS) stat(p string) (fs.FileInfo, error) {
	dir, ok := f[p]
	if !ok {
		return nil, &fs.PathError{Op: "stat", Path: p, Err: fs.ErrNotExist}
	}
	return fakeInfo{name: p, dir: dir}, nil
}

const (
	pf86  = `C:\Program Files (x86)`
	pf    = `C:\Program Files`
	kits  = `\Windows Kits\10\Debuggers\`
	kdx64 = pf86 + kits + `x64\kd.exe`
	kdarm = pf86 + kits + `arm64\kd.exe`
	kdx86 = pf86 + kits + `x86\kd.exe`
	pfx64 = pf + kits + `x64\kd.exe`
	pfarm = pf + kits + `arm64\kd.exe`
	pfx86 = pf + kits + `x86\kd.exe`
)

func winFinder(files fakeFS, env map[string]string, path map[string]string, goarch string) kdFinder {
	return kdFinder{
		goos:   "windows",
		goarch: goarch,
		getenv: func(k string) string { return env[k] },
		lookPath: func(name string) (string, error) {
			if p, ok := path[name]; ok {
				return p, nil
			}
			return "", &exec.Error{Name: name, Err: exec.ErrNotFound}
		},
		stat: files.stat,
		abs: func(p string) (string, error) {
			if len(p) > 1 && p[1] == ':' {
				return p, nil
			}
			return `C:\work\` + strings.TrimPrefix(p, `.\`), nil
		},
	}
}

var stdEnv = map[string]string{"ProgramFiles(x86)": pf86, "ProgramFiles": pf, "ProgramW6432": pf}

func TestFindKDWindows(t *testing.T) {
	all := fakeFS{kdx64: false, kdarm: false, kdx86: false, pfx64: false, pfarm: false, pfx86: false}
	tests := []struct {
		name       string
		configured string
		goarch     string
		files      fakeFS
		env        map[string]string
		path       map[string]string
		want       string
		wantLooked []string // for errors
		wantMsg    string   // substring of the error message
	}{
		{name: "PATH first", goarch: "amd64", files: all, env: stdEnv,
			path: map[string]string{"kd.exe": `D:\dbg\kd.exe`}, want: `D:\dbg\kd.exe`},
		{name: "amd64 host prefers x64", goarch: "amd64", files: all, env: stdEnv, want: kdx64},
		{name: "arm64 host prefers arm64", goarch: "arm64", files: all, env: stdEnv, want: kdarm},
		{name: "386 host prefers x86", goarch: "386", files: all, env: stdEnv, want: kdx86},
		{name: "host arch under ProgramFiles beats other arch under x86 folder", goarch: "amd64",
			files: fakeFS{pfx64: false, kdx86: false}, env: stdEnv, want: pfx64},
		{name: "falls back to other arches", goarch: "arm64",
			files: fakeFS{kdx86: false}, env: stdEnv, want: kdx86},
		{name: "a directory named kd.exe is not kd", goarch: "amd64",
			files: fakeFS{kdx64: true, pfx64: false}, env: stdEnv, want: pfx64},
		{name: "no environment uses default roots", goarch: "amd64",
			files: fakeFS{pfx64: false}, env: map[string]string{}, want: pfx64},
		{name: "trailing backslash in env", goarch: "amd64",
			files: fakeFS{`E:\PF` + kits + `x64\kd.exe`: false},
			env:   map[string]string{"ProgramFiles": `E:\PF\`}, want: `E:\PF` + kits + `x64\kd.exe`},
		{name: "nothing installed", goarch: "amd64", files: fakeFS{}, env: stdEnv,
			wantLooked: []string{"PATH", kdx64, pfx64, kdarm, pfarm, kdx86, pfx86},
			wantMsg: `kd not found (looked in PATH, ` + kdx64 + `, ` + pfx64 + `, ` + kdarm +
				`, ` + pfarm + `, ` + kdx86 + `, ` + pfx86 +
				`): install the Debugging Tools for Windows (Windows SDK or WDK) or pass --kd PATH`},
		{name: "configured absolute path with spaces", configured: `D:\My Tools\kd.exe`, goarch: "amd64",
			files: fakeFS{`D:\My Tools\kd.exe`: false}, want: `D:\My Tools\kd.exe`},
		{name: "configured relative path made absolute", configured: `.\tools\kd.exe`, goarch: "amd64",
			files: fakeFS{`C:\work\tools\kd.exe`: false}, want: `C:\work\tools\kd.exe`},
		{name: "configured forward slashes", configured: `C:/dbg/kd.exe`, goarch: "amd64",
			files: fakeFS{`C:/dbg/kd.exe`: false}, want: `C:/dbg/kd.exe`},
		{name: "configured path missing does not search", configured: `D:\nope\kd.exe`, goarch: "amd64",
			files: all, env: stdEnv, wantLooked: []string{`D:\nope\kd.exe`},
			wantMsg: `kd not found at D:\nope\kd.exe: check the --kd PATH`},
		{name: "configured bare name uses PATH", configured: "fakekd.exe", goarch: "amd64",
			path: map[string]string{"fakekd.exe": `C:\bin\fakekd.exe`}, want: `C:\bin\fakekd.exe`},
		{name: "configured bare name not in PATH", configured: "kd64", goarch: "amd64", files: all,
			env: stdEnv, wantLooked: []string{"kd64 in PATH"}, wantMsg: "kd not found at kd64 in PATH"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := winFinder(tt.files, tt.env, tt.path, tt.goarch)
			got, err := f.find(tt.configured)
			if tt.wantLooked == nil {
				if err != nil || got != tt.want {
					t.Fatalf("find(%q) = %q, %v; want %q", tt.configured, got, err, tt.want)
				}
				return
			}
			var nf *KDNotFoundError
			if !errors.As(err, &nf) {
				t.Fatalf("find(%q) = %q, %v; want a *KDNotFoundError", tt.configured, got, err)
			}
			if strings.Join(nf.Looked, "|") != strings.Join(tt.wantLooked, "|") {
				t.Errorf("Looked = %q\nwant     %q", nf.Looked, tt.wantLooked)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("message %q\ndoes not contain %q", err.Error(), tt.wantMsg)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("message is not one line: %q", err.Error())
			}
		})
	}
}

func TestFindKDUnixSearchesOnlyPATH(t *testing.T) {
	f := winFinder(fakeFS{kdx64: false}, stdEnv, nil, "amd64")
	f.goos = "linux"
	_, err := f.find("")
	var nf *KDNotFoundError
	if !errors.As(err, &nf) || strings.Join(nf.Looked, ",") != "PATH" {
		t.Fatalf("err = %v; want KDNotFoundError looking only in PATH", err)
	}
}

// TestFindKDHost runs the real FindKD against a temporary directory.
func TestFindKDHost(t *testing.T) {
	// Not t.TempDir: its cleanup fails under Wine 8.0 (see wintest.TempDir).
	dir, err := os.MkdirTemp("", "findkd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	name := "kd"
	if runtime.GOOS == "windows" {
		name = "kd.exe"
	}
	sub := filepath.Join(dir, "with space")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	kd := filepath.Join(sub, name)
	if err := os.WriteFile(kd, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := FindKD(kd)
	if err != nil || got != kd {
		t.Fatalf("FindKD(%q) = %q, %v", kd, got, err)
	}

	t.Setenv("PATH", sub)
	got, err = FindKD("")
	if err != nil || got != kd {
		t.Fatalf("FindKD(\"\") with PATH=%s = %q, %v", sub, got, err)
	}

	_, err = FindKD(filepath.Join(dir, "missing", name))
	var nf *KDNotFoundError
	if !errors.As(err, &nf) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing configured path: err = %v", err)
	}

	if runtime.GOOS != "windows" {
		text := filepath.Join(dir, "notes.txt")
		if err := os.WriteFile(text, []byte("not kd\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err = FindKD(text)
		if !errors.As(err, &nf) || !strings.Contains(err.Error(), "not executable") {
			t.Fatalf("non-executable configured path: err = %v", err)
		}
	}
}

// The order --dry-run prints is the order find tries: a kd at the n-th
// place is found only once the places before it are empty.
func TestKDSearchOrderMatchesFind(t *testing.T) {
	for _, goarch := range []string{"amd64", "arm64", "386"} {
		f := winFinder(fakeFS{}, stdEnv, nil, goarch)
		order := f.order("")
		if order[0] != "kd.exe on PATH" || len(order) != 7 {
			t.Fatalf("%s: order %q", goarch, order)
		}
		for i, place := range order[1:] {
			got, err := winFinder(fakeFS{place: false}, stdEnv, nil, goarch).find("")
			if err != nil || got != place {
				t.Errorf("%s: place %d %s: find gave %q, %v", goarch, i+1, place, got, err)
			}
		}
	}
	f := winFinder(fakeFS{}, stdEnv, nil, "amd64")
	if got := f.order(`tools\kd.exe`); len(got) != 1 || got[0] != `C:\work\tools\kd.exe` {
		t.Errorf("a configured path: %q", got)
	}
	if got := f.order("kd"); len(got) != 1 || got[0] != "kd on PATH" {
		t.Errorf("a configured name: %q", got)
	}
}
