// Package vtlines turns the output of a Windows pseudo console (ConPTY) back
// into the line stream a program wrote, so that kd's lines and prompts can be
// recognised as if kd wrote to a pipe.
//
// ConPTY does not pass a program's bytes through: it keeps a screen buffer and
// sends a rendering of it as VT sequences. The first frame clears the screen
// (ESC[2J, ESC[H), the cursor is hidden and shown around every frame
// (ESC[?25l, ESC[?25h), a window title may come as an OSC sequence, trailing
// blanks are sent as erase-line (ESC[K) and cursor-forward (ESC[1C: the space
// of "kd> "), lines may be reached by cursor positioning instead of CRLF, a
// line wider than the console wraps, and a frame may repaint rows it already
// sent. The escape sequences are parsed by charmbracelet/x/ansi's
// parser; this package keeps the smallest screen model that answers one
// question: which text did the program put on which line.
//
// The model, and what it assumes:
//
//   - Rows are streamed as they grow: text added at the end of the cursor's
//     row is passed on at once (a prompt has no newline), including blanks up
//     to the cursor (the trailing space of a prompt).
//   - A row is finished when the cursor leaves it downwards (CRLF, LF,
//     cursor positioning, scrolling); it then ends with "\r\n", as kd's lines
//     do on a pipe. Rows skipped over by a cursor jump become empty lines.
//   - A row the text ran past the last column of (autowrap), or that is full
//     and continues at column 0 of the next row however the cursor got there,
//     is one line with the next: no "\r\n" between them.
//   - A finished row is never sent again: when the cursor goes back up, ConPTY
//     is repainting what it has already sent, and that is ignored.
//   - If the unfinished row is rewritten (a carriage return and new text, an
//     erase) instead of extended, its final text follows a "\r" when the row
//     is finished, as a program's own carriage return would look on a pipe.
//   - A clear screen (ESC[2J) starts a fresh screen; the unfinished row's text
//     is remembered so that repainting it on the fresh screen sends nothing.
//   - Every rune is one column wide (kd prints ASCII).
//
// Memory is bounded by the screen size given to New.
package vtlines

