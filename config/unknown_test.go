package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUnknownKeyMessage(t *testing.T) {
	tests := []struct{ body, want string }{
		{"[kd]\npath = 'x'\n\nlgo = \"x\"\n", `line 4: unknown config key "kd.lgo": did you mean "kd.log"?`},
		{"[kdd]\npath = \"x\"\n", `line 1: unknown config key "kdd": did you mean "kd"?`},
		{"[limits]\nmax_hit = 3\n", `line 2: unknown config key "limits.max_hit": did you mean "limits.max_hits"?`},
		{"kd.symbolpath = 'x'\n", `line 1: unknown config key "kd.symbolpath": did you mean "kd.symbol_path"?`},
		{"[target]\nzzzzzz = 1\n", `line 2: unknown config key "target.zzzzzz": check its spelling against config.example.toml`},
		{"[kd]\nlgo = 1\nfoo = 2\n", `(and 1 more unknown)`},
	}
	for _, tt := range tests {
		p := filepath.Join(t.TempDir(), "lab.toml")
		os.WriteFile(p, []byte(tt.body), 0o600)
		_, err := Load(p)
		if !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: %v, want %q", tt.body, err, tt.want)
		}
	}
}

// Every known key suggests itself, and a key one edit away suggests it.
func TestSuggestKey(t *testing.T) {
	for k := range knownKeys {
		if got := suggestKey(k); got != k {
			t.Errorf("suggestKey(%q) = %q", k, got)
		}
	}
	if got := suggestKey("server.tranport"); got != "server.transport" {
		t.Errorf("server.tranport: %q", got)
	}
}

// keyLine never panics, and a line it names is in the text and mentions
// the key's last part.
func FuzzKeyLine(f *testing.F) {
	f.Add("[kd]\nlgo = 1\n", "kd", "lgo")
	f.Add("kd.lgo = 1\n", "kd", "lgo")
	f.Add("[\"kd\"]\n'lgo' = 1\n", "kd", "")
	f.Fuzz(func(t *testing.T, text, a, b string) {
		k := []string{a}
		if b != "" {
			k = append(k, b)
		}
		n := keyLine(text, k)
		lines := strings.Split(text, "\n")
		if n < 0 || n > len(lines) {
			t.Fatalf("line %d of %d", n, len(lines))
		}
		if n > 0 && !strings.Contains(lines[n-1], k[len(k)-1]) {
			t.Fatalf("line %d %q does not mention %q", n, lines[n-1], k[len(k)-1])
		}
	})
}
