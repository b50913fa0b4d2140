package script

// What the leak strategy reads from kd beyond the other strategies: the
// target's architecture (its registers decide the recipe), kd's answer to a
// return-site breakpoint, and !poolused's figures for the stop's
// cross-check. The recipe's own text is leaks/records'.

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// ArchOfConnection reads the target's architecture from kd's connection
// line: "Connected to Windows 10 19041 x64 target at (...), ptr64 TRUE",
// "Connected to Windows 8 9600 x86 compatible target at (...)"
// (docs/kd-protocol.md, "Connection"). ok is false for any other line, or
// one that names no architecture kdlaunch knows.
func ArchOfConnection(line string) (Arch, bool) {
	if !strings.Contains(line, "Connected to ") {
		return "", false
	}
	return archWords(line)
}

// VertargetCommand is asked when the connection line did not name the
// architecture.
const VertargetCommand = "vertarget"

// ArchOfVertarget reads the architecture from kd's vertarget answer
// ("Windows 10 Kernel Version 19041 MP (2 procs) Free x64").
func ArchOfVertarget(answer string) (Arch, bool) {
	for _, l := range strings.Split(answer, "\n") {
		if strings.Contains(l, "Kernel Version") {
			if a, ok := archWords(l); ok {
				return a, true
			}
		}
	}
	return "", false
}

func archWords(line string) (Arch, bool) {
	for _, w := range strings.Fields(strings.ToLower(line)) {
		switch strings.Trim(w, ",()") {
		case "x64", "amd64":
			return X64, true
		case "x86", "i386":
			return X86, true
		case "arm64", "aarch64":
			return ARM64, true
		}
	}
	return "", false
}

// ReturnSiteAnswer judges kd's answer to a return-site breakpoint ("bp5
// 0xfffff802`1d61c3a5 ..."): kd prints nothing for a breakpoint it placed;
// anything else that is not a symbol warning (a deferred or unresolved
// address, a syntax error, a refusal whose words kd's documentation does not
// give, such as a 33rd breakpoint's) means the site has no breakpoint.
// refused quotes kd's line.
func ReturnSiteAnswer(answer string) (kdLine string, refused bool) {
	a := ParseBreakpointAnswer(answer)
	if !a.Armed() {
		return a.Line, true
	}
	for _, l := range strings.Split(answer, "\n") {
		s := strings.TrimSpace(StripPrompt(l))
		if s == "" || reRedefined.MatchString(s) {
			continue
		}
		if _, ok := ParseSymbolWarning(s); ok || strings.HasPrefix(s, "*** WARNING") {
			continue
		}
		return s, true
	}
	return "", false
}

// PoolUsedCommand is the stop's cross-check for tag (its kd form, as
// pooltag.Tag.String gives it): outstanding allocations and bytes of the
// tag, sorted by nonpaged use (flags 2; the tag filter needs a flags
// argument before it).
func PoolUsedCommand(tag string) string { return "!poolused 2 " + tag }

// PoolUse is one tag's line of !poolused: outstanding allocations and bytes
// in nonpaged and paged pool.
type PoolUse struct {
	Tag                          string
	NonPagedAllocs, NonPagedUsed int64
	PagedAllocs, PagedUsed       int64
}

// Allocs is the tag's outstanding allocations in both pools.
func (u PoolUse) Allocs() int64 { return u.NonPagedAllocs + u.PagedAllocs }

// Used is the tag's outstanding bytes in both pools.
func (u PoolUse) Used() int64 { return u.NonPagedUsed + u.PagedUsed }

// " Ddk         5     3944         0        0UNKNOWN pooltag 'Ddk ', please update pooltag.txt"
// (https://learn.microsoft.com/en-us/windows-hardware/drivers/debuggercmds/-poolused):
// the tag is four characters (trailing blanks included), then four numbers,
// the last glued to the description.
var rePoolUsed = regexp.MustCompile(`^ ?(\S.{3}) +(\d+) +(\d+) +(\d+) +(\d+)`)

// NoPoolUseError says !poolused printed no line for the tag.
type NoPoolUseError struct {
	Tag  string
	Line string // kd's first line, to quote ("" for none)
}

func (e *NoPoolUseError) Error() string {
	s := fmt.Sprintf("!poolused printed no line for tag %q", e.Tag)
	if e.Line != "" {
		s += fmt.Sprintf(" (kd: %q)", e.Line)
	}
	return s
}

// ParsePoolUsed reads kd's answer to PoolUsedCommand: the sum of the lines
// whose tag matches tag (? and * as kd reads them, trailing blanks and case
// ignored; a kd that printed every tag is read right too). The TOTAL line and
// the headers are not tags. It returns a *NoPoolUseError when no line
// matches (the tag has nothing outstanding and kd printed no line, or kd
// could not read the pool tracking table: its line is quoted).
func ParsePoolUsed(answer, tag string) (PoolUse, error) {
	u := PoolUse{Tag: tag}
	found := false
	first := ""
	for _, l := range strings.Split(answer, "\n") {
		l = strings.TrimRight(StripPrompt(l), "\r")
		if first == "" && strings.TrimSpace(l) != "" {
			first = strings.TrimSpace(l)
		}
		m := rePoolUsed.FindStringSubmatch(l)
		if m == nil || strings.TrimSpace(m[1]) == "TOTA" || !tagMatches(tag, m[1]) {
			continue
		}
		var n [4]int64
		ok := true
		for i := range n {
			v, err := strconv.ParseInt(m[2+i], 10, 64)
			if err != nil || v < 0 {
				ok = false
				break
			}
			n[i] = v
		}
		if !ok {
			continue
		}
		found = true
		u.NonPagedAllocs += n[0]
		u.NonPagedUsed += n[1]
		u.PagedAllocs += n[2]
		u.PagedUsed += n[3]
	}
	if !found {
		return PoolUse{Tag: tag}, &NoPoolUseError{Tag: tag, Line: first}
	}
	return u, nil
}

// tagMatches compares a tag pattern (? one character, * the rest) with a
// tag as !poolused prints it, trailing blanks and case ignored.
func tagMatches(pat, tag string) bool {
	pat = strings.ToLower(strings.TrimRight(pat, " "))
	tag = strings.ToLower(strings.TrimRight(tag, " "))
	for i := 0; i < len(pat); i++ {
		switch {
		case pat[i] == '*':
			return true
		case i >= len(tag):
			return false
		case pat[i] != '?' && pat[i] != tag[i]:
			return false
		}
	}
	return len(pat) == len(tag)
}

var reHitID = regexp.MustCompile(`Breakpoint (\d+) hit\s*$`)

// HitID is the breakpoint number of a "Breakpoint N hit" line (a DbgPrint
// glued in front is allowed, as Classify allows it).
func HitID(line string) (int, bool) {
	m := reHitID.FindStringSubmatch(StripPrompt(line))
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(m[1])
	return n, err == nil
}
