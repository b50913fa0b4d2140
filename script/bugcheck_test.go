package script

import (
	"strings"
	"testing"
)

// A 0xC4 as kd prints it when the target crashes under the debugger, then
// the automatic analysis and !analyze -v repeating it.
const bugCheckC4 = "*** Fatal System Error: 0x000000c4\r\n" +
	"                       (0x00000000000000F6,0x0000000000000008,0xFFFFB00D4E2B2080,0xFFFFF8036F2B12A8)\r\n" +
	"\r\n" +
	"Break instruction exception - code 80000003 (first chance)\r\n" +
	"\r\n" +
	"A fatal system error has occurred.\r\n" +
	"Debugger entered on first try; Bugcheck callbacks have not been invoked.\r\n" +
	"\r\n" +
	"A fatal system error has occurred.\r\n" +
	"\r\n" +
	"BugCheck C4, {f6, 8, ffffb00d4e2b2080, fffff8036f2b12a8}\r\n" +
	"\r\n" +
	"Probably caused by : leakydrv.sys ( leakydrv!LeakyFree+2c )\r\n" +
	"\r\n" +
	"nt!DbgBreakPointWithStatus:\r\n" +
	"fffff803`82a0a0e0 cc              int     3\r\n" +
	"0: kd> !analyze -v\r\n" +
	"DRIVER_VERIFIER_DETECTED_VIOLATION (c4)\r\n" +
	"A device driver attempting to corrupt the system has been caught.\r\n" +
	"Arguments:\r\n" +
	"Arg1: 00000000000000f6, Referencing user handle as KernelMode.\r\n" +
	"Arg2: 0000000000000008, Handle value being referenced.\r\n" +
	"Arg3: ffffb00d4e2b2080, Address of the current process.\r\n" +
	"Arg4: fffff8036f2b12a8, Address inside the driver that is performing the incorrect reference.\r\n" +
	"BUGCHECK_CODE:  c4\r\n" +
	"BUGCHECK_P1: f6\r\n" +
	"BUGCHECK_P2: 8\r\n" +
	"BUGCHECK_P3: ffffb00d4e2b2080\r\n" +
	"BUGCHECK_P4: fffff8036f2b12a8\r\n"

func feed(r *BugCheckRecognizer, text string) (announced, details int) {
	for _, l := range strings.Split(text, "\n") {
		switch r.Line(l) {
		case BugCheckAnnounced:
			announced++
		case BugCheckDetail:
			details++
		}
	}
	return
}

func TestBugCheckRecognizerC4(t *testing.T) {
	var r BugCheckRecognizer
	ann, _ := feed(&r, bugCheckC4)
	bc, ok := r.Current()
	if !ok || ann != 1 || !r.Active() {
		t.Fatalf("announced %d times, active %v", ann, ok)
	}
	want := [4]uint64{0xf6, 8, 0xffffb00d4e2b2080, 0xfffff8036f2b12a8}
	if bc.Code != 0xC4 || !bc.HaveParams || bc.Params != want {
		t.Errorf("bug check %+v", bc)
	}
	if bc.Name() != "DRIVER_VERIFIER_DETECTED_VIOLATION" || bc.CausedBy != "leakydrv!LeakyFree+2c" {
		t.Errorf("name %q, caused by %q", bc.Name(), bc.CausedBy)
	}
	s := bc.String()
	for _, w := range []string{"0x000000C4", "DRIVER_VERIFIER_DETECTED_VIOLATION", "(0xF6, 0x8, 0xFFFFB00D4E2B2080, 0xFFFFF8036F2B12A8)", "parameter 1 names the rule"} {
		if !strings.Contains(s, w) {
			t.Errorf("String() = %q lacks %q", s, w)
		}
	}
}

