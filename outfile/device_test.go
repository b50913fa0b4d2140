package outfile

import (
	"strings"
	"testing"
)

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

// Windows' device names are case-insensitive, and a folder never makes a
// name a device: only its last element counts.
func FuzzIsWindowsDeviceName(f *testing.F) {
	for _, s := range []string{"NUL", "con.txt", `C:\x\com1`, `\\.\pipe\x`, "report.txt", "COM10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		got := IsWindowsDeviceName(name)
		ascii := !strings.ContainsFunc(name, func(r rune) bool { return r > 127 })
		if ascii && (IsWindowsDeviceName(strings.ToUpper(name)) != got || IsWindowsDeviceName(strings.ToLower(name)) != got) {
			t.Fatalf("%q: %v, but not in another case", name, got)
		}
		if !strings.HasPrefix(name, `\\.\`) && !strings.ContainsAny(name, `\/:`) {
			if IsWindowsDeviceName(`C:\dir\`+name) != got {
				t.Fatalf("%q: the folder changed the answer", name)
			}
		}
	})
}
