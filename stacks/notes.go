package stacks

import (
	"bytes"
	"io"
	"runtime"
)

// ScanNotes is Scan that also hands note, in log order between the stacks,
// the lines that announce a bug check or end one: "*** Fatal System Error",
// its parameter line, "A fatal system error has occurred", !analyze's
// "BugCheck C4, {...}", "NAME (c4)", "ArgN:", "BUGCHECK_CODE/Pn:" and
// "Probably caused by", and the reboot and connection lines that follow a
// crash. The report pairs each bug check with the stack after it (see
// docs/kd-protocol.md, section "Bug checks").
func ScanNotes(r io.Reader, fn func(s Stack), note func(line string)) (Stats, error) {
	return scanWorkers(r, runtime.GOMAXPROCS(0), fn, note)
}

// ScanNotesWorkers is ScanNotes with an explicit number of parsing goroutines.
func ScanNotesWorkers(r io.Reader, workers int, fn func(s Stack), note func(line string)) (Stats, error) {
	return scanWorkers(r, workers, fn, note)
}

var noteTexts = []struct {
	first byte
	text  []byte
}{
	{'*', []byte("*** Fatal System Error")},
	{'(', []byte("(0x")},
	{'A', []byte("A fatal system error")},
	{'A', []byte("Arg")},
	{'B', []byte("BugCheck ")},
	{'B', []byte("BUGCHECK_")},
	{'P', []byte("Probably caused by")},
	{'S', []byte("Shutdown occurred")},
	{'K', []byte("Kernel Debugger connection established")},
}

// noteLine reports whether a trimmed line is one ScanNotes hands on. Most
// lines of a log are stack rows, which start with a hex digit and leave at
// the first byte.
func noteLine(t []byte) bool {
	c := t[0]
	if '0' <= c && c <= '9' || c == 'k' {
		// "0: kd> BugCheck ...": output on a prompt's line.
		i := bytes.Index(t[:min(len(t), 12)], []byte("kd> "))
		if i < 0 || i+4 >= len(t) {
			return false
		}
		t = t[i+4:]
		c = t[0]
	}
	for _, n := range noteTexts {
		if n.first == c && bytes.HasPrefix(t, n.text) {
			return true
		}
	}
	// !analyze -v's head: "DRIVER_VERIFIER_DETECTED_VIOLATION (c4)".
	return 'A' <= c && c <= 'Z' && t[len(t)-1] == ')' && bytes.Contains(t, []byte("_")) && bytes.Contains(t, []byte(" ("))
}

// OnNote makes the Tail hand note the lines ScanNotes would, in log order
// with the stacks.
func (t *Tail) OnNote(note func(line string)) {
	if note == nil {
		t.m.note = nil
		return
	}
	t.m.note = func(l []byte) { note(string(l)) }
}
