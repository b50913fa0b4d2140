package kdalike

import (
	"fmt"
	"strings"
	"testing"
)

func view(wide bool) machineView {
	mem := leakMem{}
	if wide {
		mem.put(0xffffd001c70c6298, 8, 0xfffff8011e8eae0d)
		mem.put(0xffffa18c2e400000, 4, 0x90)
		mem.put(0xffffa18c2e400004, 4, 0x206b6444)
	} else {
		mem.put(0xa3c4fb8c, 4, 0x8064b1d2)
		mem.put(0xa3c4fb90, 4, 0x88)
		mem.put(0xa3c4fb94, 4, 0x206b6444)
	}
	k := &kd{cfg: config{arch: "x64"}}
	if !wide {
		k.cfg.arch = "x86"
	}
	regs := map[string]uint64{"rcx": 0x88, "rdx": 0xdeadbeef206b6444, "rsp": 0xffffd001c70c6298, "rax": 0xffffa18c2e400f70, "esp": 0xa3c4fb8c, "eax": 0xb1400f70}
	fixSubRegs(regs, k.cfg.arch)
	return k.viewOf(regs, map[string]uint64{"$thread": 0xffffb30e4c1d2080, "$ra": 0xfffff8011e8eae0d}, mem)
}

func TestMASM(t *testing.T) {
	x64, x86 := view(true), view(false)
	tests := []struct {
		expr string
		v    machineView
		want uint64
		err  string
	}{
		{"@rcx", x64, 0x88, ""},
		{"@edx", x64, 0x206b6444, ""},
		{"@rdx", x64, 0xdeadbeef206b6444, ""},
		{"(@$ra == 0xfffff8011e8eae0d)", x64, 1, ""},
		{"(@$ra == 0xfffff8011e8eae0d) | (@$ra == 0xfffff8011e8f0177)", x64, 1, ""},
		{"poi(@rsp) == @$ra", x64, 1, ""},
		{"wo(@rax & 0xfffffffffffff000) & 0x1fff", x64, 0x90, ""},
		{"dwo((@rax & 0xfffffffffffff000)+4)", x64, 0x206b6444, ""},
		{"dwo(@esp+4)", x86, 0x88, ""},
		{"dwo(@esp+8)", x86, 0x206b6444, ""},
		{"@eax", x86, 0xffffffffb1400f70, ""},                 // a 32-bit register is sign-extended
		{"@eax & 0x0`ffffffff", x86, 0xb1400f70, ""},          // the grave accent keeps the mask 32 bits
		{"@eax & ffffffff", x86, 0xffffffffb1400f70, ""},      // without it the constant is sign-extended too
		{"(@$ra & 0x0`ffffffff) == 0x0`1e8eae0d", x86, 1, ""}, // the recipe's x86 comparison
		{"0n10 + 10 * 2", x64, 42, ""},
		{"8 - 2 - 1", x64, 5, ""},
		{"1 + 2 == 3 and 1", x64, 1, ""},
		{"@nope", x64, 0, "Bad register"},
		{"poi(0)", x64, 0, "Memory access"},
		{"(1 + 2", x64, 0, "Syntax"},
		{"nt!Nothing", x64, 0, "Couldn't resolve"},
		{"5 / 0", x64, 0, "Divide by zero"},
	}
	for _, tt := range tests {
		got, err := masmEval(tt.expr, tt.v)
		switch {
		case tt.err != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.err)):
			t.Errorf("%q: error %v, want %s", tt.expr, err, tt.err)
		case tt.err == "" && err != nil:
			t.Errorf("%q: %v", tt.expr, err)
		case tt.err == "" && got != tt.want:
			t.Errorf("%q = %#x, want %#x", tt.expr, got, tt.want)
		}
	}
}

