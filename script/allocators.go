package script

// The kernel's special-pool allocation and free routines, per Windows build,
// where their arguments are, and the x probe that finds which ones the
// target's kernel has. See docs/kd-protocol.md, section "Allocators".

import (
	"regexp"
	"strings"
)

// Arch is a target architecture, as the register map is keyed.
type Arch string

// Architectures.
const (
	X64   Arch = "x64"
	X86   Arch = "x86"
	ARM64 Arch = "arm64"
)

// ArgMap says where, at the first instruction of the routines, kd finds
// an allocation's size and tag and the address allocated or freed, as MASM
// expressions for a breakpoint's command string. An empty field means it
// is not known for that architecture.
type ArgMap struct {
	Size   string // allocation size, at the allocation routine's entry
	Tag    string // pool tag (a ULONG), at the allocation routine's entry
	Result string // address returned, at the allocation's return site
	Free   string // address freed, at the free routine's entry
}

// Family is one allocator/free pair the kernel routes special pool through.
type Family struct {
	Name    string // short name: "mm-special-pool", "heap-special-pool"
	Alloc   string // allocation routine, "nt!MmAllocateSpecialPool"
	Free    string // free routine, "nt!MmFreeSpecialPool"
	Kernels string // which kernels have it, in words
	Args    map[Arch]ArgMap
	// Certain says whether the argument map rests on a public prototype
	// (false: read from decompiled, unversioned kernels; check with
	// `u` on the target before relying on it).
	Certain bool
}

// Families are the special-pool routine pairs, oldest first. A kernel may
// have both (the legacy pool next to the segment heap): arm every one whose
// allocation routine resolves.
var Families = []Family{
	{
		Name:    "mm-special-pool",
		Alloc:   "nt!MmAllocateSpecialPool",
		Free:    "nt!MmFreeSpecialPool",
		Kernels: "Windows 2000 to Windows 10 1809, and later kernels that keep the legacy pool next to the segment heap (called from ExAllocatePoolWithTag / ExAllocatePoolWithTagPriority)",
		Args: map[Arch]ArgMap{
			// MmAllocateSpecialPool(SIZE_T NumberOfBytes, ULONG Tag, POOL_TYPE, ULONG SpecialType)
			X64: {Size: "@rcx", Tag: "@edx", Result: "@rax", Free: "@rcx"},
			// stdcall: [esp] is the return address.
			X86: {Size: "dwo(@esp+4)", Tag: "dwo(@esp+8)", Result: "@eax", Free: "dwo(@esp+4)"},
		},
		Certain: false,
	},
	{
		Name:    "heap-special-pool",
		Alloc:   "nt!ExAllocateHeapSpecialPool",
		Free:    "nt!ExpFreeHeapSpecialPool",
		Kernels: "Windows 10 1903 and later (kernel segment heap; called from ExAllocateHeapPool, freed from ExFreeHeapPool)",
		Args: map[Arch]ArgMap{
			// ExAllocateHeapSpecialPool(PoolType?, NumberOfBytes, Tag); ExpFreeHeapSpecialPool(Heap?, P)
			X64: {Size: "@rdx", Tag: "@r8d", Result: "@rax", Free: "@rdx"},
		},
		Certain: false,
	},
}

// Lookup returns the family whose allocation or free routine is sym
// (module and case as kd accepts them: "nt!", "ntkrnlmp!").
func Lookup(sym string) (Family, bool) {
	for _, f := range Families {
		if sameSymbol(sym, f.Alloc) || sameSymbol(sym, f.Free) {
			return f, true
		}
	}
	return Family{}, false
}

// ProbeCommands are the x commands that find, at the first halt, which
// allocation and free routines the target's kernel has, one per routine, in
// the order of Families.
func ProbeCommands() []string {
	var cmds []string
	for _, f := range Families {
		cmds = append(cmds, "x "+f.Alloc, "x "+f.Free)
	}
	return cmds
}

// Routine roles, for telling an allocation's stack from a free's.
type RoutineRole int

// Roles of a kernel routine at the top of a stack.
const (
	NotPoolRoutine RoutineRole = iota
	AllocRoutine
	FreeRoutine
	BugCheckRoutine
)