func TestBugCheckRecognizerCases(t *testing.T) {
	tests := []struct {
		name      string
		text      string
		announced int
		code      uint32
		haveCode  bool
		params    bool
		active    bool
	}{
		{"code then params on the next line", "*** Fatal System Error: 0x000000c1\n  (0x1,0x2,0x3,0x4)\n", 1, 0xC1, true, true, true},
		{"params not on the next line are not taken", "*** Fatal System Error: 0x000000cd\nsomething else\n(0x1,0x2,0x3,0x4)\n", 1, 0xCD, true, false, true},
		{"text only", "A fatal system error has occurred.\n", 1, 0, false, false, true},
		{"text first, then analysis", "A fatal system error has occurred.\nBugCheck D5, {ffffcb0d1e6f0fe0, 0, fffff8012a4b1034, 0}\n", 1, 0xD5, true, true, true},
		{"newer analyze fields only", "BUGCHECK_CODE:  50\nBUGCHECK_P1: ffffcb0d1e6f1000\nBUGCHECK_P2: 2\nBUGCHECK_P3: fffff8012a4b1034\nBUGCHECK_P4: 2\n", 1, 0x50, true, true, true},
		{"two different bug checks", "*** Fatal System Error: 0x000000c4\n(0x1,0x2,0x3,0x4)\n*** Fatal System Error: 0x0000000a\n(0x1,0x2,0x3,0x4)\n", 2, 0x0A, true, true, true},
		{"same code, other parameters", "BugCheck C4, {1, 2, 3, 4}\nBugCheck C4, {5, 6, 7, 8}\n", 2, 0xC4, true, true, true},
		{"a reboot ends it", "*** Fatal System Error: 0x0000003b\n(0x1,0x2,0x3,0x4)\nShutdown occurred at (Tue Dec  1 21:00:00.000 2026 (UTC + 0:00))...unloading all symbol tables.\n", 1, 0, false, false, false},
		{"a prompt in front", "0: kd> BugCheck 7E, {ffffffffc0000005, fffff80312345678, ffff8a0c1e2d3e48, ffff8a0c1e2d3690}\n", 1, 0x7E, true, true, true},
		{"a breakpoint hit is no bug check", "Breakpoint 0 hit\nnt!MmAllocateSpecialPool:\n", 0, 0, false, false, false},
		{"a DbgPrint mentioning one is not", "mydrv: no Fatal System Error here\n", 0, 0, false, false, false},
		{"the break-in box is not", "Break instruction exception - code 80000003 (first chance)\n*   You are seeing this message because you pressed either\n", 0, 0, false, false, false},
	}
	for _, tc := range tests {
		var r BugCheckRecognizer
		ann, _ := feed(&r, tc.text)
		bc, active := r.Current()
		if ann != tc.announced || active != tc.active || bc.HaveCode != tc.haveCode || bc.Code != tc.code || bc.HaveParams != tc.params {
			t.Errorf("%s: announced %d, active %v, %+v", tc.name, ann, active, bc)
		}
	}
}

func TestBugCheckNames(t *testing.T) {
	for code, name := range map[uint32]string{
		0xC1: "SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION", 0xC4: "DRIVER_VERIFIER_DETECTED_VIOLATION",
		0xCC: "PAGE_FAULT_IN_FREED_SPECIAL_POOL", 0xCD: "PAGE_FAULT_BEYOND_END_OF_ALLOCATION",
		0xD5: "DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL", 0x50: "PAGE_FAULT_IN_NONPAGED_AREA",
		0xD1: "DRIVER_IRQL_NOT_LESS_OR_EQUAL", 0x0A: "IRQL_NOT_LESS_OR_EQUAL",
		0x3B: "SYSTEM_SERVICE_EXCEPTION", 0x7E: "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED", 0x1234: "",
	} {
		if got := BugCheckName(code); got != name {
			t.Errorf("BugCheckName(%#x) = %q, want %q", code, got, name)
		}
		b := BugCheck{Code: code, HaveCode: true}
		if a := b.Advice(); a == "" || strings.Contains(a, "\n") {
			t.Errorf("advice for %#x: %q", code, a)
		}
	}
	if s := (BugCheck{Code: 0x1234, HaveCode: true}).String(); !strings.HasPrefix(s, "bug check 0x00001234: ") {
		t.Errorf("unknown code: %q", s)
	}
	if s := (BugCheck{}).String(); !strings.HasPrefix(s, "bug check unknown: ") {
		t.Errorf("no code: %q", s)
	}
}

// FuzzBugCheckRecognizer: any lines leave the recogniser consistent: a
// bug check it reports active has a name only if it has a code, exactly
// four parameters or none, and its one line has no line break; Reset
// clears it.
func FuzzBugCheckRecognizer(f *testing.F) {
	f.Add(bugCheckC4)
	f.Add("*** Fatal System Error: 0xffffffff\n(0x,0x1,0x2,0x3)\n")
	f.Add("BugCheck 1, {``, 2, 3, 4}\nArg1: 1\nArg4: 2\n")
	f.Fuzz(func(t *testing.T, s string) {
		var r BugCheckRecognizer
		for _, l := range strings.Split(s, "\n") {
			r.Line(l)
			bc, active := r.Current()
			if !active && (bc.HaveCode || bc.HaveParams) {
				t.Fatalf("inactive with %+v", bc)
			}
			if bc.Name() != "" && !bc.HaveCode {
				t.Fatalf("a name without a code: %+v", bc)
			}
			if ps := bc.ParamStrings(); ps != nil && len(ps) != 4 {
				t.Fatalf("params %v", ps)
			}
			if strings.ContainsAny(bc.String(), "\r\n") && !strings.ContainsAny(bc.CausedBy, "\r\n") {
				t.Fatalf("line break in %q", bc.String())
			}
		}
		r.Reset()
		if r.Active() {
			t.Fatal("active after Reset")
		}
	})
}
