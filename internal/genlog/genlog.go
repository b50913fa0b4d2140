// Package genlog writes synthetic kd debug logs of the kind `kdlaunch run`
// produces with `bp nt!MmAllocateSpecialPool ";kb;g"`: a session preamble,
// then one block per breakpoint hit (the hit line, the symbol and
// disassembly of the breakpoint address, and the kb stack), with DbgPrint
// noise between and occasionally inside stacks. It knows which stack each
// hit printed, so tests can check a parser against it, and it is fast
// enough to write the 1 GB benchmark log in seconds.
package genlog

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
)

// Options describe the log to write.
type Options struct {
	Size   int64  // stop after the hit block that reaches Size bytes
	Hits   int    // or after this many hits (0: no limit; one of Size/Hits is needed)
	Arch   string // "x64" (default) or "x86"
	Seed   uint64 // for the pseudo-random choices (addresses, which stack)
	Stacks int    // distinct stacks (default 12)
	CRLF   bool   // end lines with "\r\n" as kd on Windows does
}

// Frame is one line of a generated stack.
type Frame struct {
	Site  string // the call site, as a parser should report it
	Annot string // what kd prints after it (source line, FPO...), may be ""
}

// Stats describe a generated log.
type Stats struct {
	Bytes  int64
	Hits   int
	Stacks [][]string // the distinct stacks (call sites, innermost first)
	Counts []int      // hits of each of Stacks
}

// Expected returns, for each distinct stack, its frames joined with "\n"
// mapped to its count.
func (s Stats) Expected() map[string]int {
	m := make(map[string]int, len(s.Stacks))
	for i, st := range s.Stacks {
		m[strings.Join(st, "\n")] += s.Counts[i]
	}
	return m
}

// allocator paths, innermost first (the breakpoint is on the first frame).
var allocators = [][]Frame{
	{{Site: "nt!MmAllocateSpecialPool"}, {Site: "nt!ExAllocatePoolWithTagPriority+0x2bd"}, {Site: "nt!ExAllocatePoolWithTag+0x4e"}},
	{{Site: "nt!MmAllocateSpecialPool"}, {Site: "nt!ExpAllocatePoolWithTagFromNode+0x5f"}, {Site: "nt!ExAllocatePool2+0x9a"}},
	{{Site: "nt!MmAllocateSpecialPool"}, {Site: "nt!ExAllocatePoolWithTagPriority+0x2bd"}, {Site: "nt!VeAllocatePoolWithTagPriority+0x1a7"}, {Site: "nt!VerifierExAllocatePoolWithTag+0x4e"}},
}

