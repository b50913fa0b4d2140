package records

import (
	"errors"
	"fmt"
	"strings"

	"github.com/kdlaunch/kdlaunch/script"
)

// Arch is the target's architecture, as the recipe needs it: the calling
// convention decides where the size, the tag and the result are.
type Arch string

// The architectures the recipe knows.
const (
	ArchX64   Arch = "x64"
	ArchX86   Arch = "x86"
	ArchARM64 Arch = "arm64"
)

// Family is the special-pool allocator pair a kernel has, by the name
// script.Families gives it.
type Family string

// The allocator families: MmAllocateSpecialPool/MmFreeSpecialPool before
// the kernel segment heap (Windows 10 1903), ExAllocateHeapSpecialPool/
// ExpFreeHeapSpecialPool since.
const (
	FamilyLegacy      Family = "mm-special-pool"
	FamilySegmentHeap Family = "heap-special-pool"
)

// ErrUnsupported is matched by the *UnsupportedError NewRecipe returns.
var ErrUnsupported = errors.New("leak recipe not supported")

// UnsupportedError names an architecture and family the recipe has no facts
// for.
type UnsupportedError struct {
	Arch   Arch
	Family Family
	Why    string
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("no leak recipe for %s %s: %s", e.Arch, e.Family, e.Why)
}

// Is makes errors.Is(err, ErrUnsupported) true.
func (e *UnsupportedError) Is(target error) bool { return target == ErrUnsupported }

// MaxBreakpoints is kd's limit on software breakpoints in kernel mode; the
// recipe uses two (allocator entry, free) plus one per return site.
const MaxBreakpoints = 32

// MaxReturnSites is how many distinct return addresses the recipe can track.
const MaxReturnSites = MaxBreakpoints - 2

// Recipe is the set of kd breakpoints that prints the leak records for one
// allocator family on one architecture.
type Recipe struct {
	Arch   Arch
	Family Family

	alloc, free string
	// kd expressions at the allocator's entry, the return site and the
	// free routine's entry.
	size, tag, result, freed string
	sizeFmt                  string
}

// arm64Heap is where the segment-heap routines' arguments are on arm64:
// AAPCS64 passes them in x0..x7 and returns in x0, in the same order as on
// x64 (script.Families has no arm64 map yet; when it has one, it wins).
var arm64Heap = script.ArgMap{Size: "@x1", Tag: "(@x2 & 0x0`ffffffff)", Result: "@x0", Free: "@x1"}

// NewRecipe returns the recipe for arch and family, or an *UnsupportedError.
// The routines and where their arguments are come from script.Families,
// the one table of kd's allocator facts.
func NewRecipe(arch Arch, family Family) (Recipe, error) {
	r := Recipe{Arch: arch, Family: family}
	var fam *script.Family
	for i := range script.Families {
		if script.Families[i].Name == string(family) {
			fam = &script.Families[i]
		}
	}
	if fam == nil {
		return Recipe{}, &UnsupportedError{arch, family, fmt.Sprintf("unknown allocator family (want %s or %s)", FamilyLegacy, FamilySegmentHeap)}
	}
	switch arch {
	case ArchX64, ArchX86, ArchARM64:
	default:
		return Recipe{}, &UnsupportedError{arch, family, "unknown architecture (want x64, x86 or arm64)"}
	}
	args, ok := fam.Args[script.Arch(arch)]
	if !ok && arch == ArchARM64 && family == FamilySegmentHeap {
		args, ok = arm64Heap, true
	}
	if !ok || args.Size == "" || args.Tag == "" || args.Result == "" || args.Free == "" {
		why := "where the routines' arguments are is not known for this architecture; use the special-pool strategy"
		if arch == ArchARM64 {
			why = fmt.Sprintf("arm64 kernels have the segment heap: use family %s", FamilySegmentHeap)
		}
		return Recipe{}, &UnsupportedError{arch, family, why}
	}
	// Arguments are read at the entry breakpoint, never at the return:
	// the argument registers are volatile and have been reused by then.
	// On x86, %x prints 32 bits, which sidesteps MASM's sign extension of
	// 32-bit values.
	r.alloc, r.free = fam.Alloc, fam.Free
	r.size, r.tag, r.result, r.freed = args.Size, args.Tag, args.Result, args.Free
	r.sizeFmt = "%I64x"
	if arch == ArchX86 {
		r.sizeFmt = "%x"
	}
	return r, nil
}

// AllocRoutine is the allocator the entry breakpoint is on.
func (r Recipe) AllocRoutine() string { return r.alloc }

// FreeRoutine is the free routine the free breakpoint is on.
func (r Recipe) FreeRoutine() string { return r.free }

