package report

import (
	"strings"
	"testing"
)

func TestHeadFacts(t *testing.T) {
	for _, tc := range []struct {
		name, log, tag, strategy string
	}{
		{"special pool, as run types it", "Connected\n1: kd> dd nt!MmSpecialPoolTag L1\nfffff801`1e5c3a10  206b6444\n1: kd> .echo KDLAUNCH_DONE_1\n1: kd> bp nt!MmAllocateSpecialPool \";kb;g\"\n", "Ddk", "special-pool"},
		{"CRLF and a mask", "kd> dd nt!MmSpecialPoolTag L1\r\n82d3a10c  002a744e\r\n", "Nt*", "special-pool"},
		{"pool hit tag, cleared on stop", "0: kd> ed nt!PoolHitTag 0x206b6444\n0: kd> g\n...\n0: kd> ed nt!PoolHitTag 0\n", "Ddk", "pool-hit-tag"},
		{"breakpoint only", "kd> bp nt!MmAllocateSpecialPool\n", "", "special-pool"},
		{"special pool off (0)", "kd> dd nt!MmSpecialPoolTag L1\nfffff801`1e5c3a10  00000000\n", "", ""},
		{"the answer is not the next line", "kd> dd nt!MmSpecialPoolTag L1\nkd> g\nfffff801`1e5c3a10  206b6444\n", "", ""},
		{"nothing", "Breakpoint 0 hit\n", "", ""},
		{"the leak recipe's header after the live check", "1: kd> dd nt!MmSpecialPoolTag L1\nfffff801`1e5c3a10  206b6444\n1: kd> .echo KDLK1 H x64 mm-special-pool\nKDLK1 H x64 mm-special-pool\n1: kd> bp1 nt!MmFreeSpecialPool \"\"\n", "Ddk", "leaks"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for cut := 0; cut <= len(tc.log); cut++ {
				var h HeadFacts
				h.Write([]byte(tc.log[:cut]))
				h.Write([]byte(tc.log[cut:]))
				h.Flush()
				if h.Tag != tc.tag || h.Strategy != tc.strategy {
					t.Fatalf("cut %d: %q %q, want %q %q", cut, h.Tag, h.Strategy, tc.tag, tc.strategy)
				}
			}
		})
	}
}

func TestHeadFactsReadsOnlyTheHead(t *testing.T) {
	var h HeadFacts
	h.Write([]byte(strings.Repeat("x", headBytes)))
	h.Write([]byte("\nkd> ed nt!PoolHitTag 0x206b6444\n"))
	h.Flush()
	if h.Tag != "" {
		t.Errorf("read past the head: %q", h.Tag)
	}
}

// FuzzHeadFacts: any log, cut anywhere, gives the same facts as whole, and
// a tag found is one kd could hunt.
func FuzzHeadFacts(f *testing.F) {
	f.Add("kd> dd nt!MmSpecialPoolTag L1\nfffff801`1e5c3a10  206b6444\n", 7)
	f.Add("0: kd> ed nt!PoolHitTag 0x206b6444\n", 3)
	f.Fuzz(func(t *testing.T, log string, cut int) {
		var whole, parts HeadFacts
		whole.Write([]byte(log))
		whole.Flush()
		if cut < 0 {
			cut = -cut
		}
		cut %= len(log) + 1
		parts.Write([]byte(log[:cut]))
		parts.Write([]byte(log[cut:]))
		parts.Flush()
		if whole.Tag != parts.Tag || whole.Strategy != parts.Strategy {
			t.Errorf("whole %q %q, cut at %d %q %q", whole.Tag, whole.Strategy, cut, parts.Tag, parts.Strategy)
		}
		if whole.Tag != "" && (len(whole.Tag) > 4 || whole.Strategy == "") {
			t.Errorf("tag %q strategy %q", whole.Tag, whole.Strategy)
		}
	})
}
