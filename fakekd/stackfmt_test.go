package fakekd

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// Golden lines copied from kd-protocol.md "Stack layouts".
const (
	goldenKbOldHeader = "Child-SP          RetAddr           : Args to Child                                                           : Call Site"
	goldenKbOldFrame  = "ffffd001`c70c62a8 fffff800`7a0fa607 : ffffe001`d4aec5c0 ffffe001`cdefd3d8 ffffe001`d4aec5c0 ffffe001`cdefd390 : tabletaudiosample!CMiniportWaveRT::NewStream [c:\\data1\\threshold\\audio\\endpointscommon\\minwavert.cpp @ 562]"
	goldenKbNewHeader = "# RetAddr           : Args to Child                                                           : Call Site"
	goldenKbNewFrame  = "00 fffff800`7a0fa607 : ffffe001`d1182000 ffffe001`d4776d20 ffffe001`d4776bc8 ffffe001`00000000 : tabletaudiosample!CMiniportWaveRT::NewStream+0x1dc [c:\\data1\\threshold\\audio\\endpointscommon\\minwavert.cpp @ 597]"
	goldenKnHeader    = " # Child-SP          RetAddr               Call Site"
	goldenInlineFrame = "05 (Inline Function) --------`--------     eBPFCore!ebpf_lock_lock+0xf [...]"
	goldenX86Header   = "ChildEBP RetAddr  Args to Child"
	goldenX86Frame    = "92f6374c 82c2c95a 00000003 92f68cdc 00000000 nt!RtlpBreakWithStatusInstruction"
	goldenX86KHeader  = "ChildEBP RetAddr"
)

