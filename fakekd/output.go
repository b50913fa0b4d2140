package fakekd

import (
	"bufio"
	"io"
	"os"
	"time"
)

// output is kd's console plus its log file (kd-protocol.md "Environment variables": the log "contains
// all of the commands that you type and the responses from the debugger").
type output struct {
	w   io.Writer
	nl  string // "\n" on a pty (the line discipline adds CR), "\r\n" with FAKEKD_CRLF
	bps int    // FAKEKD_SLOW_BPS: bytes per second, 0 = unthrottled

	logFile *os.File
	log     *bufio.Writer
}

func (o *output) line(s string) { o.write(s + o.nl) }

func (o *output) lines(ls []string) {
	for _, l := range ls {
		o.line(l)
	}
}

// raw writes without a line end: prompts end in "kd> " with no newline
// (kd-protocol.md "Prompts").
func (o *output) raw(s string) { o.write(s) }

// typed records a command line in the log only: the console already shows
// what the user typed (terminal echo), the log would not otherwise have it.
func (o *output) typed(s string) {
	if o.log != nil {
		o.log.WriteString(s + o.nl)
	}
}

func (o *output) write(s string) {
	if o.log != nil {
		o.log.WriteString(s)
	}
	if o.bps <= 0 {
		io.WriteString(o.w, s)
		return
	}
	// A serial line at 19200 baud moves about 1920 bytes/s; pace the bytes
	// in small chunks so a reader sees text trickle in as it would.
	chunk := max(1, o.bps/50)
	for len(s) > 0 {
		n := min(chunk, len(s))
		io.WriteString(o.w, s[:n])
		s = s[n:]
		time.Sleep(time.Duration(n) * time.Second / time.Duration(o.bps))
	}
}

// flush pushes the log to disk; the loop calls it after every event so a
// test (or a killed process) sees an up-to-date log.
func (o *output) flush() {
	if o.log != nil {
		o.log.Flush()
	}
}

func (o *output) close() {
	if o.log != nil {
		o.log.Flush()
		o.logFile.Close()
		o.log, o.logFile = nil, nil
	}
}

// openLog opens kd's log as _NT_DEBUG_LOG_FILE_OPEN (truncate) or
// _NT_DEBUG_LOG_FILE_APPEND does (kd-protocol.md "Environment variables").
func (o *output) openLog(path string, appendMode bool) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if appendMode {
		flags = os.O_WRONLY | os.O_CREATE | os.O_APPEND
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return err
	}
	o.logFile, o.log = f, bufio.NewWriter(f)
	return nil
}
