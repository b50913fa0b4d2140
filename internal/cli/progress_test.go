package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/kdlaunch/kdlaunch/internal/genlog"
)

// The progress loop on a fake clock: one line per tick, the rate over the
// last interval, the top culprit; a log it cannot read is skipped.
func TestRunProgress(t *testing.T) {
	defer goleak.VerifyNone(t)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := start
	reads := []logSummary{
		{Hits: 600, Stacks: 600, Culprit: "leakydrv!Alloc+0x2c", Module: "leakydrv", Count: 450},
		{}, // unreadable: see errs
		{Hits: 900, Stacks: 900, Culprit: "leakydrv!Alloc+0x2c", Module: "leakydrv", Count: 700},
	}
	errs := []error{nil, os.ErrPermission, nil}
	i := 0
	ticks := make(chan time.Time)
	lines := make(chan string, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		runProgress(ctx, ticks, start, func() time.Time { return clock }, func() (logSummary, error) {
			s, err := reads[i], errs[i]
			i++
			return s, err
		}, func(l string) { lines <- l })
	}()
	clock = start.Add(5 * time.Minute)
	ticks <- clock
	if got, want := <-lines, "kdlaunch: progress: 600 hits in 5m0s (2.0/s over the last 5m0s); top culprit leakydrv!Alloc+0x2c (module leakydrv): 450 of 600 stacks (75%)"; got != want {
		t.Errorf("first line\n%q, want\n%q", got, want)
	}
	clock = start.Add(10 * time.Minute)
	ticks <- clock // unreadable: no line
	clock = start.Add(15 * time.Minute)
	ticks <- clock
	if got, want := <-lines, "kdlaunch: progress: 900 hits in 15m0s (0.5/s over the last 10m0s)"; !strings.HasPrefix(got, want) {
		t.Errorf("third line\n%q, want it to start\n%q", got, want)
	}
	cancel()
	<-done
	if len(lines) != 0 {
		t.Errorf("extra lines: %q", <-lines)
	}
}

func TestProgressLineWithoutStacks(t *testing.T) {
	got := progressLine(logSummary{}, logSummary{Hits: 1}, time.Minute, time.Minute)
	if want := "kdlaunch: progress: 1 hit in 1m0s (0.0/s over the last 1m0s)"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
}

// The summary reads only this run's part of the log.
func TestSummarizeLogFromOffset(t *testing.T) {
	fixture, err := os.ReadFile(filepath.Join("..", "..", "stacks", "testdata", "hits_x64.log"))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "debug.log")
	os.WriteFile(p, append(append([]byte{}, fixture...), fixture...), 0o644)
	whole, err := summarizeLog(p, 0)
	if err != nil {
		t.Fatal(err)
	}
	half, err := summarizeLog(p, int64(len(fixture)))
	if err != nil {
		t.Fatal(err)
	}
	if whole.Stacks != 2*half.Stacks || half.Stacks == 0 || half.Culprit == "" || half.Culprit != whole.Culprit {
		t.Errorf("whole %+v, second half %+v", whole, half)
	}
	if !strings.Contains(culpritLine(half), "(module "+half.Module+")") {
		t.Errorf("culprit line %q", culpritLine(half))
	}
}

func TestHclogLines(t *testing.T) {
	var got []string
	h := &hclogLines{note: func(s string) { got = append(got, s) }}
	h.Write([]byte("[WARN]  break-in step failed: attempt=1\n[DEBUG] kd: line=x"))
	h.Write([]byte("\nplain\n"))
	want := []string{"kdlaunch: warn: break-in step failed: attempt=1", "kdlaunch: debug: kd: line=x", "kdlaunch: plain"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("%q, want %q", got, want)
	}
}

// Whatever hclog writes, in whatever pieces, each line becomes exactly one
// note in kdlaunch's format.
func FuzzHclogLines(f *testing.F) {
	f.Add("[WARN]  a: b=c\n[DEBUG] kd: line=x\n", 3)
	f.Add("plain\n\n", 1)
	f.Fuzz(func(t *testing.T, text string, cut int) {
		var got []string
		h := &hclogLines{note: func(s string) { got = append(got, s) }}
		if cut < 0 || cut > len(text) {
			cut = len(text) / 2
		}
		h.Write([]byte(text[:cut]))
		h.Write([]byte(text[cut:]))
		if len(got) != strings.Count(text, "\n") {
			t.Fatalf("%d notes for %d lines", len(got), strings.Count(text, "\n"))
		}
		for _, n := range got {
			if !strings.HasPrefix(n, "kdlaunch: ") || strings.Contains(n, "\n") {
				t.Fatalf("note %q", n)
			}
		}
	})
}

// A leak run's progress names who leaks, by outstanding bytes, not who
// allocates most.
func TestProgressLineLeaks(t *testing.T) {
	for _, tc := range []struct {
		name string
		cur  logSummary
		want string
	}{
		{"a leaker", logSummary{Hits: 3, Culprit: "busy!Alloc+0x1", Module: "busy", Count: 2, Stacks: 3,
			Leak: true, Leaker: "leakydrv!LeakyAllocateBuffer+0x2c", LeakCount: 1, LeakBytes: 2048},
			"kdlaunch: progress: 3 hits in 1m0s (0.1/s over the last 1m0s); top leaker leakydrv!LeakyAllocateBuffer+0x2c (module leakydrv): 1 allocation outstanding (2.0 KB)"},
		{"nothing outstanding", logSummary{Hits: 3, Culprit: "busy!Alloc+0x1", Module: "busy", Count: 3, Stacks: 3, Leak: true},
			"kdlaunch: progress: 3 hits in 1m0s (0.1/s over the last 1m0s); nothing outstanding yet"},
	} {
		if got := progressLine(logSummary{}, tc.cur, time.Minute, time.Minute); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// summarizeLeakLog's leaker is the stack the generator made leak (stack 0
// leaks everything, stack 1 frees everything).
func TestSummarizeLeakLog(t *testing.T) {
	var b bytes.Buffer
	truth, err := genlog.GenerateLeaks(&b, genlog.LeakOptions{Allocs: 400, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "debug.log")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := summarizeLeakLog(p, 0)
	if err != nil {
		t.Fatal(err)
	}
	var most genlog.StackTruth
	for _, st := range truth.Stacks {
		if st.OutstandingBytes > most.OutstandingBytes {
			most = st
		}
	}
	if !s.Leak || s.LeakBytes != most.OutstandingBytes || s.Leaker == "" {
		t.Errorf("summary %+v; want the leaker with %d bytes outstanding", s, most.OutstandingBytes)
	}
}