func TestFrameLinesMatchKdFacts(t *testing.T) {
	x64, x86 := archs["x64"], archs["x86"]
	tests := []struct {
		name   string
		a      *arch
		layout string
		n      int
		f      frame
		want   string
	}{
		{"x64 kb-old (kv) frame", x64, "kb-old", 0, frame{
			sp: 0xffffd001c70c62a8, ret: 0xfffff8007a0fa607,
			args: []uint64{0xffffe001d4aec5c0, 0xffffe001cdefd3d8, 0xffffe001d4aec5c0, 0xffffe001cdefd390},
			site: "tabletaudiosample!CMiniportWaveRT::NewStream", src: `c:\data1\threshold\audio\endpointscommon\minwavert.cpp @ 562`,
		}, goldenKbOldFrame},
		{"x64 kb-new frame", x64, "kb-new", 0, frame{
			ret:  0xfffff8007a0fa607,
			args: []uint64{0xffffe001d1182000, 0xffffe001d4776d20, 0xffffe001d4776bc8, 0xffffe00100000000},
			site: "tabletaudiosample!CMiniportWaveRT::NewStream+0x1dc", src: `c:\data1\threshold\audio\endpointscommon\minwavert.cpp @ 597`,
		}, goldenKbNewFrame},
		{"x64 kn inline frame", x64, "kn", 5, frame{inline: true, site: "eBPFCore!ebpf_lock_lock+0xf", src: "..."}, goldenInlineFrame},
		{"x64 kn frame", x64, "kn", 0x0a, frame{sp: 0xffffd001c70c62a8, ret: 0xfffff8007a0fa607, site: "nt!IofCallDriver+0x55"},
			"0a ffffd001`c70c62a8 fffff800`7a0fa607     nt!IofCallDriver+0x55"},
		{"x86 kb frame", x86, "kb", 0, frame{sp: 0x92f6374c, ret: 0x82c2c95a, args: []uint64{3, 0x92f68cdc, 0}, site: "nt!RtlpBreakWithStatusInstruction"}, goldenX86Frame},
		{"x86 kv frame", x86, "kv", 0, frame{sp: 0x92f6374c, ret: 0x82c2c95a, args: []uint64{3, 0x92f68cdc, 0}, site: "nt!RtlpBreakWithStatusInstruction"},
			goldenX86Frame + " (FPO: [Non-Fpo])"},
		{"x86 kv frame with source", x86, "kv", 0, frame{sp: 1, ret: 2, args: []uint64{0, 0, 0}, site: "leakydrv!F+0x2c", src: `d:\src\leaky\alloc.c @ 120`},
			"00000001 00000002 00000000 00000000 00000000 leakydrv!F+0x2c (FPO: [Non-Fpo]) [d:\\src\\leaky\\alloc.c @ 120]"},
		{"x86 k frame", x86, "k", 0, frame{sp: 0x92f6374c, ret: 0x82c2c95a, site: "nt!KiIdleLoop+0x10"}, "92f6374c 82c2c95a nt!KiIdleLoop+0x10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := frameLine(tt.a, tt.layout, tt.n, tt.f); got != tt.want {
				t.Errorf("\ngot  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestHeadersMatchKdFacts(t *testing.T) {
	if hdrKbOld != goldenKbOldHeader {
		t.Errorf("kb-old header\ngot  %q\nwant %q", hdrKbOld, goldenKbOldHeader)
	}
	// kd-protocol.md "Stack layouts" shows this header without its leading space (see hdrKbNew);
	// the text after it must match, and the columns must line up.
	if hdrKbNew != " "+goldenKbNewHeader {
		t.Errorf("kb-new header\ngot  %q\nwant %q", hdrKbNew, " "+goldenKbNewHeader)
	}
	if hdrKn != goldenKnHeader || hdrX86Kb != goldenX86Header || hdrX86K != goldenX86KHeader {
		t.Errorf("headers: %q %q %q", hdrKn, hdrX86Kb, hdrX86K)
	}
	// Column alignment: the header's column title starts where the frame
	// lines put that column.
	for _, c := range []struct{ hdr, hdrCol, frame, frameCol string }{
		{hdrKbOld, ": Call Site", goldenKbOldFrame, ": tabletaudiosample"},
		{hdrKbNew, ": Call Site", goldenKbNewFrame, ": tabletaudiosample"},
		{hdrKbNew, "RetAddr", goldenKbNewFrame, "fffff800"},
		{hdrKn, "Call Site", "0a ffffd001`c70c62a8 fffff800`7a0fa607     nt!IofCallDriver+0x55", "nt!"},
		{hdrKn, "RetAddr", "0a ffffd001`c70c62a8 fffff800`7a0fa607     nt!IofCallDriver+0x55", "fffff800"},
		{hdrKn, "Call Site", goldenInlineFrame, "eBPFCore"},
		{hdrX86Kb, "Args to Child", goldenX86Frame, "00000003"},
	} {
		if got, want := strings.Index(c.hdr, c.hdrCol), strings.Index(c.frame, c.frameCol); got != want {
			t.Errorf("header %q: %q at %d, frame %q has %q at %d", c.hdr, c.hdrCol, got, c.frame, c.frameCol, want)
		}
	}
}

func TestBuildStackChainsReturnAddresses(t *testing.T) {
	a := archs["x64"]
	defs := append([]FrameDef{{Sym: "nt!MmAllocateSpecialPool"}, {Sym: "nt!ExAllocatePoolWithTag+0x3a1"}}, defaultStacks[1].Frames...)
	frames := buildStack(a, rand.New(rand.NewPCG(1, 2)), defs, false, nil)
	for i := 0; i+1 < len(frames); i++ {
		if frames[i].ret != frames[i+1].ip {
			t.Errorf("frame %d ret %x != frame %d ip %x", i, frames[i].ret, i+1, frames[i+1].ip)
		}
	}
	if frames[0].ip != 0xfffff8011e2a3b40 || frames[0].site != "nt!MmAllocateSpecialPool" {
		t.Errorf("innermost frame = %q at %x", frames[0].site, frames[0].ip)
	}
	if last := frames[len(frames)-1]; last.ret != 0 {
		t.Errorf("idle-loop stack ends with ret %x, want 0", last.ret)
	}
	// Same seed, same stack: tests and demos are reproducible.
	again := buildStack(a, rand.New(rand.NewPCG(1, 2)), defs, false, nil)
	if strings.Join(formatStack(a, "kn", frames, 0, -1), "\n") != strings.Join(formatStack(a, "kn", again, 0, -1), "\n") {
		t.Error("stack not deterministic for a seed")
	}
}

func TestFormatStackLayouts(t *testing.T) {
	a := archs["x64"]
	defs := append([]FrameDef{{Sym: "nt!MmAllocateSpecialPool"}}, defaultStacks[1].Frames...) // netfltx, with an inline frame
	frames := buildStack(a, rand.New(rand.NewPCG(1, 2)), defs, false, nil)

	kn := formatStack(a, "kn", frames, 0, -1)
	if len(kn) != 1+len(frames) || !strings.HasPrefix(kn[2], "01 (Inline Function) --------`--------     netfltx!FilterAllocateContext+0x1e [d:\\src\\netfltx\\filter.c @ 311]") {
		t.Errorf("kn:\n%s", strings.Join(kn, "\n"))
	}
	kb := formatStack(a, "kb-new", frames, 0, -1)
	if len(kb) != len(frames) || strings.Contains(strings.Join(kb, "\n"), "Inline") || !strings.HasPrefix(kb[2], "01 ") {
		t.Errorf("kb-new should skip the inline frame and renumber:\n%s", strings.Join(kb, "\n"))
	}
	if got := formatStack(a, "kn", frames, 3, -1); len(got) != 4 {
		t.Errorf("kn with max 3 printed %d lines", len(got))
	}
	warned := formatStack(a, "kb-old", frames, 0, 2)
	if warned[3] != unwindWarning {
		t.Errorf("warning not after frame 2:\n%s", strings.Join(warned, "\n"))
	}

	bare := buildStack(a, rand.New(rand.NewPCG(1, 2)), defaultStacks[3].Frames, false, nil)
	if bare[0].site != "0xfffff801`69805b74" {
		t.Errorf("bare frame site %q", bare[0].site)
	}
	x86 := buildStack(archs["x86"], rand.New(rand.NewPCG(1, 2)), defaultStacks[0].Frames, true, []uint64{0x40, 0x206b6444, 0})
	k := formatStack(archs["x86"], "kb", x86, 0, -1)
	if !strings.HasPrefix(k[1][18:], "00000040 206b6444 00000000 leakydrv!LeakyAllocateBuffer+0x2c") {
		t.Errorf("x86 kb first frame %q", k[1])
	}
	if !strings.Contains(k[len(k)-1], " 77c2e4f4 ") || !strings.HasSuffix(k[len(k)-1], "nt!KiFastCallEntry+0x12a") {
		t.Errorf("x86 system call frame %q", k[len(k)-1])
	}
}

func TestLayoutFor(t *testing.T) {
	x64, x86 := archs["x64"], archs["x86"]
	tests := []struct {
		a    *arch
		cmd  string
		conf string
		want string
	}{
		{x64, "kb", "kb-new", "kb-new"},
		{x64, "kb", "kn", "kn"},
		{x64, "kv", "kb-new", "kb-old"},
		{x64, "k", "kb-new", "kn"},
		{x64, "kn", "kb-old", "kn"},
		{x86, "kb", "kb", "kb"},
		{x86, "kb", "k", "k"},
		{x86, "kv", "kb", "kv"},
		{x86, "kn", "kb", "k"},
	}
	for _, tt := range tests {
		if got := layoutFor(tt.a, tt.cmd, tt.conf); got != tt.want {
			t.Errorf("layoutFor(%s, %s, %s) = %s, want %s", tt.a.name, tt.cmd, tt.conf, got, tt.want)
		}
	}
}

func TestParseDrivers(t *testing.T) {
	stacks, err := parseDrivers("leakydrv!LeakyAlloc>leakydrv!LeakyWrite:5, avscan+0x424e , 0xfffff801`69805b74:2")
	if err != nil {
		t.Fatal(err)
	}
	if len(stacks) != 3 || stacks[0].Weight != 5 || stacks[1].Weight != 1 || stacks[2].Weight != 2 {
		t.Fatalf("stacks %+v", stacks)
	}
	if stacks[0].Frames[1].Sym != "leakydrv!LeakyWrite" || stacks[2].Frames[0].Bare != 0xfffff80169805b74 {
		t.Errorf("frames %+v / %+v", stacks[0].Frames, stacks[2].Frames)
	}
	if tail := stacks[1].Frames[len(stacks[1].Frames)-1].Sym; tail != "nt!KiSystemServiceCopyEnd+0x25" {
		t.Errorf("tail %q", tail)
	}
	for _, bad := range []string{"", "leaky", "x!y:0", "x!y:z", "0xzz", "a b!c"} {
		if _, err := parseDrivers(bad); err == nil {
			t.Errorf("parseDrivers(%q) accepted", bad)
		}
	}
}

func TestPickStackFollowsWeights(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 0))
	counts := map[string]int{}
	for range 11000 {
		counts[pickStack(rng, defaultStacks).Frames[0].Sym]++
	}
	// weights 5:3:2:1 of 11
	if c := counts["leakydrv!LeakyAllocateBuffer+0x2c"]; c < 4500 || c > 5500 {
		t.Errorf("leakydrv picked %d of 11000", c)
	}
	if c := counts[""]; c < 700 || c > 1300 {
		t.Errorf("bare stack picked %d of 11000", c)
	}
}
