// Package records is the leak recipe's language: the records kd prints from
// kdlaunch's leak breakpoints (the grammar, its parser and formatter) and
// the exact kd commands of those breakpoints per allocator family and
// architecture. Package leaks pairs the records; docs/leaks.md gives the
// reasoning.
package records

import (
	"bytes"
	"strconv"
)

// Prefix starts every record. kd never prints it by itself, so a record is
// recognised anywhere in a line: a DbgPrint without a newline may have glued
// text in front of it. The digit is the grammar's version.
const Prefix = "KDLK1 "

// Kind is a record's letter, the first field after Prefix.
type Kind byte

// The records. An allocation (at the allocator's entry) is followed by its
// kb stack; its return (at the return site) carries the returned address;
// a free carries the freed address. NewSite is printed instead of resuming
// when the allocation's return address has no breakpoint yet (kd stays
// halted for kdlaunch to add one); Header names the recipe when it is armed.
const (
	KindAlloc   Kind = 'A' // KDLK1 A <thread> <size> <tag> <return address>
	KindReturn  Kind = 'R' // KDLK1 R <thread> <return address> <pool address>
	KindFree    Kind = 'F' // KDLK1 F <thread> <pool address>
	KindNewSite Kind = 'N' // KDLK1 N <return address>
	KindHeader  Kind = 'H' // KDLK1 H <arch> <family>
	KindReboot  Kind = 'Z' // KDLK1 Z: the target rebooted; its pool addresses start afresh
)

// Record is one parsed record. Values are as kd printed them, except that a
// 32-bit value kd sign-extended (ffffffff`8xxxxxxx) is cut back to 32 bits.
type Record struct {
	Kind   Kind
	Thread uint64 // ETHREAD address (@$thread)
	Size   uint64 // requested bytes (KindAlloc)
	Tag    uint32 // pool tag as a number, as kd prints it (KindAlloc)
	RA     uint64 // return address into the allocator's caller (KindAlloc, KindReturn, KindNewSite)
	Addr   uint64 // pool address returned or freed (KindReturn, KindFree)
	Arch   Arch   // KindHeader
	Family Family // KindHeader
}

// fields is the number of values after the kind letter.
func (k Kind) fields() int {
	switch k {
	case KindAlloc:
		return 4
	case KindReturn:
		return 3
	case KindFree, KindHeader:
		return 2
	case KindNewSite:
		return 1
	case KindReboot:
		return 0
	}
	return -1
}

// IsEcho tells kd's log of a typed command from kd's output: the echo of a
// bp command that prints records has the prefix followed by format text
// ("%p"), and the echo of a typed .echo has ".echo" right before it. Neither
// is a record, nor a damaged one.
func IsEcho(line []byte) bool {
	i := Find(line)
	if i < 0 {
		return false
	}
	return bytes.HasSuffix(bytes.TrimRight(line[:i], " \t"), []byte(".echo")) || bytes.IndexByte(line[i:], '%') >= 0
}

// Find returns the offset of the first record prefix in line, or -1.
func Find(line []byte) int { return bytes.Index(line, []byte(Prefix)) }

// Parse reads the record in line (found anywhere in it; a trailing CR or
// spaces are ignored). ok is false when line holds no well-formed record:
// the prefix missing, an unknown kind, a wrong number of fields or a value
// that is not hex (the echo of the bp command that prints it, for example,
// has "%p" where the values go). A record right after ".echo" is kd's
// log of the command as typed ("1: kd> .echo KDLK1 Z"): kd writes typed
// commands into its log after the prompt, and the record itself follows on
// its own line, so counting the echo too would count every header twice.
func Parse(line []byte) (rec Record, ok bool) {
	i := Find(line)
	if i < 0 || IsEcho(line) {
		return Record{}, false
	}
	return parseAfter(line[i+len(Prefix):])
}

