//go:build windows

package launcher

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/kdlaunch/kdlaunch/internal/vtlines"
)

func TestConptyBreakSteps(t *testing.T) {
	tests := []struct {
		name       string
		attempt    int
		win32Input bool
		want       string
		logs       []string
	}{
		{"first attempt: 0x03 only", 0, true, "\x03", []string{"CTRL+C (0x03) typed"}},
		{"retry without win32-input-mode: 0x03 only", 1, false, "\x03", []string{"CTRL+C (0x03) typed", "no Ctrl+Break fallback"}},
		{"retry with win32-input-mode: 0x03, then Ctrl+Break", 2, true, "\x03" + vtlines.CtrlBreak(), []string{"CTRL+C (0x03) typed", "Ctrl+Break typed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log, logs := testLogger(t)
			var typed bytes.Buffer
			c := &conptyBreak{log: log, pid: 42, console: &typed, win32Input: func() bool { return tt.win32Input }}
			if err := c.interrupt(tt.attempt); err != nil {
				t.Fatal(err)
			}
			if typed.String() != tt.want {
				t.Errorf("typed %q, want %q", typed.String(), tt.want)
			}
			for _, l := range tt.logs {
				if !strings.Contains(logs.String(), l) {
					t.Errorf("log lacks %q:\n%s", l, logs.String())
				}
			}
		})
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("pipe closed") }

func TestConptyBreakWriteFails(t *testing.T) {
	log, logs := testLogger(t)
	c := &conptyBreak{log: log, pid: 42, console: failWriter{}, win32Input: func() bool { return true }}
	if err := c.interrupt(0); err == nil || !strings.Contains(err.Error(), "pipe closed") {
		t.Errorf("err %v, want the write's error", err)
	}
	if !strings.Contains(logs.String(), "typing CTRL+C (0x03) into kd's pseudo console failed") {
		t.Errorf("the failed step is not logged:\n%s", logs.String())
	}
}

func TestEnvBlock(t *testing.T) {
	t.Setenv("SYSTEMROOT", `C:\Windows`)
	tests := []struct {
		name string
		env  []string
		want []string
	}{
		{"SYSTEMROOT kept", []string{"A=1"}, []string{"A=1", `SYSTEMROOT=C:\Windows`}},
		{"last value wins, names case-insensitive", []string{"Path=a", "B=2", "PATH=b", "SystemRoot=D:\\W"}, []string{"PATH=b", "B=2", `SystemRoot=D:\W`}},
		{"drive variables start with '='", []string{"=C:=C:\\x", "=D:=D:\\", "=C:=C:\\y"}, []string{"=C:=C:\\y", "=D:=D:\\", `SYSTEMROOT=C:\Windows`}},
		{"entries without '=' dropped", []string{"junk", "A=é"}, []string{"A=é", `SYSTEMROOT=C:\Windows`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			block, err := envBlock(tt.env)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(splitBlock(t, block), tt.want) {
				t.Errorf("block %q, want %q", splitBlock(t, block), tt.want)
			}
		})
	}
	if _, err := envBlock([]string{"A=1\x00B=2"}); err == nil {
		t.Errorf("a NUL inside a variable was accepted")
	}
}

func splitBlock(t *testing.T, block []uint16) []string {
	t.Helper()
	if len(block) < 2 || block[len(block)-1] != 0 || block[len(block)-2] != 0 {
		t.Fatalf("block does not end in two NULs: %v", block)
	}
	return strings.Split(string(utf16.Decode(block[:len(block)-2])), "\x00")
}
