// Package vt tells whether a stream is a terminal that understands the ANSI
// escapes kdlaunch uses for its status line and the --follow redraw.
package vt

import (
	"io"
	"os"

	"golang.org/x/term"
)

// Enable reports whether w is a terminal that will honour ANSI escapes,
// switching the Windows console into virtual-terminal mode if needed. A
// console that refuses (conhost before Windows 10) gets plain output rather
// than escape codes printed as text.
func Enable(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return false
	}
	return enable(f)
}
