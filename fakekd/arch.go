package fakekd

import (
	"fmt"
	"hash/fnv"
	"strings"
)

// arch is everything that differs between an x64 and an x86 target.
type arch struct {
	name          string
	ptr64         bool
	defaultFormat string
	formats       map[string]bool
	nArgs         int // "Args to Child" columns in kb

	connectedLine string // kd-protocol.md "Banners and connection lines"
	kernelLine    string
	builtByLine   string
	kernelBase    string

	// kd-protocol.md "Break-in and the break box": where a CTRL+C/CTRL+BREAK break-in lands.
	breakSym  string
	breakAddr uint64
	// kd-protocol.md "PoolHitTag and the allocators": where a PoolHitTag int 3 lands (name invented, shape real).
	poolHitSym  string
	poolHitAddr uint64

	ntBase, halBase, drvBase, drvStride uint64
	symbols                             map[string]uint64 // lower-case name -> address
	disasm                              map[string]string // lower-case function -> "bytes mnemonic operands"
	renames                             map[string]string // frames named differently on this architecture
	frameBase                           uint64            // Child-SP / ChildEBP of the innermost frame
	userRet                             uint64            // return address of a system call frame into user mode
}

var archs = map[string]*arch{
	"x64": {
		name:          "x64",
		ptr64:         true,
		defaultFormat: "kb-new",
		formats:       map[string]bool{"kb-new": true, "kb-old": true, "kn": true},
		nArgs:         4,
		connectedLine: "Connected to Windows 10 19041 x64 target at (" + sessionTime + "), ptr64 TRUE",
		kernelLine:    "Windows 10 Kernel Version 19041 MP (2 procs) Free x64",
		builtByLine:   "Built by: 19041.1.amd64fre.vb_release.191206-1406",
		kernelBase:    "Kernel base = 0xfffff801`1e200000 PsLoadedModuleList = 0xfffff801`1ee2a2b0",
		breakSym:      "nt!DbgBreakPointWithStatus",
		breakAddr:     0xfffff801d1efb1b0,
		poolHitSym:    "nt!ExpAllocateBigPool+0x1e3",
		poolHitAddr:   0xfffff8011e2c81f3,
		ntBase:        0xfffff8011e200000,
		halBase:       0xfffff8011e000000,
		drvBase:       0xfffff8016a000000,
		drvStride:     0x100000,
		symbols: map[string]uint64{
			"nt!mmallocatespecialpool":          0xfffff8011e2a3b40, // kd-protocol.md "Allocators"
			"nt!mmspecialpooltag":               0xfffff8011e5c3a10,
			"nt!mmspecialpoolcatchoverruns":     0xfffff8011e5c3a14,
			"nt!mispecialpoolenabled":           0xfffff8011e5c3a18,
			"nt!poolhittag":                     0xfffff8011e5c4b2c,
			"nt!exallocatepoolwithtag":          0xfffff8011e3b1010,
			"nt!exallocatepool2":                0xfffff8011e3b0f20,
			"nt!exfreepoolwithtag":              0xfffff8011e3b23a0,
			"nt!mmfreespecialpool":              0xfffff8011e2a5f10,
			"nt!exallocatepoolwithtagpriority":  0xfffff8011e3b1e40,
			"nt!exallocateheapspecialpool":      0xfffff8011e33e988, // segment-heap kernels only
			"nt!expfreeheapspecialpool":         0xfffff8011e5ba310,
			"nt!exallocateheappool":             0xfffff8011e2bcfe4,
			"nt!exfreeheappool":                 0xfffff8011e2bd7a0,
			"nt!dbgbreakpointwithstatus":        0xfffff801d1efb1b0,
			"nt!rtlpbreakwithstatusinstruction": 0xfffff801d1efb1c0,
		},
		disasm: map[string]string{
			"nt!mmallocatespecialpool":     "4c8bdc          mov     r11,rsp",
			"nt!exallocatepoolwithtag":     "48895c2408      mov     qword ptr [rsp+8],rbx",
			"nt!exallocatepool2":           "4053            push    rbx",
			"nt!exallocateheapspecialpool": "48895c2410      mov     qword ptr [rsp+10h],rbx",
			"nt!exallocateheappool":        "4c8bdc          mov     r11,rsp",
		},
		frameBase: 0xffffd001c70c6298,
		userRet:   0x00007ffb3f1ac3d4,
	},
	"x86": {
		name:          "x86",
		defaultFormat: "kb",
		formats:       map[string]bool{"kb": true, "kv": true, "k": true},
		nArgs:         3,
		connectedLine: "Connected to Windows 10 19041 x86 compatible target at (" + sessionTime + "), ptr64 FALSE",
		kernelLine:    "Windows 10 Kernel Version 19041 MP (2 procs) Free x86 compatible",
		builtByLine:   "Built by: 19041.1.x86fre.vb_release.191206-1406",
		kernelBase:    "Kernel base = 0x80400000 PsLoadedModuleList = 0x8055b1c0",
		breakSym:      "nt!RtlpBreakWithStatusInstruction",
		breakAddr:     0x8053c5f8,
		poolHitSym:    "nt!ExAllocatePoolWithTag+0x2e1",
		poolHitAddr:   0x80544ff3,
		ntBase:        0x80400000,
		halBase:       0x806d0000,
		drvBase:       0xf7000000,
		drvStride:     0x40000,
		symbols: map[string]uint64{
			"nt!mmallocatespecialpool":          0x80549f2c,
			"nt!mmspecialpooltag":               0x8055a5c0,
			"nt!mmspecialpoolcatchoverruns":     0x8055a5c4,
			"nt!mispecialpoolenabled":           0x8055a5c8,
			"nt!poolhittag":                     0x8055a5f0,
			"nt!exallocatepoolwithtag":          0x80544d12,
			"nt!exallocatepool2":                0x80544c40,
			"nt!exfreepoolwithtag":              0x80545310,
			"nt!mmfreespecialpool":              0x8054a6e2,
			"nt!exallocatepoolwithtagpriority":  0x80544a18,
			"nt!exallocateheapspecialpool":      0x8056e988,
			"nt!expfreeheapspecialpool":         0x8058a310,
			"nt!exallocateheappool":             0x8055cfe4,
			"nt!exfreeheappool":                 0x8055d7a0,
			"nt!rtlpbreakwithstatusinstruction": 0x8053c5f8,
			"nt!dbgbreakpointwithstatus":        0x8053c5f4,
		},
		disasm: map[string]string{
			"nt!mmallocatespecialpool":     "8bff            mov     edi,edi",
			"nt!exallocatepoolwithtag":     "8bff            mov     edi,edi",
			"nt!exallocatepool2":           "8bff            mov     edi,edi",
			"nt!exallocateheapspecialpool": "8bff            mov     edi,edi",
			"nt!exallocateheappool":        "8bff            mov     edi,edi",
		},
		// 32-bit Windows enters system calls through KiFastCallEntry.
		renames:   map[string]string{"nt!KiSystemServiceCopyEnd+0x25": "nt!KiFastCallEntry+0x12a"},
		frameBase: 0xf7a2bc48,
		userRet:   0x77c2e4f4,
	},
}

