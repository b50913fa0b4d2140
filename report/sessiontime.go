package report

import (
	"bytes"
	"strconv"
	"strings"
	"time"
)

// sessionMarker starts the line kd prints at every connection and
// break-in with the target's clock: "Debug session time: Wed Nov 25
// 22:01:02.051 2026 (UTC + 0:00)".
var sessionMarker = []byte("Debug session time: ")

// SessionClock watches a log's bytes (as an io.Writer, behind an
// io.TeeReader) for kd's "Debug session time:" lines and keeps the first
// and the last: the time span of a log, where kd printed it. It holds at
// most one partial line of 256 bytes.
type SessionClock struct {
	First, Last time.Time
	carry       []byte // the unfinished last line, if it may be one
	lineStart   bool   // the next byte starts a line
}

// NewSessionClock returns a clock for one log.
func NewSessionClock() *SessionClock { return &SessionClock{lineStart: true} }

// Write scans p; it never fails.
func (c *SessionClock) Write(p []byte) (int, error) {
	n := len(p)
	if len(c.carry) > 0 {
		nl := bytes.IndexByte(p, '\n')
		if nl < 0 {
			c.carry = appendCapped(c.carry, p)
			return n, nil
		}
		c.carry = appendCapped(c.carry, p[:nl])
		c.line(c.carry)
		c.carry = c.carry[:0]
		p = p[nl+1:]
		c.lineStart = true
	}
	for len(p) > 0 {
		i := bytes.Index(p, sessionMarker)
		if i < 0 {
			break
		}
		if (i == 0 && c.lineStart) || (i > 0 && p[i-1] == '\n') || (i > 1 && p[i-1] == '\r' && p[i-2] == '\n') {
			nl := bytes.IndexByte(p[i:], '\n')
			if nl < 0 {
				c.carry = appendCapped(c.carry[:0], p[i:])
				return n, nil
			}
			l := p[i : i+nl]
			c.line(l[:min(len(l), 256)]) // as a carried line is cut
			p = p[i+nl+1:]
			c.lineStart = true
			continue
		}
		p = p[i+1:]
		c.lineStart = false
	}
	// A marker cut by the end of p: keep the last line's start.
	if len(p) > 0 {
		last := bytes.LastIndexByte(p, '\n')
		tail := p[last+1:]
		if (last >= 0 || c.lineStart) && bytes.HasPrefix(sessionMarker, tail[:min(len(tail), len(sessionMarker))]) && len(tail) > 0 {
			c.carry = appendCapped(c.carry[:0], tail)
		}
		c.lineStart = p[len(p)-1] == '\n'
	}
	return n, nil
}

func appendCapped(dst, src []byte) []byte {
	room := 256 - len(dst)
	if room <= 0 {
		return dst
	}
	return append(dst, src[:min(len(src), room)]...)
}

func (c *SessionClock) line(l []byte) {
	if !bytes.HasPrefix(l, sessionMarker) {
		return
	}
	t, ok := ParseSessionTime(string(l[len(sessionMarker):]))
	if !ok {
		return
	}
	if c.First.IsZero() || t.Before(c.First) {
		c.First = t
	}
	if t.After(c.Last) {
		c.Last = t
	}
}

// ParseSessionTime reads kd's clock, "Wed Nov 25 22:01:02.051 2026 (UTC +
// 0:00)" (also "(UTC - 8:00)" and without milliseconds).
func ParseSessionTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	open := strings.LastIndex(s, "(UTC ")
	if open < 0 || !strings.HasSuffix(s, ")") {
		return time.Time{}, false
	}
	stamp := strings.TrimSpace(s[:open])
	zone := strings.ReplaceAll(s[open+len("(UTC "):len(s)-1], " ", "")
	if len(zone) < 2 || zone[0] != '+' && zone[0] != '-' {
		return time.Time{}, false
	}
	h, m, ok := strings.Cut(zone[1:], ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || hh > 14 || mm > 59 || len(h) > 2 || len(m) != 2 {
		return time.Time{}, false
	}
	offset := hh*3600 + mm*60
	if zone[0] == '-' {
		offset = -offset
	}
	loc := time.FixedZone("", offset)
	for _, layout := range []string{"Mon Jan _2 15:04:05.000 2006", "Mon Jan _2 15:04:05 2006"} {
		if t, err := time.ParseInLocation(layout, stamp, loc); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// Flush reads a last line the log did not end with a newline.
func (c *SessionClock) Flush() {
	if len(c.carry) > 0 {
		c.line(c.carry)
		c.carry = c.carry[:0]
	}
}