// Header is the command that writes the recipe's header record into the log
// when it is armed.
func (r Recipe) Header() string {
	return fmt.Sprintf(".echo %sH %s %s", Prefix, r.Arch, r.Family)
}

// Reboot is the command that writes the reboot record into the log when
// kdlaunch re-arms after the target rebooted: what was outstanding stays
// counted (it was never freed), but its addresses may be handed out again.
func (r Recipe) Reboot() string { return ".echo " + Prefix + "Z" }

// EntryBreakpoint is the allocator-entry breakpoint with ID id: it prints
// the allocation record and the stack, then resumes if the return address
// is one of known (its return-site breakpoint exists); otherwise it prints a
// NewSite record and leaves the target halted, for kdlaunch to add the
// return-site breakpoint (ReturnBreakpoint), redefine this one with the
// longer list (the same command: a bp with an ID that exists replaces it)
// and resume. Once every return site is known no hit waits for kdlaunch.
func (r Recipe) EntryBreakpoint(id int, known []uint64) (string, error) {
	return r.entry(id, known, false)
}

// EntryBreakpointFull is EntryBreakpoint for when no breakpoint is left for
// another return site (MaxReturnSites are known): an allocation through an
// unknown site prints its NewSite record and resumes at once; it is
// reported unpaired, never outstanding.
func (r Recipe) EntryBreakpointFull(id int, known []uint64) (string, error) {
	return r.entry(id, known, true)
}

func (r Recipe) entry(id int, known []uint64, full bool) (string, error) {
	if len(known) > MaxReturnSites {
		return "", fmt.Errorf("leak recipe: %d return sites, kd allows %d breakpoints in kernel mode (%d for return sites)", len(known), MaxBreakpoints, MaxReturnSites)
	}
	var c strings.Builder
	fmt.Fprintf(&c, `.printf "%sA %%p %s %%x %%p\n", @$thread, %s, %s, @$ra; kb; `, Prefix, r.sizeFmt, r.size, r.tag)
	newSite := fmt.Sprintf(`.printf "%sN %%p\n", @$ra`, Prefix)
	if full {
		// No breakpoint left for another return site: say so and go on;
		// these allocations stay unpaired.
		newSite += "; g"
	}
	if len(known) == 0 {
		c.WriteString(newSite)
	} else {
		c.WriteString(".if (")
		for i, ra := range known {
			if i > 0 {
				c.WriteString(" | ")
			}
			c.WriteString(r.raEquals(ra))
		}
		fmt.Fprintf(&c, ") {g} .else {%s}", newSite)
	}
	return fmt.Sprintf("bp%d %s %s", id, r.alloc, Quote(c.String())), nil
}

// raEquals compares @$ra with a return address. Kernel-mode MASM
// sign-extends a constant unless a grave accent precedes its low bytes,
// while pseudo-registers are not sign-extended; on a 32-bit target both
// sides are therefore cut to 32 bits.
func (r Recipe) raEquals(ra uint64) string {
	if r.Arch == ArchX86 {
		return fmt.Sprintf("((@$ra & 0x0`ffffffff) == 0x0`%08x)", uint32(ra))
	}
	return fmt.Sprintf("(@$ra == 0x%016x)", ra)
}

// ReturnBreakpoint is the persistent breakpoint at return site ra with ID
// id: every thread that returns there prints its thread, the return address
// and the allocator's result, and resumes. It pairs with the allocation by
// thread and return address, so several CPUs allocating through the same
// call site lose nothing.
func (r Recipe) ReturnBreakpoint(id int, ra uint64) string {
	c := fmt.Sprintf(`.printf "%sR %%p %%p %%p\n", @$thread, @$ip, %s; g`, Prefix, r.result)
	return fmt.Sprintf("bp%d %s %s", id, r.address(ra), Quote(c))
}

func (r Recipe) address(ra uint64) string {
	if r.Arch == ArchX86 {
		return fmt.Sprintf("0x%08x", uint32(ra))
	}
	return fmt.Sprintf("0x%016x", ra)
}

// FreeBreakpoint is the free-routine breakpoint with ID id: one record, no
// stack (a free costs one short halt), and resume.
func (r Recipe) FreeBreakpoint(id int) string {
	c := fmt.Sprintf(`.printf "%sF %%p %%p\n", @$thread, %s; g`, Prefix, r.freed)
	return fmt.Sprintf("bp%d %s %s", id, r.free, Quote(c))
}

// Quote makes s a breakpoint's command string: in quotation marks, with
// the quotation marks and backslashes inside escaped once, as kd unescapes
// a command string once when the bp command is parsed (so .printf's "\n"
// is written "\\n" and its quotes \").
func Quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
