package doccheck

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// page is where the cited titles must be headings.
const page = "docs/kd-protocol.md"

// cite writes a case's source with the page's name in place of DOC, so that
// this file's bad examples are not citations the repository test reads.
func cite(s string) []byte { return []byte(strings.ReplaceAll(s, "DOC", "docs/kd-protocol"+".md")) }

func TestCitations(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []Citation
	}{
		{"title after the name", `// (DOC "Prompts").`, []Citation{{1, "Prompts"}}},
		{"bare name, title after", `x := 1 // kd-protocol` + `.md "Stack layouts": "0a", "0b"`, []Citation{{1, "Stack layouts"}}},
		{"title before the name", `// ("The live check" in DOC).`, []Citation{{1, "The live check"}}},
		{"section", `// See DOC, section "Allocators".`, []Citation{{1, "Allocators"}}},
		{"sections over two lines", "// See DOC, sections\n// \"Bug checks\" and \"Free stacks\".",
			[]Citation{{2, "Bug checks"}, {2, "Free stacks"}}},
		{"list of three and an and", `// see DOC, sections "A", "B", "C" and "D"`,
			[]Citation{{1, "A"}, {1, "B"}, {1, "C"}, {1, "D"}}},
		{"list before the name", "// See \"Prompts\" and\n// \"Breakpoint hits\" in DOC.",
			[]Citation{{1, "Prompts"}, {2, "Breakpoint hits"}}},
		{"parenthesised list after", "// as DOC (\"Prompts\",\n// \"Breakpoint hits\") describes",
			[]Citation{{1, "Prompts"}, {2, "Breakpoint hits"}}},
		{"title broken over lines", "\t// the connection (\"Banners and connection\n\t// lines\" in DOC), printed",
			[]Citation{{1, "Banners and connection lines"}}},
		{"txtar comment", "# kdlaunch (DOC \"Reboot and shutdown\")\nexec kdlaunch", []Citation{{1, "Reboot and shutdown"}}},
		{"quote after a colon is kd's words", `// DOC "Session commands": q "ends the debugging session."`,
			[]Citation{{1, "Session commands"}}},
		{"bad title is still extracted", `// (DOC "Breaking in").`, []Citation{{1, "Breaking in"}}},
		{"no title", "// docs/kd-protocol" + ".md gives each fact with its source.", nil},
		{"name without a quote", "// what DOC prints here", nil},
		{"quotes without the name", `// "Prompts" and "Breaks"`, nil},
		{"blank line ends a citation", "// See DOC, section\n\n// \"Allocators\".", nil},
		{"blank-edged quote is not a title", `// "x" or " y " in DOC`, nil},
		{"two citations", "// (DOC \"A\")\n// (\"B\" in DOC)", []Citation{{1, "A"}, {2, "B"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Citations(cite(tt.src)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Citations(%q)\ngot  %v\nwant %v", tt.src, got, tt.want)
			}
		})
	}
}