func TestKdPrintf(t *testing.T) {
	tests := []struct {
		f    string
		vals []uint64
		wide bool
		want string
		err  bool
	}{
		{"KDLK1 A %p %I64x %x %p\n", []uint64{0xffffb30e4c1d2080, 0x88, 0x206b6444, 0xfffff8011e8eae0d}, true,
			"KDLK1 A ffffb30e`4c1d2080 88 206b6444 fffff801`1e8eae0d\n", false},
		{"%p %x", []uint64{0xffffffff86b2c030, 0xffffffff86b2c030}, false, "86b2c030 86b2c030", false},
		{"%I64x", []uint64{0xffffffff86b2c030}, false, "ffffffff86b2c030", false},
		{"%d %u", []uint64{0xffffffff, 0xffffffff}, true, "-1 4294967295", false},
		{"%N", []uint64{1}, true, "0000000000000001", false},
		{"%08x%%", []uint64{0xab}, true, "000000ab%", false},
		{"%x", nil, true, "", true},
		{"%x", []uint64{1, 2}, true, "", true},
		{"%z", []uint64{1}, true, "", true},
	}
	for _, tt := range tests {
		got, err := kdPrintf(tt.f, tt.vals, tt.wide)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("kdPrintf(%q) = %q, %v; want %q", tt.f, got, err, tt.want)
		}
	}
}

func TestSplitList(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{`.printf "a;b\n", 1; kb; .if (1) {g} .else {.printf "N\n"; g}`, []string{`.printf "a;b\n", 1`, "kb", `.if (1) {g} .else {.printf "N\n"; g}`}},
		{`kb; j (1) 'g' ; '.echo x'`, []string{"kb", `j (1) 'g' ; '.echo x'`}},
	}
	for _, tt := range tests {
		if got := splitList(tt.in); fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("splitList(%q) = %q", tt.in, got)
		}
	}
	if got, after, ok := unquoteOnce(`".printf \"KDLK1 R %p\\n\", @rax; g" tail`); !ok || got != `.printf "KDLK1 R %p\n", @rax; g` || after != " tail" {
		t.Errorf("unquoteOnce = %q %q %v", got, after, ok)
	}
}

func FuzzMASM(f *testing.F) {
	f.Add("(@$ra == 0xfffff8011e8eae0d) | (@$ra == 1)")
	f.Add("dwo((@rax & 0xfffffffffffff000)+4)")
	f.Add("0x0`ffffffff & @eax")
	x64 := view(true)
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 400 {
			return
		}
		v, err := masmEval(s, x64)
		if err != nil {
			return
		}
		// Wrapping in parentheses or adding zero changes nothing.
		if w, err := masmEval("("+s+")", x64); err == nil && w != v {
			t.Errorf("(%s) = %#x, %s = %#x", s, w, s, v)
		}
		if w, err := masmEval("0+("+s+")", x64); err == nil && w != v {
			t.Errorf("0+(%s) = %#x, want %#x", s, w, v)
		}
	})
}

func FuzzKdPrintf(f *testing.F) {
	f.Add("KDLK1 R %p %p %p\n", uint64(0xfffff8011e8eae0d))
	f.Fuzz(func(t *testing.T, format string, v uint64) {
		n := strings.Count(format, "%") - 2*strings.Count(format, "%%")
		vals := make([]uint64, max(n, 0))
		for i := range vals {
			vals[i] = v
		}
		out, err := kdPrintf(format, vals, true)
		if err == nil && !strings.Contains(format, "%") && out != format {
			t.Errorf("%q printed %q", format, out)
		}
		if s, err := kdPrintf("%I64x", []uint64{v}, true); err != nil || s != fmt.Sprintf("%x", v) {
			t.Errorf("%%I64x of %#x = %q", v, s)
		}
	})
}

func FuzzSplitList(f *testing.F) {
	f.Add(`.printf "a;b\n", 1; kb; .if (1) {g} .else {.printf "N\n"; g}`)
	f.Fuzz(func(t *testing.T, s string) {
		for _, p := range splitList(s) {
			if again := splitList(p); len(again) != 1 || again[0] != p {
				t.Errorf("piece %q of %q splits into %q", p, s, again)
			}
		}
	})
}
