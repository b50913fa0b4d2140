// Package plural counts things in English: "1 stack", "2 stacks".
package plural

import "strconv"

// N is n followed by one or many, as n asks.
func N(n int64, one, many string) string {
	if n == 1 || n == -1 {
		return strconv.FormatInt(n, 10) + " " + one
	}
	return strconv.FormatInt(n, 10) + " " + many
}

// S is N for nouns whose plural adds an s: S(1, "stack") is "1 stack".
func S(n int64, noun string) string { return N(n, noun, noun+"s") }

// Times is "once" or "N times" (a number, which scripts and people grep
// for more easily than "twice").
func Times(n int64) string {
	if n == 1 {
		return "once"
	}
	return strconv.FormatInt(n, 10) + " times"
}
