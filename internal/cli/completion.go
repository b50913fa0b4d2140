package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/alecthomas/kong"
	kongcompletion "github.com/jotaen/kong-completion"
)

// CompletionCmd is `kdlaunch completion SHELL`: the script that makes the
// shell complete kdlaunch's commands, flags and enum values. The script
// asks kdlaunch itself (COMP_LINE, answered by kong-completion from kong's
// model), so completion always matches the binary.
type CompletionCmd struct {
	Shell string `arg:"" enum:"bash,zsh,fish,powershell" help:"bash, zsh, fish or powershell. Load it now with: source <(kdlaunch completion bash) (zsh likewise), kdlaunch completion fish | source, or kdlaunch completion powershell | Out-String | Invoke-Expression; add that line to ~/.bashrc, ~/.zshrc, config.fish or $PROFILE to keep it."`
}

// Run prints the script for c.Shell.
func (c *CompletionCmd) Run(s streams) error {
	bin, err := os.Executable()
	if err != nil {
		return fmt.Errorf("completion: find kdlaunch's own path: %w", err)
	}
	if abs, err := filepath.Abs(bin); err == nil {
		bin = abs
	}
	_, err = fmt.Fprint(s.Out, completionScript(c.Shell, "kdlaunch", bin))
	return err
}

// completionScript is the shell's glue: it hands the line being completed
// to bin in COMP_LINE and COMP_POINT and offers what bin prints, one
// candidate a line.
func completionScript(shell, name, bin string) string {
	fn := "_" + strings.ReplaceAll(name, "-", "_") + "_complete"
	switch shell {
	case "bash":
		return fmt.Sprintf(`# kdlaunch completion for bash: source <(kdlaunch completion bash)
%[1]s() {
    local IFS=$'\n'
    COMPREPLY=($(COMP_LINE="$COMP_LINE" COMP_POINT="$COMP_POINT" %[2]s 2>/dev/null))
}
complete -o default -o bashdefault -F %[1]s %[3]s
`, fn, shQuote(bin), name)
	case "zsh":
		return fmt.Sprintf(`# kdlaunch completion for zsh: source <(kdlaunch completion zsh)
# bashcompinit needs compinit's compdef; a zshrc usually has loaded it.
if ! (( $+functions[compdef] )); then autoload -U +X compinit && compinit -u; fi
autoload -U +X bashcompinit && bashcompinit
%[1]s() {
    local IFS=$'\n'
    COMPREPLY=($(COMP_LINE="$COMP_LINE" COMP_POINT="$COMP_POINT" %[2]s 2>/dev/null))
}
complete -o default -o bashdefault -F %[1]s %[3]s
`, fn, shQuote(bin), name)
	case "fish":
		return fmt.Sprintf(`# kdlaunch completion for fish: kdlaunch completion fish | source
function %[1]s
    set -lx COMP_LINE (commandline -cp)
    test -z (commandline -ct)
    and set COMP_LINE "$COMP_LINE "
    %[2]s 2>/dev/null
end
complete -f -c %[3]s -a "(%[1]s)"
`, fn, shQuote(bin), name)
	case "powershell":
		return fmt.Sprintf(`# kdlaunch completion for PowerShell: kdlaunch completion powershell | Out-String | Invoke-Expression
Register-ArgumentCompleter -Native -CommandName %[2]s, %[2]s.exe -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)
    $line = $commandAst.ToString()
    $point = $cursorPosition - $commandAst.Extent.StartOffset
    if ($line.Length -lt $point) { $line = $line.PadRight($point) }
    $env:COMP_LINE = $line
    $env:COMP_POINT = $point
    try {
        & %[1]s 2>$null | ForEach-Object {
            [System.Management.Automation.CompletionResult]::new($_, $_, 'ParameterValue', $_)
        }
    } finally {
        Remove-Item Env:COMP_LINE, Env:COMP_POINT -ErrorAction SilentlyContinue
    }
}
`, psQuote(bin), name)
	}
	return ""
}

// shQuote quotes s for bash, zsh and fish.
func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// psQuote quotes s for PowerShell (a literal string; ' doubled).
func psQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// answerCompletion answers a shell's completion request (COMP_LINE set)
// and exits through kong; otherwise it does nothing.
func answerCompletion(parser *kong.Kong) {
	kongcompletion.Register(parser)
}
