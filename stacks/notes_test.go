package stacks

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// noteBlock is one hit and one bug check, as a log holds them.
const noteBlock = "Breakpoint 0 hit\n" +
	"nt!MmAllocateSpecialPool:\n" +
	" # RetAddr           : Args to Child                                                           : Call Site\n" +
	"00 fffff801`d1f0a3b2 : 00000000`00000200 00000000`206b6444 00000000`00000001 00000000`00000000 : nt!MmAllocateSpecialPool\n" +
	"01 fffff801`d1e71a27 : ffffe001`d1182000 00000000`00000200 00000000`206b6444 00000000`00000000 : drv!Alloc+0x2c\n" +
	"\n" +
	"*** Fatal System Error: 0x000000c1\n" +
	"                       (0x0000000000000001,0x0000000000000002,0x0000000000000003,0x0000000000000024)\n" +
	"A fatal system error has occurred.\n" +
	"0: kd> kb\n" +
	" # RetAddr           : Args to Child                                                           : Call Site\n" +
	"00 fffff801`d1f0a3b2 : 00000000`00000200 00000000`206b6444 00000000`00000001 00000000`00000000 : nt!KeBugCheckEx\n" +
	"01 fffff801`d1e71a27 : ffffe001`d1182000 00000000`00000200 00000000`206b6444 00000000`00000000 : drv!Corrupt+0x10\n" +
	"0: kd> BugCheck C1, {1, 2, 3, 24}\n" +
	"Shutdown occurred at (Tue Dec  1 21:00:00.000 2026 (UTC + 0:00))...unloading all symbol tables.\n"

var noteBlockEvents = []string{
	"S nt!MmAllocateSpecialPool",
	"N *** Fatal System Error: 0x000000c1",
	"N (0x0000000000000001,0x0000000000000002,0x0000000000000003,0x0000000000000024)",
	"N A fatal system error has occurred.",
	"S nt!KeBugCheckEx",
	"N 0: kd> BugCheck C1, {1, 2, 3, 24}",
	"N Shutdown occurred at (Tue Dec  1 21:00:00.000 2026 (UTC + 0:00))...unloading all symbol tables.",
}

// Notes come in log order between the stacks, in a small log parsed in one
// piece and in a large one parsed in parallel chunks.
func TestScanNotesOrder(t *testing.T) {
	for _, tc := range []struct {
		blocks, workers int
	}{{1, 1}, {3, 4}, {6000, 1}, {6000, 3}} {
		log := strings.Repeat(noteBlock, tc.blocks)
		var got []string
		st, err := ScanNotesWorkers(strings.NewReader(log), tc.workers,
			func(s Stack) { got = append(got, "S "+s.Frames[0]) },
			func(l string) { got = append(got, "N "+l) })
		if err != nil {
			t.Fatal(err)
		}
		if st.Stacks != 2*tc.blocks || len(got) != len(noteBlockEvents)*tc.blocks {
			t.Fatalf("%d blocks: %d stacks, %d events", tc.blocks, st.Stacks, len(got))
		}
		for i, e := range got {
			if want := noteBlockEvents[i%len(noteBlockEvents)]; e != want {
				t.Fatalf("%d blocks, %d workers: event %d = %q, want %q", tc.blocks, tc.workers, i, e, want)
			}
		}
	}
}

func TestNoteLine(t *testing.T) {
	for line, want := range map[string]bool{
		"*** Fatal System Error: 0x000000c4":                  true,
		"(0x1,0x2,0x3,0x4)":                                   true,
		"DRIVER_VERIFIER_DETECTED_VIOLATION (c4)":             true,
		"Arg1: 00000000000000f6, Referencing user handle":     true,
		"BUGCHECK_P1: f6":                                     true,
		"0: kd> BugCheck C4, {f6, 8, 1, 2}":                   true,
		"Probably caused by : leakydrv.sys ( leakydrv!X+2c )": true,
		"Kernel Debugger connection established.":             true,
		"Breakpoint 0 hit":                                    false,
		"00 fffff801`d1f0a3b2 : 00000000`00000200 : nt!X":     false,
		"0: kd> kb":                 false,
		"nt!MmAllocateSpecialPool:": false,
		"(Inline Function)":         false,
	} {
		if got := noteLine([]byte(line)); got != want {
			t.Errorf("noteLine(%q) = %v", line, got)
		}
	}
}

// FuzzScanNotes: on any input, ScanNotes yields the stacks Scan yields, and
// every note is a line of the input (trimmed).
func FuzzScanNotes(f *testing.F) {
	f.Add([]byte(noteBlock))
	f.Add([]byte("0: kd> \n(0x\nA\nDRIVER_X (1)\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var a, b []string
		_, errA := ScanWorkers(bytes.NewReader(data), 2, func(s Stack) { a = append(a, s.Key()) })
		var notes []string
		_, errB := ScanNotesWorkers(bytes.NewReader(data), 2, func(s Stack) { b = append(b, s.Key()) }, func(l string) { notes = append(notes, l) })
		if fmt.Sprint(errA) != fmt.Sprint(errB) || strings.Join(a, "\x00") != strings.Join(b, "\x00") {
			t.Fatalf("Scan and ScanNotes differ: %v/%v %q/%q", errA, errB, a, b)
		}
		if errB != nil {
			return
		}
		for _, n := range notes {
			if n == "" || !bytes.Contains(data, []byte(n)) && !utf16ish(data) {
				t.Fatalf("note %q not in the input", n)
			}
		}
	})
}

// utf16ish: decoded text need not appear byte for byte in the input.
func utf16ish(data []byte) bool {
	return bytes.IndexByte(data, 0) >= 0 || len(data) >= 2 && (data[0] == 0xFF || data[0] == 0xFE || data[0] == 0xEF)
}

// Tail, fed in small pieces, notes the same lines in the same order.
func TestTailNotes(t *testing.T) {
	var got []string
	tl := NewTail(func(s Stack) { got = append(got, "S "+s.Frames[0]) })
	tl.OnNote(func(l string) { got = append(got, "N "+l) })
	log := []byte(noteBlock + "0: kd> ")
	for len(log) > 0 {
		n := min(7, len(log))
		if _, err := tl.Write(log[:n]); err != nil {
			t.Fatal(err)
		}
		log = log[n:]
	}
	if strings.Join(got, "\n") != strings.Join(noteBlockEvents, "\n") {
		t.Errorf("events:\n%s", strings.Join(got, "\n"))
	}
}
