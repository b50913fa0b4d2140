package fakekd

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// FrameDef is one frame of an allocating call path.
type FrameDef struct {
	Sym    string // "mod!fn+0x2c", "mod!fn", "mod+0x424e" (no symbols), or "" for Bare
	Bare   uint64 // address of a frame in no known module
	Src    string // "d:\src\leaky\alloc.c @ 120": kd's " [file @ line]" suffix
	Inline bool   // an inlined function: kn shows "(Inline Function)"
	Warn   bool   // with FAKEKD_NOISE, the unwind warning may follow this frame
}

// StackDef is an allocating driver: the frames from the driver's allocating
// function outwards (the allocator frames are added per breakpoint), and how
// often it allocates relative to the others.
type StackDef struct {
	Weight int
	Frames []FrameDef
	// EndsInUser: the outermost frame returns to user mode (a system call);
	// otherwise its return address is 0 (a system thread or the idle loop).
	EndsInUser bool
}

// syscallTail is the I/O path below a driver dispatch routine, used by the
// default leaky driver and by every FAKEKD_DRIVERS stack.
var syscallTail = []FrameDef{
	{Sym: "nt!IofCallDriver+0x55"},
	{Sym: "nt!IopSynchronousServiceTail+0x1a8"},
	{Sym: "nt!NtWriteFile+0x66d"},
	{Sym: "nt!KiSystemServiceCopyEnd+0x25"},
}

// defaultStacks covers every frame shape a parser meets in real kd output
// (kd-protocol.md "Stack layouts"): source suffixes, an inline frame, a module without symbols
// (mod+0xNN) and bare addresses.
var defaultStacks = []StackDef{
	{Weight: 5, EndsInUser: true, Frames: append([]FrameDef{
		{Sym: "leakydrv!LeakyAllocateBuffer+0x2c", Src: `d:\src\leaky\alloc.c @ 120`},
		{Sym: "leakydrv!LeakyDispatchWrite+0x91", Src: `d:\src\leaky\dispatch.c @ 57`},
	}, syscallTail...)},
	{Weight: 3, Frames: []FrameDef{
		{Sym: "netfltx!FilterAllocateContext+0x1e", Src: `d:\src\netfltx\filter.c @ 311`, Inline: true},
		{Sym: "netfltx!FilterReceive+0x1b2", Src: `d:\src\netfltx\filter.c @ 402`},
		{Sym: "ndis!ndisMIndicateNetBufferListsToOpen+0x141"},
		{Sym: "ndis!ndisMTopReceiveNetBufferLists+0x3f0e5"},
		{Sym: "ndis!ndisCallReceiveHandler+0x61"},
		{Sym: "ndis!NdisMIndicateReceiveNetBufferLists+0x104"},
		{Sym: "nt!KiExecuteAllDpcs+0x30e"},
		{Sym: "nt!KiRetireDpcList+0x1ef"},
		{Sym: "nt!KiIdleLoop+0x9e"},
	}},
	{Weight: 2, EndsInUser: true, Frames: []FrameDef{
		{Sym: "avscan+0x424e", Warn: true},
		{Sym: "avscan+0x1f10"},
		{Sym: "FLTMGR!FltpPerformPreCallbacks+0x2f6"},
		{Sym: "FLTMGR!FltpDispatch+0xb4"},
		{Sym: "nt!IofCallDriver+0x55"},
		{Sym: "nt!IopParseDevice+0x8d9"},
		{Sym: "nt!ObpLookupObjectName+0x78b"},
		{Sym: "nt!ObOpenObjectByNameEx+0x1fa"},
		{Sym: "nt!IopCreateFile+0x40f"},
		{Sym: "nt!NtCreateFile+0x79"},
		{Sym: "nt!KiSystemServiceCopyEnd+0x25"},
	}},
	{Weight: 1, Frames: []FrameDef{
		{Bare: 0xfffff80169805b74},
		{Bare: 0xfffff801698031c0},
		{Sym: "nt!PspSystemThreadStartup+0x55"},
		{Sym: "nt!KiStartSystemThread+0x28"},
	}},
}

// breakInStack is where a CTRL+C break-in finds the processor: the clock
// interrupt polling for a debugger break (kd-protocol.md "Break-in and the break box": its location).
var breakInStack = map[string][]FrameDef{
	"x64": {
		{Sym: "nt!DbgBreakPointWithStatus"},
		{Sym: "nt!KdCheckForDebugBreak+0x9d"},
		{Sym: "nt!KeAccumulateTicks+0x1406ba"},
		{Sym: "nt!KeClockInterruptNotify+0x69"},
		{Sym: "hal!HalpTimerClockInterrupt+0xf7"},
		{Sym: "nt!KiCallInterruptServiceRoutine+0xa5"},
		{Sym: "nt!KiInterruptSubDispatchNoLockNoEtw+0xfa"},
		{Sym: "nt!KiInterruptDispatchNoLockNoEtw+0x37"},
		{Sym: "nt!KiIdleLoop+0x9e"},
	},
	"x86": {
		{Sym: "nt!RtlpBreakWithStatusInstruction"},
		{Sym: "nt!KdCheckForDebugBreak+0x22"},
		{Sym: "nt!KeUpdateRunTime+0x2c"},
		{Sym: "hal!HalpClockInterrupt+0x127"},
		{Sym: "nt!KiIdleLoop+0x10"},
	},
}

