package leaks_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/kdlaunch/kdlaunch/internal/genlog"
	"github.com/kdlaunch/kdlaunch/leaks"
	"github.com/kdlaunch/kdlaunch/leaks/records"
)

func scanLog(t *testing.T, log []byte) (leaks.Result, leaks.ScanStats) {
	t.Helper()
	tr := leaks.NewTracker()
	st, err := leaks.Scan(bytes.NewReader(log), tr)
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return tr.Result(), st
}

// checkTruth compares every stack's figures with what the generator knows.
func checkTruth(t *testing.T, res leaks.Result, truth genlog.LeakStats) {
	t.Helper()
	got := map[string]leaks.StackStat{}
	for _, s := range res.Stacks {
		got[strings.Join(s.Frames, "\n")] = s
	}
	for _, want := range truth.Stacks {
		key := strings.Join(want.Frames, "\n")
		s := got[key]
		if s.OutstandingCount != int64(want.OutstandingCount) || s.OutstandingBytes != want.OutstandingBytes ||
			s.AllocCount != int64(want.Allocs) || s.FreeCount != int64(want.Frees) || s.Unpaired != int64(want.Unpaired) {
			t.Errorf("stack %s:\n got alloc %d free %d outstanding %d/%d bytes unpaired %d\nwant alloc %d free %d outstanding %d/%d bytes unpaired %d",
				want.Frames[1], s.AllocCount, s.FreeCount, s.OutstandingCount, s.OutstandingBytes, s.Unpaired,
				want.Allocs, want.Frees, want.OutstandingCount, want.OutstandingBytes, want.Unpaired)
		}
		delete(got, key)
	}
	for k, s := range got {
		if s.AllocCount > 0 {
			t.Errorf("stack not in the truth: %q (%d allocations)", k, s.AllocCount)
		}
	}
	tt := res.Totals
	if tt.Allocs != int64(truth.Allocs) || tt.Unpaired != int64(truth.Unpaired) || tt.FreesUntracked != int64(truth.FreesUntracked) || tt.Frees != int64(truth.Frees) {
		t.Errorf("totals: allocs %d unpaired %d frees %d untracked %d; want %d %d %d %d",
			tt.Allocs, tt.Unpaired, tt.Frees, tt.FreesUntracked, truth.Allocs, truth.Unpaired, truth.Frees, truth.FreesUntracked)
	}
	if !tt.Reconciled() {
		t.Errorf("totals do not reconcile: %+v", tt)
	}
}

func TestScanGeneratedTruth(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    genlog.LeakOptions
	}{
		{"x64 legacy", genlog.LeakOptions{Allocs: 3000, Seed: 1, EarlyFrees: 20}},
		{"x64 segment heap", genlog.LeakOptions{Allocs: 3000, Seed: 2, Family: "heap-special-pool", EarlyFrees: 5}},
		{"x86 legacy", genlog.LeakOptions{Allocs: 3000, Seed: 3, Arch: "x86"}},
		{"x64 CRLF, 8 threads", genlog.LeakOptions{Allocs: 2000, Seed: 4, CRLF: true, Threads: 8}},
		{"lost returns", genlog.LeakOptions{Allocs: 3000, Seed: 5, LostPerMille: 50, EarlyFrees: 10}},
		{"transcript", genlog.LeakOptions{Allocs: 1000, Seed: 6, Start: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			truth, err := genlog.GenerateLeaks(&b, tc.o)
			if err != nil {
				t.Fatal(err)
			}
			res, st := scanLog(t, b.Bytes())
			checkTruth(t, res, truth)
			if st.Timed != !tc.o.Start.IsZero() {
				t.Errorf("Timed = %v", st.Timed)
			}
			if res.Totals.BadRecords != 0 {
				t.Errorf("%d bad records in a clean log", res.Totals.BadRecords)
			}
			if tc.o.LostPerMille > 0 && res.Totals.Unpaired == 0 {
				t.Errorf("lost returns but nothing unpaired")
			}
		})
	}
}