// callers: the code that asked for the memory, innermost first.
var callers = [][]Frame{
	{
		{Site: "avscan!ScanBufferAlloc+0x4e", Annot: `[d:\src\avscan\scan.c @ 412]`},
		{Site: "avscan!ScanFile+0x1b2", Annot: `[d:\src\avscan\scan.c @ 977]`},
		{Site: "avscan!PreCreateCallback+0x9c", Annot: `[d:\src\avscan\callbacks.c @ 88]`},
		{Site: "FLTMGR!FltpPerformPreCallbacksWorker+0x36c"},
		{Site: "FLTMGR!FltpPassThroughInternal+0xca"},
		{Site: "FLTMGR!FltpCreate+0x310"},
		{Site: "nt!IofCallDriver+0x55"},
		{Site: "nt!IoCallDriverWithTracing+0x34"},
		{Site: "nt!IopParseDevice+0x632"},
		{Site: "nt!ObpLookupObjectName+0x719"},
		{Site: "nt!ObOpenObjectByNameEx+0x1df"},
		{Site: "nt!IopCreateFile+0x3f5"},
		{Site: "nt!NtCreateFile+0x79"},
		{Site: "nt!KiSystemServiceCopyEnd+0x25", Annot: "(TrapFrame @ ffff8b06`3d1e7b20)"},
		{Site: "ntdll!NtCreateFile+0x14"},
	},
	{
		{Site: "netfilt!NfAllocFlowContext+0x22"},
		{Site: "netfilt!NfClassifyFn+0x118"},
		{Site: "NETIO!ProcessCallout+0x6e2"},
		{Site: "NETIO!ArbitrateAndEnforce+0x2a0"},
		{Site: "NETIO!KfdClassify+0x1b0"},
		{Site: "tcpip!WfpProcessInTransportStackIndication+0x6cf"},
		{Site: "tcpip!InetInspectReceiveDatagram+0x1b7"},
		{Site: "tcpip!UdpBeginMessageIndication+0x5b"},
		{Site: "tcpip!UdpDeliverDatagrams+0x190"},
		{Site: "tcpip!UdpReceiveDatagrams+0x4f1"},
		{Site: "tcpip!IppDeliverListToProtocol+0x6c"},
		{Site: "tcpip!IppProcessDeliverList+0x5f"},
		{Site: "tcpip!IppReceiveHeaderBatch+0x3b1"},
		{Site: "tcpip!IppFlcReceivePacketsCore+0x30c"},
		{Site: "tcpip!FlpReceiveNonPreValidatedNetBufferListChain+0x25b"},
		{Site: "nt!KeExpandKernelStackAndCalloutInternal+0x78"},
	},
	{
		{Site: "Wdf01000!FxPoolAllocator+0x58", Annot: `[minkernel\wdf\framework\shared\object\fxpoolinlines.cpp @ 127]`},
		{Site: "Wdf01000!FxObjectHandleAllocCommon+0x49", Annot: `[minkernel\wdf\framework\shared\object\handleapi.cpp @ 223]`},
		{Site: "Wdf01000!imp_WdfRequestCreate+0xd5"},
		{Site: "usbcam!CamAllocRequest+0x3c"},
		{Site: "usbcam!CamStreamWorker+0x1a8"},
		{Site: "Wdf01000!FxWorkItem::WorkItemHandler+0x7e"},
		{Site: "Wdf01000!FxWorkItem::WorkItemThunk+0x29"},
		{Site: "nt!IopProcessWorkItem+0x135"},
		{Site: "nt!ExpWorkerThread+0x105"},
		{Site: "nt!PspSystemThreadStartup+0x55"},
		{Site: "nt!KiStartSystemThread+0x28"},
	},
	{
		{Site: "mydrv+0x424e"},
		{Site: "mydrv+0x1f30"},
		{Site: "0xffffba08`3b22c7f0"},
		{Site: "nt!IofCallDriver+0x55"},
		{Site: "nt!IopSynchronousServiceTail+0x1a8"},
		{Site: "nt!IopXxxControlFile+0x5e5"},
		{Site: "nt!NtDeviceIoControlFile+0x56"},
		{Site: "nt!KiSystemServiceCopyEnd+0x25", Annot: "(TrapFrame @ ffff8b06`3e0d7b20)"},
	},
	{
		{Site: "nt!ObpAllocateObject+0x133"},
		{Site: "nt!ObCreateObjectEx+0xdd"},
		{Site: "nt!PspAllocateThread+0x1c5"},
		{Site: "nt!PspCreateThread+0x1f6"},
		{Site: "nt!NtCreateThreadEx+0x1fe"},
		{Site: "nt!KiSystemServiceCopyEnd+0x25", Annot: "(TrapFrame @ ffff8b06`3c5b7b20)"},
	},
	{
		{Site: "eBPFCore!ebpf_allocate_with_tag+0x2a", Annot: `[d:\ebpf\libs\runtime\ebpf_platform.c @ 218]`},
		{Site: "eBPFCore!ebpf_lock_lock+0xf", Annot: `[d:\ebpf\libs\runtime\ebpf_lock.c @ 40]`},
		{Site: "eBPFCore!ebpf_program_invoke+0x91"},
		{Site: "netebpfext!net_ebpf_extension_hook_invoke_programs+0x76"},
		{Site: "netebpfext!net_ebpf_ext_layer_2_classify+0x12b"},
		{Site: "NETIO!ProcessCallout+0x6e2"},
		{Site: "NETIO!ArbitrateAndEnforce+0x2a0"},
		{Site: "NETIO!KfdClassify+0x1b0"},
		{Site: "ndis!NdisMIndicateReceiveNetBufferLists+0x3c"},
	},
}

// inlineSite is printed as an inline frame.
var inlineSite = "eBPFCore!ebpf_lock_lock+0xf"

