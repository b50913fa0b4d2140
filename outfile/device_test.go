package outfile

import "testing"

func TestIsWindowsDeviceName(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"NUL", true}, {"nul", true}, {"CON", true}, {`C:\out\nul.txt`, true}, {"COM1", true}, {"lpt9", true},
		{`\\.\pipe\x`, true}, {"NUL ", true}, {"CONIN$", true},
		{"COM0", false}, {"COM10", false}, {"null", false}, {"console.txt", false}, {"report.txt", false}, {"", false}, {`C:\nul\x.txt`, false},
	}
	for _, tt := range tests {
		if got := IsWindowsDeviceName(tt.name); got != tt.want {
			t.Errorf("IsWindowsDeviceName(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}
