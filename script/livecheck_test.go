package script

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/kdlaunch/kdlaunch/pooltag"
)

func TestParseDD(t *testing.T) {
	tests := []struct {
		name, out string
		want      uint32
		ok        bool
	}{
		{"x64", "fffff801`1e5c3a10  206b6444\n", 0x206b6444, true},
		{"x86", "8055a5c0  206b6444\n", 0x206b6444, true},
		{"crlf", "fffff801`1e5c3a10  31676154\r\n", 0x31676154, true},
		{"no backtick", "fffff8011e5c3a10  31676154", 0x31676154, true},
		{"echo and prompt", "0: kd> dd nt!MmSpecialPoolTag L1\nfffff801`1e5c3a10  0000002a\n0: kd> ", 0x2a, true},
		{"output on the prompt line", "0: kd> fffff801`1e5c3a10  002a744e\r\n0: kd> ", 0x002a744e, true},
		{"old prompt", "KDx86> 8055a5c0  64657246\nKDx86> ", 0x64657246, true},
		{"zero", "8055a5c0  00000000", 0, true},
		{"uppercase", "8055A5C0  206B6444", 0x206b6444, true},
		{"unresolved", "Couldn't resolve error at 'nt!MmSpecialPoolTag L1'\n0: kd> ", 0, false},
		{"unresolved with caret", "dd nt!MmSpecialPoolTag L1\n                   ^ Couldn't resolve error at 'nt!MmSpecialPoolTag L1'\n", 0, false},
		{"unreadable", "fffff801`1e5c3a10  ????????\n", 0, false},
		{"empty", "", 0, false},
		{"prompt only", "0: kd> ", 0, false},
		{"garbage", "Symbol search path is: srv*\n", 0, false},
	}
	for _, tc := range tests {
		got, ok := ParseDD(tc.out)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: ParseDD = %#x, %v; want %#x, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParseX(t *testing.T) {
	tests := []struct {
		name, out, sym string
		want           bool
	}{
		{"x64 public", "fffff801`1e7a2b30 nt!MmAllocateSpecialPool (MmAllocateSpecialPool)\n", AllocatorSymbol, true},
		{"x64 private", "fffff801`1e7a2b30 nt!MmAllocateSpecialPool (unsigned int64, unsigned long, _POOL_TYPE, unsigned long)\n", AllocatorSymbol, true},
		{"x86", "8062f7b4          nt!MmAllocateSpecialPool = <no type information>\n", AllocatorSymbol, true},
		{"prompt line", "0: kd> fffff801`1e7a2b30 nt!MmAllocateSpecialPool (MmAllocateSpecialPool)\r\n0: kd> ", AllocatorSymbol, true},
		{"case", "fffff801`1e7a2b30 nt!mmallocatespecialpool (MmAllocateSpecialPool)", AllocatorSymbol, true},
		{"nothing", "0: kd> ", AllocatorSymbol, false},
		{"empty", "", AllocatorSymbol, false},
		{"other symbol", "fffff801`1e7a2b30 nt!MmAllocateSpecialPoolEx (MmAllocateSpecialPoolEx)", AllocatorSymbol, false},
		{"echo only", "x nt!MmAllocateSpecialPool\n0: kd> ", AllocatorSymbol, false},
		{"pool hit tag", "fffff801`1e9c4a30 nt!PoolHitTag = <no type information>", PoolHitTagSymbol, true},
	}
	for _, tc := range tests {
		if got := ParseX(tc.out, tc.sym); got != tc.want {
			t.Errorf("%s: ParseX = %v, want %v", tc.name, got, tc.want)
		}
	}
}

const (
	xFound  = "fffff801`1e7a2b30 nt!MmAllocateSpecialPool (MmAllocateSpecialPool)\n0: kd> "
	xAbsent = "0: kd> "
)

func TestCheckSpecialPool(t *testing.T) {
	ddk := pooltag.MustParse("Ddk")
	tests := []struct {
		name      string
		tag       pooltag.Tag
		dd, x     string
		want      []string
		mustHave  []string // substrings of the joined warnings
		mustCount int
	}{
		{name: "matching", tag: ddk, dd: "fffff801`1e5c3a10  206b6444\n", x: xFound, want: nil},
		{name: "matching wildcard", tag: pooltag.MustParse("Nt*"), dd: "8055a5c0  002a744e", x: xFound, want: nil},
		{
			name: "different", tag: ddk, dd: "fffff801`1e5c3a10  31676154\n", x: xFound,
			want: []string{`special pool: the target's MmSpecialPoolTag is 0x31676154 ("Tag1"), not 0x206b6444 ("Ddk ") as configured: the reboot after setting PoolTag did not happen, or the registry holds another tag`},
		},
		{
			name: "off", tag: ddk, dd: "8055a5c0  00000000", x: xFound,
			want: []string{`special pool: the target's MmSpecialPoolTag is 0x00000000 (special pool off), not 0x206b6444 ("Ddk ") as configured: the reboot after setting PoolTag did not happen, or PoolTag is missing or 0 in the registry`},
		},
		{
			name: "size value", tag: ddk, dd: "8055a5c0  00000020", x: xFound,
			want: []string{`special pool: the target's MmSpecialPoolTag is 0x00000020 (an allocation-size range, not a tag), not 0x206b6444 ("Ddk ") as configured: the reboot after setting PoolTag did not happen, or the registry holds another tag`},
		},
		{
			name: "not a tag", tag: ddk, dd: "8055a5c0  ffffffff", x: xFound,
			want: []string{`special pool: the target's MmSpecialPoolTag is 0xffffffff (not a pool tag), not 0x206b6444 ("Ddk ") as configured: the reboot after setting PoolTag did not happen, or the registry holds another tag`},
		},
		{
			name: "unreadable", tag: ddk, dd: "Couldn't resolve error at 'nt!MmSpecialPoolTag L1'", x: xFound,
			want: []string{`special pool: could not read nt!MmSpecialPoolTag on the target, so whether it uses 0x206b6444 ("Ddk ") as configured is unknown: check that nt's symbols load (.reload nt), or read it by hand with dd nt!MmSpecialPoolTag L1`},
		},
		{
			name: "allocator missing", tag: ddk, dd: "8055a5c0  206b6444", x: xAbsent,
			want: []string{`special pool: nt!MmAllocateSpecialPool does not resolve on the target, so the breakpoint cannot bind: check that nt's symbols load (.reload nt), or use another recipe: ed nt!PoolHitTag 206b6444 (--strategy pool-hit-tag; breaks on allocations and frees, no reboot), or bp nt!ExAllocatePoolWithTag "j (@r8d==0x206b6444) 'kb;g';'gc'" (x64; the same on nt!ExAllocatePool2; every allocation stops the target to test the tag)`},
		},
		{
			name: "both wrong", tag: ddk, dd: "8055a5c0  31676154", x: "",
			mustHave: []string{"0x31676154", "ed nt!PoolHitTag 206b6444", "ExAllocatePool2"}, mustCount: 2,
		},
		{
			name: "wildcard, allocator missing", tag: pooltag.MustParse("Nt*"), dd: "8055a5c0  002a744e", x: "",
			mustHave: []string{"ed nt!PoolHitTag 002a744e", `instead of the mask "Nt*"`}, mustCount: 1,
		},
		{name: "no tag, special pool on", tag: pooltag.Tag{}, dd: "8055a5c0  206b6444", x: xFound, want: nil},
		{
			name: "no tag, special pool off", tag: pooltag.Tag{}, dd: "8055a5c0  00000000", x: xFound,
			want: []string{`special pool: the target's MmSpecialPoolTag is 0x00000000 (special pool off) and no tag is configured: nothing will reach nt!MmAllocateSpecialPool; set PoolTag on the target (kdlaunch target-setup --tag TAG) and reboot it`},
		},
		{
			name: "no tag, nothing resolves", tag: pooltag.Tag{}, dd: "", x: "",
			mustHave: []string{"whether special pool is on is unknown", "ed nt!PoolHitTag TAG", "@r8d==0xTAG"}, mustCount: 2,
		},
	}
	for _, tc := range tests {
		got := CheckSpecialPool(tc.tag, tc.dd, tc.x)
		for _, w := range got {
			if strings.ContainsAny(w, "\r\n") {
				t.Errorf("%s: warning is not one line: %q", tc.name, w)
			}
			if !strings.HasPrefix(w, "special pool: ") {
				t.Errorf("%s: warning does not name special pool: %q", tc.name, w)
			}
		}
		if tc.mustHave != nil {
			if len(got) != tc.mustCount {
				t.Errorf("%s: %d warnings, want %d: %q", tc.name, len(got), tc.mustCount, got)
			}
			all := strings.Join(got, "\n")
			for _, s := range tc.mustHave {
				if !strings.Contains(all, s) {
					t.Errorf("%s: warnings %q lack %q", tc.name, got, s)
				}
			}
			continue
		}
		if len(got) != len(tc.want) {
			t.Errorf("%s: got %d warnings %q, want %q", tc.name, len(got), got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: warning %d\n got %s\nwant %s", tc.name, i, got[i], tc.want[i])
			}
		}
	}
}

func TestCheckPoolHitTag(t *testing.T) {
	if w := CheckPoolHitTag("fffff801`1e9c4a30 nt!PoolHitTag = <no type information>\n"); w != nil {
		t.Errorf("resolved: %q", w)
	}
	w := CheckPoolHitTag("0: kd> ")
	if len(w) != 1 || !strings.Contains(w[0], "nt!PoolHitTag does not resolve") {
		t.Errorf("unresolved: %q", w)
	}
}

func TestRecipe(t *testing.T) {
	ddk := pooltag.MustParse("Ddk")
	for _, s := range []Strategy{"", StrategySpecialPool} {
		arm, disarm, err := Recipe(s, ddk)
		if err != nil || len(arm) != 1 || arm[0] != `bp nt!MmAllocateSpecialPool ";kb;g"` || disarm != nil {
			t.Errorf("Recipe(%q) = %q, %q, %v", s, arm, disarm, err)
		}
	}
	if arm, _, err := Recipe(StrategySpecialPool, pooltag.Tag{}); err != nil || len(arm) != 1 {
		t.Errorf("special-pool without a tag: %q, %v", arm, err)
	}
	arm, disarm, err := Recipe(StrategyPoolHitTag, ddk)
	if err != nil || len(arm) != 1 || arm[0] != "ed nt!PoolHitTag 206b6444" || len(disarm) != 1 || disarm[0] != "ed nt!PoolHitTag 0" {
		t.Errorf("Recipe(pool-hit-tag) = %q, %q, %v", arm, disarm, err)
	}
	for _, c := range append(arm, disarm...) {
		if err := ValidateCommand(c); err != nil {
			t.Errorf("recipe command %q: %v", c, err)
		}
	}

	var pe *pooltag.Error
	_, _, err = Recipe(StrategyPoolHitTag, pooltag.MustParse("Nt*"))
	if !errors.As(err, &pe) || pe.Reason != pooltag.ReasonWildcard {
		t.Errorf("wildcard: %v", err)
	}
	_, _, err = Recipe(StrategyPoolHitTag, pooltag.Tag{})
	if !errors.As(err, &pe) || pe.Reason != pooltag.ReasonNoTag {
		t.Errorf("no tag: %v", err)
	}
	_, _, err = Recipe("special_pool", ddk)
	if !errors.Is(err, ErrStrategy) || !strings.Contains(err.Error(), "special-pool") || !strings.Contains(err.Error(), "pool-hit-tag") || !strings.Contains(err.Error(), "leaks") {
		t.Errorf("unknown strategy: %v", err)
	}
}

func TestParseStrategy(t *testing.T) {
	for in, want := range map[string]Strategy{"": StrategySpecialPool, "special-pool": StrategySpecialPool, "pool-hit-tag": StrategyPoolHitTag, "leaks": StrategyLeaks} {
		var s Strategy
		if err := s.UnmarshalText([]byte(in)); err != nil || s != want || !s.Valid() {
			t.Errorf("UnmarshalText(%q) = %q, %v; want %q", in, s, err, want)
		}
	}
	for _, in := range []string{"magic", "Special-Pool", "special_pool", " pool-hit-tag", "leak"} {
		var s Strategy
		if err := s.UnmarshalText([]byte(in)); !errors.Is(err, ErrStrategy) || !strings.Contains(err.Error(), "pool-hit-tag") || !strings.Contains(err.Error(), "leaks") {
			t.Errorf("UnmarshalText(%q) = %v, want ErrStrategy naming every strategy", in, err)
		}
	}
	if !StrategySpecialPool.SpecialPool() || StrategyPoolHitTag.SpecialPool() || !StrategyPoolHitTag.HitOnBreak() || StrategySpecialPool.HitOnBreak() {
		t.Error("SpecialPool/HitOnBreak disagree with the recipes")
	}
	if Strategy("magic").Valid() || Strategy("").Valid() {
		t.Error("an unknown or empty strategy is valid")
	}
}

// FuzzLiveCheck: kd's answers to dd and x, whatever they hold, never panic,
// and a value ParseDD accepts appears in what kd printed.
func FuzzLiveCheck(f *testing.F) {
	for _, s := range []string{
		"fffff802`3a5d1e48  206b6444\n0: kd> ",
		"0: kd> fffff802`3a5d1e48  206b6444\r\n",
		"Couldn't resolve error at 'nt!MmSpecialPoolTag L1'\n",
		"fffff802`3a5d1e48  ????????\n",
		"fffff802`3a4c1234 nt!MmAllocateSpecialPool (MmAllocateSpecialPool)\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if v, ok := ParseDD(s); ok {
			if !strings.Contains(strings.ToLower(s), fmt.Sprintf("%08x", v)) {
				t.Fatalf("ParseDD(%q) = %#x, which kd did not print", s, v)
			}
		}
		_ = ParseX(s, "nt!MmAllocateSpecialPool")
		_ = CheckSpecialPool(pooltag.MustParse("Ddk"), s, s)
		_ = CheckPoolHitTag(s)
	})
}
