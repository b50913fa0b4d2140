package fakekd

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// testEnv is a halt for expression tests: registers, dword memory,
// symbols.
type testEnv struct {
	regs map[string]uint64
	mem  map[uint64]uint32
	wide bool
}

func (e testEnv) register(n string) (uint64, bool) { v, ok := e.regs[n]; return v, ok }
func (e testEnv) ptr64() bool                      { return e.wide }
func (e testEnv) symbol(n string) (uint64, bool) {
	if strings.EqualFold(n, "nt!MmAllocateSpecialPool") {
		return 0xfffff8011e2a3b40, true
	}
	return 0, false
}
func (e testEnv) memory(a uint64, size int) (uint64, bool) {
	var v uint64
	for i := size - 1; i >= 0; i-- {
		d, ok := e.mem[(a+uint64(i))&^3]
		if !ok {
			return 0, false
		}
		v = v<<8 | uint64(byte(d>>(((a+uint64(i))&3)*8)))
	}
	return v, true
}

var x64Env = testEnv{wide: true, regs: map[string]uint64{
	"rcx": 0x88, "edx": 0x206b6444, "rsp": 0xffffd001c70c6290, "$ra": 0xfffff8011e3b13b1,
	"$thread": 0xffffb30e4c1d2080, "eax": 0xffffffff82a1b2c3, "rax": 0xffffc88f3a200f70,
}, mem: map[uint64]uint32{
	0xffffd001c70c6290: 0x1e3b13b1, 0xffffd001c70c6294: 0xfffff801, // [rsp] = the return address
	0xffffc88f3a200000: 0x90, 0xffffc88f3a200004: 0x206b6444, // a special-pool page header
}}

var x86Env = testEnv{regs: map[string]uint64{"esp": 0xf7a2bc48, "$ra": 0x8053c5f8, "eax": 0xffffffffb3a00f70},
	mem: map[uint64]uint32{0xf7a2bc48: 0x8053c5f8, 0xf7a2bc4c: 0x88, 0xf7a2bc50: 0x206b6444}}

func TestEvalMASM(t *testing.T) {
	tests := []struct {
		expr string
		env  testEnv
		want uint64
		err  string // the error's kind, "" for none
	}{
		{"10", x64Env, 0x10, ""},
		{"0n10", x64Env, 10, ""},
		{"0t17", x64Env, 15, ""},
		{"0y101", x64Env, 5, ""},
		{"0x0`ffffffff", x64Env, 0xffffffff, ""},
		{"fffff801`1e3b13b1", x64Env, 0xfffff8011e3b13b1, ""},
		// Kernel-mode sign extension: a constant with bit 31 set, unless a
		// grave accent precedes its low bytes.
		{"80000000", x64Env, 0xffffffff80000000, ""},
		{"0`80000000", x64Env, 0x80000000, ""},
		{"1+2*3", x64Env, 7, ""},
		{"(1+2)*3", x64Env, 9, ""},
		{"2*3 == 6", x64Env, 1, ""},
		{"1 | 2 & 3", x64Env, 3, ""},
		{"7 mod 4 + 10 / 2", x64Env, 0xb, ""},
		{"1 << 4 >> 2", x64Env, 4, ""},
		{"-1", x64Env, ^uint64(0), ""},
		{"not 0", x64Env, 1, ""},
		{"hi 12345678", x64Env, 0x1234, ""},
		{"@rcx + 4", x64Env, 0x8c, ""},
		{"rcx", x64Env, 0x88, ""},
		{"@edx", x64Env, 0x206b6444, ""},
		{"@$thread", x64Env, 0xffffb30e4c1d2080, ""},
		{"$thread", x64Env, 0xffffb30e4c1d2080, ""},
		{"poi(@rsp)", x64Env, 0xfffff8011e3b13b1, ""},
		{"poi(@rsp) == @$ra", x64Env, 1, ""},
		{"(@$ra == 0xfffff8011e3b13b1) | (@$ra == 0xfffff8011e3b2000)", x64Env, 1, ""},
		{"(@$ra == 0xfffff8011e3b2000)", x64Env, 0, ""},
		{"wo(@rax & 0xfffffffffffff000) & 0x1fff", x64Env, 0x90, ""},
		{"dwo((@rax & 0xfffffffffffff000)+4)", x64Env, 0x206b6444, ""},
		{"by(@rax & 0xfffffffffffff000)", x64Env, 0x90, ""},
		{"nt!MmAllocateSpecialPool+0x10", x64Env, 0xfffff8011e2a3b50, ""},
		{"dwo(@esp+4)", x86Env, 0x88, ""},
		{"dwo(@esp+8)", x86Env, 0x206b6444, ""},
		{"poi(@esp)", x86Env, 0xffffffff8053c5f8, ""}, // a 32-bit pointer, sign-extended
		{"(@$ra & 0x0`ffffffff) == 0x0`8053c5f8", x86Env, 1, ""},
		{"@eax & 0x0`ffffffff", x86Env, 0xb3a00f70, ""},
		{"@zz", x64Env, 0, "Bad register"},
		{"poi(5)", x64Env, 0, "Memory access"},
		{"(1", x64Env, 0, "Syntax"},
		{"1 +", x64Env, 0, "Syntax"},
		{"1/0", x64Env, 0, "Divide by zero"},
		{"nt!NoSuchThing", x64Env, 0, "Couldn't resolve"},
		{"123456789abcdef01", x64Env, 0, "Couldn't resolve"}, // 17 digits: too big
		{"", x64Env, 0, "Syntax"},
		{strings.Repeat("(", 100) + "1" + strings.Repeat(")", 100), x64Env, 0, "Syntax"},
	}
	for _, tt := range tests {
		got, err := evalMASM(tt.expr, tt.env)
		var ee *exprError
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("%q: %v", tt.expr, err)
		case tt.err != "" && (!errors.As(err, &ee) || ee.kind != tt.err):
			t.Errorf("%q: error %v, want a %s error", tt.expr, err, tt.err)
		case tt.err == "" && got != tt.want:
			t.Errorf("%q = %#x, want %#x", tt.expr, got, tt.want)
		}
	}
}