// TestUnknownTitle is the check the repository test makes, on a file with a
// citation of a section the page does not have: it must be reported with
// its line.
func TestUnknownTitle(t *testing.T) {
	md := []byte("# Page\n\n## Prompts\n\n## Breaks\n")
	src := cite("package x\n\n// kd's prompt (\"Prompts\" in DOC) and a\n// break (DOC \"Breaking in\").\n")
	got := unknown("x.go", src, set(Headings(md)))
	want := []string{`x.go:4: cites "Breaking in", which is not a heading of ` + page}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestHeadings(t *testing.T) {
	md := "# What kd prints\n" +
		"intro # not a heading\n" +
		"## Command line and environment\n" +
		"### Command line\n" +
		"  ## Indented two ##\n" +
		"    ## indented code\n" +
		"#hashtag\n" +
		"```\n# RetAddr : Call Site\n```\n" +
		"~~~~\n## in a tilde fence\n```\n## still fenced\n~~~~\n" +
		"```` 0 e fffff800`02e03904 nt!X```` and\n## after inline code\n" +
		"## .echo markers\r\n" +
		"####### seven\n"
	want := []string{"What kd prints", "Command line and environment", "Command line", "Indented two", "after inline code", ".echo markers"}
	if got := Headings([]byte(md)); !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestLeftovers(t *testing.T) {
	// The names are built here so that this file does not hold them.
	work, ref := "/wo"+"rk/", "shared"+"/reference"
	tests := []struct {
		name string
		src  string
		want []Finding
	}{
		{"absolute path", "x\n// see " + work + "main/README.md", []Finding{{2, work}}},
		{"notes folder", "// from " + ref + "/x.md", []Finding{{1, ref}}},
		{"notes by name", "// kd-" + "facts 2.5 and leak-" + "tracking.md", []Finding{{1, "kd-" + "facts"}, {1, "leak-" + "tracking.md"}}},
		{"section sign", "// see \u00a71.3", []Finding{{1, "\u00a7"}}},
		{"issue and part", "// (Issue 12, " + "part 3)", []Finding{{1, "Issue 12, " + "part 3"}}},
		{"numbered citation", string(cite("// (\"Break-in and the break box\" in DOC, 2.3). q")),
			[]Finding{{1, "kd-protocol" + ".md, 2.3)"}}},
		{"numbers after a title, next line", string(cite("// (DOC \"Stack layouts\",\n// 4.4); x64")),
			[]Finding{{1, "kd-protocol" + `.md "Stack layouts", 4.4)`}}},
		{"clean", string(cite("// (\"Stack layouts\" in DOC): Wine 8.0 and 1.5 MB")), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Leftovers([]byte(tt.src)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Leftovers(%q)\ngot  %v\nwant %v", tt.src, got, tt.want)
			}
		})
	}
}

func TestSlug(t *testing.T) {
	for in, want := range map[string]string{
		"Leaving kd: CTRL+B ENTER":   "leaving-kd-ctrlb-enter",
		".echo markers":              "echo-markers",
		"Break-in and the break box": "break-in-and-the-break-box",
		"A failed g":                 "a-failed-g",
	} {
		if got := slug(in); got != want {
			t.Errorf("slug(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRepositoryCitations reads every .go, .txtar and .md file of the
// repository and fails, naming file:line, for each cited title that is not a
// heading of the page.
func TestRepositoryCitations(t *testing.T) {
	root := repoRoot(t)
	md, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(page)))
	if err != nil {
		t.Fatalf("read the page: %v", err)
	}
	titles := Headings(md)
	headings := set(titles)
	if len(headings) != len(titles) {
		t.Errorf("%s has a heading twice: one section per fact, please (%q)", page, titles)
	}
	n := 0
	for _, name := range repoFiles(t, root) {
		switch filepath.Ext(name) {
		case ".go", ".txtar", ".md":
		default:
			continue
		}
		src := read(t, root, name)
		if src == nil {
			continue
		}
		n += len(Citations(src))
		for _, e := range unknown(name, src, headings) {
			t.Error(e)
		}
	}
	if n == 0 {
		t.Fatalf("no citation of %s found in %s: the extractor or the file list is broken", page, root)
	}
	t.Logf("%d citations, %d headings", n, len(headings))
}

// TestContents checks the page's own links: each #anchor is a heading, and
// each section is in the table of contents.
func TestContents(t *testing.T) {
	md, err := os.ReadFile(filepath.Join(repoRoot(t), filepath.FromSlash(page)))
	if err != nil {
		t.Fatalf("read the page: %v", err)
	}
	titles := Headings(md)
	anchors := map[string]bool{}
	for _, h := range titles {
		anchors[slug(h)] = true
	}
	linked := map[string]bool{}
	for _, m := range regexp.MustCompile(`\]\(#([^)]*)\)`).FindAllSubmatch(md, -1) {
		a := string(m[1])
		linked[a] = true
		if !anchors[a] {
			t.Errorf("%s links to #%s, which is no heading", page, a)
		}
	}
	for _, h := range titles[1:] { // the first is the page's title
		if !linked[slug(h)] {
			t.Errorf("%s: section %q is missing from the table of contents", page, h)
		}
	}
}

// TestRepositoryLeftovers fails for every file that names a path outside
// the repository or the old notes' section numbers.
func TestRepositoryLeftovers(t *testing.T) {
	root := repoRoot(t)
	for _, name := range repoFiles(t, root) {
		src := read(t, root, name)
		if src == nil {
			continue
		}
		for _, f := range Leftovers(src) {
			t.Errorf("%s:%d: names %q: the repository must stand on its own; cite a section of %s by its title or a public URL",
				name, f.Line, f.What, page)
		}
	}
}

// unknown returns one message per citation in src of a title that is not
// in headings.
func unknown(name string, src []byte, headings map[string]bool) []string {
	var out []string
	for _, c := range Citations(src) {
		if !headings[c.Title] {
			out = append(out, fmt.Sprintf("%s:%d: cites %q, which is not a heading of %s", name, c.Line, c.Title, page))
		}
	}
	return out
}

func set(xs []string) map[string]bool {
	m := map[string]bool{}
	for _, x := range xs {
		m[x] = true
	}
	return m
}

// slug is GitHub's anchor for a heading: lower case, blanks to hyphens,
// other punctuation dropped.
func slug(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 0x7f:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// repoRoot is the folder holding the module's go.mod, above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.HasPrefix(b, []byte("module github.com/kdlaunch/kdlaunch")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod of github.com/kdlaunch/kdlaunch above the test's folder")
		}
		dir = parent
	}
}

// repoFiles lists the files git tracks or would track (so a new file is
// checked before its first commit); without git, every file under root
// except build output.
func repoFiles(t *testing.T, root string) []string {
	t.Helper()
	out, err := exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err == nil {
		var names []string
		for _, n := range strings.Split(string(out), "\x00") {
			if n != "" {
				names = append(names, n)
			}
		}
		return names
	}
	t.Logf("git ls-files: %v; walking %s instead", err, root)
	var names []string
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "bin", "dist", "demo", "node_modules":
				return filepath.SkipDir
			}
			return nil
		}
		rel, err := filepath.Rel(root, p)
		names = append(names, filepath.ToSlash(rel))
		return err
	})
	if err != nil {
		t.Fatalf("list %s: %v", root, err)
	}
	return names
}

