// Package pooltag encodes Windows kernel pool tags the way the PoolTag
// registry value, GFlags and the kernel debugger show them ("Special pool and PoolTag" in docs/kd-protocol.md):
// the characters in little-endian order, so "Ddk " is 0x206b6444 and "Tag1"
// is 0x31676154. Tags shorter than four characters are padded with spaces,
// except a tag holding the '*' wildcard, which ends the mask ("Nt*" is
// 0x002a744e, "*" alone is 0x2a). '?' stands for any one character.
//
// Values below the page size are not tags: the special pool reads them as an
// allocation-size range (SizeValue).
package pooltag

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Reason says why a tag or a value was refused.
type Reason string

// Reasons carried by *Error.
const (
	ReasonEmpty       Reason = "empty"         // no characters
	ReasonTooLong     Reason = "too-long"      // more than 4 characters
	ReasonNotASCII    Reason = "not-ascii"     // a character above 0x7E
	ReasonControl     Reason = "control"       // a character below 0x20 (or DEL)
	ReasonStarNotLast Reason = "star-not-last" // characters after '*'
	ReasonBlank       Reason = "blank"         // only spaces
	ReasonKdSyntax    Reason = "kd-syntax"     // a character kd reads as syntax (ValidateForKd)
	ReasonBadNumber   Reason = "bad-number"    // ParseDWORD could not read the value
	ReasonZero        Reason = "zero"          // 0: special pool off, not a tag
	ReasonSizeValue   Reason = "size-value"    // below the page size: a size range, not a tag
	ReasonNotTag      Reason = "not-tag"       // a value no tag encodes to
	ReasonSizeRange   Reason = "size-range"    // SizeValue: size out of range
	ReasonArch        Reason = "arch"          // SizeValue: unknown architecture
	ReasonWildcard    Reason = "wildcard"      // an exact tag is needed (PoolHitTag, conditional bp)
	ReasonNoTag       Reason = "no-tag"        // a tag is needed and none was given
)

