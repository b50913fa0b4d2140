package records

import (
	"bytes"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		line string
		want Record
		ok   bool
	}{
		{"KDLK1 A ffffe001`23456080 1f0 206b6444 fffff802`1d61c3a5", Record{Kind: KindAlloc, Thread: 0xffffe00123456080, Size: 0x1f0, Tag: 0x206b6444, RA: 0xfffff8021d61c3a5}, true},
		{"KDLK1 A ffffe00123456080 1f0 206b6444 fffff8021d61c3a5\r", Record{Kind: KindAlloc, Thread: 0xffffe00123456080, Size: 0x1f0, Tag: 0x206b6444, RA: 0xfffff8021d61c3a5}, true},
		{"KDLK1 R 0xffffe00123456080 0xfffff8021d61c3a5 0xffffe0020000ee10", Record{Kind: KindReturn, Thread: 0xffffe00123456080, RA: 0xfffff8021d61c3a5, Addr: 0xffffe0020000ee10}, true},
		{"netfilt: flow 12 classifiedKDLK1 F ffffe00123456080 ffffe0020000ee10", Record{Kind: KindFree, Thread: 0xffffe00123456080, Addr: 0xffffe0020000ee10}, true},
		{"KDLK1 F 86a1c020 9a001e40", Record{Kind: KindFree, Thread: 0x86a1c020, Addr: 0x9a001e40}, true},
		{"KDLK1 F ffffffff`86a1c020 ffffffff9a001e40", Record{Kind: KindFree, Thread: 0x86a1c020, Addr: 0x9a001e40}, true}, // sign-extended x86
		{"KDLK1 N fffff8021d61c3a5", Record{Kind: KindNewSite, RA: 0xfffff8021d61c3a5}, true},
		{"KDLK1 H x64 heap-special-pool", Record{Kind: KindHeader, Arch: ArchX64, Family: FamilySegmentHeap}, true},
		{"KDLK1 Z\r", Record{Kind: KindReboot}, true},
		{"KDLK1 Z 1", Record{}, false},
		{"KDLK1 F   1 \t 2  ", Record{Kind: KindFree, Thread: 1, Addr: 2}, true},
		// not records
		{"", Record{}, false},
		{"KDLK1 ", Record{}, false},
		{"KDLK1 A 1 2 3", Record{}, false},                      // cut mid-record
		{"KDLK1 A 1 2 3 4 5", Record{}, false},                  // an extra field
		{"KDLK1 F %p %p\\n\", @$thread, @rcx", Record{}, false}, // the echo of the bp command
		{"1: kd> .echo KDLK1 Z", Record{}, false},               // kd's log of a typed .echo
		{"kd> .echo  KDLK1 H x64 mm-special-pool\r", Record{}, false},
		{"probe.echo KDLK1 F 1 2", Record{}, false},
		{"KDLK1 Q 1 2", Record{}, false},
		{"KDLK1 AX 1 2 3 4", Record{}, false},
		{"KDLK1 F 1 2g", Record{}, false},
		{"KDLK1 F 1 12345678901234567", Record{}, false}, // more than 64 bits
		{"KDLK1 F 1 `12", Record{}, false},
		{"KDLK1 F 1 12``34", Record{}, false},
		{"KDLK1 F 1 0x", Record{}, false},
		{"KDLK1 A 1 2 100000000 4", Record{}, false}, // a tag wider than 32 bits
		{"KDLK1 H x86 heap-special-pool", Record{}, false},
		{"KDLK2 F 1 2", Record{}, false},
		{"kdlk1 F 1 2", Record{}, false},
	} {
		got, ok := Parse([]byte(tc.line))
		if ok != tc.ok || got != tc.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v, %v", tc.line, got, ok, tc.want, tc.ok)
		}
	}
}

func TestAppendRecordRoundTrip(t *testing.T) {
	for _, rec := range []Record{
		{Kind: KindAlloc, Thread: 0xffffe00123456080, Size: 0xfe0, Tag: 0x206b6444, RA: 0xfffff8021d61c3a5},
		{Kind: KindReturn, Thread: 0xffffe00123456080, RA: 0xfffff8021d61c3a5, Addr: 0xffffe0020000f020},
		{Kind: KindFree, Thread: 1, Addr: 0},
		{Kind: KindNewSite, RA: 0x82a1c3a5},
		{Kind: KindHeader, Arch: ArchARM64, Family: FamilySegmentHeap},
		{Kind: KindReboot},
	} {
		for _, wide := range []bool{true, false} {
			if !wide && (rec.Thread > 0xffffffff || rec.Addr > 0xffffffff || rec.RA > 0xffffffff) {
				continue
			}
			line := AppendRecord(nil, rec, wide)
			got, ok := Parse(line)
			if !ok || got != rec {
				t.Errorf("Parse(%q) = %+v, %v; want %+v", line, got, ok, rec)
			}
		}
	}
}