// poolRoutines are the kernel's pool entry points and their internals, by
// function name (module-less, lower case): what sits at the top of a stack
// kd printed at a breakpoint on an allocator, at a PoolHitTag break, or
// at a special-pool free.
var poolRoutines = map[string]RoutineRole{
	"mmallocatespecialpool":          AllocRoutine,
	"exallocateheapspecialpool":      AllocRoutine,
	"exallocatepool":                 AllocRoutine,
	"exallocatepoolwithtag":          AllocRoutine,
	"exallocatepoolwithtagpriority":  AllocRoutine,
	"exallocatepoolwithquota":        AllocRoutine,
	"exallocatepoolwithquotatag":     AllocRoutine,
	"exallocatepool2":                AllocRoutine,
	"exallocatepool3":                AllocRoutine,
	"exallocatepoolmm":               AllocRoutine,
	"exallocateheappool":             AllocRoutine,
	"expallocatepoolwithtagfromnode": AllocRoutine,
	"verifierexallocatepoolwithtag":  AllocRoutine,
	"verifierexallocatepool2":        AllocRoutine,
	"veallocatepoolwithtagpriority":  AllocRoutine,
	"mmfreespecialpool":              FreeRoutine,
	"expfreeheapspecialpool":         FreeRoutine,
	"exfreepool":                     FreeRoutine,
	"exfreepoolwithtag":              FreeRoutine,
	"exfreepool2":                    FreeRoutine,
	"exfreeheappool":                 FreeRoutine,
	"expfreepoolwithtag":             FreeRoutine,
	"exdeferredfreepool":             FreeRoutine,
	"verifierexfreepoolwithtag":      FreeRoutine,
	"verifierexfreepool":             FreeRoutine,
	"vefreepoolwithtag":              FreeRoutine,
	"kebugcheckex":                   BugCheckRoutine,
	"kebugcheck":                     BugCheckRoutine,
	"kebugcheck2":                    BugCheckRoutine,
	"kibugcheckdebugbreak":           BugCheckRoutine,
	"kibugcheckdispatch":             BugCheckRoutine,
	"verifierbugcheckifappropriate":  BugCheckRoutine,
	"vfreportissuewithoptions":       BugCheckRoutine,
}

// kernelModules are the names kd gives the kernel (and Driver Verifier).
var kernelModules = map[string]bool{
	"nt": true, "ntoskrnl": true, "ntkrnlmp": true, "ntkrnlpa": true, "ntkrpamp": true, "verifier": true,
}

// RoleOf says what a frame ("nt!ExFreePoolWithTag+0x1a") is: an allocation
// or free routine of the kernel's pool, a bug check routine, or none. Only
// kernel frames count: a driver's own "MyFreePool" is not the kernel's.
func RoleOf(frame string) RoutineRole {
	mod, fn, ok := strings.Cut(frame, "!")
	if !ok || !kernelModules[strings.ToLower(mod)] {
		return NotPoolRoutine
	}
	if i := strings.Index(fn, "+0x"); i >= 0 {
		fn = fn[:i]
	}
	return poolRoutines[strings.ToLower(fn)]
}

// IsKernelFrame reports whether frame is in the kernel, the HAL or Driver
// Verifier.
func IsKernelFrame(frame string) bool {
	mod, _, ok := strings.Cut(frame, "!")
	if !ok {
		return false
	}
	m := strings.ToLower(mod)
	return kernelModules[m] || m == "hal"
}

// SymbolStatus is what kd's answer to "x module!name" says.
type SymbolStatus int

// Statuses of an x probe.
const (
	SymbolMissing  SymbolStatus = iota // kd printed no match: the kernel lacks it, or its symbols are not loaded
	SymbolResolved                     // kd printed the symbol at an address
)

// SymbolAnswer is kd's answer to "x sym".
type SymbolAnswer struct {
	Symbol  string
	Status  SymbolStatus
	Address string // as kd printed it ("fffff801`1e7a2b30")
	// ExportOnly: kd said it only has nt's export symbols ("Defaulted to
	// export symbols for ntkrnlmp.exe"). Internal routines such as
	// MmAllocateSpecialPool do not resolve then, so a missing symbol means
	// "fix the symbols", not "this kernel does not have it".
	ExportOnly bool
	// NoSymbols: kd said it has no symbols for nt at all.
	NoSymbols bool
}

