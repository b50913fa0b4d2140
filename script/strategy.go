package script

import (
	"errors"
	"fmt"

	"github.com/kdlaunch/kdlaunch/pooltag"
)

// Strategy is how kd catches the allocations with the tag.
type Strategy string

// Strategies. The zero value is not one: a config's default is
// StrategySpecialPool.
const (
	// StrategySpecialPool: the target puts allocations with the tag into
	// special pool (PoolTag in the registry, one reboot; wildcards allowed)
	// and kd breaks on nt!MmAllocateSpecialPool with ";kb;g".
	StrategySpecialPool Strategy = "special-pool"
	// StrategyPoolHitTag: kd sets nt!PoolHitTag to the tag and the kernel
	// breaks on every allocation and free with exactly that tag; no reboot.
	StrategyPoolHitTag Strategy = "pool-hit-tag"
	// StrategyLeaks: special pool as for StrategySpecialPool (PoolTag, one
	// reboot), but the breakpoints print a record for every allocation,
	// its return and every free (the leak recipe, docs/leaks.md), so the
	// report shows who leaks rather than who allocates. The session arms
	// it: which routines and registers depends on the target's kernel and
	// architecture, and return sites are added as they are found.
	StrategyLeaks Strategy = "leaks"
)

// ErrStrategy is wrapped by the errors for an unknown strategy.
var ErrStrategy = errors.New("unknown strategy")

// ParseStrategy reads a strategy name; "" is StrategySpecialPool.
func ParseStrategy(s string) (Strategy, error) {
	switch Strategy(s) {
	case "", StrategySpecialPool:
		return StrategySpecialPool, nil
	case StrategyPoolHitTag:
		return StrategyPoolHitTag, nil
	case StrategyLeaks:
		return StrategyLeaks, nil
	}
	return "", fmt.Errorf("%w %q: %s", ErrStrategy, s, StrategyChoices)
}

// UnmarshalText reads a strategy name from a config file or a flag.
func (s *Strategy) UnmarshalText(b []byte) error {
	v, err := ParseStrategy(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// MarshalText writes the name back.
func (s Strategy) MarshalText() ([]byte, error) { return []byte(s), nil }

func (s Strategy) String() string { return string(s) }

// StrategyChoices is the one line that names every strategy.
const StrategyChoices = "use special-pool (the default), pool-hit-tag or leaks"

// Valid reports whether s is one of the strategies.
func (s Strategy) Valid() bool {
	return s == StrategySpecialPool || s == StrategyPoolHitTag || s == StrategyLeaks
}

// SpecialPool reports whether the strategy relies on the target's special
// pool, so the target needs PoolTag set and one reboot, and the live check
// reads nt!MmSpecialPoolTag. The zero value counts as the default.
func (s Strategy) SpecialPool() bool {
	return s == "" || s == StrategySpecialPool || s == StrategyLeaks
}

// Leaks reports whether the strategy is the leak recipe, which the session
// arms itself.
func (s Strategy) Leaks() bool { return s == StrategyLeaks }

// HitOnBreak reports whether each hit is a break instruction rather than a
// breakpoint with a command list: the session answers every such break with
// kb and g itself (PoolHitTag breaks with "Break instruction exception").
func (s Strategy) HitOnBreak() bool { return s == StrategyPoolHitTag }

// Recipe returns the commands that arm a strategy once the target is halted,
// and those that disarm it before kdlaunch lets the target go for good
// (after the stop's "bc *"). The zero strategy is special-pool.
//
//   - special-pool: arm `bp nt!MmAllocateSpecialPool ";kb;g"`; disarm
//     nothing (the stop always sends "bc *"). The tag is set on the target
//     (PoolTag); tag may be zero.
//   - pool-hit-tag: arm `ed nt!PoolHitTag <tag>`, disarm `ed nt!PoolHitTag 0`.
//     The kernel compares the tag exactly: wildcards are refused, and a tag
//     is required. Each hit is a break instruction, not a breakpoint with a
//     command list: the session answers each with kb and g itself.
//   - leaks: nothing here: the session probes the kernel's allocator family
//     and the architecture and arms the leak recipe's breakpoints
//     (leaks/records) itself; the tag is set on the target (PoolTag), and
//     is needed for the stop's !poolused cross-check.
func Recipe(strategy Strategy, tag pooltag.Tag) (arm []string, disarm []string, err error) {
	switch strategy {
	case "", StrategySpecialPool:
		return []string{SpecialPoolBreakpoint}, nil, nil
	case StrategyPoolHitTag:
		if tag.IsZero() {
			return nil, nil, &pooltag.Error{Reason: pooltag.ReasonNoTag, Msg: "strategy pool-hit-tag needs a tag: give --tag or [target] tag"}
		}
		if tag.Wildcard() {
			return nil, nil, &pooltag.Error{Input: tag.String(), Reason: pooltag.ReasonWildcard,
				Msg: fmt.Sprintf("strategy pool-hit-tag: tag %s holds a wildcard, but the kernel compares PoolHitTag exactly; give the exact tag, or use --strategy special-pool for a mask", tag.Quoted())}
		}
		return []string{"ed nt!PoolHitTag " + tag.Debugger()}, []string{"ed nt!PoolHitTag 0"}, nil
	case StrategyLeaks:
		if tag.IsZero() {
			return nil, nil, &pooltag.Error{Reason: pooltag.ReasonNoTag, Msg: "strategy leaks needs a tag: give --tag or [target] tag (the one PoolTag puts in special pool)"}
		}
		return nil, nil, nil
	}
	return nil, nil, fmt.Errorf("%w %q: %s", ErrStrategy, string(strategy), StrategyChoices)
}
