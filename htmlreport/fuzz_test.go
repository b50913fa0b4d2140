package htmlreport

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/kdlaunch/kdlaunch/report"
	"github.com/kdlaunch/kdlaunch/stacks"
)

// FuzzWrite feeds arbitrary frames (what a hostile or broken log can put
// into a stack) to the page: the page is always written, its data block
// stays one valid JSON document that holds every frame (masked where it
// looks like a secret), and no frame can open or close an element.
func FuzzWrite(f *testing.F) {
	for _, seed := range [][]string{
		{"nt!MmAllocateSpecialPool", "leakydrv!Alloc+0x10"},
		{"</script><script>alert(1)</script>", "x"},
		{"a&b<c>d\"e'f", "password=hunter2,key=1.2.3.4"},
		{"\u2028\u2029", "\x00\xff"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		agg := report.NewAggregator()
		agg.Add(stacks.Stack{Frames: []string{a, b}})
		agg.Add(stacks.Stack{Frames: []string{b}})
		var buf bytes.Buffer
		if err := Write(&buf, Input{Report: agg.Report(nil), Sources: []Source{{Path: a}}}); err != nil {
			t.Fatal(err)
		}
		page := buf.String()
		const open = `<script type="application/json" id="flame-data">`
		i := strings.Index(page, open)
		if i < 0 {
			t.Fatal("no data block")
		}
		rest := page[i+len(open):]
		j := strings.Index(rest, "</script>")
		var data struct {
			Names []string `json:"names"`
			Tree  []any    `json:"tree"`
		}
		if err := json.Unmarshal([]byte(rest[:j]), &data); err != nil {
			t.Fatalf("data block is not JSON: %v", err)
		}
		for _, fr := range []string{a, b} {
			if !contains(data.Names, viaJSON(scrub(fr))) {
				t.Errorf("frame %q missing from the data", fr)
			}
		}
		if n := strings.Count(page, "<script"); n != 2 {
			t.Errorf("%d script elements, want 2", n)
		}
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// viaJSON is s as JSON carries it (invalid UTF-8 becomes U+FFFD).
func viaJSON(s string) string {
	b, _ := json.Marshal(s)
	var out string
	json.Unmarshal(b, &out)
	return out
}
