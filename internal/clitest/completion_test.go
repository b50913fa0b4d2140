//go:build !windows

package clitest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The bash script, sourced in a real bash, registers kdlaunch and completes
// commands, flags and enum values by asking the binary.
func TestCompletionBash(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	dir := t.TempDir()
	r := kd(t, dir, "completion", "bash")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	script := filepath.Join(dir, "kdlaunch.bash")
	os.WriteFile(script, []byte(r.stdout), 0o644)
	tests := []struct {
		words []string // COMP_WORDS; the last is being completed
		want  []string
		not   []string
	}{
		{[]string{"kdlaunch", ""}, []string{"run", "report", "tag", "target-setup", "completion"}, nil},
		{[]string{"kdlaunch", "rep"}, []string{"report"}, []string{"run"}},
		{[]string{"kdlaunch", "run", "--dry"}, []string{"--dry-run"}, []string{"--log"}},
		{[]string{"kdlaunch", "report", "--format", ""}, []string{"table", "json", "folded", "pprof"}, nil},
		{[]string{"kdlaunch", "completion", "p"}, []string{"powershell"}, []string{"bash"}},
	}
	for _, tt := range tests {
		line := strings.Join(tt.words, " ")
		prog := `source "$1"; complete -p kdlaunch; COMP_WORDS=(` + quoteWords(tt.words) + `); COMP_CWORD=$((${#COMP_WORDS[@]}-1)); COMP_LINE="$2"; COMP_POINT=${#COMP_LINE}; _kdlaunch_complete; printf '%s\n' "${COMPREPLY[@]}"`
		cmd := exec.Command(bash, "--norc", "--noprofile", "-c", prog, "bash", script, line)
		cmd.Env = env(dir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("bash: %v\n%s", err, out)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if !strings.HasPrefix(lines[0], "complete -o bashdefault -o default -F _kdlaunch_complete kdlaunch") {
			t.Errorf("complete -p kdlaunch: %q", lines[0])
		}
		got := map[string]bool{}
		for _, l := range lines[1:] {
			got[l] = true
		}
		for _, w := range tt.want {
			if !got[w] {
				t.Errorf("%q: completions %q lack %q", line, lines[1:], w)
			}
		}
		for _, w := range tt.not {
			if got[w] {
				t.Errorf("%q: completions %q hold %q", line, lines[1:], w)
			}
		}
	}
}

func quoteWords(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = "'" + w + "'"
	}
	return strings.Join(q, " ")
}

// Every shell gets a script that calls this very binary; a shell kdlaunch
// does not know is a usage error.
func TestCompletionShells(t *testing.T) {
	dir := t.TempDir()
	for shell, want := range map[string]string{
		"bash": "complete -o default", "zsh": "bashcompinit", "fish": "complete -f -c kdlaunch",
		"powershell": "Register-ArgumentCompleter -Native -CommandName kdlaunch, kdlaunch.exe",
	} {
		r := kd(t, dir, "completion", shell)
		if r.code != 0 || !strings.Contains(r.stdout, want) || !strings.Contains(r.stdout, "'"+kdlaunch+"'") {
			t.Errorf("%s: exit %d, script:\n%s", shell, r.code, r.stdout)
		}
	}
	if r := kd(t, dir, "completion", "tcsh"); r.code != 2 {
		t.Errorf("tcsh: exit %d, want 2", r.code)
	}
}

// The zsh script, sourced in a real zsh (bashcompinit), completes through
// the same function; fish's through complete -C. Skipped where the shell
// is not installed.
func TestCompletionZshFish(t *testing.T) {
	dir := t.TempDir()
	for _, sh := range []struct {
		name string
		prog func(script, line string) []string
	}{
		{"zsh", func(script, line string) []string {
			return []string{"-f", "-c", `source "$1"; COMP_WORDS=(${=2}); [[ $2 == *' ' ]] && COMP_WORDS+=(''); COMP_CWORD=$((${#COMP_WORDS}-1)); COMP_LINE="$2"; COMP_POINT=${#COMP_LINE}; _kdlaunch_complete; print -l $COMPREPLY`, "zsh", script, line}
		}},
		{"fish", func(script, line string) []string {
			return []string{"--no-config", "-c", `source $argv[1]; complete -C "$argv[2]"`, script, line}
		}},
	} {
		bin, err := exec.LookPath(sh.name)
		if err != nil {
			t.Logf("no %s: skipped", sh.name)
			continue
		}
		r := kd(t, dir, "completion", sh.name)
		script := filepath.Join(dir, "kdlaunch."+sh.name)
		os.WriteFile(script, []byte(r.stdout), 0o644)
		for line, want := range map[string]string{"kdlaunch rep": "report", "kdlaunch report --format ": "folded", "kdlaunch completion pow": "powershell"} {
			cmd := exec.Command(bin, sh.prog(script, line)...)
			cmd.Env = env(dir)
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains("\n"+string(out)+"\n", "\n"+want+"\n") || strings.Contains(string(out), "not found") {
				t.Errorf("%s %q: %v, completions:\n%s", sh.name, line, err, out)
			}
		}
	}
}
