package script

import (
	"errors"
	"strings"
	"testing"

	"github.com/kdlaunch/kdlaunch/pooltag"
)

func TestArchOfConnection(t *testing.T) {
	for _, tc := range []struct {
		line string
		want Arch
		ok   bool
	}{
		{"Connected to Windows 10 16299 x64 target at (Wed Feb 28 17:16:23.051 2018 (UTC - 8:00)), ptr64 TRUE", X64, true},
		{"Connected to Windows XP 2268 x86 compatible target, ptr64 FALSE", X86, true},
		{"Connected to Windows 8 9600 x86 compatible target", X86, true},
		{"Connected to Windows 10 22621 ARM64 target at (...), ptr64 TRUE", ARM64, true},
		{"Kernel Debugger connection established.", "", false},
		{"Connected to Windows 10 19041 target", "", false},
		{"mydrv: x64 build loaded", "", false},
	} {
		got, ok := ArchOfConnection(tc.line)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ArchOfConnection(%q) = %q, %v; want %q, %v", tc.line, got, ok, tc.want, tc.ok)
		}
	}
}

func TestArchOfVertarget(t *testing.T) {
	for _, tc := range []struct {
		answer string
		want   Arch
		ok     bool
	}{
		{"Windows 10 Kernel Version 19041 MP (2 procs) Free x64\nProduct: WinNt, suite: TerminalServer SingleUserTS\nBuilt by: 19041.1.amd64fre.vb_release.191206-1406", X64, true},
		{"Windows 7 Kernel Version 7601 (Service Pack 1) MP (1 procs) Free x86 compatible", X86, true},
		{"Built by: 19041.1.amd64fre.vb_release", "", false},
		{"Couldn't resolve error at 'vertarget'", "", false},
	} {
		got, ok := ArchOfVertarget(tc.answer)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ArchOfVertarget(%q) = %q, %v; want %q, %v", tc.answer, got, ok, tc.want, tc.ok)
		}
	}
}

func TestReturnSiteAnswer(t *testing.T) {
	for _, tc := range []struct {
		answer  string
		refused bool
		line    string
	}{
		{"", false, ""},
		{"breakpoint 5 redefined", false, ""},
		{"*** WARNING: Unable to verify checksum for mydrv.sys", false, ""},
		{"No more breakpoints available", true, "No more breakpoints available"},
		{"Couldn't resolve error at '0xfffff8021d61c3a5'", true, "Couldn't resolve error at '0xfffff8021d61c3a5'"},
		{"Bp expression '0x82a1c3a5' could not be resolved, adding deferred bp", true, "Bp expression '0x82a1c3a5' could not be resolved, adding deferred bp"},
	} {
		line, refused := ReturnSiteAnswer(tc.answer)
		if refused != tc.refused || line != tc.line {
			t.Errorf("ReturnSiteAnswer(%q) = %q, %v; want %q, %v", tc.answer, line, refused, tc.line, tc.refused)
		}
	}
}

// docPoolUsed is the documentation's sample, with the tag of the hunt
// added in the layout kd uses.
const docPoolUsed = `   Sorting by  NonPaged Pool Consumed

  Pool Used:
            NonPaged            Paged
 Tag    Allocs     Used    Allocs     Used
 1394        1      520         0        0UNKNOWN pooltag '1394', please update pooltag.txt
 8042        4     3944         0        0PS/2 kb and mouse , Binary: i8042prt.sys
 Ddk        26    14336         2      128UNKNOWN pooltag 'Ddk ', please update pooltag.txt
 TOTAL     3570214 209120008     38769 13066104`

