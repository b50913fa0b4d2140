package fakekd

import (
	"reflect"
	"testing"
)

func TestLineSplitter(t *testing.T) {
	line := func(s string) inputEvent { return inputEvent{kind: evLine, line: s} }
	brk := inputEvent{kind: evBreak}
	tests := []struct {
		name   string
		chunks []string
		want   []inputEvent
	}{
		{"lf", []string{"g\n"}, []inputEvent{line("g")}},
		{"cr", []string{"g\r"}, []inputEvent{line("g")}},
		{"crlf is one end", []string{"g\r\n"}, []inputEvent{line("g")}},
		{"crlf split across reads", []string{"g\r", "\nbl\r\n"}, []inputEvent{line("g"), line("bl")}},
		{"lf lf is an empty line", []string{"g\n\n"}, []inputEvent{line("g"), line("")}},
		{"cr cr is an empty line", []string{"g\r\r"}, []inputEvent{line("g"), line("")}},
		{"lf cr is two ends", []string{"g\n\r"}, []inputEvent{line("g"), line("")}},
		{"crlf crlf", []string{"\r\n\r\n"}, []inputEvent{line(""), line("")}},
		{"no end yet", []string{"bp nt!X"}, nil},
		{"partial then end", []string{"bp nt", "!X\r"}, []inputEvent{line("bp nt!X")}},
		{"break alone", []string{"\x03"}, []inputEvent{brk}},
		{"break inside a line does not split it", []string{"b\x03l\r"}, []inputEvent{brk, line("bl")}},
		{"break between cr and lf keeps crlf whole", []string{"g\r\x03\n"}, []inputEvent{line("g"), brk}},
		{"ctrl-b line", []string{"\x02\r\n"}, []inputEvent{line("\x02")}},
		{"quoted semicolons are data", []string{"bp nt!X \";kb;g\"\r"}, []inputEvent{line("bp nt!X \";kb;g\"")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s lineSplitter
			var got []inputEvent
			for _, c := range tt.chunks {
				got = append(got, s.feed([]byte(c))...)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestLineSplitterBoundsLongLines(t *testing.T) {
	var s lineSplitter
	long := make([]byte, maxLine+100)
	for i := range long {
		long[i] = 'a'
	}
	evs := s.feed(append(long, '\n'))
	if len(evs) != 1 || len(evs[0].line) != maxLine {
		t.Fatalf("got %d events, line length %d", len(evs), len(evs[0].line))
	}
}
