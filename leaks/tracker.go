package leaks

import (
	"time"
	"unsafe"

	"github.com/kdlaunch/kdlaunch/leaks/records"
	"github.com/kdlaunch/kdlaunch/stacks"
)

// NoStack is the frame of the stack that allocations without a readable kb
// stack are counted under.
const NoStack = "(no stack)"

// StackStat is one distinct allocation stack and what became of its
// allocations. AllocCount = FreeCount + OutstandingCount + Unpaired.
type StackStat struct {
	Frames           []string // innermost first
	AllocCount       int64
	AllocBytes       int64
	FreeCount        int64
	FreeBytes        int64
	OutstandingCount int64
	OutstandingBytes int64
	Unpaired         int64 // allocations whose address was never captured
	UnpairedBytes    int64
}

// Totals add up a whole log. Allocs = Frees + Outstanding + Unpaired, and
// the same for bytes.
type Totals struct {
	Allocs, AllocBytes            int64 // allocation records
	Frees, FreeBytes              int64 // frees of tracked allocations (including InferredFrees)
	Outstanding, OutstandingBytes int64 // allocated, returned, never freed
	Unpaired, UnpairedBytes       int64 // address never captured (never a leak)

	NullReturns    int64 // of Unpaired: the allocator returned NULL
	LostReturns    int64 // of Unpaired: a later allocation on the same thread and return site came first
	CutReturns     int64 // of Unpaired: the log ended before the return
	FreesUntracked int64 // frees of addresses allocated before tracking began (or whose return was lost)
	OrphanReturns  int64 // returns without their allocation record
	InferredFrees  int64 // of Frees: the address came back from the allocator again without a free record
	NoStack        int64 // allocations counted under NoStack
	NewSites       int64 // halts that waited for kdlaunch to add a return site
	Records        int64 // well-formed records
	BadRecords     int64 // lines with the prefix that are not a record (cut or garbled)
	ArchChanges    int64 // header records naming another architecture than the first
	Reboots        int64 // reboot records: outstanding allocations of an earlier boot stay counted
}

// Reconciled reports whether every allocation is accounted for.
func (t Totals) Reconciled() bool {
	return t.Allocs == t.Frees+t.Outstanding+t.Unpaired &&
		t.AllocBytes == t.FreeBytes+t.OutstandingBytes+t.UnpairedBytes
}

// Result is what Tracker made of a log (or several, added up).
type Result struct {
	Arch   records.Arch   // from the first header record ("" without one)
	Family records.Family // likewise
	Stacks []StackStat
	Totals Totals
	Growth Growth
}

type pendKey struct{ thread, ra uint64 }

type pending struct {
	size  uint64
	stack int32 // -1 until the stack is read
}

// outAlloc is one outstanding allocation: 8 bytes beside its 8-byte key,
// which is what bounds memory by the outstanding set.
type outAlloc struct {
	size  uint32
	stack int32
}

// Tracker pairs records as they stream: an allocation waits under (thread,
// return address) for its return, which makes it outstanding under its
// pool address until a free of that address. Memory is the outstanding set,
// the allocations in flight and the distinct stacks; never the log.
type Tracker struct {
	res     Result
	byKey   map[string]int32
	byData  map[*byte]int32
	keep    []string
	noStack int32
	pend    map[pendKey]pending
	out     map[uint64]outAlloc
	await   pendKey
	waiting bool
	growth  growthState
}

// NewTracker returns an empty Tracker.
func NewTracker() *Tracker {
	return &Tracker{
		byKey:   map[string]int32{},
		byData:  map[*byte]int32{},
		pend:    map[pendKey]pending{},
		out:     map[uint64]outAlloc{},
		noStack: -1,
		growth:  newGrowthState(),
	}
}

// Add takes one record; at is its time, or the zero time when the log has
// none.
func (t *Tracker) Add(rec records.Record, at time.Time) {
	t.res.Totals.Records++
	t.waiting = false
	switch rec.Kind {
	case records.KindHeader:
		if t.res.Arch == "" {
			t.res.Arch, t.res.Family = rec.Arch, rec.Family
		} else if rec.Arch != t.res.Arch {
			t.res.Totals.ArchChanges++
		}
	case records.KindNewSite:
		t.res.Totals.NewSites++
	case records.KindReboot:
		// Allocations in flight never return; what is outstanding stays
		// so (it was never freed) but no longer owns its address.
		t.res.Totals.Reboots++
		for k, p := range t.pend {
			t.res.Totals.CutReturns++
			t.unpaired(p)
			delete(t.pend, k)
		}
		clear(t.out)
	case records.KindAlloc:
		k := pendKey{rec.Thread, rec.RA}
		if old, ok := t.pend[k]; ok {
			// One thread cannot be in the allocator twice through the same
			// call site: the earlier return was lost.
			t.res.Totals.LostReturns++
			t.unpaired(old)
		}
		t.pend[k] = pending{size: rec.Size, stack: -1}
		t.await, t.waiting = k, true
		t.growth.alloc(t, at)
	case records.KindReturn:
		k := pendKey{rec.Thread, rec.RA}
		p, ok := t.pend[k]
		if !ok {
			t.res.Totals.OrphanReturns++
			return
		}
		delete(t.pend, k)
		if rec.Addr == 0 {
			t.res.Totals.NullReturns++
			t.unpaired(p)
			return
		}
		idx := t.stackIndex(p.stack)
		if old, ok := t.out[rec.Addr]; ok {
			// The allocator handed out an address that is still
			// outstanding: its free was not recorded, but it happened.
			t.res.Totals.InferredFrees++
			t.freed(old)
		}
		size := p.size
		if size > 0xffffffff {
			size = 0xffffffff // special pool holds at most a page
		}
		s := &t.res.Stacks[idx]
		s.AllocCount++
		s.AllocBytes += int64(size)
		s.OutstandingCount++
		s.OutstandingBytes += int64(size)
		tt := &t.res.Totals
		tt.Allocs++
		tt.AllocBytes += int64(size)
		tt.Outstanding++
		tt.OutstandingBytes += int64(size)
		t.out[rec.Addr] = outAlloc{size: uint32(size), stack: idx}
		t.growth.change(t, at)
	case records.KindFree:
		o, ok := t.out[rec.Addr]
		if !ok {
			t.res.Totals.FreesUntracked++
			return
		}
		delete(t.out, rec.Addr)
		t.freed(o)
		t.growth.change(t, at)
	}
}

