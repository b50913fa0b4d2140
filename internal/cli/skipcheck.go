package cli

import (
	"slices"
	"strings"

	"github.com/kdlaunch/kdlaunch/report"
)

// unseenSkipModules are the plain module names among the user's --skip and
// --skip-add patterns that appear in no frame of r: most likely a typo
// (ntoskrl), which would otherwise change nothing without a word. The
// default list is not checked (it names every kernel's module; a log has
// one).
func unseenSkipModules(skip, skipAdd []string, r *report.Report) []string {
	var given []string
	if !slices.Equal(skip, report.DefaultSkipList) {
		given = append(given, skip...)
	}
	given = append(given, skipAdd...)
	if len(given) == 0 || r.StacksTotal == 0 {
		return nil
	}
	seen := map[string]bool{}
	for _, s := range r.Stacks {
		for _, f := range s.Frames {
			seen[strings.ToLower(report.Module(f))] = true
		}
	}
	var out []string
	for _, p := range given {
		p = strings.TrimSpace(p)
		if p == "" || strings.EqualFold(p, "none") || strings.ContainsAny(p, "!*?") {
			continue
		}
		if !seen[strings.ToLower(p)] && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}