// reXLine is one line of x output: an address, then module!name.
// "fffff801`1e7a2b30 nt!MmAllocateSpecialPool (<no parameter info>)",
// "8062f7b4          nt!MmAllocateSpecialPool = <no type information>".
var reXLine = regexp.MustCompile("^(?:[0-9a-fA-F]{8}`[0-9a-fA-F]{8}|[0-9a-fA-F]{16}|[0-9a-fA-F]{8})\\s+([^\\s(=]+)")
var reXAddr = regexp.MustCompile(`^(\S+)`)

// ParseXAnswer reads kd's answer to "x sym": the first line that names sym
// at an address resolves it; any symbol warnings about nt are reported too.
// kd prints nothing at all for a symbol it cannot find (or a "Couldn't
// resolve error at" line for a module it does not know).
func ParseXAnswer(output, sym string) SymbolAnswer {
	a := SymbolAnswer{Symbol: sym}
	for _, line := range strings.Split(output, "\n") {
		s := strings.TrimSpace(StripPrompt(line))
		if w, ok := ParseSymbolWarning(s); ok && w.AboutKernel() {
			switch w.Kind {
			case SymExportOnly:
				a.ExportOnly = true
			case SymNone, SymNoImage:
				a.NoSymbols = true
			}
			continue
		}
		if a.Status == SymbolResolved {
			continue
		}
		if m := reXLine.FindStringSubmatch(s); m != nil && sameSymbol(m[1], sym) {
			a.Status = SymbolResolved
			a.Address = reXAddr.FindString(s)
		}
	}
	return a
}

// FamilyProbe is what the x probes found for one family.
type FamilyProbe struct {
	Family Family
	Alloc  SymbolAnswer
	Free   SymbolAnswer
}

// Armable reports whether the family's allocation routine resolves, so a
// breakpoint on it can bind.
func (p FamilyProbe) Armable() bool { return p.Alloc.Status == SymbolResolved }

// ProbeFamilies reads the answers to ProbeCommands (answers maps each
// command to kd's output) and says, per family, what resolves.
func ProbeFamilies(answers map[string]string) []FamilyProbe {
	var out []FamilyProbe
	for _, f := range Families {
		out = append(out, FamilyProbe{
			Family: f,
			Alloc:  ParseXAnswer(answers["x "+f.Alloc], f.Alloc),
			Free:   ParseXAnswer(answers["x "+f.Free], f.Free),
		})
	}
	return out
}

// NoAllocatorError is returned by CheckAllocators when no allocation
// routine resolves.
type NoAllocatorError struct {
	Probes []FamilyProbe
}

func (e *NoAllocatorError) Error() string {
	var names []string
	export, none := false, false
	for _, p := range e.Probes {
		names = append(names, p.Family.Alloc)
		export = export || p.Alloc.ExportOnly
		none = none || p.Alloc.NoSymbols
	}
	cause := "none of " + strings.Join(names, ", ") + " resolves on the target"
	switch {
	case export:
		cause += ": kd has only nt's export symbols, which lack these internal routines"
	case none:
		cause += ": kd has no symbols for nt"
	}
	return cause + "; " + SymbolFix
}

// SymbolFix is the one fix for every symbol problem of nt.
const SymbolFix = "fix nt's symbols: put the symbol server in the symbol path (.sympath srv*C:\\symbols*https://msdl.microsoft.com/download/symbols, or _NT_SYMBOL_PATH), then .reload /f nt"

// CheckAllocators returns the families to arm (every one whose allocation
// routine resolves) or a *NoAllocatorError naming the cause and the fix.
func CheckAllocators(probes []FamilyProbe) ([]FamilyProbe, error) {
	var arm []FamilyProbe
	for _, p := range probes {
		if p.Armable() {
			arm = append(arm, p)
		}
	}
	if len(arm) == 0 {
		return nil, &NoAllocatorError{Probes: probes}
	}
	return arm, nil
}

// AllocatorBreakpoint is the special-pool recipe's breakpoint on a family's
// allocation routine: stack, then go on.
func AllocatorBreakpoint(f Family) string { return "bp " + f.Alloc + ` ";kb;g"` }

// sameSymbol compares module!name as kd does: without regard to case, and
// the kernel under any of its image names.
func sameSymbol(a, b string) bool {
	am, an, aok := strings.Cut(a, "!")
	bm, bn, bok := strings.Cut(b, "!")
	if !aok || !bok || !strings.EqualFold(an, bn) {
		return false
	}
	am, bm = strings.ToLower(am), strings.ToLower(bm)
	return am == bm || kernelModules[am] && kernelModules[bm] && am != "verifier" && bm != "verifier"
}
