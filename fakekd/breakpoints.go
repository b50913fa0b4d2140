package fakekd

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// breakpoint is one kd breakpoint. kd keeps at most 32 in kernel mode
// (kd-protocol.md "Breakpoints"; "In kernel mode, you can set only 32
// breakpoints", https://learn.microsoft.com/en-us/windows-hardware/drivers/debuggercmds/bp--bu--bm--set-breakpoint-).
type breakpoint struct {
	id       int
	expr     string // what was typed, for deferred breakpoints
	sym      string // canonical symbol shown by bl, "" for a bare address
	addr     uint64
	resolved bool
	command  string
	hasCmd   bool
	enabled  bool
	oneShot  bool
	thread   uint64 // /t EThread: only this thread triggers it; 0: any
}

// maxBreakpoints is kd's kernel-mode limit.
const maxBreakpoints = 32

// allocFuncs are the breakpoint targets the simulated target reaches: the
// special pool allocator and the public allocators above it (kd-protocol.md "Allocators").
var allocFuncs = map[string]bool{
	"nt!mmallocatespecialpool": true,
	"nt!exallocatepoolwithtag": true,
	"nt!exallocatepool2":       true,
	// Segment-heap kernels (Windows 10 1903 and later).
	"nt!exallocateheapspecialpool": true,
	"nt!exallocateheappool":        true,
}

// hits reports whether the simulated allocations reach this breakpoint.
func (b *breakpoint) hits() bool {
	return b.enabled && b.resolved && allocFuncs[strings.ToLower(b.sym)]
}

type bpTable struct {
	list []*breakpoint // sorted by id
}

func (t *bpTable) byAddr(b *breakpoint) *breakpoint {
	for _, o := range t.list {
		if o.resolved == b.resolved && (b.resolved && o.addr == b.addr ||
			!b.resolved && strings.EqualFold(o.expr, b.expr)) {
			return o
		}
	}
	return nil
}

func (t *bpTable) lowestFreeID() int {
	for id := 0; ; id++ {
		if t.get(id) == nil {
			return id
		}
	}
}

func (t *bpTable) get(id int) *breakpoint {
	for _, b := range t.list {
		if b.id == id {
			return b
		}
	}
	return nil
}

// errTooMany is a 33rd breakpoint in kernel mode.
var errTooMany = errors.New("too many breakpoints")

// add stores b. Like kd, a second bp on the same location redefines the
// existing one instead of adding a duplicate ("breakpoint 0 redefined",
// https://learn.microsoft.com/en-us/windows-hardware/drivers/debuggercmds/-bpcmds--display-breakpoint-commands-),
// whatever its /t: the documentation does not say that two breakpoints at
// one address with different threads coexist, so the fake assumes the
// worse (the second replaces the first, thread included). A bp with the ID
// of an existing breakpoint elsewhere replaces that one too (the
// documentation is silent; the recipe only redefines in place).
// redefined reports a replacement; a new breakpoint beyond the kernel
// limit is errTooMany.
func (t *bpTable) add(b *breakpoint, explicitID int) (id int, redefined bool, err error) {
	old := t.byAddr(b)
	if old == nil && explicitID >= 0 {
		old = t.get(explicitID)
	}
	if old != nil {
		if explicitID >= 0 && explicitID != old.id && t.get(explicitID) == nil {
			old.id = explicitID
		}
		old.expr, old.sym, old.addr, old.resolved = b.expr, b.sym, b.addr, b.resolved
		old.command, old.hasCmd, old.oneShot, old.enabled, old.thread = b.command, b.hasCmd, b.oneShot, true, b.thread
		t.sort()
		return old.id, true, nil
	}
	if len(t.list) >= maxBreakpoints {
		return 0, false, errTooMany
	}
	b.id = explicitID
	if b.id < 0 {
		b.id = t.lowestFreeID()
	}
	t.list = append(t.list, b)
	t.sort()
	return b.id, false, nil
}

func (t *bpTable) sort() {
	sort.Slice(t.list, func(i, j int) bool { return t.list[i].id < t.list[j].id })
}

// at is the enabled breakpoint at a code address, nil if none.
func (t *bpTable) at(addr uint64) *breakpoint {
	for _, b := range t.list {
		if b.enabled && b.resolved && b.addr == addr {
			return b
		}
	}
	return nil
}

func (t *bpTable) clear(s idSet) {
	kept := t.list[:0]
	for _, b := range t.list {
		if !s.has(b.id) {
			kept = append(kept, b)
		}
	}
	t.list = kept
}

func (t *bpTable) remove(id int) { t.clear(idSet{ids: map[int]bool{id: true}}) }

func (t *bpTable) setEnabled(s idSet, on bool) {
	for _, b := range t.list {
		if s.has(b.id) {
			b.enabled = on
		}
	}
}

// firstHit is the breakpoint an allocation stops at: the lowest ID that
// hits.
func (t *bpTable) firstHit() *breakpoint {
	for _, b := range t.list {
		if b.hits() {
			return b
		}
	}
	return nil
}

// blLines formats bl in kd's kernel layout (kd-protocol.md "Breakpoint answers"):
//
//	0 e Disable Clear  fffff801`1e2a3b40     0001 (0001) nt!MmAllocateSpecialPool
//
// "Disable Clear" are DML links that plain-text kd prints as words; a
// disabled breakpoint shows "d" and "Enable". Deferred breakpoints show "u"
// and the expression in parentheses. A command string follows in quotes.
func (t *bpTable) blLines(a *arch) []string {
	var out []string
	for _, b := range t.list {
		state, toggle := "e", "Disable"
		if !b.enabled {
			state, toggle = "d", "Enable"
		}
		var line string
		if b.resolved {
			where := b.sym
			if where == "" {
				where = a.addr(b.addr)
			}
			line = fmt.Sprintf("%2d %s %s Clear  %s     0001 (0001) %s", b.id, state, toggle, a.addr(b.addr), where)
		} else {
			line = fmt.Sprintf("%2d %su %s Clear  %s     0001 (0001) (%s)", b.id, state, toggle,
				strings.Repeat(" ", len(a.addr(0))), b.expr)
		}
		if b.thread != 0 {
			// Invented wording for a thread-bound kernel breakpoint: the
			// documented bl sample shows only user mode's "0:****".
			line += "  Match thread data " + a.addr(b.thread)
		}
		if b.hasCmd {
			line += ` "` + b.command + `"`
		}
		out = append(out, line)
	}
	return out
}