func parseAfter(t []byte) (Record, bool) {
	t = bytes.TrimRight(t, " \t\r\n")
	if len(t) < 1 {
		return Record{}, false
	}
	rec := Record{Kind: Kind(t[0])}
	n := rec.Kind.fields()
	if n < 0 || len(t) > 1 && t[1] != ' ' && t[1] != '\t' {
		return Record{}, false
	}
	var f [4][]byte
	got := 0
	for rest := t[1:]; ; {
		j := 0
		for j < len(rest) && (rest[j] == ' ' || rest[j] == '\t') {
			j++
		}
		rest = rest[j:]
		if len(rest) == 0 {
			break
		}
		if got == n {
			return Record{}, false // extra fields
		}
		k := 0
		for k < len(rest) && rest[k] != ' ' && rest[k] != '\t' {
			k++
		}
		f[got] = rest[:k]
		got++
		rest = rest[k:]
	}
	if got != n {
		return Record{}, false
	}
	if rec.Kind == KindHeader {
		rec.Arch, rec.Family = Arch(f[0]), Family(f[1])
		if _, err := NewRecipe(rec.Arch, rec.Family); err != nil {
			return Record{}, false
		}
		return rec, true
	}
	var v [4]uint64
	for k := 0; k < n; k++ {
		x, ok := parseHex(f[k])
		if !ok {
			return Record{}, false
		}
		v[k] = x
	}
	switch rec.Kind {
	case KindAlloc:
		if v[2] > 0xffffffff {
			return Record{}, false
		}
		rec.Thread, rec.Size, rec.Tag, rec.RA = v[0], v[1], uint32(v[2]), v[3]
	case KindReturn:
		rec.Thread, rec.RA, rec.Addr = v[0], v[1], v[2]
	case KindFree:
		rec.Thread, rec.Addr = v[0], v[1]
	case KindNewSite:
		rec.RA = v[0]
	}
	return rec, true
}

// parseHex reads a hex value as kd prints it: an optional 0x, and for
// 64-bit values possibly a grave accent between the two halves
// (fffff802`1d7f0a40). A 32-bit value sign-extended by kd's MASM evaluator
// (ffffffff`82a1b2c3, an x86 register) is cut back to its 32 bits, so the
// same address always reads the same whichever command printed it.
func parseHex(b []byte) (uint64, bool) {
	if len(b) > 2 && b[0] == '0' && (b[1] == 'x' || b[1] == 'X') {
		b = b[2:]
	}
	if len(b) == 0 {
		return 0, false
	}
	var v uint64
	digits, tick := 0, false
	for i, c := range b {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		case c == '`' && !tick && i > 0 && i < len(b)-1:
			tick = true
			continue
		default:
			return 0, false
		}
		digits++
		if digits > 16 {
			return 0, false
		}
		v = v<<4 | uint64(d)
	}
	if v>>32 == 0xffffffff && v&0x80000000 != 0 {
		v &= 0xffffffff
	}
	return v, true
}

// AppendRecord appends rec's line as the recipe's .printf writes it (no
// newline). Values are plain hex; wide64 writes 64-bit pointers as kd's %p
// does on a 64-bit target (fffff802`1d7f0a40) so tests and generated logs
// exercise the same spelling.
func AppendRecord(b []byte, rec Record, wide64 bool) []byte {
	b = append(b, Prefix...)
	b = append(b, byte(rec.Kind))
	ptr := func(v uint64) {
		b = append(b, ' ')
		b = appendPtr(b, v, wide64)
	}
	num := func(v uint64) {
		b = append(b, ' ')
		b = strconv.AppendUint(b, v, 16)
	}
	switch rec.Kind {
	case KindAlloc:
		ptr(rec.Thread)
		num(rec.Size)
		num(uint64(rec.Tag))
		ptr(rec.RA)
	case KindReturn:
		ptr(rec.Thread)
		ptr(rec.RA)
		ptr(rec.Addr)
	case KindFree:
		ptr(rec.Thread)
		ptr(rec.Addr)
	case KindNewSite:
		ptr(rec.RA)
	case KindHeader:
		b = append(b, ' ')
		b = append(b, rec.Arch...)
		b = append(b, ' ')
		b = append(b, rec.Family...)
	}
	return b
}

func appendPtr(b []byte, v uint64, wide64 bool) []byte {
	const digits = "0123456789abcdef"
	if !wide64 {
		for s := 28; s >= 0; s -= 4 {
			b = append(b, digits[v>>uint(s)&0xf])
		}
		return b
	}
	for s := 60; s >= 0; s -= 4 {
		b = append(b, digits[v>>uint(s)&0xf])
		if s == 32 {
			b = append(b, '`')
		}
	}
	return b
}
