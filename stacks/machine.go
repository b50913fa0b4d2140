package stacks

import (
	"bytes"
	"strings"
)

// Limits that keep the parser linear and bounded on any input.
const (
	maxUnknown    = 8    // unrecognised lines tolerated inside a stack (DbgPrint interleaving)
	maxContLines  = 4    // lines a wrapped row or annotation may continue over
	maxParamLines = 64   // kP parameter lines per frame
	maxFrames     = 4096 // frames kept per stack (kb prints at most .kframes)
	maxFrameLen   = 4096 // bytes kept per frame
	maxBlanks     = 2    // blank lines allowed between STACK_TEXT: and its rows
)

// unknownFrame stands for a row whose columns were printed without a call
// site (kd could not resolve it, or the rest of the line was lost).
const unknownFrame = "?"

type contKind uint8

const (
	contNone    contKind = iota
	contPartial          // a row without its call site; the next line may hold it
	contAnnot            // an annotation whose ']' or ')' is on a later line
	contParams           // kP: one parameter per line until ')'
)

// unique is one distinct stack as interned by a machine: key joins the
// frames with '\n' and the frames are substrings of it.
type unique struct {
	key    string
	frames []string
}

func newUnique(key []byte) *unique {
	u := &unique{key: string(key)}
	u.frames = strings.Split(u.key, "\n")
	return u
}

// machine is the line-by-line state machine: feed it lines (without the
// newline) and it calls emit for every stack it completes. It keeps an
// intern table so a stack seen before costs no allocation.
type machine struct {
	emit  func(*unique)
	table map[string]*unique
	note  func([]byte) // if set, gets the lines noteLine picks (notes.go)

	hits  int
	lines int64

	inStack bool
	lay     layout
	key     []byte
	n       int // frames in key
	lastLen int // length of key before the last frame (to extend or cap it)
	unknown int
	blanks  int

	wrapped   bool   // the last line was a frame row of a hard-wrap width
	header    string // the last header line, and its layout
	headerLay layout

	cont      contKind
	contLines int
	skipBlank bool // the last row had a message glued to it: its newline follows
	depth     int
	partial   []byte
}

func newMachine(emit func(*unique)) *machine {
	return &machine{emit: emit, table: make(map[string]*unique)}
}

// reset drops any stack in progress (the next chunk starts afresh).
func (m *machine) reset() {
	m.inStack = false
	m.key = m.key[:0]
	m.n = 0
	m.unknown = 0
	m.blanks = 0
	m.cont = contNone
	m.wrapped = false
	m.skipBlank = false
}

// feed runs every complete line of buf through the machine and returns the
// length consumed. With final set, a last line without a newline counts too.
func (m *machine) feed(buf []byte, final bool) int {
	off := 0
	for off < len(buf) {
		i := bytes.IndexByte(buf[off:], '\n')
		if i < 0 {
			if final {
				m.line(buf[off:])
				return len(buf)
			}
			return off
		}
		m.line(buf[off : off+i])
		off += i + 1
	}
	return off
}

func (m *machine) line(l []byte) {
	m.parseLine(l)
	if m.note != nil {
		// After the line's own effect, so a stack it ends comes first.
		if t := trimSpace(l); len(t) > 0 && noteLine(t) {
			m.note(t)
		}
	}
}

