package pooltag

import (
	"errors"
	mathrand "math/rand"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/quick"
)

func TestKnownValues(t *testing.T) {
	tests := []struct {
		in, str, hex, dbg string
		v                 uint32
		wild              bool
	}{
		{"Ddk", "Ddk ", "0x206b6444", "206b6444", 0x206b6444, false},
		{"Ddk ", "Ddk ", "0x206b6444", "206b6444", 0x206b6444, false},
		{"Tag1", "Tag1", "0x31676154", "31676154", 0x31676154, false},
		{"Fred", "Fred", "0x64657246", "64657246", 0x64657246, false},
		{"N??s", "N??s", "0x733f3f4e", "733f3f4e", 0x733F3F4E, true},
		{"Nt*", "Nt*", "0x002a744e", "002a744e", 0x002A744E, true},
		{"*", "*", "0x0000002a", "0000002a", 0x2A, true},
		{"a", "a   ", "0x20202061", "20202061", 0x20202061, false},
		{"ab*", "ab*", "0x002a6261", "002a6261", 0x002a6261, true},
		{"Nts*", "Nts*", "0x2a73744e", "2a73744e", 0x2a73744e, true},
		{" x", " x  ", "0x20207820", "20207820", 0x20207820, false},
	}
	for _, tc := range tests {
		tag, err := Parse(tc.in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.in, err)
		}
		if got := tag.DWORD(); got != tc.v {
			t.Errorf("Parse(%q).DWORD() = %#x, want %#x", tc.in, got, tc.v)
		}
		if got := tag.String(); got != tc.str {
			t.Errorf("Parse(%q).String() = %q, want %q", tc.in, got, tc.str)
		}
		if got := tag.Hex(); got != tc.hex {
			t.Errorf("Parse(%q).Hex() = %q, want %q", tc.in, got, tc.hex)
		}
		if got := tag.Debugger(); got != tc.dbg {
			t.Errorf("Parse(%q).Debugger() = %q, want %q", tc.in, got, tc.dbg)
		}
		if got := tag.Wildcard(); got != tc.wild {
			t.Errorf("Parse(%q).Wildcard() = %v, want %v", tc.in, got, tc.wild)
		}
		back, err := Decode(tc.v)
		if err != nil {
			t.Fatalf("Decode(%#x): %v", tc.v, err)
		}
		if back != tag {
			t.Errorf("Decode(%#x) = %q, want %q", tc.v, back, tag)
		}
	}
}

func TestDecodeDdk(t *testing.T) {
	v, err := ParseDWORD("0x206b6444")
	if err != nil {
		t.Fatal(err)
	}
	tag, err := Decode(v)
	if err != nil {
		t.Fatal(err)
	}
	if tag.String() != "Ddk " || tag.Quoted() != `"Ddk "` || tag.Reversed() != " kdD" {
		t.Errorf("got %q quoted %s reversed %q", tag, tag.Quoted(), tag.Reversed())
	}
	if (Tag{}).Quoted() != "(none)" || !(Tag{}).IsZero() || (Tag{}).String() != "" {
		t.Error("zero Tag")
	}
}

func TestChars(t *testing.T) {
	got := MustParse("Ddk").Chars()
	want := []Char{{"D", 68, "0x44"}, {"d", 100, "0x64"}, {"k", 107, "0x6b"}, {" ", 32, "0x20"}}
	if len(got) != len(want) {
		t.Fatalf("Chars = %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Chars[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	if n := len(MustParse("Nt*").Chars()); n != 3 {
		t.Errorf("Nt* has %d chars, want 3 (no padding after *)", n)
	}
}

func reasonOf(t *testing.T, err error) Reason {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not *pooltag.Error", err, err)
	}
	if strings.Contains(e.Msg, "\n") {
		t.Errorf("message is not one line: %q", e.Msg)
	}
	return e.Reason
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		in     string
		reason Reason
		msg    string // substring
	}{
		{"", ReasonEmpty, `tag "": empty`},
		{"Ddk!x", ReasonTooLong, `tag "Ddk!x": 5 characters; a pool tag has 1 to 4`},
		{"Tag12345", ReasonTooLong, "8 characters"},
		{"Dék", ReasonNotASCII, `'é' (U+00E9) is not ASCII`},
		{"D\xffk", ReasonNotASCII, "byte 0xff is not ASCII"},
		{"A\tB", ReasonControl, "character 2 is the control character 0x09"},
		{"A\x00", ReasonControl, "0x00"},
		{"Ab\x7f", ReasonControl, "0x7f"},
		{"N*x", ReasonStarNotLast, `drop "x" after it`},
		{"**", ReasonStarNotLast, "last character"},
		{"*a", ReasonStarNotLast, "last character"},
		{" ", ReasonBlank, "only spaces"},
		{"    ", ReasonBlank, "only spaces"},
	}
	for _, tc := range tests {
		_, err := Parse(tc.in)
		if err == nil {
			t.Errorf("Parse(%q) accepted", tc.in)
			continue
		}
		if r := reasonOf(t, err); r != tc.reason {
			t.Errorf("Parse(%q) reason %q, want %q (%v)", tc.in, r, tc.reason, err)
		}
		if !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("Parse(%q) = %q, want it to contain %q", tc.in, err, tc.msg)
		}
		if err := ValidateForKd(tc.in); err == nil {
			t.Errorf("ValidateForKd(%q) accepted", tc.in)
		}
	}
}

