package report

import (
	"bytes"
	"strings"

	"github.com/kdlaunch/kdlaunch/leaks/records"
	"github.com/kdlaunch/kdlaunch/pooltag"
	"github.com/kdlaunch/kdlaunch/script"
)

// headBytes is how much of a log HeadFacts reads: kdlaunch run types its
// live check and breakpoint right after connecting, so they are near the
// start, and reading no further keeps the cost off a gigabyte log.
const headBytes = 1 << 20

// HeadFacts reads, from the commands kdlaunch run typed as kd's log echoes
// them ("kd> dd nt!MmSpecialPoolTag L1" and its answer, "kd> bp
// nt!MmAllocateSpecialPool ...", "kd> ed nt!PoolHitTag 0x206b6444"), which
// pool tag a log hunted and how. It is an io.Writer for an io.TeeReader
// and reads only the first megabyte; the first answer found wins.
type HeadFacts struct {
	Tag      string // "Ddk"; "" when the log does not tell
	Strategy string // "special-pool", "pool-hit-tag" or "leaks"; "" when it does not tell

	seen      int
	line      []byte
	answerDue bool // the next line answers dd nt!MmSpecialPoolTag
}

// Write scans p; it never fails.
func (h *HeadFacts) Write(p []byte) (int, error) {
	n := len(p)
	if h.seen >= headBytes {
		return n, nil
	}
	p = p[:min(len(p), headBytes-h.seen)]
	h.seen += len(p)
	for len(p) > 0 {
		nl := bytes.IndexByte(p, '\n')
		if nl < 0 {
			h.line = appendLine(h.line, p)
			break
		}
		h.line = appendLine(h.line, p[:nl])
		h.handle(h.line)
		h.line = h.line[:0]
		p = p[nl+1:]
	}
	return n, nil
}

// Flush reads a last line without a newline.
func (h *HeadFacts) Flush() {
	if len(h.line) > 0 {
		h.handle(h.line)
		h.line = h.line[:0]
	}
}

func appendLine(dst, src []byte) []byte {
	return append(dst, src[:min(len(src), max(0, 512-len(dst)))]...)
}

func (h *HeadFacts) handle(l []byte) {
	line := strings.TrimSpace(strings.TrimSuffix(string(l), "\r"))
	if strings.Contains(line, records.Prefix+"H ") {
		// The leak recipe's header: its breakpoints are special pool's
		// too, but what the log holds is leak records.
		h.Strategy = string(script.StrategyLeaks)
	}
	i := strings.Index(line, "kd> ")
	if i < 0 {
		if h.answerDue {
			// "fffff801`1e5c3a10  206b6444"
			h.answerDue = false
			if f := strings.Fields(line); len(f) >= 2 && h.Tag == "" {
				h.setTag(f[1], string(script.StrategySpecialPool))
			}
		}
		return
	}
	h.answerDue = false
	cmd := strings.Fields(line[i+len("kd> "):])
	if len(cmd) < 2 {
		return
	}
	verb, arg := strings.ToLower(cmd[0]), strings.ToLower(cmd[1])
	switch {
	case (verb == "bp" || verb == "bu") && arg == "nt!mmallocatespecialpool":
		if h.Strategy == "" {
			h.Strategy = string(script.StrategySpecialPool)
		}
	case verb == "dd" && arg == "nt!mmspecialpooltag":
		h.answerDue = true
	case verb == "ed" && arg == "nt!poolhittag" && len(cmd) >= 3:
		h.setTag(cmd[2], string(script.StrategyPoolHitTag))
	}
}

func (h *HeadFacts) setTag(value, strategy string) {
	v, err := pooltag.ParseDWORD(value)
	if err != nil {
		return
	}
	t, err := pooltag.Decode(v)
	if err != nil {
		return // 0 (cleared on stop) or a size range: not a tag
	}
	if h.Tag == "" {
		h.Tag = strings.TrimRight(t.String(), " ")
	}
	if h.Strategy == "" || strategy == string(script.StrategyPoolHitTag) && h.Strategy != string(script.StrategyLeaks) {
		h.Strategy = strategy
	}
}
