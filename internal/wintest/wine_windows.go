//go:build windows

package wintest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/windows"
)

var (
	ntdll    = windows.NewLazySystemDLL("ntdll.dll")
	kernel32 = windows.NewLazySystemDLL("kernel32.dll")
)

// WineVersion returns Wine's version ("8.0") when this process runs under
// Wine, and "" on Windows.
func WineVersion() string {
	p := ntdll.NewProc("wine_get_version")
	if p.Find() != nil {
		return ""
	}
	r, _, _ := p.Call()
	if r == 0 {
		return "?"
	}
	// r points to a static C string inside ntdll, not to Go memory.
	return windows.BytePtrToString(*(**byte)(unsafe.Pointer(&r)))
}

// Platform describes where the tests run, for their logs.
func Platform() string {
	if v := WineVersion(); v != "" {
		return "Wine " + v
	}
	return "Windows"
}

var consoleOnce struct {
	sync.Once
	note      string
	err       error
	allocated bool
}

// EnsureConsole gives this process a console it can send console control
// events on, if it has none, and reports what it did. kd must share
// kdlaunch's console for those events; children started later inherit it.
//
// Under Wine the console depends on how wine was started. Without a terminal
// (CI, and scripts/test-windows.sh, which pipes wine's output), a Wine process
// has no usable console and every GenerateConsoleCtrlEvent fails with
// "Invalid access"; EnsureConsole then allocates one, where the events work
// as described in launcher/interrupt_windows.go. Started from a terminal,
// the process is on Wine's tty console (its stdout is that console, so it
// must not be freed), where a CTRL+C to group 0 reaches the sender but not
// the children it started: PrivateConsole reports false, and tests that
// need a CTRL+C to reach a child skip.
func EnsureConsole() (string, error) {
	consoleOnce.Do(func() {
		if hasConsole() {
			consoleOnce.note = "console present"
			return
		}
		// Wine leaves a half-attached console behind: AllocConsole then
		// fails with "Access denied" until it is freed.
		_, _, _ = kernel32.NewProc("FreeConsole").Call()
		r, _, err := kernel32.NewProc("AllocConsole").Call()
		if r == 0 {
			consoleOnce.err = fmt.Errorf("AllocConsole: %w", err)
			return
		}
		consoleOnce.allocated = true
		consoleOnce.note = "no console: allocated one (AllocConsole)"
	})
	return consoleOnce.note, consoleOnce.err
}

// PrivateConsole reports whether EnsureConsole allocated this process's
// console (so console events stay among this process and its children).
func PrivateConsole() bool {
	_, err := EnsureConsole()
	return err == nil && consoleOnce.allocated
}

func hasConsole() bool {
	name, _ := windows.UTF16PtrFromString("CONOUT$")
	h, err := windows.CreateFile(name, windows.GENERIC_READ|windows.GENERIC_WRITE,
		windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE, nil, windows.OPEN_EXISTING, 0, 0)
	if err != nil {
		return false
	}
	defer windows.CloseHandle(h)
	var mode uint32
	return windows.GetConsoleMode(h, &mode) == nil
}

var buildOnce struct {
	sync.Once
	dir string
	err error
}

// Binary returns the absolute path of a test binary ("kdlaunch" or
// "fakekd"): from KDLAUNCH_WINTEST_KDLAUNCH / KDLAUNCH_WINTEST_FAKEKD, or
// built with the Go toolchain into a temporary directory whose name has a
// space in it.
func Binary(name string) (string, error) {
	env := "KDLAUNCH_WINTEST_" + strings.ToUpper(name)
	if p := os.Getenv(env); p != "" {
		if !filepath.IsAbs(p) {
			return "", fmt.Errorf("%s=%s: want an absolute path (Wine refuses relative ones)", env, p)
		}
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s: %w", env, err)
		}
		return p, nil
	}
	buildOnce.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			buildOnce.err = errors.New("set KDLAUNCH_WINTEST_KDLAUNCH and KDLAUNCH_WINTEST_FAKEKD, or put go on PATH")
			return
		}
		root, err := moduleRoot()
		if err != nil {
			buildOnce.err = err
			return
		}
		dir, err := os.MkdirTemp("", "kdlaunch wintest ")
		if err != nil {
			buildOnce.err = err
			return
		}
		for pkg, exe := range map[string]string{".": "kdlaunch.exe", "./cmd/fakekd": "fakekd.exe"} {
			cmd := exec.Command(goTool, "build", "-o", filepath.Join(dir, exe), pkg)
			cmd.Dir = root
			if out, err := cmd.CombinedOutput(); err != nil {
				buildOnce.err = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
				return
			}
		}
		buildOnce.dir = dir
	})
	if buildOnce.err != nil {
		return "", buildOnce.err
	}
	return filepath.Join(buildOnce.dir, name+".exe"), nil
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the test's directory")
		}
		dir = parent
	}
}
