package fakekd

import (
	"fmt"
	"sort"
	"strings"
)

// breakpoint is one kd breakpoint. kd keeps at most 32 in kernel mode
// (kd-protocol.md "Breakpoints"); the fake does not enforce that.
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
}

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

// add stores b. Like kd, a second bp on the same location redefines the
// existing one instead of adding a duplicate; redefined reports that.
func (t *bpTable) add(b *breakpoint, explicitID int) (id int, redefined bool) {
	if old := t.byAddr(b); old != nil {
		old.command, old.hasCmd, old.oneShot, old.enabled = b.command, b.hasCmd, b.oneShot, true
		return old.id, true
	}
	b.id = explicitID
	if b.id < 0 || t.get(b.id) != nil {
		b.id = t.lowestFreeID()
	}
	t.list = append(t.list, b)
	sort.Slice(t.list, func(i, j int) bool { return t.list[i].id < t.list[j].id })
	return b.id, false
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
		if b.hasCmd {
			line += ` "` + b.command + `"`
		}
		out = append(out, line)
	}
	return out
}
