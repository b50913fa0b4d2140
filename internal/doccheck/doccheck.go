// Package doccheck keeps the repository standing on its own. Code comments
// cite the facts they rely on by a section title of docs/kd-protocol.md;
// titles drift when a section is renamed or a citation is written from
// memory, and nothing else notices. The test in this package reads every
// .go, .txtar and .md file, extracts the cited titles (Citations) and fails
// for each one that is not a heading of the page (Headings), and fails for
// every file that still names a place outside the repository (Leftovers).
//
// The functions here are pure, over a file's bytes; the test does the I/O.
package doccheck

import (
	"bytes"
	"cmp"
	"regexp"
	"slices"
	"strings"
)

// Citation is one section title cited in a file.
type Citation struct {
	Line  int    // 1-based line on which the quoted title starts
	Title string // without the quotes, line breaks and comment markers folded to one space
}

// Finding is a line that names something the repository must not depend on.
type Finding struct {
	Line int
	What string // the offending text
}

// A title is what sits between two double quotes, with no blank at either
// end: that rules out the stretch between the closing quote of one quoted
// string and the opening quote of the next, which always starts or ends with
// a blank in prose.
const (
	title = `"([^"\s](?:[^"]{0,78}[^"\s])?)"`
	// Titles in a list: "A", "B" and "C", "A" or "B".
	titleList = title + `(?:(?:,? and |, | or )` + title + `)*`
	docName   = `kd-protocol\.md`
)

var (
	// The page's name, then the titles: DOC "A"; DOC, section "A";
	// DOC, sections "A" and "B"; DOC ("A", "B"). DOC stands for the page's
	// name, which written out here would make these examples citations.
	citeAfter = regexp.MustCompile(docName + `(?:,? sections?)?:? \(?` + titleList)
	// The titles, then the page's name: ("A" in DOC; "A" and "B" in DOC.
	citeBefore = regexp.MustCompile(titleList + ` in (?:the )?(?:docs/)?` + docName)
	titleRE    = regexp.MustCompile(title)
)

// Citations returns the section titles src cites, in order. A citation may
// run over several comment lines (Go's //, txtar's and shell's #): lines are
// joined with one space after their leading blanks and comment marker are
// dropped, so a title broken across two comment lines is read whole.
func Citations(src []byte) []Citation {
	j := join(src)
	type span struct{ lo, hi int }
	var spans []span
	for _, re := range []*regexp.Regexp{citeAfter, citeBefore} {
		for _, m := range re.FindAllStringIndex(j.text, -1) {
			spans = append(spans, span{m[0], m[1]})
		}
	}
	seen := map[int]bool{}
	var out []Citation
	for _, s := range spans {
		for _, m := range titleRE.FindAllStringSubmatchIndex(j.text[s.lo:s.hi], -1) {
			at := s.lo + m[2]
			if seen[at] {
				continue
			}
			seen[at] = true
			out = append(out, Citation{Line: j.line(at), Title: j.text[at : s.lo+m[3]]})
		}
	}
	slices.SortStableFunc(out, func(a, b Citation) int { return cmp.Compare(a.Line, b.Line) })
	return out
}

// Headings returns the titles of the Markdown headings of md (ATX headings,
// "# Title" to "###### Title"), skipping fenced code blocks, where a line
// starting with "#" is kd's output, not a heading.
func Headings(md []byte) []string {
	var out []string
	fence := ""
	for _, line := range strings.Split(string(md), "\n") {
		line = strings.TrimRight(line, "\r")
		trimmed := strings.TrimLeft(line, " ")
		if len(line)-len(trimmed) > 3 {
			continue // indented code
		}
		if f := fenceOf(trimmed); f != "" {
			switch {
			case fence == "":
				fence = f
			case strings.HasPrefix(f, fence) && strings.TrimSpace(strings.TrimLeft(trimmed, fence[:1])) == "":
				fence = ""
			}
			continue
		}
		if fence != "" {
			continue
		}
		level := len(trimmed) - len(strings.TrimLeft(trimmed, "#"))
		if level < 1 || level > 6 || (len(trimmed) > level && trimmed[level] != ' ') {
			continue
		}
		t := strings.TrimSpace(trimmed[level:])
		t = strings.TrimSpace(strings.TrimRight(t, "#"))
		if t != "" {
			out = append(out, t)
		}
	}
	return out
}

// fenceOf returns the fence (``` or ~~~, or longer) that opens or closes a
// code block on this line, or "". As in CommonMark, a backtick fence's info
// string holds no backtick: "```x` y```" at a line's start is inline code.
func fenceOf(line string) string {
	for _, c := range []string{"`", "~"} {
		n := len(line) - len(strings.TrimLeft(line, c))
		if n >= 3 && (c == "~" || !strings.Contains(line[n:], "`")) {
			return line[:n]
		}
	}
	return ""
}

// The names below are split so that this file, which the test scans too,
// does not contain them itself.
var outside = []string{
	"/wo" + "rk/",               // absolute paths of the machine the notes lived on
	"shared" + "/reference",     // the notes kd-protocol.md was written from
	"kd-" + "facts",             // ... by file name
	"leak-" + "tracking.md",     //
	"pool-leak-" + "hunting.md", //
	"driving-" + "debuggers.md", //
	"\u00a7",                    // section sign: the notes' section numbers
}

var (
	// An issue and its part, numbered: the tracker the work was planned in.
	issuePart = regexp.MustCompile(`(?i)\bissue \d+, part \d+`)
	// A citation followed by a section number of the old notes, as in
	// (... in DOC, 2.3) or (DOC "A", 4.4).
	numberedCite = regexp.MustCompile(docName + `[^()]{0,60}?, ?\d+\.\d+(?:, ?\d+\.\d+)*\)`)
)

// Leftovers returns the places in src that name a path outside the
// repository, a section sign, an "issue N, part M" reference, or a
// kd-protocol.md citation that still carries a section number.
func Leftovers(src []byte) []Finding {
	var out []Finding
	for i, line := range bytes.Split(src, []byte("\n")) {
		s := string(line)
		for _, o := range outside {
			if strings.Contains(s, o) {
				out = append(out, Finding{Line: i + 1, What: o})
			}
		}
		if m := issuePart.FindString(s); m != "" {
			out = append(out, Finding{Line: i + 1, What: m})
		}
	}
	j := join(src)
	for _, m := range numberedCite.FindAllStringIndex(j.text, -1) {
		out = append(out, Finding{Line: j.line(m[0]), What: j.text[m[0]:m[1]]})
	}
	slices.SortStableFunc(out, func(a, b Finding) int { return cmp.Compare(a.Line, b.Line) })
	return out
}

// joined is a file's lines run together, with where each line starts.
type joined struct {
	text   string
	starts []int // offset in text of each line's first kept byte
}

func join(src []byte) joined {
	var b strings.Builder
	var starts []int
	for i, line := range strings.Split(string(src), "\n") {
		line = strings.TrimSpace(line)
		for _, marker := range []string{"//", "#"} {
			if strings.HasPrefix(line, marker) {
				line = strings.TrimSpace(strings.TrimLeft(line, marker[:1]))
				break
			}
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		starts = append(starts, b.Len())
		b.WriteString(line)
	}
	return joined{text: b.String(), starts: starts}
}

// line is the 1-based line holding offset off of j.text.
func (j joined) line(off int) int {
	i, found := slices.BinarySearch(j.starts, off)
	if found {
		return i + 1
	}
	return i // off lies inside line i, which starts before it
}
