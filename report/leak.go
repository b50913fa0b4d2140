package report

import (
	"fmt"
	"sort"
	"strings"

	"github.com/kdlaunch/kdlaunch/leaks"
	"github.com/kdlaunch/kdlaunch/leaks/records"
)

// LeakReport is the report of a leak log (one with records.Prefix records):
// who allocated what is still outstanding. Its JSON is the leak contract
// (README's JSON contract section). Stacks are sorted by outstanding bytes,
// then outstanding count, allocations, and first appearance in the log.
// AllocCount = FreeCount + OutstandingCount + UnpairedAllocs, overall and
// per stack.
type LeakReport struct {
	Kind             string       `json:"kind"` // "leaks"
	Tag              string       `json:"tag,omitempty"`
	Strategy         string       `json:"strategy,omitempty"`
	Arch             string       `json:"arch,omitempty"`
	Family           string       `json:"family,omitempty"`
	StacksTotal      int64        `json:"stacks_total"` // allocation records
	UniqueStacks     int          `json:"unique_stacks"`
	AllocCount       int64        `json:"alloc_count"`
	AllocBytes       int64        `json:"alloc_bytes"`
	FreeCount        int64        `json:"free_count"`
	FreeBytes        int64        `json:"free_bytes"`
	OutstandingCount int64        `json:"outstanding_count"`
	OutstandingBytes int64        `json:"outstanding_bytes"`
	UnpairedAllocs   int64        `json:"unpaired_allocs"`
	FreesUntracked   int64        `json:"frees_untracked"`
	Reconciled       bool         `json:"reconciled"`
	Stacks           []LeakStack  `json:"stacks"`
	Modules          []LeakModule `json:"modules"`
	Growth           leaks.Growth `json:"growth"`
	Notes            []string     `json:"notes"`
	Totals           leaks.Totals `json:"-"`
}

// LeakStack is one allocation stack of a leak log.
type LeakStack struct {
	Count            int64    `json:"count"`   // allocations, as in the plain report
	Percent          float64  `json:"percent"` // of all allocations
	AllocCount       int64    `json:"alloc_count"`
	AllocBytes       int64    `json:"alloc_bytes"`
	FreeCount        int64    `json:"free_count"`
	FreeBytes        int64    `json:"free_bytes"`
	OutstandingCount int64    `json:"outstanding_count"`
	OutstandingBytes int64    `json:"outstanding_bytes"`
	UnpairedAllocs   int64    `json:"unpaired_allocs"`
	Culprit          string   `json:"culprit"`
	Frames           []string `json:"frames"`
}

// LeakModule sums the outstanding allocations by the culprit's module.
type LeakModule struct {
	Module           string `json:"module"`
	OutstandingCount int64  `json:"outstanding_count"`
	OutstandingBytes int64  `json:"outstanding_bytes"`
	AllocCount       int64  `json:"alloc_count"`
}

