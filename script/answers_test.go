package script

import (
	"errors"
	"strings"
	"testing"

	"github.com/kdlaunch/kdlaunch/pooltag"
)

func TestParseBreakpointAnswer(t *testing.T) {
	const exportOnly = "*** ERROR: Symbol file could not be found.  Defaulted to export symbols for ntkrnlmp.exe - \n"
	tests := []struct {
		name, out string
		status    BPStatus
		expr      string
		id        int
		warnings  int
		armed     bool
	}{
		{"resolved: kd prints nothing", "0: kd> ", BPSet, "", -1, 0, true},
		{"deferred", "Bp expression 'nt!MmAllocateSpecialPool' could not be resolved, adding deferred bp\n0: kd> ", BPDeferred, "nt!MmAllocateSpecialPool", -1, 0, false},
		{"deferred with export symbols", exportOnly + "Bp expression 'nt!MmAllocateSpecialPool' could not be resolved, adding deferred bp\r\n", BPDeferred, "nt!MmAllocateSpecialPool", -1, 1, false},
		{"unresolved", "Couldn't resolve error at 'nt!MmAllocateSpecialPoool'\n", BPUnresolved, "nt!MmAllocateSpecialPoool", -1, 0, false},
		{"unresolved with caret", "bp nt!Foo\n   ^ Couldn't resolve error at 'nt!Foo'\n", BPUnresolved, "nt!Foo", -1, 0, false},
		{"syntax error", "                  ^ Syntax error at 'nt!MmAllocateSpecialPool \";kb;g'\n", BPSyntax, "nt!MmAllocateSpecialPool \";kb;g", -1, 0, false},
		{"redefined", "breakpoint 0 redefined\n0: kd> ", BPRedefined, "", 0, 0, true},
		{"redefined then unresolved", "breakpoint 3 redefined\nCouldn't resolve error at 'x'\n", BPUnresolved, "x", 3, 0, false},
		{"no symbols for nt", "*** ERROR: Module load completed but symbols could not be loaded for ntoskrnl.exe\n", BPSet, "", -1, 1, true},
	}
	for _, tc := range tests {
		a := ParseBreakpointAnswer(tc.out)
		if a.Status != tc.status || a.Expr != tc.expr || a.ID != tc.id || len(a.Warnings) != tc.warnings || a.Armed() != tc.armed {
			t.Errorf("%s: %+v", tc.name, a)
		}
		err := a.Err("bp X")
		if (err == nil) != tc.armed {
			t.Errorf("%s: Err = %v", tc.name, err)
		}
		if err != nil && (!errors.Is(err, ErrNotArmed) || strings.Contains(err.Error(), "\n")) {
			t.Errorf("%s: Err = %q", tc.name, err)
		}
	}
	err := ParseBreakpointAnswer(exportOnly + "Bp expression 'nt!MmAllocateSpecialPool' could not be resolved, adding deferred bp\n").Err(`bp nt!MmAllocateSpecialPool ";kb;g"`)
	for _, w := range []string{"deferred", "no full symbols for nt", ".reload /f nt", "_NT_SYMBOL_PATH", `kd: "Bp expression`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%q lacks %q", err, w)
		}
	}
}

func TestParseSymbolWarning(t *testing.T) {
	tests := []struct {
		line   string
		kind   SymbolWarningKind
		image  string
		kernel bool
	}{
		{"*** ERROR: Symbol file could not be found.  Defaulted to export symbols for ntkrnlmp.exe - ", SymExportOnly, "ntkrnlmp.exe", true},
		{"*** ERROR: Module load completed but symbols could not be loaded for fs_rec.sys", SymNone, "fs_rec.sys", false},
		{`Unable to load image \SystemRoot\system32\ntoskrnl.exe, Win32 error 0n2`, SymNoImage, `\SystemRoot\system32\ntoskrnl.exe`, true},
		{"*** WARNING: Unable to verify timestamp for ntoskrnl.exe", SymTimestamp, "ntoskrnl.exe", true},
		{"************* Symbol Loading Error Summary **************", SymSummary, "", true},
	}
	for _, tc := range tests {
		w, ok := ParseSymbolWarning(tc.line)
		if !ok || w.Kind != tc.kind || w.Image != tc.image || w.AboutKernel() != tc.kernel {
			t.Errorf("%q: %+v, %v", tc.line, w, ok)
		}
	}
	if _, ok := ParseSymbolWarning("Breakpoint 0 hit"); ok {
		t.Error("a hit taken for a warning")
	}
}

