package report

import (
	"fmt"
	"strings"
)

// Resolution says how much kd knew about a frame.
type Resolution int

const (
	// Resolved frames name a module and a symbol: nt!ExAllocatePoolWithTag+0x4e.
	Resolved Resolution = iota
	// NoSymbol frames name a module but no function (avscan+0x424e): kd
	// found the driver but not its symbols.
	NoSymbol
	// NoModule frames are a bare address, "?" or "(unknown)": kd could not
	// tell which driver the address belongs to.
	NoModule
)

// Resolve classifies frame.
func Resolve(frame string) Resolution {
	f := strings.TrimSpace(frame)
	if f == "" || f == "?" || f == UnknownModule || isAddress(f) {
		return NoModule
	}
	if strings.IndexByte(f, '!') > 0 {
		return Resolved
	}
	if Module(f) == UnknownModule {
		return NoModule
	}
	return NoSymbol
}

// isAddress reports whether f is a bare address as kd prints one:
// 0xfffff800`12345678, fffff800`12345678 or 8d2f1a30.
func isAddress(f string) bool {
	f = strings.TrimPrefix(strings.TrimPrefix(f, "0x"), "0X")
	if len(f) < 8 {
		return false
	}
	for i := 0; i < len(f); i++ {
		c := f[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == '`') {
			return false
		}
	}
	return true
}

// UnresolvedHint is one line saying what to do about an unresolved culprit
// so that the next report names the function; "" for a resolved one.
func UnresolvedHint(culprit string) string {
	switch Resolve(culprit) {
	case NoModule:
		addr := strings.TrimSpace(culprit)
		if !isAddress(addr) {
			addr = "<address>"
		}
		return fmt.Sprintf("no module for this address: in kd, `lm a %s` names the driver; add its symbols to the symbol path, `.reload /f`, and record again", addr)
	case NoSymbol:
		mod := Module(culprit)
		return fmt.Sprintf("%s has no symbols: add the folder of %s.pdb to the symbol path (`.sympath+ FOLDER`), `.reload /f %s.sys`, check with `lm m %s`, and record again", mod, mod, mod, mod)
	}
	return ""
}

// UnresolvedShare counts the stacks (by hits) whose culprit is not
// resolved, out of all stacks.
func UnresolvedShare(r *Report) (unresolved, total int) {
	for _, s := range r.Stacks {
		if Resolve(s.Culprit) != Resolved {
			unresolved += s.Count
		}
	}
	return unresolved, r.StacksTotal
}

// UnresolvedWarning is one line when most stacks (by hits) have an
// unresolved culprit, "" otherwise. The report and run's summary print it.
func UnresolvedWarning(r *Report) string {
	n, total := UnresolvedShare(r)
	if total == 0 || 2*n <= total {
		return ""
	}
	return fmt.Sprintf("warning: %d of %d stacks (%.0f%%) have a culprit without symbols: fix the symbol path (see the hints) before trusting the culprit names",
		n, total, percent(n, total))
}