// read returns a text file's bytes, or nil for a binary file (a NUL in its
// first 8000 bytes, as git decides) or one deleted but not yet committed.
func read(t *testing.T, root, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(name)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	if bytes.IndexByte(b[:min(len(b), 8000)], 0) >= 0 {
		return nil
	}
	return b
}

func FuzzCitations(f *testing.F) {
	for _, s := range []string{
		`// (DOC "Prompts").`, "// See DOC, sections\n// \"Bug checks\" and \"Free stacks\".",
		"// See \"A\" and\n// \"B\" in DOC.", `"x" or " y " in DOC`, "\"a\n\n" + `DOC "`,
	} {
		f.Add(cite(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		lines := bytes.Count(src, []byte("\n")) + 1
		got := Citations(src)
		for i, c := range got {
			if c.Line < 1 || c.Line > lines {
				t.Fatalf("citation %v outside the %d lines", c, lines)
			}
			if i > 0 && c.Line < got[i-1].Line {
				t.Fatalf("citations out of order: %v", got)
			}
			if c.Title == "" || strings.Contains(c.Title, `"`) || strings.Trim(c.Title, " \t\n\f\r") != c.Title {
				t.Fatalf("bad title %q", c.Title)
			}
		}
		// A citation on a line of its own, after a blank line, is always
		// found, whatever came before it.
		more := append(append([]byte{}, src...), cite("\n\n// (DOC \"Zeta\")")...)
		got = Citations(more)
		if len(got) == 0 || got[len(got)-1] != (Citation{lines + 2, "Zeta"}) {
			t.Fatalf("appended citation not found last: %v", got)
		}
	})
}

func FuzzHeadings(f *testing.F) {
	f.Add([]byte("# A\n## B ##\n```\n# C\n```\n"))
	f.Fuzz(func(t *testing.T, md []byte) {
		for _, h := range Headings(md) {
			if h == "" || strings.TrimSpace(h) != h {
				t.Fatalf("bad heading %q", h)
			}
		}
	})
}

func FuzzLeftovers(f *testing.F) {
	f.Add(cite("// (DOC \"A\", 4.4)\n// issue 2, " + "part 1 \u00a7"))
	f.Fuzz(func(t *testing.T, src []byte) {
		lines := bytes.Count(src, []byte("\n")) + 1
		for _, l := range Leftovers(src) {
			if l.Line < 1 || l.Line > lines || l.What == "" {
				t.Fatalf("bad finding %v in %d lines", l, lines)
			}
		}
	})
}