func (m *machine) parseLine(l []byte) {
	m.lines++
	t := trimSpace(l)
	if len(t) == 0 {
		if m.skipBlank {
			// "frame+0x12*** WARNING: Unable to verify ...": kd printed
			// the row's newline after the message, as an empty line.
			m.skipBlank = false
			return
		}
		if m.inStack && m.lay.kind == kindAuto && m.n == 0 && m.blanks < maxBlanks {
			m.blanks++
			return
		}
		m.end()
		return
	}
	m.skipBlank = false
	if !m.inStack {
		m.idle(t)
		return
	}
	if m.cont != contNone && m.continued(t) {
		return
	}
	wrapped := m.wrapped
	m.wrapped = false
	if c := t[0]; isHexDigit(c) || c == '(' || m.lay.minCols == 0 || m.lay.kind == kindAuto {
		site, annot, st := parseRow(t, &m.lay)
		switch st {
		case rowOK:
			m.addFrame(site, annot)
			m.wrapped = m.cont == contNone && isWrapWidth(len(trimRightCR(l)))
			return
		case rowIncomplete:
			m.partial = append(m.partial[:0], t...)
			m.cont, m.contLines = contPartial, 0
			m.unknown = 0
			return
		}
	}
	kind, lay := m.classify(t)
	switch kind {
	case lkNoise:
		return
	case lkOther:
		if wrapped && len(t) == len(trimRightCR(l)) && m.unwrap(t) {
			return
		}
		m.unknown++
		if m.unknown > maxUnknown {
			m.end()
		}
		return
	}
	m.terminal(kind, lay)
}

// idle handles a line outside any stack: only the lines that start one
// (headers, STACK_TEXT:) and breakpoint hits matter.
func (m *machine) idle(t []byte) {
	switch c := t[0]; {
	case c == 'B' || c == 'S' || c == '#' || c == 'C' || c == 'F' || c == 'R' || c == 'M':
	case '0' <= c && c <= '9' || c == 'k' || c == 'K' || c == 'l':
		// a prompt with output on the same line
	default:
		m.terminal(embedded(t))
		return
	}
	m.terminal(m.classify(t))
}

// classify is classify with the last header remembered: the same header
// comes back with every breakpoint hit.
func (m *machine) classify(t []byte) (lineKind, layout) {
	if len(m.header) > 0 && string(t) == m.header {
		return lkHeader, m.headerLay
	}
	kind, lay := classify(t)
	if kind == lkHeader && len(t) <= 256 {
		m.header, m.headerLay = string(t), lay
	}
	return kind, lay
}

// terminal handles a line that ends the current stack and may start one.
func (m *machine) terminal(kind lineKind, lay layout) {
	switch kind {
	case lkBreakpoint:
		m.end()
		m.hits++
	case lkHeader, lkStackText:
		m.end()
		m.inStack = true
		m.lay = lay
	case lkPrompt:
		m.end()
	}
}

// continued offers t to a pending continuation (wrapped row, annotation or
// kP parameters). It returns true if t was consumed.
func (m *machine) continued(t []byte) bool {
	_, _, rst := parseRow(t, &m.lay)
	kind := lkOther
	if rst != rowOK {
		kind, _ = classify(t)
	}
	isNew := rst == rowOK || kind != lkOther
	switch m.cont {
	case contPartial:
		if isNew {
			m.finishPartial()
			return false
		}
		joined := append(append(m.partial, ' '), t...)
		site, annot, st := parseRow(joined, &m.lay)
		switch st {
		case rowOK:
			m.cont = contNone
			m.addFrame(site, annot)
			return true
		case rowIncomplete:
			m.partial = joined
			m.contLines++
			if m.contLines >= maxContLines {
				m.finishPartial()
			}
			return true
		}
		m.finishPartial()
		return false
	case contAnnot:
		if isNew {
			m.cont = contNone
			return false
		}
		m.contLines++
		if d, _ := depthDelta(t, m.depth); d <= 0 || m.contLines >= maxContLines {
			m.cont = contNone
		} else {
			m.depth = d
		}
		return true
	case contParams:
		if isNew && kind != lkNoise {
			m.cont = contNone
			return false
		}
		m.contLines++
		d, at := depthDelta(t, m.depth)
		if at >= 0 {
			m.cont = contNone
			rest := trimSpace(t[at:])
			if len(rest) > 0 {
				site, _ := cutSite(rest)
				m.extendFrame(site)
			}
			return true
		}
		m.depth = d
		if m.contLines >= maxParamLines {
			m.cont = contNone
		}
		return true
	}
	return false
}

