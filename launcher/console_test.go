package launcher

import (
	"bytes"
	"testing"
)

func TestConsoleStreams(t *testing.T) {
	tests := []struct {
		name             string
		quiet, terminal  bool
		wantOut, wantErr string
	}{
		{"kd on stdout, messages on stderr", false, false,
			"kd> \nBreakpoint 0 hit\n", "kdlaunch: target connected\nkdlaunch: warning: x\n"},
		{"quiet: no kd output, messages still", true, false,
			"", "kdlaunch: target connected\nkdlaunch: warning: x\n"},
		{"terminal: status cleared and redrawn around messages", false, true,
			"kd> \nBreakpoint 0 hit\n", "[running] hits 1\r\x1b[Kkdlaunch: target connected\n[running] hits 1\r\x1b[K[running] hits 1\r\x1b[Kkdlaunch: warning: x\n[running] hits 1\r\x1b[K"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			o := ConsoleOptions{KD: &out, Messages: &errb}
			if tt.quiet {
				o.KD = nil
			}
			if tt.terminal {
				o.Status = &errb
			}
			c := NewConsoleWith(o)
			c.Status("[running] hits 1")
			c.Output("kd> ", false)
			c.Note("target connected") // the prefix is added
			c.Output("Breakpoint 0 hit", true)
			c.Note("kdlaunch: warning: x") // and not doubled
			c.Close()
			if out.String() != tt.wantOut {
				t.Errorf("kd's stream %q, want %q", out.String(), tt.wantOut)
			}
			if errb.String() != tt.wantErr {
				t.Errorf("messages %q, want %q", errb.String(), tt.wantErr)
			}
		})
	}
}

// The old constructor keeps everything on one stream.
func TestNewConsoleOneStream(t *testing.T) {
	var out bytes.Buffer
	c := NewConsole(&out, nil)
	c.Output("kd> ", false)
	c.Note("hello")
	if got, want := out.String(), "kd> \nkdlaunch: hello\n"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
	var nilConsole *Console
	nilConsole.Note("x") // a nil Console is silent
}
