// Package script is kd's dialect: what kd prints and how it is recognised
// (its prompt and breakpoint hits in lines.go, its announcements here), what
// is typed into it (commands.go), the connection strings it accepts
// (connection.go), the strategies that arm a hunt and the live check
// (strategy.go, livecheck.go). It holds no state and does no I/O, so every
// pattern is table-tested against the text real kd prints; docs/kd-protocol.md
// gives each fact with its public source.
package script

import (
	"regexp"
	"strconv"
	"strings"
)

// Kind is what a line of kd output means to the session.
type Kind int

// Kinds of kd output lines. Order does not matter.
const (
	Other          Kind = iota
	Waiting             // kd waits for the target ("Banners and connection lines")
	Connected           // "Connected to target ..." (KDNET) or "Connected to Windows ... target"
	Established         // "Kernel Debugger connection established" (serial, pipe, KDNET)
	BreakException      // "Break instruction exception - code 80000003"
	BreakBanner         // the "You are seeing this message because you pressed" box
	BreakpointHit       // "Breakpoint N hit" ("Breakpoint hits")
	Shutdown            // "Shutdown occurred at ...": the target reboots, breakpoints are lost ("Reboot and shutdown")
	TransportLost       // "The transport connection ... seems lost" ("Transport lost and resync")
	Resync              // "KDTARGET: Refreshing KD connection"
	FatalError          // "*** Fatal System Error": a bug check arrived
	ServerStarted       // "Server started." from -server
)

var kindNames = [...]string{"other", "waiting", "connected", "established", "break-exception",
	"break-banner", "breakpoint-hit", "shutdown", "transport-lost", "resync", "fatal-error", "server-started"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

var (
	// NT 3.x printed "KD: waiting to connect..."; current kd "Waiting to reconnect...".
	reWaiting     = regexp.MustCompile(`(?i)^(KD:\s*)?waiting to (re)?connect`)
	reConnNet     = regexp.MustCompile(`^Connected to (target \S+ on port \d+|Windows .*target)`)
	reEstablished = regexp.MustCompile(`^(KD:\s*)?Kernel Debugger connection established`)
	reBreakExc    = regexp.MustCompile(`^Break instruction exception - code 80000003`)
)

// StripPrompt removes the prompts kd printed at the start of a line. Over
// pipes kd does not echo what it is sent, so the output of a command, or the
// first line after "g", lands on the prompt's line ("0: kd> Breakpoint 0
// hit"), and a command with no output leaves prompt after prompt on one line.
func StripPrompt(line string) string {
	_, rest := SplitPrompts(line)
	return rest
}

// SplitPrompts counts the prompts (PromptLen) at the start of s and returns
// the rest.
func SplitPrompts(s string) (n int, rest string) {
	for {
		l := PromptLen(s)
		if l == 0 {
			return n, s
		}
		n++
		s = s[l:]
	}
}

// Classify says what one complete line of kd output means. Leading
// whitespace, a trailing CR and any prompt kd printed before the text (as when
// a command is echoed into the log) are ignored.
func Classify(line string) Kind {
	s := strings.TrimRight(strings.TrimLeft(StripPrompt(line), " \t"), "\r")
	if s == "" {
		return Other
	}
	// Most lines in a flood of hits are stack frames: only lines that start
	// like one of kd's announcements go on to the patterns.
	switch s[0] {
	case 'W', 'w', 'K', 'C', 'B', '*', 'S', 'T':
		if k := announcement(s); k != Other {
			return k
		}
	}
	return glued(s)
}

// A driver's DbgPrint is printed as given, so one without a trailing newline
// glues kd's next announcement to its text: "Ddkdrv: createBreakpoint 0 hit"
// (the stacks parser counts these too). Only a whole announcement at the end
// of the line counts, so a DbgPrint that merely mentions one does not.
var reBreakExcGlued = regexp.MustCompile(`Break instruction exception - code 80000003 \(first chance\)$`)

func glued(s string) Kind {
	s = strings.TrimRight(s, " \t")
	switch {
	case EndsWithHit(s):
		return BreakpointHit
	case strings.HasSuffix(s, "(first chance)") && reBreakExcGlued.MatchString(s):
		return BreakException
	}
	return Other
}

// announcement matches the lines of kd's that start a line.
func announcement(s string) Kind {
	switch {
	case IsHit(s):
		return BreakpointHit
	case reEstablished.MatchString(s):
		return Established
	case reConnNet.MatchString(s):
		return Connected
	case reWaiting.MatchString(s):
		return Waiting
	case reBreakExc.MatchString(s):
		return BreakException
	case strings.Contains(s, "You are seeing this message because you pressed"):
		return BreakBanner
	case strings.HasPrefix(s, "Shutdown occurred at"):
		return Shutdown
	case strings.Contains(s, "seems lost") && strings.Contains(s, "transport connection"):
		return TransportLost
	case strings.HasPrefix(s, "KDTARGET: Refreshing KD connection"):
		return Resync
	case strings.HasPrefix(s, "*** Fatal System Error"):
		return FatalError
	case strings.HasPrefix(s, "Server started"):
		return ServerStarted
	}
	return Other
}

// InitialBreakRequested reports whether a connection line says the target
// will stop by itself right after connecting: "Kernel Debugger connection
// established.  (Initial Breakpoint requested)" ("Banners and connection
// lines" in docs/kd-protocol.md), printed when
// kd runs with -b/-d or CTRL+K asked for a break on connection.
func InitialBreakRequested(line string) bool {
	return Classify(line) == Established && strings.Contains(line, "(Initial Breakpoint requested)")
}

// Prompts counts the prompts in a partial line made only of prompts (kd
// answered several commands that print nothing); 0 if anything else is there.
func Prompts(partial string) int {
	n, rest := SplitPrompts(partial)
	if n == 0 || strings.TrimSpace(rest) != "" {
		return 0
	}
	return n
}