// canonicalNames gives known symbols the spelling kd displays, whatever case
// the user typed (kd symbol lookup is case-insensitive).
var canonicalNames = map[string]string{}

func init() {
	for _, n := range []string{
		"nt!MmAllocateSpecialPool", "nt!MmSpecialPoolTag", "nt!MmSpecialPoolCatchOverruns",
		"nt!MiSpecialPoolEnabled", "nt!PoolHitTag", "nt!ExAllocatePoolWithTag",
		"nt!ExAllocatePool2", "nt!DbgBreakPointWithStatus", "nt!RtlpBreakWithStatusInstruction",
		"nt!ExFreePoolWithTag", "nt!ExAllocateHeapSpecialPool",
		"nt!ExpFreeHeapSpecialPool", "nt!ExAllocateHeapPool", "nt!ExFreeHeapPool",
		"nt!MmFreeSpecialPool", "nt!ExAllocatePoolWithTagPriority",
	} {
		canonicalNames[strings.ToLower(n)] = n
	}
}

// addr formats a pointer as kd does: x64 with the backtick separator
// (fffff801`1e2a3b40), x86 as 8 hex digits.
func (a *arch) addr(v uint64) string {
	if a.ptr64 {
		return fmt.Sprintf("%08x`%08x", v>>32, v&0xffffffff)
	}
	return fmt.Sprintf("%08x", uint32(v))
}

// disasmLine is the instruction line after "sym:" (kd-protocol.md "Break-in and the break box", "Breakpoint hits").
func (a *arch) disasmLine(addr uint64, text string) string {
	return a.addr(addr) + " " + text
}

// int3Line is the disassembly of a break instruction.
func (a *arch) int3Line(addr uint64) string {
	return a.disasmLine(addr, "cc              int     3")
}

// symbolAddr returns the address of module!function (or module+0xNN's
// module), inventing a stable one from a hash for symbols the fake has no
// fixed address for.
func (a *arch) symbolAddr(name string) uint64 {
	l := strings.ToLower(name)
	if v, ok := a.symbols[l]; ok {
		return v
	}
	mod, fn, hasFn := strings.Cut(l, "!")
	var base uint64
	switch mod {
	case "nt":
		base = a.ntBase
	case "hal":
		base = a.halBase
	default:
		base = a.drvBase + (hash(mod)%32)*a.drvStride
	}
	if !hasFn {
		return base
	}
	span := uint64(0xf0000)
	if mod != "nt" {
		span = a.drvStride - 0x2000
	}
	return base + 0x1000 + (hash(fn)%span)&^0xf
}

func hash(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}
