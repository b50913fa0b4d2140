package outfile

import (
	"path/filepath"
	"runtime"
	"strings"
)

// isDeviceName reports a Windows reserved device name: NUL, CON, PRN, AUX,
// COM1-9, LPT1-9 (any case, with or without an extension, in any folder),
// or a \\.\ device path. Windows opens the device for these names wherever
// they appear, so renaming a temporary file over one must never be tried.
func isDeviceName(name string) bool {
	if runtime.GOOS != "windows" {
		return false
	}
	return IsWindowsDeviceName(name)
}

// IsWindowsDeviceName is isDeviceName's rule on every platform, for tests.
func IsWindowsDeviceName(name string) bool {
	if strings.HasPrefix(name, `\\.\`) {
		return true
	}
	base := name
	if i := strings.LastIndexAny(base, `\/:`); i >= 0 {
		base = base[i+1:]
	}
	if base == "" {
		base = filepath.Base(name)
	}
	stem, _, _ := strings.Cut(base, ".")
	stem = strings.ToUpper(strings.TrimRight(stem, " "))
	switch stem {
	case "NUL", "CON", "PRN", "AUX", "CONIN$", "CONOUT$":
		return true
	}
	if len(stem) == 4 && (strings.HasPrefix(stem, "COM") || strings.HasPrefix(stem, "LPT")) && stem[3] >= '1' && stem[3] <= '9' {
		return true
	}
	return false
}
