package script

// Live check of the target's special pool setting and the recipes that arm
// the hunt ("The live check" in docs/kd-protocol.md). Right after the first break-in the
// session sends SpecialPoolTagQuery and AllocatorQuery, hands their output to
// CheckSpecialPool and prints each warning; the run goes on either way.

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/kdlaunch/kdlaunch/pooltag"
)

// SpecialPoolTagQuery reads the PoolTag value the running kernel uses
// ("The live check" in docs/kd-protocol.md).
const SpecialPoolTagQuery = "dd nt!MmSpecialPoolTag L1"

// AllocatorQuery resolves the function the special-pool breakpoint is set on.
const AllocatorQuery = "x nt!MmAllocateSpecialPool"

// AllocatorSymbol is the symbol AllocatorQuery looks up.
const AllocatorSymbol = "nt!MmAllocateSpecialPool"

// PoolHitTagQuery resolves the variable the pool-hit-tag recipe writes.
const PoolHitTagQuery = "x nt!PoolHitTag"

// PoolHitTagSymbol is the symbol PoolHitTagQuery looks up.
const PoolHitTagSymbol = "nt!PoolHitTag"

// SpecialPoolBreakpoint is the seed's breakpoint: stack, then go on.
const SpecialPoolBreakpoint = `bp nt!MmAllocateSpecialPool ";kb;g"`

var (
	// "fffff801`1e5c3a10  206b6444" (x64), "8055a5c0  206b6444" (x86); a
	// 64-bit address may also come without the backtick.
	reDD = regexp.MustCompile("^\\s*(?:[0-9a-fA-F]{8}`[0-9a-fA-F]{8}|[0-9a-fA-F]{16}|[0-9a-fA-F]{8})\\s+([0-9a-fA-F?]{8})(?:\\s|$)")
	// "fffff801`1e7a2b30 nt!MmAllocateSpecialPool (MmAllocateSpecialPool)",
	// "8062f7b4          nt!MmAllocateSpecialPool = <no type information>".
	reX = regexp.MustCompile("^\\s*(?:[0-9a-fA-F]{8}`[0-9a-fA-F]{8}|[0-9a-fA-F]{16}|[0-9a-fA-F]{8})\\s+(\\S+?)(?:\\s|\\(|=|$)")
)

// ParseDD returns the first DWORD that "dd <symbol> L1" printed. Prompt
// lines, an echoed command, a prompt in front of the output (kd over pipes
// does not echo, so output lands on the prompt's line) and CRLF are
// tolerated. It returns false when kd printed no value: "Couldn't resolve
// error at ..." (no symbol), or "????????" (memory not readable).
func ParseDD(output string) (uint32, bool) {
	for _, line := range strings.Split(output, "\n") {
		line = strings.TrimRight(StripPrompt(line), "\r")
		m := reDD.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if strings.Contains(m[1], "?") {
			return 0, false
		}
		v, err := pooltag.ParseDWORD(m[1])
		if err != nil {
			return 0, false
		}
		return v, true
	}
	return 0, false
}

// ParseX reports whether "x <symbol>" printed symbol (module!name, compared
// without regard to case, as kd does) at some address. kd prints nothing when
// the symbol does not resolve.
func ParseX(output, symbol string) bool {
	for _, line := range strings.Split(output, "\n") {
		line = strings.TrimRight(StripPrompt(line), "\r")
		if m := reX.FindStringSubmatch(line); m != nil && strings.EqualFold(m[1], symbol) {
			return true
		}
	}
	return false
}

// describeValue is a MmSpecialPoolTag value with what it means:
// `0x31676154 ("Tag1")`.
func describeValue(v uint32) string {
	if t, err := pooltag.Decode(v); err == nil {
		return fmt.Sprintf("%s (%s)", pooltag.Hex(v), t.Quoted())
	}
	switch {
	case v == 0:
		return pooltag.Hex(v) + " (special pool off)"
	case v < pooltag.PageSize:
		return pooltag.Hex(v) + " (an allocation-size range, not a tag)"
	}
	return pooltag.Hex(v) + " (not a pool tag)"
}