// FuzzParse: Parse never panics, finds nothing without the prefix, and a
// record it finds formats back to a line that parses to the same record.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"KDLK1 A ffffe001`23456080 1f0 206b6444 fffff802`1d61c3a5",
		"glued KDLK1 R 0x1 0x2 0x3\r",
		"KDLK1 F 86a1c020 9a001e40",
		"KDLK1 H x64 mm-special-pool",
		"KDLK1 N 1",
		"0: kd> bp0 nt!MmFreeSpecialPool \".printf \\\"KDLK1 F %p %p\\\\n\\\", @$thread, @rcx; g\"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		rec, ok := Parse(line)
		if !bytes.Contains(line, []byte(Prefix)) {
			if ok {
				t.Fatalf("record %+v from a line without the prefix: %q", rec, line)
			}
			return
		}
		if !ok {
			return
		}
		again, ok := Parse(AppendRecord(nil, rec, true))
		if !ok || again != rec {
			t.Fatalf("%q parsed to %+v, which formats to a line that parses to %+v, %v", line, rec, again, ok)
		}
	})
}

// FuzzRoundTrip: a record the recipe prints parses back to the same values
// whatever is glued before it, with CRLF, with 0x prefixes, and with kd's
// backtick between the halves of a 64-bit value.
func FuzzRoundTrip(f *testing.F) {
	f.Add(byte('A'), uint64(0xffffe00123456080), uint64(0x1f0), uint32(0x206b6444), uint64(0xfffff8021d61c3a5), uint64(0), "", true, false, false)
	f.Add(byte('R'), uint64(0x86a1c020), uint64(0), uint32(0), uint64(0x82a1c3a5), uint64(0x9a001e40), "DbgPrint text", false, true, true)
	f.Add(byte('F'), uint64(1), uint64(0), uint32(0), uint64(0), uint64(0xffffe0020000ee10), "x", true, true, false)
	f.Fuzz(func(t *testing.T, kind byte, thread, size uint64, tag uint32, ra, addr uint64, glue string, wide, crlf, ox bool) {
		rec := Record{Kind: Kind(kind)}
		switch rec.Kind {
		case KindAlloc:
			rec.Thread, rec.Size, rec.Tag, rec.RA = thread, size, tag, ra
		case KindReturn:
			rec.Thread, rec.RA, rec.Addr = thread, ra, addr
		case KindFree:
			rec.Thread, rec.Addr = thread, addr
		case KindNewSite:
			rec.RA = ra
		default:
			return
		}
		if !wide {
			rec.Thread, rec.RA, rec.Addr = rec.Thread&0xffffffff, rec.RA&0xffffffff, rec.Addr&0xffffffff
		}
		if strings.ContainsAny(glue, "\r\n") || strings.Contains(glue, strings.TrimSpace(Prefix)) ||
			strings.HasSuffix(strings.TrimRight(glue, " \t"), ".echo") {
			return // the echo of a typed .echo is not a record (TestParse)
		}
		line := AppendRecord([]byte(glue), rec, wide)
		if ox {
			line = bytes.ReplaceAll(line, []byte(" "), []byte(" 0x"))
			line = bytes.Replace(line, []byte(Prefix[:len(Prefix)-1]+" 0x"), []byte(Prefix), 1)
		}
		if crlf {
			line = append(line, '\r', '\n')
		}
		got, ok := Parse(line)
		want := normalise(rec)
		if !ok || got != want {
			t.Fatalf("Parse(%q) = %+v, %v; want %+v", line, got, ok, want)
		}
	})
}

// normalise is what Parse makes of a value: sign-extended 32-bit values cut
// back to 32 bits.
func normalise(r Record) Record {
	cut := func(v uint64) uint64 {
		if v>>32 == 0xffffffff && v&0x80000000 != 0 {
			return v & 0xffffffff
		}
		return v
	}
	r.Thread, r.Size, r.RA, r.Addr = cut(r.Thread), cut(r.Size), cut(r.RA), cut(r.Addr)
	return r
}