func TestParsePoolUsed(t *testing.T) {
	for _, tc := range []struct {
		name, answer, tag string
		want              PoolUse
		err               bool
	}{
		{"the tag's line among others", docPoolUsed, "Ddk", PoolUse{Tag: "Ddk", NonPagedAllocs: 26, NonPagedUsed: 14336, PagedAllocs: 2, PagedUsed: 128}, false},
		{"case and trailing blanks ignored", docPoolUsed, "ddk ", PoolUse{Tag: "ddk ", NonPagedAllocs: 26, NonPagedUsed: 14336, PagedAllocs: 2, PagedUsed: 128}, false},
		{"a wildcard sums every tag it matches", docPoolUsed, "?04*", PoolUse{Tag: "?04*", NonPagedAllocs: 4, NonPagedUsed: 3944}, false},
		{"with the prompt and CRLF", "1: kd> \r\n Ddk         3      300         0        0\r\n", "Ddk", PoolUse{Tag: "Ddk", NonPagedAllocs: 3, NonPagedUsed: 300}, false},
		{"the TOTAL line is not a tag", " TOTAL     3570214 209120008     38769 13066104", "TOTA", PoolUse{Tag: "TOTA"}, true},
		{"no line for the tag", docPoolUsed, "Leak", PoolUse{Tag: "Leak"}, true},
		{"kd could not read the table", "unable to get PoolTrackTable - probably wrong symbols", "Ddk", PoolUse{Tag: "Ddk"}, true},
		{"a number too large is not read", " Ddk  99999999999999999999 1 0 0", "Ddk", PoolUse{Tag: "Ddk"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePoolUsed(tc.answer, tc.tag)
			if got != tc.want || (err != nil) != tc.err {
				t.Fatalf("ParsePoolUsed = %+v, %v; want %+v, error %v", got, err, tc.want, tc.err)
			}
			var e *NoPoolUseError
			if err != nil && !errors.As(err, &e) {
				t.Fatalf("error %T, want *NoPoolUseError", err)
			}
		})
	}
	_, err := ParsePoolUsed("unable to get PoolTrackTable - probably wrong symbols", "Ddk")
	if !strings.Contains(err.Error(), "PoolTrackTable") {
		t.Errorf("error does not quote kd: %v", err)
	}
}

// FuzzParsePoolUsed: never a panic; a result is never negative, and a line
// found is one whose numbers appear in the input.
func FuzzParsePoolUsed(f *testing.F) {
	f.Add(docPoolUsed, "Ddk")
	f.Add(" Ddk         3      300         0        0\r\n", "D*")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, answer, tag string) {
		u, err := ParsePoolUsed(answer, tag)
		if u.NonPagedAllocs < 0 || u.NonPagedUsed < 0 || u.PagedAllocs < 0 || u.PagedUsed < 0 {
			t.Fatalf("negative figures: %+v", u)
		}
		if err != nil && (u.Allocs() != 0 || u.Used() != 0) {
			t.Fatalf("error with figures: %+v, %v", u, err)
		}
		again, err2 := ParsePoolUsed(answer+"\r\n", tag)
		if again != u || (err == nil) != (err2 == nil) {
			t.Fatalf("a line end changed the answer: %+v, %v then %+v, %v", u, err, again, err2)
		}
	})
}

// FuzzArch: never a panic; an architecture read is one kdlaunch knows.
func FuzzArch(f *testing.F) {
	f.Add("Connected to Windows 10 19041 x64 target at (x), ptr64 TRUE")
	f.Add("Windows 10 Kernel Version 19041 MP (2 procs) Free x64")
	f.Fuzz(func(t *testing.T, s string) {
		for _, fn := range []func(string) (Arch, bool){ArchOfConnection, ArchOfVertarget} {
			a, ok := fn(s)
			if ok != (a != "") || ok && a != X64 && a != X86 && a != ARM64 {
				t.Fatalf("%q: %q, %v", s, a, ok)
			}
		}
	})
}

// The leak strategy hunts in special pool (PoolTag, the live check) but
// is armed by the session: no static recipe, and a tag is required.
func TestLeaksStrategy(t *testing.T) {
	s := StrategyLeaks
	if !s.SpecialPool() || !s.Leaks() || s.HitOnBreak() || StrategySpecialPool.Leaks() {
		t.Fatalf("leaks: special pool %v, leaks %v, hit on break %v", s.SpecialPool(), s.Leaks(), s.HitOnBreak())
	}
	arm, disarm, err := Recipe(s, pooltag.MustParse("Ddk"))
	if err != nil || arm != nil || disarm != nil {
		t.Fatalf("Recipe(leaks) = %q, %q, %v; want nothing, the session arms it", arm, disarm, err)
	}
	if _, _, err := Recipe(s, pooltag.Tag{}); err == nil || !strings.Contains(err.Error(), "needs a tag") {
		t.Fatalf("Recipe(leaks) without a tag: %v", err)
	}
}
