//go:build windows

package main

import (
	"io"
	"os"
	"time"

	"golang.org/x/sys/windows"
)

// The fake kd on a pseudo console (kdlaunch's default on Windows). Test
// harness only; real kd.exe needs none of this.
//
//   - A process started on a pseudo console with no standard handles
//     (STARTF_USESTDHANDLES and none given, as kdlaunch starts kd) gets the
//     console's handles from Windows. Wine 8.0 leaves them empty; the fake
//     then opens CONIN$ and CONOUT$ itself, which is what Windows would have
//     given it.
//   - A CTRL+C typed on the console (kdlaunch's 0x03) makes Windows send
//     CTRL_C_EVENT, the fake's break, and abort the console read in
//     progress, which returns nothing. Go reports that as end of input,
//     which would end the fake; it reads its console through a pipe that
//     skips empty reads.
//   - Echo is off: Wine 8.0's pseudo console echoes typed input where the
//     read began, not at the cursor, scrambling the screen.
func init() {
	for _, s := range []struct {
		std  uint32
		name string
		f    **os.File
	}{
		{windows.STD_INPUT_HANDLE, "CONIN$", &os.Stdin},
		{windows.STD_OUTPUT_HANDLE, "CONOUT$", &os.Stdout},
		{windows.STD_ERROR_HANDLE, "CONOUT$", &os.Stderr},
	} {
		if h, err := windows.GetStdHandle(s.std); err == nil && h != 0 && h != windows.InvalidHandle {
			continue
		}
		name, _ := windows.UTF16PtrFromString(s.name)
		h, err := windows.CreateFile(name, windows.GENERIC_READ|windows.GENERIC_WRITE,
			windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE, nil, windows.OPEN_EXISTING, 0, 0)
		if err != nil {
			continue // no console either: the fake's I/O fails as before
		}
		_ = windows.SetStdHandle(s.std, h)
		*s.f = os.NewFile(uintptr(h), s.name)
	}

	var mode uint32
	in := windows.Handle(os.Stdin.Fd())
	if windows.GetConsoleMode(in, &mode) != nil {
		return // pipes: nothing to do
	}
	_ = windows.SetConsoleMode(in, mode&^windows.ENABLE_ECHO_INPUT)
	r, w, err := os.Pipe()
	if err != nil {
		return
	}
	go readConsole(os.Stdin, w)
	os.Stdin = r
}

// readConsole copies the console's input to w, skipping empty reads; a
// failed read (the console is gone) ends the fake's input.
func readConsole(con *os.File, w *os.File) {
	defer w.Close()
	buf := make([]byte, 4096)
	for {
		n, err := con.Read(buf)
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return
			}
			continue
		}
		if err != nil && err != io.EOF && err != windows.ERROR_OPERATION_ABORTED {
			return
		}
		time.Sleep(time.Millisecond) // never spin on a console that only says nothing
	}
}
