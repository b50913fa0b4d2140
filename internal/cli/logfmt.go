package cli

import (
	"bytes"
	"regexp"
	"strings"
	"sync"
)

// hclogLines turns hclog's lines ("[WARN]  kd: msg: key=value") into
// kdlaunch's one message format ("kdlaunch: warn: kd: msg: key=value")
// and hands each to note, so --log-level's diagnostics look like every
// other message and never tear the status line.
type hclogLines struct {
	mu   sync.Mutex
	note func(string)
	buf  []byte
}

var reHclog = regexp.MustCompile(`^\[(\w+)\]\s+(.*)$`)

func (h *hclogLines) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.buf = append(h.buf, p...)
	for {
		i := bytes.IndexByte(h.buf, '\n')
		if i < 0 {
			break
		}
		line := strings.TrimRight(string(h.buf[:i]), "\r")
		h.buf = h.buf[i+1:]
		if m := reHclog.FindStringSubmatch(line); m != nil {
			line = strings.ToLower(m[1]) + ": " + m[2]
		}
		h.note("kdlaunch: " + line)
	}
	return len(p), nil
}
