package report

import (
	"strings"
	"testing"
	"time"
)

func TestParseSessionTime(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // RFC 3339 in UTC, "" for not a time
	}{
		{"Wed Nov 25 22:01:02.051 2026 (UTC + 0:00)", "2026-11-25T22:01:02.051Z"},
		{"Mon Mar  3 10:00:00.000 2025 (UTC + 1:00)", "2025-03-03T09:00:00Z"},
		{"Mon Mar  3 10:00:00 2025 (UTC - 8:00)", "2025-03-03T18:00:00Z"},
		{"Mon Mar  3 10:00:00.000 2025 (UTC + 5:30)\r", "2025-03-03T04:30:00Z"},
		{"Mon Mar  3 10:00:00.000 2025", ""},
		{"Mon Mar  3 10:00:00.000 2025 (UTC + 99:00)", ""},
		{"yesterday (UTC + 0:00)", ""},
		{"", ""},
	} {
		got, ok := ParseSessionTime(tc.in)
		if tc.want == "" {
			if ok {
				t.Errorf("ParseSessionTime(%q) = %v, want no time", tc.in, got)
			}
			continue
		}
		if !ok || got.UTC().Format(time.RFC3339Nano) != tc.want {
			t.Errorf("ParseSessionTime(%q) = %v %v, want %s", tc.in, got.UTC(), ok, tc.want)
		}
	}
}

const sessionLog = "Kernel base = 0xfffff801`1e200000\nDebug session time: Wed Nov 25 22:01:02.051 2026 (UTC + 0:00)\nSystem Uptime: 0 days\n" +
	"kd> .echo Debug session time: Thu Nov 26 00:00:00.000 2026 (UTC + 0:00)\n" + // not at a line start: an echo
	"Breakpoint 0 hit\r\nDebug session time: Wed Nov 25 23:30:00.000 2026 (UTC + 0:00)\r\nDebug session time: Wed Nov 25 21:00:00.000 2026 (UTC + 0:00)"

func TestSessionClock(t *testing.T) {
	wantFirst := time.Date(2026, 11, 25, 21, 0, 0, 0, time.UTC)
	wantLast := time.Date(2026, 11, 25, 23, 30, 0, 0, time.UTC)
	// Every way of cutting the log into two writes gives the same answer.
	for cut := 0; cut <= len(sessionLog); cut++ {
		c := NewSessionClock()
		c.Write([]byte(sessionLog[:cut]))
		c.Write([]byte(sessionLog[cut:]))
		c.Flush()
		if !c.First.Equal(wantFirst) || !c.Last.Equal(wantLast) {
			t.Fatalf("cut at %d: first %v last %v, want %v %v", cut, c.First, c.Last, wantFirst, wantLast)
		}
	}
	// One byte at a time.
	c := NewSessionClock()
	for i := 0; i < len(sessionLog); i++ {
		c.Write([]byte{sessionLog[i]})
	}
	c.Flush()
	if !c.First.Equal(wantFirst) || !c.Last.Equal(wantLast) {
		t.Errorf("byte by byte: %v %v", c.First, c.Last)
	}
	// A long line after the marker keeps memory bounded.
	c = NewSessionClock()
	c.Write([]byte("Debug session time: " + strings.Repeat("x", 10000)))
	if len(c.carry) > 256 {
		t.Errorf("carry %d bytes", len(c.carry))
	}
}

// FuzzSessionClock: however a log is cut into writes, the clock finds the
// same times as when it reads the log whole.
func FuzzSessionClock(f *testing.F) {
	f.Add(sessionLog, 10)
	f.Add("Debug session time: Mon Mar  3 10:00:00 2025 (UTC - 8:00)\n", 3)
	f.Fuzz(func(t *testing.T, log string, cut int) {
		whole := NewSessionClock()
		whole.Write([]byte(log))
		whole.Flush()
		if cut < 0 {
			cut = -cut
		}
		cut %= len(log) + 1
		parts := NewSessionClock()
		parts.Write([]byte(log[:cut]))
		parts.Write([]byte(log[cut:]))
		parts.Flush()
		if !whole.First.Equal(parts.First) || !whole.Last.Equal(parts.Last) {
			t.Errorf("whole %v..%v, cut at %d %v..%v", whole.First, whole.Last, cut, parts.First, parts.Last)
		}
		if !whole.First.IsZero() && whole.Last.Before(whole.First) {
			t.Error("last before first")
		}
	})
}