// Error is every error this package returns. Its message is one line that
// says what is wrong and what to do.
type Error struct {
	Input  string // the text or value as given
	Reason Reason
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

func errf(input string, r Reason, format string, a ...any) *Error {
	return &Error{Input: input, Reason: r, Msg: fmt.Sprintf(format, a...)}
}

// PageSize is the x86 and x64 page size. PoolTag values below it select
// allocations by size, not by tag (except 0x2a, "*").
const PageSize = 0x1000

// Tag is a validated pool tag or tag mask. The zero Tag means "no tag".
type Tag struct {
	b [4]byte
	n int // significant characters: 4, or fewer when the last one is '*'
}

// Parse validates s and returns its tag: 1 to 4 printable ASCII characters
// (0x20-0x7E), case kept; '?' matches one character, '*' the rest of the
// tag and must be last. Tags without '*' are padded with spaces to 4.
func Parse(s string) (Tag, error) {
	if s == "" {
		return Tag{}, errf(s, ReasonEmpty, `tag "": empty; give 1 to 4 characters, like Ddk or Tag1`)
	}
	pos := 0
	for i, r := range s {
		pos++
		switch {
		case r == utf8.RuneError:
			return Tag{}, errf(s, ReasonNotASCII, "tag %q: byte 0x%02x is not ASCII text; a pool tag holds printable ASCII characters (0x20-0x7E)", s, s[i])
		case r > 0x7f:
			return Tag{}, errf(s, ReasonNotASCII, "tag %q: %q (%U) is not ASCII; a pool tag holds printable ASCII characters (0x20-0x7E)", s, r, r)
		case r < 0x20 || r == 0x7f:
			return Tag{}, errf(s, ReasonControl, "tag %q: character %d is the control character 0x%02x; a pool tag holds printable ASCII characters (0x20-0x7E)", s, pos, r)
		}
	}
	if len(s) > 4 {
		return Tag{}, errf(s, ReasonTooLong, "tag %q: %d characters; a pool tag has 1 to 4", s, len(s))
	}
	if i := strings.IndexByte(s, '*'); i >= 0 && i != len(s)-1 {
		return Tag{}, errf(s, ReasonStarNotLast, "tag %q: '*' stands for the rest of the tag, so it must be the last character; drop %q after it", s, s[i+1:])
	}
	if strings.Trim(s, " ") == "" {
		return Tag{}, errf(s, ReasonBlank, "tag %q: only spaces; give the tag's characters, like Ddk or Tag1", s)
	}
	var t Tag
	copy(t.b[:], s)
	t.n = len(s)
	if s[len(s)-1] != '*' {
		for i := t.n; i < 4; i++ {
			t.b[i] = ' '
		}
		t.n = 4
	}
	return t, nil
}

// MustParse is Parse for constants in tests and tables; it panics on error.
func MustParse(s string) Tag {
	t, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return t
}

// IsZero reports whether t is the zero Tag ("no tag").
func (t Tag) IsZero() bool { return t.n == 0 }

// String is the tag's characters, padded: "Ddk ", "Tag1", "Nt*", "*".
func (t Tag) String() string { return string(t.b[:t.n]) }

// Quoted is String in double quotes ("\"Ddk \""), which shows trailing
// spaces; the zero Tag is "(none)".
func (t Tag) Quoted() string {
	if t.IsZero() {
		return "(none)"
	}
	return strconv.Quote(t.String())
}

// DWORD is the value the registry (PoolTag) and the debugger hold: the first
// character in the lowest byte.
func (t Tag) DWORD() uint32 {
	return uint32(t.b[0]) | uint32(t.b[1])<<8 | uint32(t.b[2])<<16 | uint32(t.b[3])<<24
}

// Hex is DWORD as the registry and GFlags print it: "0x206b6444".
func (t Tag) Hex() string { return Hex(t.DWORD()) }

// Debugger is DWORD as kd's ed and dd show it, hex without 0x (kd's default
// radix is 16): "206b6444", for `ed nt!PoolHitTag 206b6444`.
func (t Tag) Debugger() string { return fmt.Sprintf("%08x", t.DWORD()) }

// Wildcard reports whether the tag holds '?' or '*', so that it is a mask
// only special pool understands; PoolHitTag and a conditional breakpoint
// compare the tag exactly.
func (t Tag) Wildcard() bool { return strings.ContainsAny(t.String(), "?*") }

// Reversed is the tag as a pool dump or GFlags' hex view spells the DWORD's
// bytes from the highest: " kdD" for "Ddk ".
func (t Tag) Reversed() string {
	s := t.String()
	r := make([]byte, len(s))
	for i := range s {
		r[len(s)-1-i] = s[i]
	}
	return string(r)
}

// Char is one character of a tag with its code.
type Char struct {
	Char  string `json:"char"`
	ASCII int    `json:"ascii"`
	Hex   string `json:"hex"`
}

// Chars lists the tag's characters, padding included.
func (t Tag) Chars() []Char {
	out := make([]Char, t.n)
	for i := 0; i < t.n; i++ {
		out[i] = Char{Char: string(t.b[i]), ASCII: int(t.b[i]), Hex: fmt.Sprintf("0x%02x", t.b[i])}
	}
	return out
}

// Hex formats a PoolTag value the way the registry and GFlags print it.
func Hex(v uint32) string { return fmt.Sprintf("0x%08x", v) }

// Decode turns a PoolTag/MmSpecialPoolTag value back into its tag:
// 0x206b6444 is "Ddk ", 0x2a is "*", 0x002a744e is "Nt*". Zero, values below
// the page size (size ranges) and values that hold a byte outside printable
// ASCII are refused.
func Decode(v uint32) (Tag, error) {
	in := Hex(v)
	switch {
	case v == 0:
		return Tag{}, errf(in, ReasonZero, "value %s: 0 turns special pool off; it is not a tag", in)
	case v < PageSize && v != '*':
		return Tag{}, errf(in, ReasonSizeValue, "value %s: below the page size (0x1000), special pool reads it as an allocation-size range, not a tag", in)
	}
	b := [4]byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)}
	n := 4
	for n > 0 && b[n-1] == 0 {
		n--
	}
	if n < 4 && b[n-1] != '*' {
		return Tag{}, errf(in, ReasonNotTag, "value %s: its high bytes are 0x00 without a '*' before them; a tag shorter than 4 characters is padded with spaces (0x20), only a mask ending in '*' is shorter", in)
	}
	for i := 0; i < n; i++ {
		c := b[i]
		switch {
		case c == 0:
			return Tag{}, errf(in, ReasonNotTag, "value %s: character %d is 0x00; a pool tag holds printable ASCII characters (0x20-0x7E)", in, i+1)
		case c < 0x20 || c == 0x7f:
			return Tag{}, errf(in, ReasonControl, "value %s: character %d is the control character 0x%02x; a pool tag holds printable ASCII characters (0x20-0x7E)", in, i+1, c)
		case c > 0x7f:
			return Tag{}, errf(in, ReasonNotASCII, "value %s: character %d is 0x%02x, not ASCII; a pool tag holds printable ASCII characters (0x20-0x7E)", in, i+1, c)
		case c == '*' && i != n-1:
			return Tag{}, errf(in, ReasonStarNotLast, "value %s: '*' is character %d but more follow it; '*' ends a tag mask", in, i+1)
		}
	}
	t, err := Parse(string(b[:n]))
	if err != nil {
		e := err.(*Error)
		return Tag{}, errf(in, e.Reason, "value %s: %s", in, e.Msg)
	}
	if t.DWORD() != v {
		// Cannot happen: the checks above match Parse's rules.
		return Tag{}, errf(in, ReasonNotTag, "value %s does not encode a pool tag", in)
	}
	return t, nil
}