func TestFormatPrintf(t *testing.T) {
	tests := []struct {
		format string
		vals   []uint64
		ptr64  bool
		want   string
		err    bool
	}{
		{"KDLK1 A %p %I64x %x %p\n", []uint64{0xffffb30e4c1d2080, 0x88, 0x206b6444, 0xfffff8011e3b13b1}, true,
			"KDLK1 A ffffb30e4c1d2080 88 206b6444 fffff8011e3b13b1\n", false},
		{"%p", []uint64{0x1}, true, "0000000000000001", false},
		{"%p %x", []uint64{0xffffffff86b2c030, 0xffffffff86b2c030}, false, "86b2c030 86b2c030", false},
		{"%I64x", []uint64{0xffffffff86b2c030}, false, "ffffffff86b2c030", false},
		{"%I64X", []uint64{0xabc}, true, "ABC", false},
		{"%x", []uint64{0x123456789}, true, "23456789", false},
		{"%08x", []uint64{0x1f}, true, "0000001f", false},
		{"%d", []uint64{0xffffffff}, true, "-1", false},
		{"%u", []uint64{0xffffffff}, true, "4294967295", false},
		{"%I64d", []uint64{10}, true, "10", false},
		{"%N", []uint64{0x1234}, false, "0000000000001234", false},
		{"100%%", nil, true, "100%", false},
		{"%c", []uint64{'A'}, true, "A", false},
		{"%x %x", []uint64{1}, true, "", true},
		{"%x", []uint64{1, 2}, true, "", true},
		{"%p", nil, true, "", true},
		{"%lp", []uint64{1}, true, "", true},
		{"%q", []uint64{1}, true, "", true},
		{"50%", nil, true, "", true},
	}
	for _, tt := range tests {
		got, err := formatPrintf(tt.format, tt.vals, tt.ptr64)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("formatPrintf(%q, %x) = %q, %v; want %q, error %v", tt.format, tt.vals, got, err, tt.want, tt.err)
		}
	}
}

func TestParsePrintf(t *testing.T) {
	tests := []struct {
		rest, format string
		args         []string
		err          bool
	}{
		{`"KDLK1 F %p %p\n", @$thread, @rcx`, `KDLK1 F %p %p\n`, []string{"@$thread", "@rcx"}, false},
		{`"x %x\n", dwo((@rcx & 0xfffffffffffff000)+4)`, `x %x\n`, []string{"dwo((@rcx & 0xfffffffffffff000)+4)"}, false},
		{`/D "a \"q\" %x", 1`, `a \"q\" %x`, []string{"1"}, false},
		{`"plain"`, "plain", nil, false},
		{`"a", `, "", nil, true},
		{`"unterminated`, "", nil, true},
		{`noquote`, "", nil, true},
		{`"a" 1`, "", nil, true},
	}
	for _, tt := range tests {
		f, a, err := parsePrintf(tt.rest)
		if (err != nil) != tt.err || f != tt.format || fmt.Sprint(a) != fmt.Sprint(tt.args) {
			t.Errorf("parsePrintf(%q) = %q %q %v", tt.rest, f, a, err)
		}
	}
}