// distinct builds n distinct stacks from the allocator paths and callers
// (the same callers at different depths, then with different offsets in
// the outermost frame).
func distinct(n int) [][]Frame {
	seen := map[string]bool{}
	var out [][]Frame
	combos := len(callers) * len(allocators)
	for v := 0; len(out) < n; v++ {
		c := callers[v%len(callers)]
		a := allocators[(v/len(callers))%len(allocators)]
		cut := len(c) - (v/combos)%4
		st := append(append([]Frame{}, a...), c[:cut]...)
		if v >= 4*combos {
			last := st[len(st)-1]
			if i := strings.LastIndex(last.Site, "+0x"); i > 0 {
				last.Site = last.Site[:i]
			}
			last.Site += fmt.Sprintf("+0x%x", 0x1000+v)
			st[len(st)-1] = last
		}
		var sites []string
		for _, f := range st {
			sites = append(sites, f.Site)
		}
		if key := strings.Join(sites, "\n"); !seen[key] {
			seen[key] = true
			out = append(out, st)
		}
	}
	return out
}

type gen struct {
	w    *bufio.Writer
	cw   *countWriter
	rng  *rand.Rand
	nl   string
	x86  bool
	line []byte
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Generate writes a log to w.
func Generate(w io.Writer, o Options) (Stats, error) {
	if o.Size <= 0 && o.Hits <= 0 {
		return Stats{}, fmt.Errorf("genlog: need a size or a number of hits")
	}
	switch o.Arch {
	case "", "x64", "amd64":
	case "x86", "i386":
	default:
		return Stats{}, fmt.Errorf("genlog: unknown arch %q (want x64 or x86)", o.Arch)
	}
	if o.Stacks <= 0 {
		o.Stacks = 12
	}
	cw := &countWriter{w: w}
	g := &gen{
		w:   bufio.NewWriterSize(cw, 1<<20),
		cw:  cw,
		rng: rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15)),
		nl:  "\n",
		x86: o.Arch == "x86" || o.Arch == "i386",
	}
	if o.CRLF {
		g.nl = "\r\n"
	}
	sts := distinct(o.Stacks)
	stats := Stats{Counts: make([]int, len(sts))}
	for _, st := range sts {
		var sites []string
		for _, f := range st {
			sites = append(sites, f.Site)
		}
		stats.Stacks = append(stats.Stacks, sites)
	}
	// Zipf-like weights: stack i is drawn with weight 1/(i+1).
	cum := make([]float64, len(sts))
	total := 0.0
	for i := range sts {
		total += 1 / float64(i+1)
		cum[i] = total
	}

	g.preamble()
	written := func() int64 { return cw.n + int64(g.w.Buffered()) }
	for {
		if o.Hits > 0 && stats.Hits >= o.Hits || o.Size > 0 && written() >= o.Size {
			break
		}
		x := g.rng.Float64() * total
		i := 0
		for i < len(cum)-1 && cum[i] < x {
			i++
		}
		g.hit(sts[i])
		stats.Hits++
		stats.Counts[i]++
		if g.rng.IntN(40) == 0 {
			g.dbgPrint()
		}
	}
	if err := g.w.Flush(); err != nil {
		return stats, err
	}
	stats.Bytes = cw.n
	return stats, nil
}

func (g *gen) put(s string) {
	g.w.WriteString(s)
	g.w.WriteString(g.nl)
}

func (g *gen) preamble() {
	arch := "AMD64"
	target := "Windows 10 Kernel Version 19041 MP (2 procs) Free x64"
	if g.x86 {
		target = "Windows 7 Kernel Version 7601 (Service Pack 1) MP (2 procs) Free x86 compatible"
	}
	for _, l := range []string{
		"Microsoft (R) Windows Debugger Version 10.0.22621.2428 " + arch,
		"Copyright (c) Microsoft Corporation. All rights reserved.",
		"",
		`Opened \\.\pipe\com_1`,
		"Waiting to reconnect...",
		"Connected to " + target[:strings.Index(target, " Kernel")] + " target at (Tue Nov 25 21:57:03.118 2025 (UTC + 1:00)), ptr64 TRUE",
		"Kernel Debugger connection established.",
		"Symbol search path is: SRV*c:\\websymbols*https://msdl.microsoft.com/download/symbols",
		"Executable search path is: ",
		target,
		"Kernel base = 0xfffff802`1d600000 PsLoadedModuleList = 0xfffff802`1e22a2d0",
		"System Uptime: 0 days 0:03:12.734",
		"Break instruction exception - code 80000003 (first chance)",
		"nt!DbgBreakPointWithStatus:",
		"fffff802`1d9fd0b0 cc              int     3",
		`0: kd> bp nt!MmAllocateSpecialPool ";kb;g"`,
		"0: kd> g",
	} {
		g.put(l)
	}
}