// ParseDWORD reads a PoolTag value: "0x206b6444" (or 0X), "206b6444" (bare
// hex, as kd shows it), or decimal with kd's 0n prefix ("0n543908932").
func ParseDWORD(s string) (uint32, error) {
	t := strings.TrimSpace(s)
	digits, base := t, 16
	switch {
	case len(t) > 2 && (t[:2] == "0x" || t[:2] == "0X"):
		digits = t[2:]
	case len(t) > 2 && (t[:2] == "0n" || t[:2] == "0N"):
		digits, base = t[2:], 10
	}
	ok := digits != ""
	for _, c := range digits {
		if !(c >= '0' && c <= '9' || base == 16 && (c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F')) {
			ok = false
		}
	}
	if !ok {
		return 0, errf(s, ReasonBadNumber, "value %q: not a number; give hex like 0x206b6444 or 206b6444, or decimal with 0n like 0n543908932", s)
	}
	v, err := strconv.ParseUint(digits, base, 32)
	if err != nil {
		return 0, errf(s, ReasonBadNumber, "value %q: larger than 32 bits; a PoolTag value is a DWORD (at most 0xffffffff)", s)
	}
	return uint32(v), nil
}

// kdSyntax are printable characters that would change the meaning of a kd
// command line if a tag were ever typed into one, and why.
var kdSyntax = map[byte]string{
	'"':  "it ends a breakpoint's quoted command string",
	';':  "it separates kd commands",
	'\'': "it quotes the branches of kd's j command",
	'`':  "kd reads it inside numbers and addresses (fffff801`1e5c3a10)",
}

// ValidateForKd is Parse plus the rule for tags that reach kd (config values,
// --tag): '"', ';', '\” and '`' are refused because kd reads them as syntax,
// and control characters are refused by Parse. '?' and '*' are kept.
func ValidateForKd(s string) error {
	if _, err := Parse(s); err != nil {
		return err
	}
	for i := 0; i < len(s); i++ {
		if why, bad := kdSyntax[s[i]]; bad {
			return errf(s, ReasonKdSyntax, "tag %q: kdlaunch refuses %q in a tag it hands to kd: %s; set such a tag by hand with the reg add line from kdlaunch tag", s, s[i], why)
		}
	}
	return nil
}

// SizeValue returns the PoolTag value that puts every allocation of up to
// maxBytes (within its range) into special pool: the ranges are 8 bytes on
// x86 and 16 on x64, and the value is the range's top plus the granularity
// (x64: 1..16 bytes is 0x20). Such a value is not a tag.
func SizeValue(maxBytes int, arch string) (uint32, error) {
	g, err := granularity(arch)
	if err != nil {
		return 0, err
	}
	limit := PageSize - 2*g // the last range: x86 0xFE9..0xFF0, x64 0xFD1..0xFE0
	in := strconv.Itoa(maxBytes)
	if maxBytes < 1 || maxBytes > limit {
		return 0, errf(in, ReasonSizeRange, "size %d: give the largest allocation size to catch, 1 to %d bytes on %s (special pool only takes allocations smaller than a page)", maxBytes, limit, normArch(arch))
	}
	top := (maxBytes + g - 1) / g * g
	return uint32(top + g), nil
}

// SizeRange is the inverse of SizeValue: the allocation sizes lo..hi that
// value v selects on arch, and ok=false if v is not a size value there.
func SizeRange(v uint32, arch string) (lo, hi int, ok bool) {
	g, err := granularity(arch)
	if err != nil || v == 0 || v >= PageSize || int(v)%g != 0 || int(v) < 2*g {
		return 0, 0, false
	}
	hi = int(v) - g
	return hi - g + 1, hi, true
}

func normArch(arch string) string {
	switch strings.ToLower(strings.TrimSpace(arch)) {
	case "x64", "amd64", "x86_64":
		return "x64"
	case "x86", "i386", "386":
		return "x86"
	}
	return arch
}

func granularity(arch string) (int, error) {
	switch normArch(arch) {
	case "x64":
		return 16, nil
	case "x86":
		return 8, nil
	}
	return 0, errf(arch, ReasonArch, "architecture %q: give x64 or x86 (size ranges are 16 bytes on x64, 8 on x86)", arch)
}
