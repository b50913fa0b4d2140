package pooltag

import (
	"errors"
	"testing"
)

// FuzzParse: every accepted tag survives the registry round trip, and every
// refusal is a typed *Error (the CLI branches on its Reason).
func FuzzParse(f *testing.F) {
	for _, s := range []string{"Ddk", "Ddk ", "Tag1", "N??s", "Nt*", "*", "", "    ", "a*b", "Ddk\n", "\xff", "abcde"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tag, err := Parse(s)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse(%q): error %v is not a *Error", s, err)
			}
			return
		}
		back, err := Decode(tag.DWORD())
		if err != nil {
			t.Fatalf("Parse(%q) = %s, but Decode(%s) refused it: %v", s, tag.Quoted(), tag.Hex(), err)
		}
		if back != tag {
			t.Fatalf("Parse(%q) = %s, Decode(%s) = %s", s, tag.Quoted(), tag.Hex(), back.Quoted())
		}
	})
}

// FuzzParseDWORD: what is accepted is a number that prints back the same.
func FuzzParseDWORD(f *testing.F) {
	for _, s := range []string{"0x206b6444", "206b6444", "0n543908932", "0x", "0n", "ffffffff", "100000000", " 2a "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseDWORD(s)
		if err != nil {
			return
		}
		if w, err := ParseDWORD(Hex(v)); err != nil || w != v {
			t.Fatalf("ParseDWORD(%q) = %#x, but ParseDWORD(%q) = %#x, %v", s, v, Hex(v), w, err)
		}
		if tag, err := Decode(v); err == nil && tag.DWORD() != v {
			t.Fatalf("Decode(%#x) = %s, which encodes %s", v, tag.Quoted(), tag.Hex())
		}
	})
}
