package launcher

import (
	"strings"
	"testing"
)

func TestParseConsoleMode(t *testing.T) {
	for in, want := range map[string]ConsoleMode{
		"": ConsoleAuto, "auto": ConsoleAuto, " Auto ": ConsoleAuto,
		"pseudo": ConsolePseudo, "pipes": ConsolePipes, "PIPES": ConsolePipes,
	} {
		if got, err := ParseConsoleMode(in); err != nil || got != want {
			t.Errorf("ParseConsoleMode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseConsoleMode("tty"); err == nil || !strings.Contains(err.Error(), "auto, pseudo or pipes") {
		t.Errorf("ParseConsoleMode(tty): %v, want an error naming the choices", err)
	}
}

func TestChooseConsole(t *testing.T) {
	tests := []struct {
		name    string
		mode    ConsoleMode
		build   uint32
		hasAPI  bool
		pseudo  bool
		warn    string // substring; "" = no warning
		wantErr string
	}{
		{"auto on 1809", ConsoleAuto, 17763, true, true, "", ""},
		{"auto on Windows 11", ConsoleAuto, 26100, true, true, "", ""},
		{"auto on 1803: pipes, warned", ConsoleAuto, 17134, true, false, "build 17134, has no pseudo console", ""},
		{"auto on Server 2016: pipes, warned", ConsoleAuto, 14393, false, false, "WinDbg-Feedback/issues/393", ""},
		{"auto, no API whatever the build", ConsoleAuto, 19045, false, false, "no pseudo console", ""},
		{"pipes asked for: warned", ConsolePipes, 26100, true, false, "--console pipes", ""},
		{"pseudo asked for", ConsolePseudo, 19045, true, true, "", ""},
		{"pseudo asked for, none here", ConsolePseudo, 14393, false, false, "", "--console pseudo: this Windows (build 14393)"},
		{"unknown mode", ConsoleMode("tty"), 19045, true, false, "", `console mode "tty"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := chooseConsole(tt.mode, tt.build, tt.hasAPI)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.pseudo != tt.pseudo {
				t.Errorf("pseudo = %v, want %v", got.pseudo, tt.pseudo)
			}
			if (tt.warn == "") != (got.warn == "") || !strings.Contains(got.warn, tt.warn) {
				t.Errorf("warning %q, want one containing %q", got.warn, tt.warn)
			}
		})
	}
}
