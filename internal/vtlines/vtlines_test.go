package vtlines

import (
	"fmt"

	"bytes"
	"github.com/charmbracelet/x/ansi"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// Frames as ConPTY sends them. "wine" ones were recorded from Wine 8.0's
// pseudo console (scripts/test-windows.sh's wine64) with a program writing to
// CONOUT$; the others are built from the sequences Windows' ConPTY is
// documented and reported to send (first frame, win32-input-mode, focus
// events, title, hidden cursor, erase-line, cursor-forward for blanks,
// cursor positioning between rows, repaints).
const (
	winFirstFrame = "\x1b[?9001h\x1b[?1004h\x1b[?25l\x1b[2J\x1b[m\x1b[H" +
		"\x1b]0;C:\\Program Files (x86)\\Windows Kits\\10\\Debuggers\\x64\\kd.exe\x07\x1b[?25h"
	wineFrame = "\x1b[2J\x1b[m\x1b[H\x1b[?25lvia CONOUT$ line1\r\nkd>\x1b[K\x1b[1C\x1b[?25h"
)

func render(width, height int, chunks ...string) string {
	r := New(width, height)
	var out []byte
	for _, c := range chunks {
		out = r.Render(out, []byte(c))
	}
	return string(r.Flush(out))
}

func TestRender(t *testing.T) {
	tests := []struct {
		name          string
		width, height int
		chunks        []string
		want          string
	}{
		{"plain CRLF lines", 80, 25, []string{"Microsoft (R) Windows Debugger\r\nOpened \\\\.\\com1\r\n"},
			"Microsoft (R) Windows Debugger\r\nOpened \\\\.\\com1\r\n"},
		{"recorded Wine frame: prompt's space as cursor-forward", 200, 25, []string{wineFrame},
			"via CONOUT$ line1\r\nkd> "},
		{"Windows first frame carries no text", 200, 25, []string{winFirstFrame}, ""},
		{"first frame, then a banner and a prompt", 200, 25,
			[]string{winFirstFrame, "\x1b[?25lWaiting to reconnect...\x1b[K\r\n\x1b[?25h", "\x1b[?25l0: kd>\x1b[K\x1b[1C\x1b[?25h"},
			"Waiting to reconnect...\r\n0: kd> "},
		{"SGR colours and OSC title dropped", 80, 25,
			[]string{"\x1b[1;31mBreakpoint 0 hit\x1b[m\r\n\x1b]0;title\x1b\\nt!Mm\r\n"},
			"Breakpoint 0 hit\r\nnt!Mm\r\n"},
		{"rows reached by cursor positioning", 80, 25,
			[]string{"\x1b[Hfirst\x1b[2;1Hsecond\x1b[3;1Hthird\r\n"}, "first\r\nsecond\r\nthird\r\n"},
		{"a jump over empty rows gives empty lines", 80, 25,
			[]string{"a\x1b[4;1Hb\r\n"}, "a\r\n\r\n\r\nb\r\n"},
		{"blanks inside a line as cursor-forward and ECH", 80, 25,
			[]string{"fffff801`1234\x1b[1C:\x1b[3X\x1b[3Cnt!Foo\r\n"}, "fffff801`1234 :   nt!Foo\r\n"},
		{"blanks written before an erase-line are kept", 80, 25,
			[]string{"kd> \x1b[K\r\n"}, "kd> \r\n"},
		{"blanks the cursor only moved over are not", 80, 25,
			[]string{"kd>\x1b[K\x1b[1C\r\n"}, "kd>\r\n"},
		{"a line rewritten shorter after it was sent", 80, 25,
			[]string{"Waiting to reconnect...", "\rok\x1b[K\r\n"}, "Waiting to reconnect...\rok\r\n"},
		{"repaint of rows already sent sends nothing", 80, 25,
			[]string{"line1\r\nline2\r\nkd>\x1b[K\x1b[1C", "\x1b[?25l\x1b[Hline1\x1b[K\r\nline2\x1b[K\r\nkd>\x1b[K\x1b[1C\x1b[?25h", "g\r\n"},
			"line1\r\nline2\r\nkd> g\r\n"},
		{"autowrap joins a long line", 10, 25, []string{"0123456789abcdef\r\nnext\r\n"},
			"0123456789abcdef\r\nnext\r\n"},
		{"a wrap sent as CRLF after a full row joins it", 10, 25, []string{"0123456789\r\nabcdef\r\n"},
			"0123456789abcdef\r\n"},
		{"a wrap sent as cursor positioning joins it", 10, 25, []string{"0123456789\x1b[2;1Habcdef\r\n"},
			"0123456789abcdef\r\n"},
		{"a wrapped line at the bottom scrolls", 10, 2, []string{"top\r\n0123456789abcdef\r\nend\r\n"},
			"top\r\n0123456789abcdef\r\nend\r\n"},
		{"scrolling keeps every line", 40, 3, []string{"1\r\n2\r\n3\r\n4\r\n5\r\nkd> "},
			"1\r\n2\r\n3\r\n4\r\n5\r\nkd> "},
		{"prompt streamed before its line ends", 80, 25, []string{"kd> "}, "kd> "},
		{"echo after a prompt extends it", 80, 25, []string{"kd> ", "bp nt!MmAllocateSpecialPool\r\n"},
			"kd> bp nt!MmAllocateSpecialPool\r\n"},
		{"a rewritten line comes after a CR, as on a pipe", 80, 25, []string{"Waiting...", "\rConnected  \x1b[K\r\n"},
			"Waiting...\rConnected  \r\n"},
		{"clear screen, then a repaint of the open prompt", 80, 25, []string{"out\r\nkd> ", "\x1b[2J\x1b[Hkd>\x1b[K\x1b[1C", "r\r\n"},
			"out\r\nkd> r\r\n"},
		{"sequences split across reads", 80, 25, []string{"a\x1b", "[2", ";1Hb", "\xe2\x82", "\xac\r\n"},
			"a\r\nb€\r\n"},
		{"cursor save and restore", 80, 25, []string{"ab\x1b7cd\x1b8\x1b[K\r\n"}, "ab\r\n"},
		{"text taken back within one read was never sent", 80, 25, []string{"abc\b\bX\r\n"}, "aXc\r\n"},
		{"tab moves to the next stop", 80, 25, []string{"a\tb\r\n"}, "a       b\r\n"},
		{"text overwritten after it was sent follows a CR", 80, 25, []string{"abc", "\b\bX\r\n"}, "abc\raXc\r\n"},
		{"index and next line", 80, 25, []string{"a\x1bEb\r\n"}, "a\r\nb\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := render(tt.width, tt.height, tt.chunks...); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestReader(t *testing.T) {
	in := "\x1b[2J\x1b[m\x1b[H\x1b[?25lvia CONOUT$ line1\r\nBreakpoint 0 hit\r\nkd>\x1b[K\x1b[1C\x1b[?25h" + "\x1b[?25l\x1b[?25h"
	for name, r := range map[string]io.Reader{
		"whole":    strings.NewReader(in),
		"one byte": iotest.OneByteReader(strings.NewReader(in)),
		"error":    iotest.DataErrReader(strings.NewReader(in)),
	} {
		t.Run(name, func(t *testing.T) {
			got, err := io.ReadAll(NewReader(r, 200, 25))
			if err != nil {
				t.Fatal(err)
			}
			if want := "via CONOUT$ line1\r\nBreakpoint 0 hit\r\nkd> "; string(got) != want {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}

func TestReaderPassesErrors(t *testing.T) {
	r := NewReader(io.MultiReader(strings.NewReader("kd> "), iotest.ErrReader(io.ErrUnexpectedEOF)), 80, 25)
	got, err := io.ReadAll(r)
	if string(got) != "kd> " || err != io.ErrUnexpectedEOF {
		t.Errorf("got %q, %v; want the text, then the error", got, err)
	}
}

// plainLines turns fuzz bytes into what a pipe would carry: printable ASCII
// lines ending in CRLF, none of them a whole number of console rows long (a
// full row followed by a newline is taken for a wrap).
func plainLines(b []byte, width int) string {
	var out, line strings.Builder
	end := func() {
		if n := line.Len(); n == 0 || n%width != 0 {
			out.WriteString(line.String())
			out.WriteString("\r\n")
		}
		line.Reset()
	}
	for _, c := range b {
		if c%16 == 0 {
			end()
			continue
		}
		line.WriteByte(' ' + c%95)
	}
	end()
	return out.String()
}

func FuzzRender(f *testing.F) {
	f.Add([]byte(wineFrame), uint8(3))
	f.Add([]byte(winFirstFrame+"abc\r\n\x1b[5;3Hdef\x1b[K\x1b[2J"), uint8(1))
	f.Add([]byte("0123456789abcdef\r\n\x1b[1;1H\x1b[3X\x1b[2P\x1b[4@\x1b[S"), uint8(7))
	f.Fuzz(func(t *testing.T, b []byte, split uint8) {
		const width, height = 16, 4
		// Anything: no escape sequence or control byte survives but the
		// line ends.
		out := render(width, height, string(b))
		for _, c := range out {
			if c < 0x20 && c != '\r' && c != '\n' || c == 0x7f || c >= 0x80 && c < 0xa0 {
				t.Fatalf("control %U in the output %q", c, out)
			}
		}
		// What a pipe would carry comes out as it went in, however it is
		// split into reads.
		plain := plainLines(b, width)
		at := int(split) % (len(plain) + 1)
		if got := render(width, height, plain[:at], plain[at:]); got != plain {
			t.Fatalf("plain text changed:\n in %q\nout %q", plain, got)
		}
	})
}

func BenchmarkRender(b *testing.B) {
	var in bytes.Buffer
	for in.Len() < 1<<20 {
		in.WriteString("\x1b[?25lfffff801`2c4a1b3c ffffd08f`3f1e9d40 : 00000000`00000000 nt!ExAllocatePoolWithTag+0x3a1\r\n\x1b[?25h")
	}
	r := New(4096, 50)
	out := make([]byte, 0, 2<<20)
	b.SetBytes(int64(in.Len()))
	for b.Loop() {
		out = r.Render(out[:0], in.Bytes())
	}
}

func TestWin32InputMode(t *testing.T) {
	r := New(80, 25)
	if r.Win32InputMode() {
		t.Fatal("on before the console asked")
	}
	r.Render(nil, []byte(winFirstFrame))
	if !r.Win32InputMode() {
		t.Fatal("off after ESC[?9001h")
	}
	r.Render(nil, []byte("\x1b[?1004;9001l"))
	if r.Win32InputMode() {
		t.Fatal("on after ESC[?9001l")
	}
}

func TestCtrlBreak(t *testing.T) {
	// Parsed back with the same parser: two CSI _ sequences whose fields
	// are VK_CANCEL, the Break scan code, no character, down then up, Ctrl.
	var got [][]int
	p := ansi.NewParser()
	p.SetHandler(ansi.Handler{HandleCsi: func(cmd ansi.Cmd, params ansi.Params) {
		if cmd.Final() != '_' {
			t.Errorf("final %q, want _", cmd.Final())
		}
		var f []int
		params.ForEach(0, func(_, v int, _ bool) { f = append(f, v) })
		got = append(got, f)
	}})
	p.Parse([]byte(CtrlBreak()))
	want := [][]int{{3, 0x46, 0, 1, 0x108, 1}, {3, 0x46, 0, 0, 0x108, 1}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("fields %v, want %v", got, want)
	}
}
