package genlog

import (
	"bytes"
	"strings"
	"testing"
)

func TestGenerate(t *testing.T) {
	for _, arch := range []string{"x64", "x86"} {
		var a, b bytes.Buffer
		sa, err := Generate(&a, Options{Size: 200 << 10, Arch: arch, Seed: 3, Stacks: 30})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Generate(&b, Options{Size: 200 << 10, Arch: arch, Seed: 3, Stacks: 30}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Errorf("%s: same seed, different logs", arch)
		}
		if sa.Bytes != int64(a.Len()) || sa.Bytes < 200<<10 || sa.Bytes > 210<<10 {
			t.Errorf("%s: %d bytes reported, %d written", arch, sa.Bytes, a.Len())
		}
		if got := strings.Count(a.String(), "Breakpoint 0 hit\n"); got != sa.Hits {
			t.Errorf("%s: %d hit lines, %d hits reported", arch, got, sa.Hits)
		}
		sum := 0
		for _, n := range sa.Counts {
			sum += n
		}
		if sum != sa.Hits || len(sa.Stacks) != 30 || len(sa.Expected()) != 30 {
			t.Errorf("%s: counts sum %d, hits %d, %d stacks", arch, sum, sa.Hits, len(sa.Stacks))
		}
		if sa.Counts[0] <= sa.Counts[len(sa.Counts)-1] {
			t.Errorf("%s: the first stack should be the most frequent: %v", arch, sa.Counts)
		}
	}
	var c bytes.Buffer
	st, err := Generate(&c, Options{Hits: 5, CRLF: true})
	if err != nil || st.Hits != 5 || !strings.Contains(c.String(), "Breakpoint 0 hit\r\n") {
		t.Errorf("hits/crlf: %+v %v", st, err)
	}
	if _, err := Generate(&c, Options{}); err == nil {
		t.Error("no size and no hits accepted")
	}
	if _, err := Generate(&c, Options{Hits: 1, Arch: "arm"}); err == nil {
		t.Error("arch arm accepted")
	}
}