func (m *machine) finishPartial() {
	m.cont = contNone
	m.addFrame([]byte(unknownFrame), nil)
}

// addFrame appends a call site to the stack in progress.
func (m *machine) addFrame(site, annot []byte) {
	m.unknown = 0
	if m.n >= maxFrames {
		return
	}
	if m.n > 0 {
		m.key = append(m.key, '\n')
	}
	m.lastLen = len(m.key)
	m.n++
	if len(site) > maxFrameLen {
		site = site[:maxFrameLen]
	}
	if start, end, open := paramsSpan(site); start >= 0 {
		m.key = append(m.key, site[:start]...)
		if open {
			d, at := depthDelta(site[start:], 0)
			if at < 0 && d > 0 {
				m.cont, m.contLines, m.depth = contParams, 0, d
			}
			return
		}
		m.key = append(m.key, site[end:]...)
	} else {
		m.key = append(m.key, site...)
	}
	if len(annot) > 0 {
		if annot[0] == '*' {
			m.skipBlank = true
			return
		}
		if d, _ := depthDelta(annot, 0); d > 0 {
			m.cont, m.contLines, m.depth = contAnnot, 0, d
		}
	}
}

// extendFrame appends the "+0xoff" kP prints after the closing parenthesis.
func (m *machine) extendFrame(s []byte) {
	if m.n == 0 || m.n > maxFrames || len(m.key)-m.lastLen+len(s) > maxFrameLen {
		return
	}
	m.key = append(m.key, s...)
}

// wrapWidths are the widths at which terminals and mail hard-wrap lines.
// A frame row exactly that long followed by a line that only continues its
// call site was cut in two.
var wrapWidth = func() (t [257]bool) {
	for _, w := range []int{80, 100, 120, 128, 132, 160, 200, 240, 256} {
		t[w] = true
	}
	return t
}()

func isWrapWidth(n int) bool { return n < len(wrapWidth) && wrapWidth[n] }

func trimRightCR(l []byte) []byte {
	if len(l) > 0 && l[len(l)-1] == '\r' {
		return l[:len(l)-1]
	}
	return l
}

// unwrap joins t, the rest of a hard-wrapped row, to the last frame, if t
// is a single word or a word followed by an annotation.
func (m *machine) unwrap(t []byte) bool {
	if m.n == 0 || m.n > maxFrames {
		return false
	}
	word := t[:tokEnd(t, 0)]
	rest := t[len(word):]
	if len(rest) > 0 {
		if _, annot := cutSite(t); len(annot) != len(rest) {
			return false // prose, not a call site's tail
		}
	}
	last := m.key[m.lastLen:]
	joined := make([]byte, 0, len(last)+len(t))
	joined = append(append(joined, last...), t...)
	site, annot, ok := scanSite(joined)
	if !ok || len(site) != len(last)+len(word) {
		return false
	}
	m.key = m.key[:m.lastLen]
	if m.n > 1 {
		m.key = m.key[:len(m.key)-1] // the '\n' addFrame puts back
	}
	m.n--
	m.addFrame(site, annot)
	return true
}

// end completes the stack in progress, if any.
func (m *machine) end() {
	if !m.inStack {
		return
	}
	if m.cont == contPartial {
		m.finishPartial()
	}
	if m.n > 0 {
		u := m.table[string(m.key)]
		if u == nil {
			u = newUnique(m.key)
			m.table[u.key] = u
		}
		m.emit(u)
	}
	m.reset()
}

// eof completes the stack in progress at the end of the input. A row
// whose call site has not been written yet (the log is still growing) is
// dropped rather than taken for an unresolved frame.
func (m *machine) eof() {
	if m.cont == contPartial {
		m.cont = contNone
	}
	m.end()
}

// pending returns the frames of the stack in progress (nil if none).
func (m *machine) pending() []string {
	if !m.inStack || m.n == 0 {
		return nil
	}
	return strings.Split(string(m.key), "\n")
}