// FuzzScan: any input, a kd log or not, is read without a panic; the
// totals reconcile; nothing is outstanding that no return record gave; an
// input without the prefix has no records.
func FuzzScan(f *testing.F) {
	var b bytes.Buffer
	genlog.GenerateLeaks(&b, genlog.LeakOptions{Allocs: 30, Seed: 7, LostPerMille: 100, EarlyFrees: 3})
	f.Add(b.Bytes())
	f.Add(b.Bytes()[:b.Len()/2])
	f.Add([]byte("KDLK1 A 1 2 3 4\nKDLK1 R 1 4 5\nKDLK1 R 1 4 5\nKDLK1 F 1 5\nKDLK1 F 1 5"))
	f.Add([]byte("2026-12-01T09:00:00.000Z < KDLK1 A 1 2 3 4\n2026-12-01T09:01:00.000Z < KDLK1 R 1 4 5\n"))
	f.Fuzz(func(t *testing.T, log []byte) {
		tr := leaks.NewTracker()
		if _, err := leaks.Scan(bytes.NewReader(log), tr); err != nil {
			return // binary input
		}
		res := tr.Result()
		tt := res.Totals
		if !tt.Reconciled() {
			t.Fatalf("totals do not reconcile: %+v", tt)
		}
		if returns := int64(bytes.Count(log, []byte("KDLK1 R"))); tt.Outstanding > returns || tt.Allocs > int64(bytes.Count(log, []byte("KDLK1 A"))) {
			t.Fatalf("%d outstanding from %d return records: %+v", tt.Outstanding, returns, tt)
		}
		if !bytes.Contains(log, []byte(records.Prefix)) && tt.Records != 0 {
			t.Fatalf("%d records without the prefix", tt.Records)
		}
		var out int64
		for _, s := range res.Stacks {
			if s.AllocCount != s.FreeCount+s.OutstandingCount+s.Unpaired || s.OutstandingCount < 0 {
				t.Fatalf("stack does not reconcile: %+v", s)
			}
			out += s.OutstandingBytes
		}
		if out != tt.OutstandingBytes {
			t.Fatalf("stacks hold %d outstanding bytes, totals %d", out, tt.OutstandingBytes)
		}
	})
}

// The parallel scan gives exactly what one goroutine gives.
func TestScanWorkersSame(t *testing.T) {
	var b bytes.Buffer
	if _, err := genlog.GenerateLeaks(&b, genlog.LeakOptions{Size: 9 << 20, Seed: 8, LostPerMille: 20, EarlyFrees: 50, Threads: 6}); err != nil {
		t.Fatal(err)
	}
	// A DbgPrint glued before records, and a run of lines with no record
	// longer than a chunk, exercise the cuts.
	log := bytes.ReplaceAll(b.Bytes(), []byte("\nKDLK1 F"), []byte("\nnetfilt: flowKDLK1 F"))
	log = append(log, bytes.Repeat([]byte("KDTARGET: Refreshing KD connection\n"), 300000)...)
	log = append(log, b.Bytes()[b.Len()/2:]...)
	var want leaks.Result
	for _, workers := range []int{1, 2, 5} {
		tr := leaks.NewTracker()
		st, err := leaks.ScanWorkers(bytes.NewReader(log), workers, tr)
		if err != nil {
			t.Fatal(err)
		}
		if st.Bytes != int64(len(log)) {
			t.Errorf("%d workers: %d bytes read of %d", workers, st.Bytes, len(log))
		}
		res := tr.Result()
		if workers == 1 {
			want = res
			if res.Totals.Allocs == 0 || res.Totals.NoStack != 0 {
				t.Fatalf("unexpected totals %+v", res.Totals)
			}
			continue
		}
		if res.Totals != want.Totals || len(res.Stacks) != len(want.Stacks) {
			t.Fatalf("%d workers: totals %+v\nwant %+v", workers, res.Totals, want.Totals)
		}
		for i := range res.Stacks {
			a, w := res.Stacks[i], want.Stacks[i]
			if strings.Join(a.Frames, ";") != strings.Join(w.Frames, ";") || a.OutstandingBytes != w.OutstandingBytes || a.AllocCount != w.AllocCount {
				t.Errorf("%d workers: stack %d differs", workers, i)
			}
		}
	}
}

// Several logs through one Tracker add up like one log made of them.
func TestScanSeveralLogs(t *testing.T) {
	var a, b bytes.Buffer
	genlog.GenerateLeaks(&a, genlog.LeakOptions{Size: 3 << 20, Seed: 9})
	genlog.GenerateLeaks(&b, genlog.LeakOptions{Size: 3 << 20, Seed: 10, Family: "heap-special-pool"})
	one := leaks.NewTracker()
	if _, err := leaks.Scan(bytes.NewReader(append(append([]byte{}, a.Bytes()...), b.Bytes()...)), one); err != nil {
		t.Fatal(err)
	}
	two := leaks.NewTracker()
	for _, log := range [][]byte{a.Bytes(), b.Bytes()} {
		if _, err := leaks.Scan(bytes.NewReader(log), two); err != nil {
			t.Fatal(err)
		}
	}
	r1, r2 := one.Result(), two.Result()
	if r1.Totals != r2.Totals || len(r1.Stacks) != len(r2.Stacks) {
		t.Fatalf("one log %+v\ntwo logs %+v", r1.Totals, r2.Totals)
	}
	for i := range r1.Stacks {
		if strings.Join(r1.Stacks[i].Frames, ";") != strings.Join(r2.Stacks[i].Frames, ";") || r1.Stacks[i].OutstandingBytes != r2.Stacks[i].OutstandingBytes {
			t.Errorf("stack %d differs", i)
		}
	}
}
