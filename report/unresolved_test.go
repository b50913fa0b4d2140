package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	for _, tc := range []struct {
		frame string
		want  Resolution
	}{
		{"nt!ExAllocatePoolWithTag+0x4e", Resolved},
		{"leakydrv!LeakyAllocateBuffer", Resolved},
		{"avscan+0x424e", NoSymbol},
		{"avscan", NoSymbol},
		{"(unknown)", NoModule},
		{"?", NoModule},
		{"", NoModule},
		{"0xfffff800`12345678", NoModule},
		{"fffff800`12345678", NoModule},
		{"8d2f1a30", NoModule},
		{"0x1234", NoModule},
		{"deadbeefcafe!Fn", Resolved},
	} {
		if got := Resolve(tc.frame); got != tc.want {
			t.Errorf("Resolve(%q) = %d, want %d", tc.frame, got, tc.want)
		}
	}
}

func TestUnresolvedHint(t *testing.T) {
	for _, tc := range []struct{ culprit, want string }{
		{"nt!Foo+0x1", ""},
		{"avscan+0x424e", "`.reload /f avscan.sys`"},
		{"fffff800`12345678", "`lm a fffff800`12345678`"},
		{"(unknown)", "`lm a <address>`"},
	} {
		got := UnresolvedHint(tc.culprit)
		if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
			t.Errorf("UnresolvedHint(%q) = %q, want it to hold %q", tc.culprit, got, tc.want)
		}
		if strings.Contains(got, "\n") {
			t.Errorf("UnresolvedHint(%q) is more than one line", tc.culprit)
		}
	}
}

func TestUnresolvedWarning(t *testing.T) {
	mk := func(culprits ...string) *Report {
		a := NewAggregator()
		for i, c := range culprits {
			a.Add(st("nt!MmAllocateSpecialPool", c, "nt!Caller+0x"+string(rune('0'+i))))
		}
		return a.Report(nil)
	}
	for _, tc := range []struct {
		name     string
		r        *Report
		warn     bool
		unres, n int
	}{
		{"none", mk(), false, 0, 0},
		{"all resolved", mk("a!F", "b!G"), false, 0, 2},
		{"half", mk("a!F", "b+0x10"), false, 1, 2},
		{"most", mk("a!F", "b+0x10", "fffff800`00001234"), true, 2, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, n := UnresolvedShare(tc.r)
			if u != tc.unres || n != tc.n {
				t.Errorf("share %d/%d, want %d/%d", u, n, tc.unres, tc.n)
			}
			w := UnresolvedWarning(tc.r)
			if (w != "") != tc.warn {
				t.Errorf("warning %q, want one: %v", w, tc.warn)
			}
			var buf bytes.Buffer
			if err := WriteTable(&buf, tc.r, WriteOptions{}); err != nil {
				t.Fatal(err)
			}
			if tc.warn != strings.Contains(buf.String(), "warning: ") {
				t.Errorf("table warning %v, want %v:\n%s", !tc.warn, tc.warn, buf.String())
			}
			if tc.unres > 0 != strings.Contains(buf.String(), "hint: ") {
				t.Errorf("table hint missing or extra:\n%s", buf.String())
			}
			for _, l := range strings.Split(buf.String(), "\n") {
				if len(l) > 80 {
					t.Errorf("line wider than 80: %q", l)
				}
			}
		})
	}
}

func TestJSONExtras(t *testing.T) {
	r := sample().Report(nil)
	r.Tag, r.Strategy = "Ddk", "special-pool"
	var buf bytes.Buffer
	if err := WriteJSON(&buf, r); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Hits     *int   `json:"breakpoint_hits"`
		Tag      string `json:"tag"`
		Strategy string `json:"strategy"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Hits == nil || *doc.Hits != 11 || doc.Tag != "Ddk" || doc.Strategy != "special-pool" {
		t.Errorf("extras %+v in %s", doc, buf.String())
	}
}