func (g *gen) dbgPrint() {
	switch g.rng.IntN(4) {
	case 0:
		g.put(`avscan: scanning \Device\HarddiskVolume3\Users\build\AppData\Local\Temp\tmp` + strconv.Itoa(g.rng.IntN(100000)) + ".tmp")
	case 1:
		g.put("netfilt: flow " + strconv.Itoa(g.rng.IntN(1<<16)) + " classified, action=permit")
	case 2:
		g.put("KDTARGET: Refreshing KD connection")
	default:
		g.put("usbcam: stream 1 frame " + strconv.Itoa(g.rng.IntN(1<<20)) + " queued")
	}
}

// hex8 appends a 32-bit value as 8 hex digits.
func hex8(b []byte, v uint32) []byte {
	const digits = "0123456789abcdef"
	for s := 28; s >= 0; s -= 4 {
		b = append(b, digits[v>>uint(s)&0xf])
	}
	return b
}

// addr64 appends a 64-bit value as kd prints it: 8 hex, backtick, 8 hex.
func addr64(b []byte, v uint64) []byte {
	b = hex8(b, uint32(v>>32))
	b = append(b, '`')
	return hex8(b, uint32(v))
}

func (g *gen) kernelAddr() uint64 { return 0xfffff80200000000 | uint64(g.rng.Uint32()) }
func (g *gen) poolAddr() uint64   { return 0xffffe00100000000 | uint64(g.rng.Uint32())&^0xf }
func (g *gen) arg64() uint64 {
	switch g.rng.IntN(3) {
	case 0:
		return uint64(g.rng.IntN(0x1000))
	case 1:
		return g.poolAddr()
	}
	return g.kernelAddr()
}

func (g *gen) hit(st []Frame) {
	g.put("Breakpoint 0 hit")
	g.put("nt!MmAllocateSpecialPool:")
	if g.x86 {
		g.put("82b2f88c 8bff            mov     edi,edi")
	} else {
		g.put("fffff802`1d7f0a40 48895c2410      mov     qword ptr [rsp+10h],rbx")
	}
	g.stack(st)
}

// stack writes a kb stack: the header and one row per frame.
func (g *gen) stack(st []Frame) {
	if g.x86 {
		g.put("ChildEBP RetAddr  Args to Child              ")
	} else {
		g.put(" # RetAddr               : Args to Child                                                           : Call Site")
	}
	ebp := 0x8772d000 | g.rng.Uint32()&0xff0
	warned := false
	for i, f := range st {
		if !warned && !strings.Contains(f.Site, "!") {
			g.put("WARNING: Stack unwind information not available. Following frames may be wrong.")
			warned = true
		}
		if i > 2 && g.rng.IntN(500) == 0 {
			g.dbgPrint() // DbgPrint from another processor, inside the stack
		}
		b := g.line[:0]
		if g.x86 {
			ebp += 0x20 + g.rng.Uint32()&0x1f0
			b = hex8(b, ebp)
			b = append(b, ' ')
			b = hex8(b, 0x82a00000|g.rng.Uint32()&0xfffff)
			for k := 0; k < 3; k++ {
				b = append(b, ' ')
				switch g.rng.IntN(3) {
				case 0:
					b = hex8(b, uint32(g.rng.IntN(0x1000)))
				default:
					b = hex8(b, 0x86000000|g.rng.Uint32()&0xffffff)
				}
			}
			b = append(b, ' ')
		} else {
			b = append(b, hexByte(i)...)
			b = append(b, ' ')
			if f.Site == inlineSite {
				b = append(b, "(Inline Function) --------`--------"...)
				b = append(b, " : --------`-------- --------`-------- --------`-------- --------`-------- : "...)
			} else {
				b = addr64(b, g.kernelAddr())
				b = append(b, " : "...)
				for k := 0; k < 4; k++ {
					b = addr64(b, g.arg64())
					b = append(b, ' ')
				}
				b = append(b, ": "...)
			}
		}
		b = append(b, f.Site...)
		if f.Annot != "" {
			b = append(b, ' ')
			b = append(b, f.Annot...)
		}
		g.line = b
		g.w.Write(b)
		g.w.WriteString(g.nl)
	}
}

func hexByte(i int) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[i>>4&0xf], digits[i&0xf]})
}
