package script

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// CtrlB is CTRL+B: followed by ENTER it makes kd exit without touching the
// target, which keeps running ("Leaving kd: CTRL+B ENTER" in docs/kd-protocol.md). "q" would leave it locked.
const CtrlB = "\x02"

// MarkerPrefix starts every completion marker. It is unusual enough never to
// appear in kd's own output.
const MarkerPrefix = "KDLAUNCH_DONE_"

// Marker is the line that .echo prints after command n: the session knows a
// command has finished when this exact line is followed by a prompt. Echoed
// input (".echo KDLAUNCH_...") never equals it, so an echo cannot fool it.
func Marker(nonce string, n int) string { return fmt.Sprintf("%s%s_%d", MarkerPrefix, nonce, n) }

// MarkerCommand is the command that prints Marker(nonce, n).
func MarkerCommand(nonce string, n int) string { return ".echo " + Marker(nonce, n) }

// Resumes reports whether cmd lets the target run. Such a command is sent
// bare (no marker: an .echo queued behind it would only run at the next
// halt) and its completion is the absence of a prompt.
func Resumes(cmd string) bool {
	f := strings.Fields(strings.TrimSpace(cmd))
	if len(f) == 0 {
		return false
	}
	switch strings.ToLower(f[0]) {
	case "g", "gh", "gn", "gu", "gc", "p", "pa", "pc", "pt", "ph", "t", "ta", "tc", "tt", "th", "wt", ".reboot", ".crash":
		return true
	}
	return false
}

// ErrBadCommand is wrapped by ValidateCommand's errors.
var ErrBadCommand = errors.New("bad kd command")

// ValidateCommand refuses what would let one configured command become
// several, or type keys kd treats specially: commands are sent one per line,
// exactly as given.
func ValidateCommand(cmd string) error {
	if strings.TrimSpace(cmd) == "" {
		return fmt.Errorf("%w: empty command (an empty line repeats kd's last command)", ErrBadCommand)
	}
	for _, r := range cmd {
		if r == '\n' || r == '\r' {
			return fmt.Errorf("%w %q: it holds a line break; give each command as its own entry", ErrBadCommand, cmd)
		}
		if unicode.IsControl(r) && r != '\t' {
			return fmt.Errorf("%w %q: it holds control character %U, which kd reads as a key, not text", ErrBadCommand, cmd, r)
		}
	}
	if strings.Contains(cmd, MarkerPrefix) {
		return fmt.Errorf("%w %q: %s is reserved for kdlaunch's own markers", ErrBadCommand, cmd, MarkerPrefix)
	}
	if quits(cmd) {
		return fmt.Errorf("%w %q: it quits kd and leaves the target halted with its breakpoints: drop it; kdlaunch stops safely by itself (--max-hits, --duration, Ctrl+C)", ErrBadCommand, cmd)
	}
	return nil
}

// quits reports whether a kd command line holds q, qq or qd as a command,
// including inside a breakpoint's quoted command string ("kb;q" quits kd at
// the first hit): kd would leave with the target halted and the breakpoints
// armed, and the supervisor restart it in a loop. Splitting at quotes too
// errs on the side of refusing (.echo "a;q").
func quits(cmd string) bool {
	for _, p := range strings.FieldsFunc(cmd, func(r rune) bool { return r == ';' || r == '"' }) {
		if f := strings.Fields(p); len(f) > 0 {
			switch strings.ToLower(f[0]) {
			case "q", "qq", "qd":
				return true
			}
		}
	}
	return false
}

// IsMarker reports whether a complete output line is exactly the marker.
func IsMarker(line, marker string) bool {
	return strings.TrimSpace(StripPrompt(line)) == marker
}
