package launcher

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// KDNotFoundError says that no kd executable was found, and where kdlaunch
// looked. Its message is one line that also says what to do.
type KDNotFoundError struct {
	// Configured is the path the user gave (--kd or the config file), when
	// that path is what was not found.
	Configured string
	// Looked lists the places tried, in order: "PATH" for a search of the
	// PATH, otherwise file paths.
	Looked []string
	// Err is the underlying error for a configured path (stat's), if any.
	Err error
}

func (e *KDNotFoundError) Error() string {
	if e.Configured != "" {
		msg := fmt.Sprintf("kd not found at %s", strings.Join(e.Looked, ", "))
		if e.Err != nil && !errors.Is(e.Err, fs.ErrNotExist) {
			msg += fmt.Sprintf(" (%v)", e.Err)
		}
		return msg + ": check the --kd PATH or the kd.path setting, or leave it empty to search PATH and the Windows Kits folders"
	}
	return fmt.Sprintf("kd not found (looked in %s): install the Debugging Tools for Windows (Windows SDK or WDK) or pass --kd PATH",
		strings.Join(e.Looked, ", "))
}

func (e *KDNotFoundError) Unwrap() error { return e.Err }

// FindKD returns the absolute path of the kd executable to run.
//
//   - configured contains a path separator: it must name an existing file; it
//     is made absolute.
//   - configured is a bare name ("kd", "kd.exe", "fakekd"): it is looked up in
//     PATH.
//   - configured is empty: "kd" ("kd.exe" on Windows) is looked up in PATH,
//     then, on Windows, in the Debugging Tools folders of the Windows Kits:
//     %ProgramFiles(x86)%\Windows Kits\10\Debuggers\<arch>\kd.exe and the
//     same under %ProgramFiles% (and %ProgramW6432%), with the host's
//     architecture first (amd64: x64, arm64: arm64, 386: x86), then the
//     others.
//
// The error is a *KDNotFoundError.
func FindKD(configured string) (string, error) {
	return hostFinder().find(configured)
}

// kdFinder is FindKD with the operating system injected, so that the
// Windows search order can be table-tested anywhere.
type kdFinder struct {
	goos, goarch string
	getenv       func(string) string
	lookPath     func(string) (string, error)
	stat         func(string) (fs.FileInfo, error)
	abs          func(string) (string, error)
}

func hostFinder() kdFinder {
	return kdFinder{
		goos:     runtime.GOOS,
		goarch:   runtime.GOARCH,
		getenv:   os.Getenv,
		lookPath: exec.LookPath,
		stat:     os.Stat,
		abs:      filepath.Abs,
	}
}

func (f kdFinder) find(configured string) (string, error) {
	configured = strings.TrimSpace(configured)
	switch {
	case configured != "" && f.hasSeparator(configured):
		p, err := f.abs(configured)
		if err != nil {
			return "", &KDNotFoundError{Configured: configured, Looked: []string{configured}, Err: err}
		}
		if err := f.isFile(p); err != nil {
			return "", &KDNotFoundError{Configured: configured, Looked: []string{p}, Err: err}
		}
		return p, nil
	case configured != "":
		p, err := f.lookPathAbs(configured)
		if err != nil {
			return "", &KDNotFoundError{Configured: configured, Looked: []string{configured + " in PATH"}, Err: err}
		}
		return p, nil
	}

	looked := []string{"PATH"}
	name := "kd"
	if f.goos == "windows" {
		name = "kd.exe"
	}
	if p, err := f.lookPathAbs(name); err == nil {
		return p, nil
	}
	if f.goos == "windows" {
		for _, c := range f.kitsCandidates() {
			looked = append(looked, c)
			if f.isFile(c) == nil {
				return c, nil
			}
		}
	}
	return "", &KDNotFoundError{Looked: looked}
}

func (f kdFinder) hasSeparator(p string) bool {
	if f.goos == "windows" {
		return strings.ContainsAny(p, `\/:`)
	}
	return strings.Contains(p, "/")
}

func (f kdFinder) lookPathAbs(name string) (string, error) {
	p, err := f.lookPath(name)
	if err != nil {
		return "", err
	}
	// LookPath may return a path relative to a relative PATH entry; kd is
	// started by absolute path (Wine refuses relative ones).
	return f.abs(p)
}

func (f kdFinder) isFile(p string) error {
	fi, err := f.stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("%s is a directory", p)
	}
	// Windows has no execute bit: CreateProcess judges the file itself.
	if f.goos != "windows" && fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not executable", p)
	}
	return nil
}

// kitsCandidates lists the Windows Kits kd.exe paths, host architecture
// first. Windows paths are built with backslashes whatever the build host.
func (f kdFinder) kitsCandidates() []string {
	var roots []string
	seen := map[string]bool{}
	for _, v := range []string{"ProgramFiles(x86)", "ProgramFiles", "ProgramW6432"} {
		r := strings.TrimRight(f.getenv(v), `\/`)
		if r == "" || seen[strings.ToLower(r)] {
			continue
		}
		seen[strings.ToLower(r)] = true
		roots = append(roots, r)
	}
	if len(roots) == 0 {
		// No environment to go by (a stripped service environment).
		roots = []string{`C:\Program Files (x86)`, `C:\Program Files`}
	}
	arches := []string{"x64", "arm64", "x86"}
	host := map[string]string{"amd64": "x64", "arm64": "arm64", "386": "x86"}[f.goarch]
	if host != "" {
		ordered := []string{host}
		for _, a := range arches {
			if a != host {
				ordered = append(ordered, a)
			}
		}
		arches = ordered
	}
	var out []string
	for _, a := range arches {
		for _, r := range roots {
			out = append(out, r+`\Windows Kits\10\Debuggers\`+a+`\kd.exe`)
		}
	}
	return out
}

// KDSearchOrder lists, in order, where FindKD looks for kd given the same
// configured value: for --dry-run on a machine without kd.
func KDSearchOrder(configured string) []string { return hostFinder().order(configured) }

func (f kdFinder) order(configured string) []string {
	configured = strings.TrimSpace(configured)
	switch {
	case configured != "" && f.hasSeparator(configured):
		if p, err := f.abs(configured); err == nil {
			return []string{p}
		}
		return []string{configured}
	case configured != "":
		return []string{configured + " on PATH"}
	}
	if f.goos != "windows" {
		return []string{"kd on PATH"}
	}
	return append([]string{"kd.exe on PATH"}, f.kitsCandidates()...)
}
