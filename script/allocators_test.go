package script

import (
	"errors"
	"strings"
	"testing"
)

func TestParseXAnswer(t *testing.T) {
	const exportOnly = "*** ERROR: Symbol file could not be found.  Defaulted to export symbols for ntkrnlmp.exe - \n"
	tests := []struct {
		name, out, sym string
		status         SymbolStatus
		addr           string
		export, none   bool
	}{
		{"x64 public symbols", "0: kd> x nt!MmAllocateSpecialPool\nfffff801`1e7a2b30 nt!MmAllocateSpecialPool (<no parameter info>)\n0: kd> ", "nt!MmAllocateSpecialPool", SymbolResolved, "fffff801`1e7a2b30", false, false},
		{"x86", "8062f7b4          nt!MmAllocateSpecialPool = <no type information>\r\n", "nt!MmAllocateSpecialPool", SymbolResolved, "8062f7b4", false, false},
		{"another image name", "fffff801`1e7a2b30 ntkrnlmp!ExAllocateHeapSpecialPool (void)\n", "nt!ExAllocateHeapSpecialPool", SymbolResolved, "fffff801`1e7a2b30", false, false},
		{"no match: kd prints nothing", "0: kd> ", "nt!MmAllocateSpecialPool", SymbolMissing, "", false, false},
		{"export only", exportOnly + "0: kd> ", "nt!MmAllocateSpecialPool", SymbolMissing, "", true, false},
		{"export only, exported routine", exportOnly + "fffff801`1e6a0010 nt!ExFreePoolWithTag (<no parameter info>)\n", "nt!ExFreePoolWithTag", SymbolResolved, "fffff801`1e6a0010", true, false},
		{"no symbols", `Unable to load image \SystemRoot\system32\ntoskrnl.exe, Win32 error 0n2` + "\n", "nt!MmAllocateSpecialPool", SymbolMissing, "", false, true},
		{"a longer name is not a match", "fffff801`1e7a2b30 nt!MmAllocateSpecialPoolEx (<no parameter info>)\n", "nt!MmAllocateSpecialPool", SymbolMissing, "", false, false},
		{"echo only", "x nt!MmAllocateSpecialPool\n", "nt!MmAllocateSpecialPool", SymbolMissing, "", false, false},
		{"couldn't resolve", "Couldn't resolve error at 'nt!MmAllocateSpecialPool'\n", "nt!MmAllocateSpecialPool", SymbolMissing, "", false, false},
	}
	for _, tc := range tests {
		a := ParseXAnswer(tc.out, tc.sym)
		if a.Status != tc.status || a.Address != tc.addr || a.ExportOnly != tc.export || a.NoSymbols != tc.none {
			t.Errorf("%s: %+v", tc.name, a)
		}
	}
}