func TestValidateForKd(t *testing.T) {
	for _, ok := range []string{"Ddk", "Tag1", "N??s", "Nt*", "*", "a$b", "{x}", "A B"} {
		if err := ValidateForKd(ok); err != nil {
			t.Errorf("ValidateForKd(%q): %v", ok, err)
		}
	}
	for _, bad := range []struct{ in, char string }{
		{`a"b`, `'"'`}, {"a;b", `';'`}, {"a'b", `'\''`}, {"a`b", "'`'"},
	} {
		err := ValidateForKd(bad.in)
		if err == nil {
			t.Errorf("ValidateForKd(%q) accepted", bad.in)
			continue
		}
		if r := reasonOf(t, err); r != ReasonKdSyntax {
			t.Errorf("ValidateForKd(%q) reason %q", bad.in, r)
		}
		if !strings.Contains(err.Error(), bad.char) {
			t.Errorf("ValidateForKd(%q) = %q, want it to name %s", bad.in, err, bad.char)
		}
		if _, err := Parse(bad.in); err != nil {
			t.Errorf("Parse(%q) should accept a printable tag: %v", bad.in, err)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	tests := []struct {
		v      uint32
		reason Reason
	}{
		{0, ReasonZero},
		{0x20, ReasonSizeValue},
		{0xff0, ReasonSizeValue},
		{0x00202041, ReasonNotTag},      // "A  " + NUL: padding must be spaces
		{0x00004142, ReasonNotTag},      // "BA" without '*'
		{0x41004142, ReasonNotTag},      // NUL inside
		{0x0a0d4142, ReasonControl},     // CR LF
		{0x7f414243, ReasonControl},     // DEL
		{0xc1414243, ReasonNotASCII},    // high bit
		{0x20202a41, ReasonStarNotLast}, // "A*  "
		{0x20202020, ReasonBlank},
	}
	for _, tc := range tests {
		_, err := Decode(tc.v)
		if err == nil {
			t.Errorf("Decode(%#x) accepted", tc.v)
			continue
		}
		if r := reasonOf(t, err); r != tc.reason {
			t.Errorf("Decode(%#x) reason %q, want %q (%v)", tc.v, r, tc.reason, err)
		}
		if !strings.Contains(err.Error(), Hex(tc.v)) {
			t.Errorf("Decode(%#x) = %q, want it to name the value", tc.v, err)
		}
	}
}

func TestParseDWORD(t *testing.T) {
	good := map[string]uint32{
		"0x206b6444":   0x206b6444,
		"0X206B6444":   0x206b6444,
		"206b6444":     0x206b6444,
		" 206b6444 \n": 0x206b6444,
		"0n543908932":  543908932,
		"0N42":         42,
		"2a":           0x2a,
		"0x2A":         0x2a,
		"ffffffff":     0xffffffff,
		"0":            0,
	}
	for in, want := range good {
		got, err := ParseDWORD(in)
		if err != nil || got != want {
			t.Errorf("ParseDWORD(%q) = %#x, %v; want %#x", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0x", "0n", "xyz", "0x12g4", "0n12a", "1ffffffff", "0n4294967296", "-1", "0x-1", "Ddk "} {
		_, err := ParseDWORD(bad)
		if err == nil {
			t.Errorf("ParseDWORD(%q) accepted", bad)
			continue
		}
		if r := reasonOf(t, err); r != ReasonBadNumber {
			t.Errorf("ParseDWORD(%q) reason %q", bad, r)
		}
	}
}

func TestSizeValue(t *testing.T) {
	tests := []struct {
		max  int
		arch string
		want uint32
	}{
		{1, "x64", 0x20}, {16, "x64", 0x20}, {17, "x64", 0x30}, {32, "x64", 0x30}, {0xFE0, "x64", 0xFF0},
		{1, "x86", 0x10}, {8, "x86", 0x10}, {9, "x86", 0x18}, {24, "x86", 0x20}, {0xFF0, "x86", 0xFF8},
		{30, "amd64", 0x30}, {30, "i386", 0x28},
	}
	for _, tc := range tests {
		got, err := SizeValue(tc.max, tc.arch)
		if err != nil || got != tc.want {
			t.Errorf("SizeValue(%d, %s) = %#x, %v; want %#x", tc.max, tc.arch, got, err, tc.want)
			continue
		}
		lo, hi, ok := SizeRange(got, tc.arch)
		if !ok || tc.max < lo || tc.max > hi {
			t.Errorf("SizeRange(%#x, %s) = %d..%d %v; want it to hold %d", got, tc.arch, lo, hi, ok, tc.max)
		}
		if _, err := Decode(got); err == nil {
			t.Errorf("Decode(%#x) accepted a size value", got)
		}
	}
	for _, bad := range []struct {
		max    int
		arch   string
		reason Reason
	}{
		{0, "x64", ReasonSizeRange}, {-5, "x86", ReasonSizeRange}, {0xFE1, "x64", ReasonSizeRange},
		{0xFF1, "x86", ReasonSizeRange}, {5000, "x64", ReasonSizeRange}, {16, "arm", ReasonArch}, {16, "", ReasonArch},
	} {
		_, err := SizeValue(bad.max, bad.arch)
		if err == nil {
			t.Errorf("SizeValue(%d, %q) accepted", bad.max, bad.arch)
			continue
		}
		if r := reasonOf(t, err); r != bad.reason {
			t.Errorf("SizeValue(%d, %q) reason %q, want %q", bad.max, bad.arch, r, bad.reason)
		}
	}
	if lo, hi, ok := SizeRange(0x20, "x64"); !ok || lo != 1 || hi != 16 {
		t.Errorf("SizeRange(0x20, x64) = %d..%d %v", lo, hi, ok)
	}
	if lo, hi, ok := SizeRange(0x20, "x86"); !ok || lo != 17 || hi != 24 {
		t.Errorf("SizeRange(0x20, x86) = %d..%d %v", lo, hi, ok)
	}
	for _, v := range []uint32{0, 0x10, 0x2a, 0x1000, 0x206b6444} {
		if _, _, ok := SizeRange(v, "x64"); ok {
			t.Errorf("SizeRange(%#x, x64) accepted", v)
		}
	}
}

// randomTag draws a valid tag text: 1 to 4 printable characters, '*' only
// last.
func randomTag(r *rand.Rand) string {
	n := 1 + r.IntN(4)
	b := make([]byte, n)
	for i := range b {
		for {
			c := byte(0x20 + r.IntN(0x7f-0x20))
			if c != '*' {
				b[i] = c
				break
			}
		}
	}
	if r.IntN(4) == 0 {
		b[n-1] = '*'
	}
	if strings.Trim(string(b), " ") == "" {
		b[0] = 'x'
	}
	return string(b)
}

// TestRoundTripTags: Parse -> DWORD -> Decode gives the same tag, and the
// padded text parses to the same value.
func TestRoundTripTags(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		s := randomTag(r)
		tag, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q): %v", s, err)
		}
		back, err := Decode(tag.DWORD())
		if err != nil {
			t.Fatalf("Decode(Parse(%q) = %s): %v", s, tag.Hex(), err)
		}
		if back != tag {
			t.Fatalf("Decode(Parse(%q)) = %q, want %q", s, back, tag)
		}
		again, err := Parse(back.String())
		if err != nil || again.DWORD() != tag.DWORD() {
			t.Fatalf("Parse(%q) = %v, %v", back, again, err)
		}
		v, err := ParseDWORD(tag.Hex())
		if err != nil || v != tag.DWORD() {
			t.Fatalf("ParseDWORD(%s) = %#x, %v", tag.Hex(), v, err)
		}
		v, err = ParseDWORD(tag.Debugger())
		if err != nil || v != tag.DWORD() {
			t.Fatalf("ParseDWORD(%s) = %#x, %v", tag.Debugger(), v, err)
		}
	}
}

// TestRoundTripValues: any 32-bit value Decode accepts encodes back to
// itself (testing/quick over the whole uint32 space, plus values built from
// printable bytes so that accepted values are common).
func TestRoundTripValues(t *testing.T) {
	prop := func(v uint32) bool {
		tag, err := Decode(v)
		if err != nil {
			var e *Error
			return errors.As(err, &e)
		}
		return tag.DWORD() == v && MustParse(tag.String()).DWORD() == v
	}
	if err := quick.Check(prop, &quick.Config{MaxCount: 20000, Rand: mathrand.New(mathrand.NewSource(5))}); err != nil {
		t.Error(err)
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		var v uint32
		for i := range 4 {
			v |= uint32(0x1e+r.IntN(0x63)) << (8 * i) // mostly printable, some control/DEL
		}
		if r.IntN(5) == 0 {
			v &= 0x00ffffff
		}
		if !prop(v) {
			t.Fatalf("round trip failed for %#x", v)
		}
	}
}