// NewLeakReport builds the report of res, naming culprits with skip (nil
// means DefaultSkip).
func NewLeakReport(res leaks.Result, skip *Skip) *LeakReport {
	if skip == nil {
		skip = DefaultSkip()
	}
	t := res.Totals
	r := &LeakReport{
		Kind: "leaks", Arch: string(res.Arch), Family: string(res.Family),
		StacksTotal: t.Allocs, AllocCount: t.Allocs, AllocBytes: t.AllocBytes,
		FreeCount: t.Frees, FreeBytes: t.FreeBytes,
		OutstandingCount: t.Outstanding, OutstandingBytes: t.OutstandingBytes,
		UnpairedAllocs: t.Unpaired, FreesUntracked: t.FreesUntracked,
		Reconciled: t.Reconciled(),
		Stacks:     []LeakStack{}, Modules: []LeakModule{},
		Growth: res.Growth, Totals: t,
	}
	for _, s := range res.Stacks {
		if s.AllocCount == 0 {
			continue
		}
		r.Stacks = append(r.Stacks, LeakStack{
			Count: s.AllocCount, Percent: percent(int(s.AllocCount), int(t.Allocs)),
			AllocCount: s.AllocCount, AllocBytes: s.AllocBytes,
			FreeCount: s.FreeCount, FreeBytes: s.FreeBytes,
			OutstandingCount: s.OutstandingCount, OutstandingBytes: s.OutstandingBytes,
			UnpairedAllocs: s.Unpaired,
			Culprit:        skip.Culprit(s.Frames), Frames: s.Frames,
		})
	}
	r.UniqueStacks = len(r.Stacks)
	modIndex := map[string]int{}
	for _, s := range r.Stacks {
		mod := Module(s.Culprit)
		i, ok := modIndex[strings.ToLower(mod)]
		if !ok {
			i = len(r.Modules)
			modIndex[strings.ToLower(mod)] = i
			r.Modules = append(r.Modules, LeakModule{Module: mod})
		}
		r.Modules[i].OutstandingCount += s.OutstandingCount
		r.Modules[i].OutstandingBytes += s.OutstandingBytes
		r.Modules[i].AllocCount += s.AllocCount
	}
	sort.SliceStable(r.Stacks, func(i, j int) bool { return leakLess(r.Stacks[i], r.Stacks[j]) })
	sort.SliceStable(r.Modules, func(i, j int) bool {
		a, b := r.Modules[i], r.Modules[j]
		if a.OutstandingBytes != b.OutstandingBytes {
			return a.OutstandingBytes > b.OutstandingBytes
		}
		return a.OutstandingCount > b.OutstandingCount
	})
	r.Notes = LeakNotes(t)
	return r
}

func leakLess(a, b LeakStack) bool {
	if a.OutstandingBytes != b.OutstandingBytes {
		return a.OutstandingBytes > b.OutstandingBytes
	}
	if a.OutstandingCount != b.OutstandingCount {
		return a.OutstandingCount > b.OutstandingCount
	}
	return a.AllocCount > b.AllocCount
}

// LeakNotes explains, one line each, everything in t that is not a plain
// allocation, return or free, and says whether the totals reconcile.
func LeakNotes(t leaks.Totals) []string {
	var n []string
	add := func(c int64, format string, args ...any) {
		if c > 0 {
			n = append(n, fmt.Sprintf(format, append([]any{c}, args...)...))
		}
	}
	if t.Reconciled() {
		n = append(n, fmt.Sprintf("totals reconcile: %d allocated = %d freed + %d outstanding + %d unpaired", t.Allocs, t.Frees, t.Outstanding, t.Unpaired))
	} else {
		n = append(n, fmt.Sprintf("totals do NOT reconcile: %d allocated, %d freed + %d outstanding + %d unpaired; please report this log", t.Allocs, t.Frees, t.Outstanding, t.Unpaired))
	}
	add(t.CutReturns, "%d allocations were still waiting for their return when the log ended (cut, or kd stopped): unpaired, not leaks")
	add(t.LostReturns, "%d allocations lost their return (the same thread allocated through the same call site again first): unpaired, not leaks")
	add(t.NullReturns, "%d allocations returned NULL (the allocator failed): unpaired, not leaks")
	add(t.FreesUntracked, "%d frees of addresses with no allocation in the log (allocated before tracking began, or their return was lost): frees_untracked, not subtracted from any stack")
	add(t.OrphanReturns, "%d returns without their allocation record (the allocation was before the log began, or its record was cut): ignored")
	add(t.InferredFrees, "%d addresses came back from the allocator while still outstanding: their free was not in the log, so they count as freed")
	add(t.NoStack, "%d allocations had no readable kb stack after their record: counted under %q", leaks.NoStack)
	add(t.BadRecords, "%d lines start a record (%q) but are cut or garbled: ignored", strings.TrimSpace(records.Prefix))
	add(t.ArchChanges, "%d header records name another architecture than the first: the log holds sessions of different targets, whose addresses may collide")
	add(t.Reboots, "%d target reboots: what was outstanding before a reboot stays counted (it was never freed), though the memory went with the reboot")
	add(t.NewSites, "%d allocations halted the target until kdlaunch added their return site")
	return n
}