func TestNextCommandBracesAndJ(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{`.printf "a\n"; kb; .if ((@$ra == 1)) {g} .else {.printf "N %p\n", @$ra; g}`,
			[]string{`.printf "a\n"`, "kb", `.if ((@$ra == 1)) {g} .else {.printf "N %p\n", @$ra; g}`}},
		{`kb; j (poi(MyVar)>0n20) ''; 'gc' `, []string{"kb", `j (poi(MyVar)>0n20) ''; 'gc'`}},
		{`.echo "{"; g`, []string{`.echo "{"`, "g"}},
	}
	for _, tt := range tests {
		if got := splitCommands(tt.in); fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("splitCommands(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// The leak recipe's commands at the prompt, one piece at a time.
func TestLeakCommands(t *testing.T) {
	leaks := map[string]string{"FAKEKD_LEAKS": "1"}
	tests := []struct {
		name  string
		env   map[string]string
		setup []string
		line  string
		want  string // {P} is the prompt
		check func(*testing.T, *machine)
	}{
		{name: "printf", line: `.printf "KDLK1 A %p %x\n", @$thread, 0n16`, want: "KDLK1 A ffffb30e4b0c1080 10\n{P}"},
		{name: "printf without newline", line: `.printf "a"; .echo b`, want: "ab\n{P}"},
		{name: "printf x86 pointer", env: map[string]string{"FAKEKD_ARCH": "x86"}, line: `.printf "%p\n", @$thread`, want: "86b1d020\n{P}"},
		{name: "printf bad argument ends the list", line: `.printf "%x\n", @nope; .echo never`, want: "Bad register error at '@nope'\n{P}"},
		{name: "evaluate", line: "? 1+1", want: "Evaluate expression: 2 = 00000000`00000002\n{P}"},
		{name: "if true", line: ".if (1 == 1) {.echo yes} .else {.echo no}", want: "yes\n{P}"},
		{name: "if false", line: ".if (0) {.echo yes} .else {.echo no}; .echo after", want: "no\nafter\n{P}"},
		{name: "elsif", line: ".if (0) {.echo a} .elsif (1) {.echo b} .else {.echo c}", want: "b\n{P}"},
		{name: "if without braces", line: ".if (1) .echo a", want: "Syntax error at '(1) .echo a'\n{P}"},
		{name: "if g resumes and ends the list", line: ".if (1) {g}; .echo never", want: "",
			check: func(t *testing.T, m *machine) {
				if m.st.Target != targetRunning {
					t.Errorf("target %s", m.st.Target)
				}
			}},
		{name: "j quoted", line: "j (0) '.echo a' ; '.echo b'", want: "b\n{P}"},
		{name: "j true", line: "j 1 '.echo a;.echo c' ; '.echo b'", want: "a\nc\n{P}"},
		{name: "bp at an address expression", line: "bp @$ra+0", check: func(t *testing.T, m *machine) {
			if len(m.bps.list) != 1 || !m.bps.list[0].resolved || m.bps.list[0].addr != m.halt.frames[0].ret {
				t.Errorf("bps %+v", m.bps.list)
			}
		}},
		{name: "bp /1 /t thread", line: `bp /1 /t @$thread 0xfffff8011e3b13b1 "g"`, check: func(t *testing.T, m *machine) {
			b := m.bps.get(0)
			if b == nil || !b.oneShot || b.thread != 0xffffb30e4b0c1080 || b.addr != 0xfffff8011e3b13b1 || b.command != "g" {
				t.Errorf("bp %+v", b)
			}
		}},
		{name: "bl shows the thread", setup: []string{`bp /t @$thread 0xfffff8011e3b13b1 "g"`}, line: "bl",
			want: " 0 e Disable Clear  fffff801`1e3b13b1     0001 (0001) fffff801`1e3b13b1  Match thread data ffffb30e`4b0c1080 \"g\"\n{P}"},
		{name: "redefinition at the same address", setup: []string{`bp /t @$thread 0xfffff8011e3b13b1 "g"`},
			line: `bp 0xfffff8011e3b13b1 "kb; g"`, want: "breakpoint 0 redefined\n{P}", check: func(t *testing.T, m *machine) {
				if len(m.bps.list) != 1 || m.bps.list[0].thread != 0 || m.bps.list[0].command != "kb; g" {
					t.Errorf("bps %+v", m.bps.list[0])
				}
			}},
		{name: "bp with an existing ID replaces it", setup: []string{"bp nt!ExAllocatePool2"}, line: "bp0 nt!MmAllocateSpecialPool",
			want: "breakpoint 0 redefined\n{P}", check: func(t *testing.T, m *machine) {
				if len(m.bps.list) != 1 || m.bps.list[0].sym != "nt!MmAllocateSpecialPool" {
					t.Errorf("bps %+v", m.bps.list[0])
				}
			}},
		{name: "bs", setup: []string{`bp nt!MmAllocateSpecialPool "g"`}, line: `bs 0 ".printf \"x\\n\"; g"`, want: "{P}",
			check: func(t *testing.T, m *machine) {
				if c := m.bps.get(0).command; c != `.printf "x\n"; g` {
					t.Errorf("command %q", c)
				}
			}},
		{name: "bs unknown", line: `bs 4 "g"`, want: "Breakpoint 4 does not exist\n{P}"},
		{name: "nested quoting", line: `bp nt!MmAllocateSpecialPool "bp /1 @$ra \".printf \\\" => %p\\\\n\\\", @rax; g\"; g"`,
			check: func(t *testing.T, m *machine) {
				if c := m.bps.get(0).command; c != `bp /1 @$ra ".printf \" => %p\\n\", @rax; g"; g` {
					t.Errorf("command %q", c)
				}
			}},
		{name: "32 breakpoints", setup: func() []string {
			var s []string
			for i := 0; i < 32; i++ {
				s = append(s, fmt.Sprintf("bp 0xfffff8011e3b%04x", i*16))
			}
			return s
		}(), line: "bp 0xfffff8011e3c0000", want: tooManyBreakpoints + "\n{P}", check: func(t *testing.T, m *machine) {
			if len(m.bps.list) != 32 {
				t.Errorf("%d breakpoints", len(m.bps.list))
			}
		}},
		{name: "poolused", env: leaks, line: "!poolused 2 Ddk", check: func(t *testing.T, m *machine) {
			out := m.out.w.(interface{ String() string }).String()
			want := fmt.Sprintf(" Ddk  %8d %8d %9d %8dUNKNOWN pooltag 'Ddk ', please update pooltag.txt", m.st.Leak.OutstandingCount, m.st.Leak.OutstandingBytes, 0, 0)
			if !strings.Contains(out, want) || strings.Contains(out, "Proc") || m.st.Leak.OutstandingCount != 6 {
				t.Errorf("!poolused:\n%s\nwant a line %q", out, want)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, buf := haltedMachine(t, tt.env)
			if tt.env["FAKEKD_LEAKS"] == "1" {
				m.leak = m.newLeakSim()
				m.updateLeakState()
			}
			for _, l := range tt.setup {
				m.typedLine(l)
			}
			buf.Reset()
			m.typedLine(tt.line)
			prompt := fmt.Sprintf("%d: kd> ", m.cpu)
			if tt.want != "" || tt.check == nil {
				if want := strings.ReplaceAll(tt.want, "{P}", prompt); buf.String() != want {
					t.Errorf("output\ngot  %q\nwant %q", buf.String(), want)
				}
			}
			if tt.check != nil {
				tt.check(t, m)
			}
		})
	}
}

func FuzzEvalMASM(f *testing.F) {
	for _, s := range []string{"1+2", "(@$ra == 0xfffff8011e3b13b1) | (@$ra == 1)", "dwo(@esp+4)", "0x0`ffffffff",
		"poi(@rsp)", "not 0n5", "wo(@rax & 0xfffffffffffff000) & 0x1fff", "1 << 70", "-(--1)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 512 {
			return
		}
		v, err := evalMASM(s, x64Env)
		if err != nil {
			return
		}
		// Parentheses change nothing; adding zero changes nothing.
		if w, err := evalMASM("("+s+")", x64Env); err != nil && !strings.Contains(err.Error(), "Syntax") || err == nil && w != v {
			t.Errorf("(%s) = %#x, %v; %s = %#x", s, w, err, s, v)
		}
		if w, err := evalMASM("("+s+")+0", x64Env); err == nil && w != v {
			t.Errorf("(%s)+0 = %#x, want %#x", s, w, v)
		}
	})
}

func FuzzMASMNumber(f *testing.F) {
	f.Add(uint64(0x80000000))
	f.Add(uint64(0xfffff8011e3b13b1))
	f.Fuzz(func(t *testing.T, v uint64) {
		for _, s := range []string{fmt.Sprintf("0x%016x", v), fmt.Sprintf("0n%d", v), fmt.Sprintf("%08x`%08x", v>>32, v&0xffffffff)} {
			if got, ok := parseMASMNumber(s); !ok || got != v {
				t.Errorf("parseMASMNumber(%q) = %#x, %v", s, got, ok)
			}
		}
	})
}

func FuzzPrintf(f *testing.F) {
	f.Add(`"KDLK1 A %p %I64x %x %p\n", @$thread, @rcx, @edx, @$ra`, uint64(0x88))
	f.Add(`"%d %u %N %%"`, uint64(1))
	f.Fuzz(func(t *testing.T, rest string, v uint64) {
		format, args, err := parsePrintf(rest)
		if err != nil {
			return
		}
		vals := make([]uint64, len(args))
		for i := range vals {
			vals[i] = v
		}
		out, err := formatPrintf(unescapeC(format), vals, true)
		if err == nil && !strings.Contains(format, "%") && !strings.Contains(format, `\`) && out != format {
			t.Errorf("a format without conversions printed %q, want %q", out, format)
		}
		// %I64x prints the value back.
		if s, err := formatPrintf("%I64x", []uint64{v}, true); err != nil || s != fmt.Sprintf("%x", v) {
			t.Errorf("%%I64x of %#x = %q, %v", v, s, err)
		}
	})
}

func FuzzSplitCommands(f *testing.F) {
	f.Add(`.printf "a\n"; kb; .if ((@$ra == 1)) {g} .else {.printf "N %p\n", @$ra; g}`)
	f.Add(`bp nt!X ".echo \"a;b\"; g"; bl`)
	f.Fuzz(func(t *testing.T, s string) {
		for _, p := range splitCommands(s) {
			// A piece is one command: splitting it again gives itself.
			if again := splitCommands(p); len(again) != 1 || again[0] != p {
				t.Errorf("piece %q of %q splits into %q", p, s, again)
			}
		}
	})
}

// Which drivers free: every one but FAKEKD_LEAKER's module; each stack
// goes through one of the allocator's call sites, and the truth names it
// by the driver's innermost frame.
func TestLeakDrivers(t *testing.T) {
	m, _ := haltedMachine(t, map[string]string{"FAKEKD_LEAKS": "1", "FAKEKD_LEAKER": "leaky",
		"FAKEKD_DRIVERS": "leaky!Grab+0x10>leaky!Dispatch:1,busy!Get+0x2c>busy!Work:3,busy2+0x424e:2", "FAKEKD_PREARMED": "5"})
	s := m.newLeakSim()
	if fmt.Sprint(s.frees) != "[false true true]" || s.names[0] != "leaky!Grab+0x10" || s.names[2] != "busy2+0x424e" {
		t.Errorf("frees %v names %q", s.frees, s.names)
	}
	if s.sites[0] == s.sites[1] || s.sites[0] != s.sites[2] {
		t.Errorf("call sites %x", s.sites)
	}
	for _, a := range s.live {
		if a.Stack == "leaky!Grab+0x10" || !a.Prearmed || a.Addr&0xfff == 0 || a.Addr&0xf != 0 {
			t.Errorf("preallocated %+v", a.LeakAlloc)
		}
	}
	if len(s.live) != 5 || m.st.Leak.Prearmed != 5 {
		t.Errorf("%d preallocated", len(s.live))
	}
	x86, _ := haltedMachine(t, map[string]string{"FAKEKD_LEAKS": "1", "FAKEKD_ARCH": "x86"})
	for _, a := range x86.newLeakSim().live {
		if a.Addr > 0xffffffff || a.Addr < 0x80000000 || a.Addr&7 != 0 {
			t.Errorf("x86 special pool address %#x", a.Addr)
		}
	}
}