// Bad counts a line that carries the prefix but is not a record.
func (t *Tracker) Bad() { t.res.Totals.BadRecords++ }

// Stack gives the stack that followed the last allocation record; a stack
// after any other record (or a second one) is not an allocation's.
func (t *Tracker) Stack(s stacks.Stack) {
	if !t.waiting || len(s.Frames) == 0 {
		return
	}
	t.waiting = false
	p, ok := t.pend[t.await]
	if !ok {
		return
	}
	p.stack = t.intern(s)
	t.pend[t.await] = p
}

// intern returns the index of s's stat. The stack parser shares one key
// string between identical stacks, so the string's data pointer finds a
// stack seen before without hashing its text; the text map catches the
// same stack from another parser.
func (t *Tracker) intern(s stacks.Stack) int32 {
	key := s.Key()
	ptr := unsafe.StringData(key)
	if i, ok := t.byData[ptr]; ok {
		return i
	}
	i, ok := t.byKey[key]
	if !ok {
		i = int32(len(t.res.Stacks))
		t.res.Stacks = append(t.res.Stacks, StackStat{Frames: s.Frames})
		t.byKey[key] = i
	}
	if len(t.byData) < 1<<16 {
		// Keep the string, so its memory is never reused for another
		// stack's key while the pointer is in the map (a later log's
		// parser may have let go of it).
		t.byData[ptr] = i
		t.keep = append(t.keep, key)
	}
	return i
}

// stackIndex resolves -1 (no stack read) to the NoStack stat.
func (t *Tracker) stackIndex(i int32) int32 {
	if i >= 0 {
		return i
	}
	t.res.Totals.NoStack++
	if t.noStack < 0 {
		t.noStack = int32(len(t.res.Stacks))
		t.res.Stacks = append(t.res.Stacks, StackStat{Frames: []string{NoStack}})
	}
	return t.noStack
}

func (t *Tracker) stat(i int32) *StackStat { return &t.res.Stacks[t.stackIndex(i)] }

func (t *Tracker) unpaired(p pending) {
	s := t.stat(p.stack)
	size := int64(min(p.size, 0xffffffff))
	s.AllocCount++
	s.AllocBytes += size
	s.Unpaired++
	s.UnpairedBytes += size
	tt := &t.res.Totals
	tt.Allocs++
	tt.AllocBytes += size
	tt.Unpaired++
	tt.UnpairedBytes += size
}

func (t *Tracker) freed(o outAlloc) {
	s := &t.res.Stacks[o.stack]
	s.FreeCount++
	s.FreeBytes += int64(o.size)
	s.OutstandingCount--
	s.OutstandingBytes -= int64(o.size)
	tt := &t.res.Totals
	tt.Frees++
	tt.FreeBytes += int64(o.size)
	tt.Outstanding--
	tt.OutstandingBytes -= int64(o.size)
}

// Outstanding returns the number of allocations outstanding now.
func (t *Tracker) Outstanding() int { return len(t.out) }

// Live returns the allocations outstanding at the target's current boot
// and their bytes: what the kernel's own count of the tag (!poolused) can
// be set beside, since a reboot freed the earlier boots' allocations that
// the totals keep counting.
func (t *Tracker) Live() (count, bytes int64) {
	for _, o := range t.out {
		count++
		bytes += int64(o.size)
	}
	return count, bytes
}

// Result ends the log: allocations still waiting for their return become
// unpaired (the log was cut, or the return was lost). The Tracker can go
// on after it (a later log adds up).
func (t *Tracker) Result() Result {
	for k, p := range t.pend {
		t.res.Totals.CutReturns++
		t.unpaired(p)
		delete(t.pend, k)
	}
	t.waiting = false
	r := t.res
	r.Stacks = append([]StackStat(nil), t.res.Stacks...)
	r.Growth = t.growth.series(t)
	return r
}
