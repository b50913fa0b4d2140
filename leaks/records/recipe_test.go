package records

import (
	"errors"
	"testing"
)

func TestRecipeCommands(t *testing.T) {
	x64, err := NewRecipe(ArchX64, FamilyLegacy)
	if err != nil {
		t.Fatal(err)
	}
	seg, _ := NewRecipe(ArchX64, FamilySegmentHeap)
	x86, _ := NewRecipe(ArchX86, FamilyLegacy)
	arm, _ := NewRecipe(ArchARM64, FamilySegmentHeap)
	entry := func(r Recipe, known ...uint64) string {
		s, err := r.EntryBreakpoint(0, known)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, tc := range []struct{ got, want string }{
		{entry(x64), `bp0 nt!MmAllocateSpecialPool ".printf \"KDLK1 A %p %I64x %x %p\\n\", @$thread, @rcx, @edx, @$ra; kb; .printf \"KDLK1 N %p\\n\", @$ra"`},
		{entry(x64, 0xfffff8021d61c3a5, 0xfffff8021d638d4a),
			`bp0 nt!MmAllocateSpecialPool ".printf \"KDLK1 A %p %I64x %x %p\\n\", @$thread, @rcx, @edx, @$ra; kb; .if ((@$ra == 0xfffff8021d61c3a5) | (@$ra == 0xfffff8021d638d4a)) {g} .else {.printf \"KDLK1 N %p\\n\", @$ra}"`},
		{entry(seg, 0xfffff8021d61c3a5),
			`bp0 nt!ExAllocateHeapSpecialPool ".printf \"KDLK1 A %p %I64x %x %p\\n\", @$thread, @rdx, @r8d, @$ra; kb; .if ((@$ra == 0xfffff8021d61c3a5)) {g} .else {.printf \"KDLK1 N %p\\n\", @$ra}"`},
		{entry(x86, 0x82a1c3a5),
			"bp0 nt!MmAllocateSpecialPool \".printf \\\"KDLK1 A %p %x %x %p\\\\n\\\", @$thread, dwo(@esp+4), dwo(@esp+8), @$ra; kb; .if (((@$ra & 0x0`ffffffff) == 0x0`82a1c3a5)) {g} .else {.printf \\\"KDLK1 N %p\\\\n\\\", @$ra}\""},
		{entry(arm), "bp0 nt!ExAllocateHeapSpecialPool \".printf \\\"KDLK1 A %p %I64x %x %p\\\\n\\\", @$thread, @x1, (@x2 & 0x0`ffffffff), @$ra; kb; .printf \\\"KDLK1 N %p\\\\n\\\", @$ra\""},
		{x64.ReturnBreakpoint(2, 0xfffff8021d61c3a5), `bp2 0xfffff8021d61c3a5 ".printf \"KDLK1 R %p %p %p\\n\", @$thread, @$ip, @rax; g"`},
		{x86.ReturnBreakpoint(3, 0x82a1c3a5), `bp3 0x82a1c3a5 ".printf \"KDLK1 R %p %p %p\\n\", @$thread, @$ip, @eax; g"`},
		{arm.ReturnBreakpoint(3, 0xfffff8021d61c3a5), `bp3 0xfffff8021d61c3a5 ".printf \"KDLK1 R %p %p %p\\n\", @$thread, @$ip, @x0; g"`},
		{x64.FreeBreakpoint(1), `bp1 nt!MmFreeSpecialPool ".printf \"KDLK1 F %p %p\\n\", @$thread, @rcx; g"`},
		{seg.FreeBreakpoint(1), `bp1 nt!ExpFreeHeapSpecialPool ".printf \"KDLK1 F %p %p\\n\", @$thread, @rdx; g"`},
		{x86.FreeBreakpoint(1), `bp1 nt!MmFreeSpecialPool ".printf \"KDLK1 F %p %p\\n\", @$thread, dwo(@esp+4); g"`},
		{x64.Header(), `.echo KDLK1 H x64 mm-special-pool`},
		{x64.Reboot(), `.echo KDLK1 Z`},
		{func() string { s, _ := x64.EntryBreakpointFull(0, []uint64{0xfffff8021d61c3a5}); return s }(),
			`bp0 nt!MmAllocateSpecialPool ".printf \"KDLK1 A %p %I64x %x %p\\n\", @$thread, @rcx, @edx, @$ra; kb; .if ((@$ra == 0xfffff8021d61c3a5)) {g} .else {.printf \"KDLK1 N %p\\n\", @$ra; g}"`},
	} {
		if tc.got != tc.want {
			t.Errorf("got  %s\nwant %s", tc.got, tc.want)
		}
	}
	if _, err := x64.EntryBreakpoint(0, make([]uint64, MaxReturnSites+1)); err == nil {
		t.Error("more return sites than kd has breakpoints: no error")
	}
}

func TestRecipeUnsupported(t *testing.T) {
	for _, tc := range []struct {
		a Arch
		f Family
	}{{ArchX86, FamilySegmentHeap}, {ArchARM64, FamilyLegacy}, {"mips", FamilyLegacy}, {ArchX64, "lookaside"}} {
		_, err := NewRecipe(tc.a, tc.f)
		var ue *UnsupportedError
		if !errors.Is(err, ErrUnsupported) || !errors.As(err, &ue) {
			t.Errorf("NewRecipe(%s, %s) = %v; want an *UnsupportedError", tc.a, tc.f, err)
		}
	}
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		``:                    `""`,
		`kb; g`:               `"kb; g"`,
		`.printf "a\n", @rcx`: `".printf \"a\\n\", @rcx"`,
		`.echo "back\slash"`:  `".echo \"back\\slash\""`,
	} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %s; want %s", in, got, want)
		}
	}
}