// parseDrivers reads FAKEKD_DRIVERS: a comma-separated list of stacks, each
//
//	frame>frame>...[:weight]
//
// listing the driver frames innermost first. A frame is "mod!fn+0xNN",
// "mod!fn", "mod+0xNN" (no symbols) or "0xADDRESS" (no module, backtick
// allowed). The weight defaults to 1. Each stack gets the allocator frames
// on top and the NtWriteFile system-call path below, e.g.
//
//	FAKEKD_DRIVERS='leakydrv!LeakyAlloc>leakydrv!LeakyWrite:5,avscan+0x424e:1'
func parseDrivers(spec string) ([]StackDef, error) {
	var stacks []StackDef
	for _, entry := range strings.Split(spec, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		sd := StackDef{Weight: 1, EndsInUser: true}
		if frames, w, ok := strings.Cut(entry, ":"); ok {
			n, err := strconv.Atoi(w)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("bad weight in %q", entry)
			}
			sd.Weight, entry = n, frames
		}
		for _, f := range strings.Split(entry, ">") {
			f = strings.TrimSpace(f)
			switch {
			case strings.HasPrefix(strings.ToLower(f), "0x"):
				v, err := parseValue(f)
				if err != nil {
					return nil, fmt.Errorf("bad address frame %q", f)
				}
				sd.Frames = append(sd.Frames, FrameDef{Bare: v})
			case strings.ContainsAny(f, "!+") && !strings.ContainsAny(f, " \t"):
				sd.Frames = append(sd.Frames, FrameDef{Sym: f})
			default:
				return nil, fmt.Errorf("bad frame %q: want mod!fn, mod+0xNN or 0xADDR", f)
			}
		}
		sd.Frames = append(sd.Frames, syscallTail...)
		stacks = append(stacks, sd)
	}
	if len(stacks) == 0 {
		return nil, errors.New("no stacks")
	}
	return stacks, nil
}

// pickStack chooses an allocating driver by weight.
func pickStack(rng *rand.Rand, stacks []StackDef) StackDef {
	total := 0
	for _, s := range stacks {
		total += s.Weight
	}
	n := rng.IntN(total)
	for _, s := range stacks {
		if n < s.Weight {
			return s
		}
		n -= s.Weight
	}
	return stacks[len(stacks)-1]
}

// frame is one printed stack frame of a particular halt.
type frame struct {
	site   string // call site text
	ip     uint64
	sp     uint64
	ret    uint64
	args   []uint64
	src    string
	inline bool
	warn   bool
}

// buildStack turns frame definitions into concrete frames with addresses,
// stack pointers and argument values. Addresses depend only on the symbols,
// so the same call path always shows the same return addresses, as on a
// real machine; stack pointers and arguments come from rng.
func buildStack(a *arch, rng *rand.Rand, defs []FrameDef, endsInUser bool, firstArgs []uint64) []frame {
	frames := make([]frame, len(defs))
	sp := a.frameBase + uint64(rng.IntN(0x400))*0x10
	for i, d := range defs {
		if r, ok := a.renames[d.Sym]; ok {
			d.Sym = r
		}
		f := frame{src: d.Src, inline: d.Inline, warn: d.Warn}
		f.site, f.ip = siteAndIP(a, d, i == 0)
		if !d.Inline {
			f.sp = sp
			sp += 0x30 + (hash(f.site)%0x20)*8
		}
		f.args = make([]uint64, a.nArgs)
		for j := range f.args {
			f.args[j] = randomArg(a, rng)
		}
		frames[i] = f
	}
	copy(frames[0].args, firstArgs)
	for i := range frames {
		switch {
		case i+1 < len(frames):
			frames[i].ret = frames[i+1].ip
		case endsInUser:
			frames[i].ret = a.userRet
		}
	}
	return frames
}

// siteAndIP computes the call-site text and instruction address of a frame.
// Inner symbolic frames without an offset get a stable one: only the
// innermost frame (a breakpoint at function entry) sits at offset 0.
func siteAndIP(a *arch, d FrameDef, innermost bool) (string, uint64) {
	if d.Sym == "" {
		v := d.Bare
		if !a.ptr64 {
			v = 0xf7800000 | v&0x7ffff
			return fmt.Sprintf("0x%08x", v), v
		}
		return "0x" + a.addr(v), v
	}
	base, off, hasOff := strings.Cut(d.Sym, "+")
	if !hasOff {
		if innermost {
			return d.Sym, a.symbolAddr(d.Sym)
		}
		o := 0x10 + hash(d.Sym)%0x300
		return fmt.Sprintf("%s+0x%x", d.Sym, o), a.symbolAddr(d.Sym) + o
	}
	o, err := parseValue(off)
	if err != nil {
		o = 0
	}
	return d.Sym, a.symbolAddr(base) + o
}

// randomArg is a plausible "Args to Child" value: pool pointers, small
// integers and zeros, in the proportions real kernel stacks show.
func randomArg(a *arch, rng *rand.Rand) uint64 {
	switch rng.IntN(4) {
	case 0:
		return 0
	case 1:
		return uint64(rng.IntN(0x200))
	}
	if a.ptr64 {
		return 0xffffe00100000000 | uint64(rng.Uint32())&^7
	}
	return 0x80000000 | uint64(rng.Uint32())&0x7ffffff8
}
