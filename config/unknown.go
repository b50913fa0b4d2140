package config

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/agnivade/levenshtein"
)

// unknownKeyError is the one line for a file's unknown keys: the first
// one, its line, the known key it is closest to, and how many more.
func unknownKeyError(path string, b []byte, und []toml.Key) error {
	k := und[0]
	name := k.String()
	where := ""
	if line := keyLine(string(b), k); line > 0 {
		where = fmt.Sprintf("line %d: ", line)
	}
	hint := "check its spelling against config.example.toml"
	if s := suggestKey(name); s != "" {
		hint = fmt.Sprintf("did you mean %q? (every key is in config.example.toml)", s)
	}
	more := ""
	if n := len(und) - 1; n > 0 {
		more = fmt.Sprintf(" (and %d more unknown)", n)
	}
	return fmt.Errorf("config %s: %s%w %q: %s%s", path, where, ErrUnknownKey, name, hint, more)
}

// suggestKey is the known key (or table) nearest to name by edit distance,
// when it is near enough to be a typo: at most a third of the name, and
// at least one edit allowed.
func suggestKey(name string) string {
	depth := strings.Count(name, ".")
	best, bestD := "", max(1, len(name)/3)+1
	keys := make([]string, 0, len(knownKeys))
	for k := range knownKeys {
		keys = append(keys, k)
	}
	sort.Strings(keys) // ties go to the same key every run
	for _, k := range keys {
		if strings.Count(k, ".") != depth {
			continue
		}
		if d := levenshtein.ComputeDistance(strings.ToLower(name), k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

var (
	reTable = regexp.MustCompile(`^\s*\[\s*([^\]\s]+)\s*\]`)
	reKey   = regexp.MustCompile(`^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_.-]+)\s*=`)
)

// keyLine finds the line where key k is defined (1-based; 0 if not found):
// a [table] header for a table, or key = under its table (or dotted at the
// top). The decoder keeps no positions for keys it did not use.
func keyLine(text string, k toml.Key) int {
	table := ""
	for i, line := range strings.Split(text, "\n") {
		if m := reTable.FindStringSubmatch(line); m != nil {
			table = strings.Trim(m[1], `"'`)
			if len(k) == 1 && table == k[0] {
				return i + 1
			}
			continue
		}
		m := reKey.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		full := strings.Trim(m[1], `"'`)
		if table != "" {
			full = table + "." + full
		}
		if full == k.String() || strings.HasPrefix(full, k.String()+".") {
			return i + 1
		}
	}
	return 0
}
