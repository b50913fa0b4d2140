package genlog

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestGenerateLeaksTruthAddsUp(t *testing.T) {
	for _, o := range []LeakOptions{
		{Allocs: 2000, Seed: 1},
		{Allocs: 2000, Seed: 2, Arch: "x86", LostPerMille: 40, EarlyFrees: 20},
		{Allocs: 2000, Seed: 3, Family: "heap-special-pool", Burst: true, Threads: 1},
	} {
		var b bytes.Buffer
		st, err := GenerateLeaks(&b, o)
		if err != nil {
			t.Fatal(err)
		}
		allocs, frees, unpaired := 0, 0, 0
		for _, s := range st.Stacks {
			if s.Allocs != s.Frees+s.OutstandingCount+s.Unpaired || s.OutstandingCount < 0 || s.OutstandingBytes < 0 {
				t.Errorf("%+v: stack %s does not add up: %+v", o, s.Frames[3], s)
			}
			allocs += s.Allocs
			frees += s.Frees
			unpaired += s.Unpaired
		}
		if allocs != st.Allocs || frees != st.Frees || unpaired != st.Unpaired || st.Allocs != o.Allocs {
			t.Errorf("%+v: totals %+v; stacks add up to %d allocs, %d frees, %d unpaired", o, st, allocs, frees, unpaired)
		}
		if o.LostPerMille > 0 && st.Unpaired == 0 || o.EarlyFrees > 0 && st.FreesUntracked < o.EarlyFrees/2 {
			t.Errorf("%+v: knobs had no effect: %+v", o, st)
		}
		log := b.String()
		if n := strings.Count(log, "KDLK1 A "); n < st.Allocs {
			t.Errorf("%d allocation records for %d allocations", n, st.Allocs)
		}
		if o.Family == "heap-special-pool" && !strings.Contains(log, "nt!ExAllocateHeapSpecialPool\n") {
			t.Error("segment heap log without its allocator")
		}
		if int64(b.Len()) != st.Bytes {
			t.Errorf("Bytes %d, wrote %d", st.Bytes, b.Len())
		}
	}
}

func TestGenerateLeaksTranscript(t *testing.T) {
	var b bytes.Buffer
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	if _, err := GenerateLeaks(&b, LeakOptions{Allocs: 200, Seed: 1, Start: start, Step: time.Second}); err != nil {
		t.Fatal(err)
	}
	var last time.Time
	for i, l := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		at, err := time.Parse("2006-01-02T15:04:05.000Z", l[:24])
		if err != nil || l[24:27] != " < " {
			t.Fatalf("line %d not stamped: %q", i, l)
		}
		if at.Before(last) {
			t.Fatalf("line %d goes back in time: %q", i, l)
		}
		last = at
	}
	if last.Sub(start) < 200*time.Second {
		t.Errorf("transcript ends at %s", last)
	}
}

func TestGenerateLeaksBadOptions(t *testing.T) {
	for _, o := range []LeakOptions{{}, {Allocs: 1, Arch: "mips"}, {Allocs: 1, Arch: "x86", Family: "heap-special-pool"}, {Allocs: 1, Family: "nope"}} {
		if _, err := GenerateLeaks(&bytes.Buffer{}, o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}