import (
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// Renderer renders VT output into lines. It is not safe for concurrent use.
type Renderer struct {
	width, height int
	p             *ansi.Parser

	rows    [][]rune // screen content; a row is as long as its last written cell
	wrapped []bool   // row y continues on row y+1
	shown   []string // text of row y already passed on

	x, y    int
	pending bool // the last column was written: the next rune wraps
	saveX   int
	saveY   int

	// open is the first row not yet finished; rows above it were passed on
	// whole. The cursor is above it while ConPTY repaints.
	open int
	// rewritten: the open row no longer starts with what was shown of it.
	rewritten bool

	win32Input bool // the console asked for win32-input-mode (ESC[?9001h)

	out []byte
}

// win32InputMode is the private mode a ConPTY sets (ESC[?9001h) when it
// reads key events encoded as VT on its input (microsoft/terminal's
// win32-input-mode spec).
const win32InputMode = 9001

// Win32InputMode reports whether the console last asked for
// win32-input-mode: then it understands Win32KeyEvent on its input.
func (r *Renderer) Win32InputMode() bool { return r.win32Input }

// New returns a Renderer for a console of width columns and height rows (the
// size the pseudo console was created with).
func New(width, height int) *Renderer {
	if width < 1 {
		width = 1
	}
	if height < 1 {
		height = 1
	}
	r := &Renderer{
		width:   width,
		height:  height,
		rows:    make([][]rune, height),
		wrapped: make([]bool, height),
		shown:   make([]string, height),
	}
	r.p = ansi.NewParser()
	// An OSC title or a DCS string is dropped; a bounded buffer keeps a
	// runaway one from growing memory.
	r.p.SetDataSize(4096)
	r.p.SetHandler(ansi.Handler{
		Print:     r.print,
		Execute:   r.execute,
		HandleCsi: r.csi,
		HandleEsc: r.esc,
	})
	return r
}

// Render appends to dst the text that src, the next bytes of the pseudo
// console's output, adds to the program's lines, and returns it. Sequences and
// UTF-8 runes split across calls are handled.
func (r *Renderer) Render(dst, src []byte) []byte {
	r.out = dst
	r.p.Parse(src)
	r.stream()
	dst = r.out
	r.out = nil
	return dst
}

// Flush appends what is still unsent of the unfinished row (it is normally
// sent as it grows) without ending it: at the end of the output.
func (r *Renderer) Flush(dst []byte) []byte {
	r.out = dst
	r.stream()
	if r.rewritten && r.y == r.open {
		r.out = append(r.out, '\r')
		r.out = append(r.out, r.rowText(r.open, true)...)
		r.rewritten = false
	}
	dst = r.out
	r.out = nil
	return dst
}

// rowText is row y's text: its cells up to the last one written, and, when
// cursor is true and the cursor is on the row beyond that, blanks up to the
// cursor (the space of a prompt that ConPTY sends as a cursor move).
func (r *Renderer) rowText(y int, cursor bool) string {
	row := r.rows[y]
	if !cursor || y != r.y || r.x <= len(row) {
		return string(row)
	}
	return string(row) + strings.Repeat(" ", r.x-len(row))
}

// stream passes on what the open row gained, while the cursor is on it.
func (r *Renderer) stream() {
	if r.y != r.open || r.rewritten {
		return
	}
	text := r.rowText(r.open, true)
	shown := r.shown[r.open]
	switch {
	case len(text) >= len(shown) && text[:len(shown)] == shown:
		r.out = append(r.out, text[len(shown):]...)
		r.shown[r.open] = text
	case len(text) < len(shown) && shown[:len(text)] == text:
		// Blanks the cursor passed were taken back (a backspace, a CR):
		// nothing lost yet.
	default:
		r.rewritten = true
	}
}

// finish passes on rows open..to-1 whole and moves open to to.
func (r *Renderer) finish(to int) {
	if to > r.height {
		to = r.height
	}
	for ; r.open < to; r.open++ {
		y := r.open
		text := r.rowText(y, false)
		shown := r.shown[y]
		switch {
		case strings.HasPrefix(text, shown):
			r.out = append(r.out, text[len(shown):]...)
		case strings.HasPrefix(shown, text):
			// Only blanks up to the cursor, or erased text, were sent
			// beyond it.
		default:
			r.out = append(r.out, '\r')
			r.out = append(r.out, text...)
		}
		r.rewritten = false
		r.shown[y] = text
		if !r.wrapped[y] {
			r.out = append(r.out, '\r', '\n')
		}
	}
}

// moveTo puts the cursor at (x, y), clamped to the screen; moving down
// finishes the rows it leaves.
func (r *Renderer) moveTo(x, y int) {
	x = clamp(x, 0, r.width-1)
	y = clamp(y, 0, r.height-1)
	if y == r.y+1 && x == 0 && r.full(r.y) {
		// A full row continued at the start of the next: one line.
		r.wrapped[r.y] = true
	}
	r.pending = false
	if y > r.y {
		r.finish(y)
	}
	r.x, r.y = x, y
}

// lineFeed moves the cursor down a row, scrolling at the bottom.
func (r *Renderer) lineFeed() {
	if r.y < r.height-1 {
		r.moveTo(r.x, r.y+1)
		return
	}
	if r.x == 0 && r.full(r.y) {
		r.wrapped[r.y] = true
	}
	r.pending = false
	r.finish(r.height)
	r.scrollUp(1)
}

// scrollUp scrolls the screen up n rows: the top rows leave, blank rows come
// in at the bottom.
func (r *Renderer) scrollUp(n int) {
	if n <= 0 {
		return
	}
	n = min(n, r.height)
	// Rows leaving the screen that were not finished yet go now.
	r.finish(n)
	copy(r.rows, r.rows[n:])
	copy(r.wrapped, r.wrapped[n:])
	copy(r.shown, r.shown[n:])
	for i := r.height - n; i < r.height; i++ {
		r.rows[i], r.wrapped[i], r.shown[i] = nil, false, ""
	}
	r.open -= n
}

func (r *Renderer) print(c rune) {
	if c < 0x20 || c == 0x7f || c >= 0x80 && c < 0xa0 {
		// A C1 control sent as UTF-8 (U+0080-U+009F) is not text.
		return
	}
	if r.pending {
		r.pending = false
		r.wrapped[r.y] = true
		r.x = 0
		r.lineFeedNoWrapCheck()
	}
	row := r.rows[r.y]
	for len(row) < r.x {
		row = append(row, ' ')
	}
	if r.x < len(row) {
		row[r.x] = c
	} else {
		row = append(row, c)
	}
	r.rows[r.y] = row
	if r.x == r.width-1 {
		r.pending = true
	} else {
		r.x++
	}
}

// lineFeedNoWrapCheck is lineFeed for an autowrap (the row is already marked).
func (r *Renderer) lineFeedNoWrapCheck() {
	if r.y < r.height-1 {
		r.finish(r.y + 1)
		r.y++
		return
	}
	r.finish(r.height)
	r.scrollUp(1)
}

func (r *Renderer) execute(b byte) {
	switch b {
	case '\r':
		r.x, r.pending = 0, false
	case '\n', '\v', '\f':
		r.lineFeed()
	case '\b':
		if r.pending {
			r.pending = false
		} else if r.x > 0 {
			r.x--
		}
	case '\t':
		r.x = min((r.x/8+1)*8, r.width-1)
		r.pending = false
	}
}

func (r *Renderer) esc(cmd ansi.Cmd) {
	if cmd.Intermediate() != 0 {
		return // charset designations and the like
	}
	switch cmd.Final() {
	case '7':
		r.saveX, r.saveY = r.x, r.y
	case '8':
		r.moveTo(r.saveX, r.saveY)
	case 'D': // IND
		r.lineFeed()
	case 'E': // NEL
		r.x, r.pending = 0, false
		r.lineFeed()
	case 'M': // RI
		if r.y > 0 {
			r.moveTo(r.x, r.y-1)
		}
	case 'c': // RIS
		r.clearScreen()
		r.moveTo(0, 0)
	}
}

func (r *Renderer) csi(cmd ansi.Cmd, params ansi.Params) {
	if cmd.Prefix() == '?' && cmd.Intermediate() == 0 && (cmd.Final() == 'h' || cmd.Final() == 'l') {
		params.ForEach(0, func(_, p int, _ bool) {
			if p == win32InputMode {
				r.win32Input = cmd.Final() == 'h'
			}
		})
		return
	}
	if cmd.Prefix() != 0 || cmd.Intermediate() != 0 {
		return // other private modes (?25l, ?1004h), DECSCUSR and the like
	}
	arg := func(i, def int) int {
		v, _, _ := params.Param(i, def)
		if v == 0 && def > 0 {
			v = def
		}
		return v
	}
	switch cmd.Final() {
	case 'H', 'f': // CUP, HVP
		r.moveTo(arg(1, 1)-1, arg(0, 1)-1)
	case 'A': // CUU
		r.moveTo(r.x, r.y-arg(0, 1))
	case 'B', 'e': // CUD, VPR
		r.moveTo(r.x, r.y+arg(0, 1))
	case 'C', 'a': // CUF, HPR
		r.moveTo(r.x+arg(0, 1), r.y)
	case 'D': // CUB
		r.moveTo(r.x-arg(0, 1), r.y)
	case 'E': // CNL
		r.moveTo(0, r.y+arg(0, 1))
	case 'F': // CPL
		r.moveTo(0, r.y-arg(0, 1))
	case 'G', '`': // CHA, HPA
		r.moveTo(arg(0, 1)-1, r.y)
	case 'd': // VPA
		r.moveTo(r.x, arg(0, 1)-1)
	case 'K': // EL
		r.eraseLine(arg(0, 0))
	case 'J': // ED
		r.eraseDisplay(arg(0, 0))
	case 'X': // ECH
		r.blank(r.y, r.x, r.x+arg(0, 1))
	case 'P': // DCH
		r.deleteChars(arg(0, 1))
	case '@': // ICH
		r.insertChars(arg(0, 1))
	case 'S': // SU
		r.scrollUp(arg(0, 1))
	}
}

func (r *Renderer) eraseLine(mode int) {
	switch mode {
	case 0:
		r.truncate(r.y, r.x)
	case 1:
		r.blank(r.y, 0, r.x+1)
	case 2:
		r.truncate(r.y, 0)
	}
}

func (r *Renderer) eraseDisplay(mode int) {
	switch mode {
	case 0:
		r.truncate(r.y, r.x)
		for y := r.y + 1; y < r.height; y++ {
			r.rows[y], r.wrapped[y] = nil, false
		}
	case 1:
		for y := 0; y < r.y; y++ {
			r.rows[y], r.wrapped[y] = nil, false
		}
		r.blank(r.y, 0, r.x+1)
	case 2, 3:
		r.clearScreen()
	}
}

// clearScreen starts a fresh screen. What was shown of the unfinished row is
// carried to the top row, where a repaint puts it back.
func (r *Renderer) clearScreen() {
	r.stream()
	carry := ""
	if r.open < r.height && !r.rewritten {
		carry = r.shown[r.open]
	}
	for y := range r.rows {
		r.rows[y], r.wrapped[y], r.shown[y] = nil, false, ""
	}
	r.shown[0] = carry
	// The cursor stays where it was (ESC[2J does not move it); ConPTY sends
	// ESC[H next.
	r.open, r.rewritten, r.pending = 0, false, false
}

func (r *Renderer) truncate(y, x int) {
	if x < len(r.rows[y]) {
		r.rows[y] = r.rows[y][:x]
	}
	r.wrapped[y] = false
}

func (r *Renderer) blank(y, from, to int) {
	row := r.rows[y]
	for i := from; i < to && i < len(row); i++ {
		row[i] = ' '
	}
}

func (r *Renderer) deleteChars(n int) {
	row := r.rows[r.y]
	if r.x >= len(row) {
		return
	}
	n = min(n, len(row)-r.x)
	r.rows[r.y] = append(row[:r.x], row[r.x+n:]...)
}

func (r *Renderer) insertChars(n int) {
	row := r.rows[r.y]
	if r.x >= len(row) {
		return
	}
	n = min(n, r.width-r.x)
	ins := make([]rune, n)
	for i := range ins {
		ins[i] = ' '
	}
	row = append(row[:r.x], append(ins, row[r.x:]...)...)
	if len(row) > r.width {
		row = row[:r.width]
	}
	r.rows[r.y] = row
}

// full reports whether row y reaches the last column.
func (r *Renderer) full(y int) bool { return len(r.rows[y]) >= r.width }

func clamp(v, lo, hi int) int {
	return max(lo, min(v, hi))
}
