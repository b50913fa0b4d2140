package fakekd

type eventKind int

const (
	evLine  eventKind = iota // a complete input line
	evBreak                  // a raw 0x03 byte: a break request, like CTRL+C
	evEOF                    // stdin is closed
)

type inputEvent struct {
	kind eventKind
	line string
}

// maxLine bounds one input line; kd's own command buffer is much smaller.
const maxLine = 64 << 10

// lineSplitter turns stdin bytes into lines and break requests.
//
// A line ends at "\r", "\n" or "\r\n", and "\r\n" is ONE end: a driver that
// writes CRLF over a pipe (as on Windows) must not be seen as typing an extra
// empty line, while a driver that really sends "\n\n" must be (kd repeats the
// last command on an empty line). A 0x03 byte is a break wherever it appears
// and does not end or alter the line around it: on a pty in raw mode, or on a
// pipe, that is the only way CTRL+C can arrive as data.
type lineSplitter struct {
	buf    []byte
	lastCR bool // the previous line ended with '\r': swallow one '\n'
}

func (s *lineSplitter) feed(p []byte) []inputEvent {
	var evs []inputEvent
	for _, b := range p {
		switch {
		case b == 0x03:
			evs = append(evs, inputEvent{kind: evBreak})
		case b == '\n' && s.lastCR:
			s.lastCR = false
		case b == '\r' || b == '\n':
			evs = append(evs, inputEvent{kind: evLine, line: string(s.buf)})
			s.buf = s.buf[:0]
			s.lastCR = b == '\r'
		default:
			s.lastCR = false
			if len(s.buf) < maxLine {
				s.buf = append(s.buf, b)
			}
		}
	}
	return evs
}