// describeTag is the configured tag as the warnings name it.
func describeTag(t pooltag.Tag) string { return fmt.Sprintf("%s (%s)", t.Hex(), t.Quoted()) }

// CheckSpecialPool compares what the target reports with the configuration:
// ddOut is kd's answer to SpecialPoolTagQuery, xOut to AllocatorQuery. It
// returns one-line warnings (none when all is well); the run goes on either
// way. A zero configured tag means none was configured: the value is then
// only checked for "special pool off".
func CheckSpecialPool(configured pooltag.Tag, ddOut, xOut string) []string {
	var warnings []string
	v, ok := ParseDD(ddOut)
	switch {
	case !ok && configured.IsZero():
		warnings = append(warnings, "special pool: could not read nt!MmSpecialPoolTag on the target, so whether special pool is on is unknown: check that nt's symbols load (.reload nt), or read it by hand with "+SpecialPoolTagQuery)
	case !ok:
		warnings = append(warnings, fmt.Sprintf("special pool: could not read nt!MmSpecialPoolTag on the target, so whether it uses %s as configured is unknown: check that nt's symbols load (.reload nt), or read it by hand with %s", describeTag(configured), SpecialPoolTagQuery))
	case configured.IsZero() && v == 0:
		warnings = append(warnings, fmt.Sprintf("special pool: the target's MmSpecialPoolTag is %s and no tag is configured: nothing will reach nt!MmAllocateSpecialPool; set PoolTag on the target (kdlaunch target-setup --tag TAG) and reboot it", describeValue(v)))
	case configured.IsZero():
		// Nothing to compare with; special pool is on for something.
	case v == configured.DWORD():
		// As configured.
	case v == 0:
		warnings = append(warnings, fmt.Sprintf("special pool: the target's MmSpecialPoolTag is %s, not %s as configured: the reboot after setting PoolTag did not happen, or PoolTag is missing or 0 in the registry", describeValue(v), describeTag(configured)))
	default:
		warnings = append(warnings, fmt.Sprintf("special pool: the target's MmSpecialPoolTag is %s, not %s as configured: the reboot after setting PoolTag did not happen, or the registry holds another tag", describeValue(v), describeTag(configured)))
	}
	if !ParseX(xOut, AllocatorSymbol) {
		warnings = append(warnings, missingAllocatorWarning(configured))
	}
	return warnings
}

// missingAllocatorWarning names the alternatives to a breakpoint that cannot
// bind: PoolHitTag, or a conditional breakpoint on the allocators with the
// tag in r8 (x64: the third argument; "PoolHitTag and the allocators" in
// docs/kd-protocol.md).
func missingAllocatorWarning(t pooltag.Tag) string {
	hex, dbg := "0xTAG", "TAG"
	if !t.IsZero() {
		hex, dbg = t.Hex(), t.Debugger()
	}
	w := fmt.Sprintf("special pool: %s does not resolve on the target, so the breakpoint cannot bind: check that nt's symbols load (.reload nt), or use another recipe: "+
		"ed nt!PoolHitTag %s (--strategy %s; breaks on allocations and frees, no reboot), "+
		"or bp nt!ExAllocatePoolWithTag \"j (@r8d==%s) 'kb;g';'gc'\" (x64; the same on nt!ExAllocatePool2; every allocation stops the target to test the tag)",
		AllocatorSymbol, dbg, StrategyPoolHitTag, hex)
	if t.Wildcard() {
		w += fmt.Sprintf("; both compare the tag exactly, so name one exact tag instead of the mask %s", t.Quoted())
	}
	return w
}

// CheckPoolHitTag returns a warning when xOut, kd's answer to
// PoolHitTagQuery, shows that nt!PoolHitTag does not resolve: the ed that
// arms the pool-hit-tag recipe would then fail.
func CheckPoolHitTag(xOut string) []string {
	if ParseX(xOut, PoolHitTagSymbol) {
		return nil
	}
	return []string{"pool hit tag: nt!PoolHitTag does not resolve on the target, so ed cannot set it: check that nt's symbols load (.reload nt), or use --strategy special-pool"}
}