func TestProbeFamilies(t *testing.T) {
	res := func(sym string) string { return "fffff801`1e7a2b30 " + sym + " (<no parameter info>)\n0: kd> " }
	cmds := ProbeCommands()
	if len(cmds) != 2*len(Families) || cmds[0] != "x nt!MmAllocateSpecialPool" || cmds[2] != "x nt!ExAllocateHeapSpecialPool" {
		t.Fatalf("ProbeCommands = %v", cmds)
	}
	tests := []struct {
		name    string
		answers map[string]string
		arm     []string
		err     string
	}{
		{"legacy kernel", map[string]string{"x nt!MmAllocateSpecialPool": res("nt!MmAllocateSpecialPool"), "x nt!MmFreeSpecialPool": res("nt!MmFreeSpecialPool")}, []string{"nt!MmAllocateSpecialPool"}, ""},
		{"segment heap", map[string]string{"x nt!ExAllocateHeapSpecialPool": res("nt!ExAllocateHeapSpecialPool")}, []string{"nt!ExAllocateHeapSpecialPool"}, ""},
		{"both", map[string]string{"x nt!MmAllocateSpecialPool": res("nt!MmAllocateSpecialPool"), "x nt!ExAllocateHeapSpecialPool": res("nt!ExAllocateHeapSpecialPool")}, []string{"nt!MmAllocateSpecialPool", "nt!ExAllocateHeapSpecialPool"}, ""},
		{"export only", map[string]string{"x nt!MmAllocateSpecialPool": "*** ERROR: Symbol file could not be found.  Defaulted to export symbols for ntkrnlmp.exe - \n"}, nil, "export symbols"},
		{"nothing", map[string]string{}, nil, "none of nt!MmAllocateSpecialPool, nt!ExAllocateHeapSpecialPool resolves"},
	}
	for _, tc := range tests {
		arm, err := CheckAllocators(ProbeFamilies(tc.answers))
		var got []string
		for _, p := range arm {
			got = append(got, p.Family.Alloc)
		}
		if strings.Join(got, ",") != strings.Join(tc.arm, ",") {
			t.Errorf("%s: arm %v", tc.name, got)
		}
		var nae *NoAllocatorError
		if tc.err != "" && (!errors.As(err, &nae) || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), ".reload /f nt")) {
			t.Errorf("%s: err %v", tc.name, err)
		}
		if tc.err == "" && err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if bp := AllocatorBreakpoint(Families[1]); bp != `bp nt!ExAllocateHeapSpecialPool ";kb;g"` {
		t.Errorf("AllocatorBreakpoint = %q", bp)
	}
}

func TestFamiliesTable(t *testing.T) {
	for _, f := range Families {
		if RoleOf(f.Alloc) != AllocRoutine || RoleOf(f.Free) != FreeRoutine {
			t.Errorf("%s: roles %v %v", f.Name, RoleOf(f.Alloc), RoleOf(f.Free))
		}
		x64, ok := f.Args[X64]
		if !ok || x64.Size == "" || x64.Tag == "" || x64.Result == "" || x64.Free == "" {
			t.Errorf("%s: x64 args %+v", f.Name, x64)
		}
		if g, ok := Lookup(strings.ToUpper(f.Free)); !ok || g.Name != f.Name {
			t.Errorf("Lookup(%s) = %v, %v", f.Free, g.Name, ok)
		}
	}
	if _, ok := Lookup("nt!ExFreePoolWithTag"); ok {
		t.Error("a plain pool routine taken for a family")
	}
}

func TestRoleOf(t *testing.T) {
	tests := []struct {
		frame string
		role  RoutineRole
	}{
		{"nt!MmAllocateSpecialPool", AllocRoutine},
		{"nt!ExAllocatePoolWithTag+0x881", AllocRoutine},
		{"NTKRNLMP!ExFreePoolWithTag+0x1a", FreeRoutine},
		{"nt!ExpFreeHeapSpecialPool+0x4b", FreeRoutine},
		{"nt!KeBugCheckEx+0x107", BugCheckRoutine},
		{"nt!IofCallDriver+0x55", NotPoolRoutine},
		{"mydrv!ExFreePoolWithTag", NotPoolRoutine},
		{"ExFreePoolWithTag", NotPoolRoutine},
		{"?", NotPoolRoutine},
	}
	for _, tc := range tests {
		if got := RoleOf(tc.frame); got != tc.role {
			t.Errorf("RoleOf(%q) = %v, want %v", tc.frame, got, tc.role)
		}
	}
}

// FuzzParseXAnswer: on any output, a resolved symbol has the address kd
// printed in front of it, and a missing one none.
func FuzzParseXAnswer(f *testing.F) {
	f.Add("fffff801`1e7a2b30 nt!MmAllocateSpecialPool (<no parameter info>)\n", "nt!MmAllocateSpecialPool")
	f.Add("8062f7b4 ntkrnlpa!X = <no type information>", "nt!X")
	f.Fuzz(func(t *testing.T, out, sym string) {
		a := ParseXAnswer(out, sym)
		if (a.Status == SymbolResolved) != (a.Address != "") {
			t.Fatalf("%+v", a)
		}
		if a.Status == SymbolResolved && !strings.Contains(out, a.Address) {
			t.Fatalf("address %q not in the output", a.Address)
		}
	})
}