func TestBreakpointExpr(t *testing.T) {
	tests := []struct{ cmd, expr string }{
		{`bp nt!MmAllocateSpecialPool ";kb;g"`, "nt!MmAllocateSpecialPool"},
		{`bu nt!ExAllocateHeapSpecialPool`, "nt!ExAllocateHeapSpecialPool"},
		{`bp5 /1 /t @$thread mydrv!Foo+0x10 "kb;g"`, "mydrv!Foo+0x10"},
		{`BP[1+1] nt!X`, "nt!X"},
		{`bp /w "@$curthread.Id == 5" nt!Foo "kb;g"`, "nt!Foo"},
		{`bp /w "x" nt!Foo`, "nt!Foo"},
		{`ed nt!PoolHitTag 206b6444`, ""},
		{`bl`, ""},
		{`bp "kb"`, ""},
		{`bpx nt!X`, ""},
	}
	for _, tc := range tests {
		got, ok := BreakpointExpr(tc.cmd)
		if got != tc.expr || ok != (tc.expr != "") {
			t.Errorf("BreakpointExpr(%q) = %q, %v", tc.cmd, got, ok)
		}
	}
}

func TestParseBL(t *testing.T) {
	out := "0: kd> bl\r\n" +
		" 0 e fffff800`02e03904     0001 (0001) nt!MmAllocateSpecialPool \";kb;g\"\r\n" +
		" 1 eu             0001 (0001) (nt!ExAllocateHeapSpecialPool)\r\n" +
		" 2 d  fffff801`1e7a2b30     0001 (0001) ntkrnlmp!MmFreeSpecialPool\r\n" +
		" 3 e 010049e0     0001 (0001)  0:**** stst!main\r\n" +
		" 4 e Disable Clear  fffff803`82b1c9a8     0001 (0001) nt!ExpFreeHeapSpecialPool\r\n" +
		" 5 d  fffff803`82b1c9a8     0001 (0001) nt!ExpFreeHeapSpecialPool\r\n" +
		"     Match thread data ffffe001`d4aec5c0\r\n" +
		"0: kd> "
	got := ParseBL(out)
	want := []Breakpoint{
		{ID: 0, Enabled: true, Address: "fffff800`02e03904", Expr: "nt!MmAllocateSpecialPool", Command: ";kb;g"},
		{ID: 1, Enabled: true, Deferred: true, Expr: "nt!ExAllocateHeapSpecialPool"},
		{ID: 2, Enabled: false, Address: "fffff801`1e7a2b30", Expr: "ntkrnlmp!MmFreeSpecialPool"},
		{ID: 3, Enabled: true, Address: "010049e0", Expr: "stst!main"},
		{ID: 4, Enabled: true, Address: "fffff803`82b1c9a8", Expr: "nt!ExpFreeHeapSpecialPool"},
		{ID: 5, Address: "fffff803`82b1c9a8", Expr: "nt!ExpFreeHeapSpecialPool"},
	}
	if len(got) != len(want) {
		t.Fatalf("ParseBL = %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	tests := []struct {
		name  string
		armed []string
		errs  []string
	}{
		{"enabled and resolved", []string{`bp nt!MmAllocateSpecialPool ";kb;g"`}, nil},
		{"deferred", []string{`bp nt!ExAllocateHeapSpecialPool ";kb;g"`}, []string{"deferred"}},
		{"disabled, other kernel name", []string{`bp nt!MmFreeSpecialPool`}, []string{"disabled", "be 2"}},
		{"missing", []string{`bp nt!ExFreeHeapPool`}, []string{"does not list it"}},
		{"not a breakpoint", []string{`ed nt!PoolHitTag 0`}, nil},
		{"listed twice, one good", []string{`bp nt!ExpFreeHeapSpecialPool`}, nil},
		{"two at once", []string{`bp nt!ExFreeHeapPool`, `bp nt!ExAllocateHeapSpecialPool`}, []string{"does not list it", "deferred"}},
		{"a raw address, listed by its symbol", []string{"bp fffff800`02e03904 \";kb;g\""}, nil},
		{"a raw address with 0x", []string{`bp 0xfffff80002e03904`}, nil},
		{"a raw address kd does not list", []string{"bp fffff800`02e03908"}, []string{"does not list it"}},
		{"a raw address, disabled", []string{`bp fffff8011e7a2b30`}, []string{"disabled"}},
	}
	for _, tc := range tests {
		err := CheckBL(got, tc.armed)
		if (err == nil) != (tc.errs == nil) {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		for _, w := range tc.errs {
			if !strings.Contains(err.Error(), w) || !errors.Is(err, ErrNotArmed) {
				t.Errorf("%s: %q lacks %q", tc.name, err, w)
			}
		}
	}
}

func TestCheckPoolHitTagArmed(t *testing.T) {
	tag := pooltag.MustParse("Ddk")
	const x = "fffff801`1e9c4a30 nt!PoolHitTag = <no type information>\n"
	tests := []struct {
		name, x, dd, want string
	}{
		{"armed", x, "fffff801`1e9c4a30  206b6444\n", ""},
		{"not resolved", "0: kd> ", "", "does not resolve"},
		{"export only", "*** ERROR: Symbol file could not be found.  Defaulted to export symbols for ntkrnlmp.exe - \n0: kd> ", "", "export symbols"},
		{"default value still there", x, "fffff801`1e9c4a30  ffffff0f\n", "reads back 0xffffff0f"},
		{"unreadable", x, "fffff801`1e9c4a30  ????????\n", "gave no value"},
	}
	for _, tc := range tests {
		err := CheckPoolHitTagArmed(tag, tc.x, tc.dd)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrNotArmed) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestStartFailure(t *testing.T) {
	tests := []struct {
		first, second string
		cause         StartCause
		code          int
		conn, check   string
	}{
		{"Could not start kernel debugging using com:port=com1,baud=115200 parameters, Win32 error 0n5", `"Access is denied."`, StartAccessDenied, 5, "com:port=com1,baud=115200", "holds the port"},
		{`Could not start kernel debugging using com:pipe,port=\\.\pipe\com_1,resets=0 parameters, Win32 error 0n2`, `"The system cannot find the file specified."`, StartNotFound, 2, `com:pipe,port=\\.\pipe\com_1,resets=0`, "add reconnect"},
		{"Could not start kernel debugging using net:port=50000,key=1.2.3.4 parameters, Win32 error 0n87", `"The parameter is incorrect."`, StartBadParameter, 87, "net:port=50000,key=***", "bcdedit /dbgsettings"},
		{"Could not start kernel debugging using net:port=50000,key=1.2.3.4,target=10.0.0.2 parameters, Win32 error 0n10048", "", StartInUse, 10048, "net:port=50000,key=***,target=10.0.0.2", "KDNET port is in use"},
		{"0: kd> Could not start kernel debugging using com:port=com9,baud=115200 parameters, Win32 error 0n1450", "", StartOther, 1450, "com:port=com9,baud=115200", "connection string"},
	}
	for _, tc := range tests {
		f, ok := ParseStartFailure(tc.first)
		if !ok || f.Cause != tc.cause || f.Win32 != tc.code || f.Connection != tc.conn {
			t.Errorf("%q: %+v, %v", tc.first, f, ok)
			continue
		}
		if tc.second != "" {
			if f, ok = f.WithMessage(tc.second); !ok || f.Message != strings.Trim(tc.second, `"`) {
				t.Errorf("%q: message %+v", tc.second, f)
			}
		}
		msg := (&StartError{Failure: f}).Error()
		if !strings.Contains(msg, tc.check) || strings.Contains(msg, "1.2.3.4") || strings.Contains(msg, "\n") {
			t.Errorf("%q: %q", tc.first, msg)
		}
	}
	if _, ok := ParseStartFailure("Waiting to reconnect..."); ok {
		t.Error("waiting taken for a failure")
	}
	if _, ok := (StartFailure{}).WithMessage("Waiting to reconnect..."); ok {
		t.Error("an unquoted line taken for the message")
	}
}

func TestParseInsertFailure(t *testing.T) {
	tests := []struct {
		line, addr string
		id, code   int
		ok         bool
	}{
		{"Unable to insert breakpoint 0 at fffff801`1e7a2b30, Win32 error 0n299", "fffff801`1e7a2b30", 0, 299, true},
		{"0: kd> Unable to insert breakpoint 12 at 8062f7b4, Win32 error 0n998", "8062f7b4", 12, 998, true},
		{"bp0 at fffff801`1e7a2b30 failed", "fffff801`1e7a2b30", 0, 0, true},
		{"Breakpoint 0 hit", "", 0, 0, false},
	}
	for _, tc := range tests {
		f, ok := ParseInsertFailure(tc.line)
		if ok != tc.ok || f.Address != tc.addr || f.ID != tc.id || f.Win32 != tc.code {
			t.Errorf("%q: %+v, %v", tc.line, f, ok)
		}
	}
	f, _ := ParseInsertFailure("Unable to insert breakpoint 0 at fffff801`1e7a2b30, Win32 error 0n299")
	if msg := (&GoError{Failure: f, Tries: 3}).Error(); !strings.Contains(msg, "0n299") || !strings.Contains(msg, "bc 0") {
		t.Errorf("GoError: %q", msg)
	}
}

func TestClassifyBreak(t *testing.T) {
	box := []string{
		"Break instruction exception - code 80000003 (first chance)",
		"*******************************************************************************",
		"*   You are seeing this message because you pressed either                    *",
		"*       CTRL+C (if you run console kernel debugger) or,                       *",
		"*******************************************************************************",
		"nt!DbgBreakPointWithStatus:",
		"fffff801`d1efb1b0 cc              int     3",
	}
	tests := []struct {
		name     string
		lines    []string
		bugCheck bool
		kind     BreakKind
		where    string
	}{
		{"the break-in box", box, false, BreakPerson, "nt!DbgBreakPointWithStatus"},
		{"a quiet break-in", []string{"Break instruction exception - code 80000003 (first chance)", "nt!RtlpBreakWithStatusInstruction:", "8053c3f0 cc int 3"}, false, BreakIn, "nt!RtlpBreakWithStatusInstruction"},
		{"a bug check", box[5:], true, BreakBugCheck, "nt!DbgBreakPointWithStatus"},
		{"pool hit tag", []string{"Break instruction exception - code 80000003 (first chance)", "nt!ExAllocatePoolWithTag+0x881:", "82b2f88c int     3"}, false, BreakPoolHit, "nt!ExAllocatePoolWithTag+0x881"},
		{"pool hit tag on a free", []string{"nt!ExFreeHeapPool+0x3c1:"}, false, BreakPoolHit, "nt!ExFreeHeapPool+0x3c1"},
		{"a driver's int 3", []string{"Break instruction exception - code 80000003 (first chance)", "mydrv!CFoo::Bar+0x12:", "fffff801`11223344 cc int 3"}, false, BreakInt3, "mydrv!CFoo::Bar+0x12"},
		{"no symbol", []string{"mydrv+0x424e:"}, false, BreakInt3, "mydrv+0x424e"},
		{"nothing", []string{"Break instruction exception - code 80000003 (first chance)", "STACK_TEXT:"}, false, BreakUnknown, ""},
	}
	for _, tc := range tests {
		b := ClassifyBreak(tc.lines, tc.bugCheck)
		if b.Kind != tc.kind || b.Where != tc.where {
			t.Errorf("%s: %+v (%s)", tc.name, b, b.Kind)
		}
	}
}

// FuzzAnswers: kd's answers, whatever they hold, never panic; an armed
// answer has no error and an unarmed one an error of one line; bl's
// entries have non-negative ids; a start failure's connection never
// shows a key.
func FuzzAnswers(f *testing.F) {
	f.Add("Bp expression 'nt!X' could not be resolved, adding deferred bp\n breakpoint 1 redefined")
	f.Add(" 0 e fffff800`02e03904     0001 (0001) nt!X \"kb;g\"\n 1 eu 0001 (0001) (nt!Y)")
	f.Add("Could not start kernel debugging using net:port=1,key=a.b.c.d parameters, Win32 error 0n87")
	f.Add("Unable to insert breakpoint 0 at 1, Win32 error 0n299\nbp0 at 1 failed\nmydrv!Foo:")
	f.Fuzz(func(t *testing.T, s string) {
		a := ParseBreakpointAnswer(s)
		if err := a.Err("bp X"); (err == nil) != a.Armed() {
			t.Fatalf("armed %v, err %v", a.Armed(), err)
		}
		for _, b := range ParseBL(s) {
			if b.ID < 0 {
				t.Fatalf("bl %+v", b)
			}
		}
		for _, l := range strings.Split(s, "\n") {
			if sf, ok := ParseStartFailure(l); ok {
				if strings.Contains(strings.ToLower(sf.Connection), "key=") && !strings.Contains(strings.ToLower(sf.Connection), "key=***") {
					t.Fatalf("key shown: %q", sf.Connection)
				}
				if strings.Contains(sf.Check(), "\n") {
					t.Fatal("check of two lines")
				}
			}
			_, insert := ParseInsertFailure(l)
			if insert && Answer(l) != AnswerInsertFailure {
				t.Fatalf("Answer(%q) = %v for an insert failure", l, Answer(l))
			}
		}
		ClassifyBreak(strings.Split(s, "\n"), false)
		CheckBL(ParseBL(s), strings.Split(s, "\n"))
	})
}

func TestAnswer(t *testing.T) {
	tests := []struct {
		line string
		kind AnswerKind
	}{
		{"Could not start kernel debugging using com:port=com1,baud=115200 parameters, Win32 error 0n5", AnswerStartFailure},
		{"Unable to insert breakpoint 0 at fffff801`1e7a2b30, Win32 error 0n299", AnswerInsertFailure},
		{"bp0 at fffff801`1e7a2b30 failed", AnswerInsertFailure},
		{"0: kd> Bp expression 'nt!MmAllocateSpecialPool' could not be resolved, adding deferred bp", AnswerBreakpoint},
		{"Couldn't resolve error at 'nt!Foo'", AnswerBreakpoint},
		{"     ^ Couldn't resolve error at 'nt!Foo'", AnswerBreakpoint},
		{"  ^ Syntax error at 'bp \"'", AnswerBreakpoint},
		{"breakpoint 0 redefined", AnswerRedefined},
		{"*** ERROR: Symbol file could not be found.  Defaulted to export symbols for ntkrnlmp.exe - ", AnswerSymbolWarning},
		{`Unable to load image \SystemRoot\system32\ntoskrnl.exe, Win32 error 0n2`, AnswerSymbolWarning},
		{"Breakpoint 0 hit", AnswerNone},
		{"00 fffff801`d1f0a3b2 : 00000000`00000200 : nt!MmAllocateSpecialPool", AnswerNone},
		{"Connected to Windows 10 19041 x64 target", AnswerNone},
		{"", AnswerNone},
	}
	for _, tc := range tests {
		if got := Answer(tc.line); got != tc.kind {
			t.Errorf("Answer(%q) = %v, want %v", tc.line, got, tc.kind)
		}
	}
}
