package stacks

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/kdlaunch/kdlaunch/internal/genlog"
)

// TestGeneratedLogs checks the parsers against logs whose stacks are known,
// for both architectures, LF and CRLF, sequential and parallel.
func TestGeneratedLogs(t *testing.T) {
	for _, arch := range []string{"x64", "x86"} {
		for _, crlf := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/crlf=%v", arch, crlf), func(t *testing.T) {
				var buf bytes.Buffer
				st, err := genlog.Generate(&buf, genlog.Options{Size: 3 << 20, Arch: arch, Seed: 7, Stacks: 20, CRLF: crlf})
				if err != nil {
					t.Fatal(err)
				}
				want := st.Expected()
				check := func(name string, got map[string]int, hits int) {
					t.Helper()
					if hits != st.Hits {
						t.Errorf("%s: hits = %d, want %d", name, hits, st.Hits)
					}
					if len(got) != len(want) {
						t.Errorf("%s: %d distinct stacks, want %d", name, len(got), len(want))
					}
					for k, n := range want {
						if got[k] != n {
							t.Errorf("%s: stack %q: got %d, want %d", name, strings.ReplaceAll(k, "\n", " | "), got[k], n)
						}
					}
					for k, n := range got {
						if _, ok := want[k]; !ok {
							t.Errorf("%s: unexpected stack (%d) %q", name, n, strings.ReplaceAll(k, "\n", " | "))
						}
					}
				}
				// sequential
				got := map[string]int{}
				p := newParser(bytes.NewReader(buf.Bytes()))
				for {
					s, err := p.Next()
					if err != nil {
						break
					}
					got[s.Key()]++
				}
				check("parser", got, p.Hits())
				for _, workers := range []int{1, 2, 3} {
					got := map[string]int{}
					stats, err := ScanWorkers(bytes.NewReader(buf.Bytes()), workers, func(s Stack) { got[s.Key()]++ })
					if err != nil {
						t.Fatal(err)
					}
					check(fmt.Sprintf("scan/%d", workers), got, stats.Hits)
				}
			})
		}
	}
}
