package launcher

import (
	"fmt"
	"strings"
)

// ConsoleMode is how kd gets its console on Windows (Spec.Console; other
// platforms always use a pty). See docs/windows-console.md.
type ConsoleMode string

const (
	// ConsoleAuto is a pseudo console where Windows has one (Windows 10
	// 1809, Server 2019 and later), else pipes with a warning.
	ConsoleAuto ConsoleMode = ""
	// ConsolePseudo insists on a pseudo console: starting kd fails where
	// there is none.
	ConsolePseudo ConsoleMode = "pseudo"
	// ConsolePipes gives kd redirected pipes, as kdlaunch did before
	// pseudo consoles, with a warning.
	ConsolePipes ConsoleMode = "pipes"
)

// ParseConsoleMode reads the --console flag and the kd.console key: "auto"
// (or empty), "pseudo" or "pipes".
func ParseConsoleMode(s string) (ConsoleMode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "auto":
		return ConsoleAuto, nil
	case "pseudo":
		return ConsolePseudo, nil
	case "pipes":
		return ConsolePipes, nil
	}
	return "", fmt.Errorf("console %q: use auto, pseudo or pipes", s)
}

// minPseudoConsoleBuild is Windows 10 1809 (and Server 2019): the first
// build whose pseudo console is stable; 1803 (17134) had an early one that
// kdlaunch does not use.
const minPseudoConsoleBuild = 17763

// PipesRisk is the warning every start of kd on pipes gives.
const PipesRisk = "kd runs on redirected pipes, not a pseudo console: a public report " +
	"(https://github.com/microsoft/WinDbg-Feedback/issues/393) says kd.exe with redirected standard I/O " +
	"and no target connected yet can grow the host's NonPaged pool by hundreds of MB/s until it freezes; " +
	"watch the host's pool while waiting for the target, or run on Windows 10 1809 / Server 2019 or later " +
	"with --console auto"

// consoleChoice is what chooseConsole decided.
type consoleChoice struct {
	pseudo bool   // start kd in a pseudo console
	warn   string // say this (once per kd start) when non-empty
}

// chooseConsole decides between a pseudo console and pipes from the mode
// asked for, the Windows build, and whether kernel32 exports
// CreatePseudoConsole (Wine reports a build of its own choosing, so both
// are checked).
func chooseConsole(mode ConsoleMode, build uint32, hasAPI bool) (consoleChoice, error) {
	available := hasAPI && build >= minPseudoConsoleBuild
	switch mode {
	case ConsolePipes:
		return consoleChoice{warn: PipesRisk + " (chosen with --console pipes)"}, nil
	case ConsolePseudo:
		if !available {
			return consoleChoice{}, fmt.Errorf("--console pseudo: this Windows (build %d) has no usable pseudo console "+
				"(Windows 10 1809 / Server 2019, build %d, or later): use --console auto or pipes", build, minPseudoConsoleBuild)
		}
		return consoleChoice{pseudo: true}, nil
	case ConsoleAuto:
		if !available {
			return consoleChoice{warn: fmt.Sprintf("%s (this Windows, build %d, has no pseudo console)", PipesRisk, build)}, nil
		}
		return consoleChoice{pseudo: true}, nil
	}
	return consoleChoice{}, fmt.Errorf("console mode %q: use auto, pseudo or pipes", mode)
}
