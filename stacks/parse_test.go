package stacks

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/kdlaunch/kdlaunch/script/scripttest"
)

// fixture is a log in testdata/ and the stacks it holds, in order.
type fixture struct {
	file   string
	hits   int
	stacks [][]string
	exact  bool // line widths matter: skip the variants that change them
}

var fixtures = []fixture{
	{file: "x86_kb.log", stacks: [][]string{{
		"nt!RtlpBreakWithStatusInstruction", "nt!KiBugCheckDebugBreak+0x1c", "nt!KeBugCheck2+0x68b",
		"nt!KiTrap0E+0x2cc", "avscan+0x3057", "nt!IopLoadDriver+0x7ed", "nt!IopLoadUnloadDriver+0x70",
		"nt!ExpWorkerThread+0x10d", "nt!PspSystemThreadStartup+0x9e", "nt!KiThreadStartup+0x19",
	}}},
	{file: "x86_kv_fpo.log", stacks: [][]string{{
		"nt!ObQueryNameString+0x9b", "fltmgr!FltpGetObjectName+0x24", "fltmgr!FltpEnumerateFileSystemVolumes+0x138",
		"fltmgr!FltpFsNotification+0x1c", "PROCMON13+0x3284", "PROCMON13+0x51f", "nt!IopLoadDriver+0x66d",
		"nt!KiTrap0E+0x256", "nt!PspSystemThreadStartup+0x34", "nt!KiThreadStartup+0x16",
	}}},
	{file: "x86_kvn_poolhittag.log", stacks: [][]string{{
		"nt!ExAllocatePoolWithTag+0x881", "nt!ExAllocatePoolWithTagPriority+0x196", "nt!VeAllocatePoolWithTagPriority+0x1a7",
		"nt!VerifierExAllocatePoolWithTag+0x1e", "Sample!DriverEntry+0x27", "nt!IopLoadDriver+0x7ed",
		"nt!IopLoadUnloadDriver+0x70", "nt!ExpWorkerThread+0x10d", "nt!PspSystemThreadStartup+0x9e", "nt!KiThreadStartup+0x19",
	}}},
	{file: "x86_k.log", stacks: [][]string{{
		"chrome_child!blink::EventTarget::dispatchEvent+0xc", "chrome_child!blink::SpeechRecognition::didReceiveError+0x1a",
		"chrome_child!blink::SpeechRecognitionClientProxy::didReceiveError+0x34",
		"chrome_child!content::SpeechRecognitionDispatcher::OnErrorOccurred+0x64", "MFC71!CWnd::OnWndMsg+0x340",
		"app!Dispatch<void (__cdecl*)(int),std::allocator<char> >+0x1c", "app!Table::operator[]+0x8",
		"ntdll! ?? ::FNODOBFM::`string'+0x29220",
	}}},
	{file: "i386kd_old.log", stacks: [][]string{{
		"NTOSKRNL!KeBugCheckEx+0x19", "NTOSKRNL!KiDispatchException+0x34", "NTOSKRNL!_KiTrap0E+0x2c4",
		"HAL!_IoFlushAdapterBuffers@24+0x148", "QIC117!_kdi_FlushDMABuffers@20+0x28",
	}}},
	{file: "x64_kb_childsp.log", stacks: [][]string{{
		"tabletaudiosample!CMiniportWaveRT::NewStream", "portcls!CPortPinWaveRT::Init+0x2e7",
		"portcls!CPortFilterWaveRT::NewIrpTarget+0x193", "nt!IopCreateFile+0x3f5", "nt!KiSystemServiceCopyEnd+0x13",
		"0x00007ffb`19e0393a",
	}}},
	{file: "x64_kb_retaddr.log", stacks: [][]string{{
		"tabletaudiosample!CMiniportWaveRT::NewStream+0x1dc", "portcls!CPortPinWaveRT::Init+0x2e7",
		"portcls!CPortFilterWaveRT::NewIrpTarget+0x193", "portcls!CPortFilterWaveRT::Create+0x2c", "nt!IofCallDriver+0x59",
	}}},
	{file: "x64_kn.log", stacks: [][]string{{
		"nt!DbgBreakPointWithStatus", "nt!KiBugCheckDebugBreak+0x12", "nt!KeBugCheck2+0x8cd", "nt!KeBugCheckEx+0x107",
		"nt!KiBugCheckDispatch+0x69", "nt!KiPageFault+0x457", "avscan+0x424e", "avscan+0x1f30", "0x00007fff`69805b74",
		"FLTMGR!FltpPerformPreCallbacks+0x2f9", "FLTMGR!FltpPassThroughInternal+0x8c", "FLTMGR!FltpCreate+0x2e9",
		"nt!IofCallDriver+0x59",
	}, {
		"eBPFCore!ebpf_allocate_with_tag+0x2a", "eBPFCore!ebpf_epoch_enter+0x45", "eBPFCore!ebpf_lock_lock+0xf",
		"eBPFCore!ebpf_program_invoke+0x91", "netebpfext!net_ebpf_extension_hook_invoke_programs+0x76",
	}}},
	{file: "analyze_stack_text.log", stacks: [][]string{{
		"nt!DbgBreakPointWithStatus", "nt!KiBugCheckDebugBreak+0x12", "nt!KeBugCheck2+0xba3", "nt!KeBugCheckEx+0x107",
		"nt!HvpDoAllocateCell+0x1c", "regfilt+0x1123",
	}, {
		"perl523!S_av_top_index+0x7", "perl523!Perl_av_len+0x10", "FastCalc!XS_Math__BigInt__FastCalc__inc+0x88",
	}, {
		"MyApp!MyFunction+0x44", "MyApp!main+0x38", "ntdll!RtlUserThreadStart+0x1d",
	}}},
	{file: "hits_x64.log", hits: 4, stacks: [][]string{
		{"nt!MmAllocateSpecialPool", "nt!ExAllocatePoolWithTag+0x4e", "avscan!ScanFile+0x1b2", "FLTMGR!FltpPerformPreCallbacks+0x2f9"},
		{"nt!MmAllocateSpecialPool", "nt!ExAllocatePoolWithTag+0x4e", "avscan!ScanFile+0x1b2", "FLTMGR!FltpPerformPreCallbacks+0x2f9"},
		{"nt!MmAllocateSpecialPool", "nt!ExAllocatePoolWithTag+0x4e", "0xfffff801`d1e6f000", "netfilt+0x1c20"},
		{"nt!MmAllocateSpecialPool", "nt!ExAllocatePoolWithTag+0x4e", "avscan!ScanFile+0x1b2", "FLTMGR!FltpPerformPreCallbacks+0x2f9"},
	}},
	{file: "hits_x86.log", hits: 3, stacks: [][]string{
		{"nt!MmAllocateSpecialPool", "nt!ExAllocatePoolWithTagPriority+0x196", "nt!ExAllocatePoolWithTag+0x1a", "gwdrv+0x424e"},
		{"nt!MmAllocateSpecialPool", "nt!ExAllocatePoolWithTagPriority+0x196", "nt!ExAllocatePoolWithTag+0x1a", "gwdrv+0x424e"},
		{"nt!MmAllocateSpecialPool", "nt!ExAllocatePoolWithTagPriority+0x196", "nt!ExAllocatePoolWithTag+0x1a", "tcpip!TcpCreateAndConnectTcb+0x5c"},
	}},
	{file: "kp_params.log", stacks: [][]string{{
		"MyApp!Compute+0x1c", "MyApp!std::function<void __cdecl(int)>::operator()+0x12", "MyApp!<lambda_1>::operator()+0x8",
		"MyApp!Helper+0x4", "MyApp!main+0x27", "kernel32!BaseProcessStart+0x23",
	}, {
		"ntdll!KiFastSystemCallRet", "ntdll!NtWaitForSingleObject+0xc", "kernel32!WaitForSingleObjectEx+0xac",
		"kernel32!WaitForSingleObject+0x12", "MyApp!main+0x27", "kernel32!BaseProcessStart+0x23",
	}}},
	{file: "wrapped.log", stacks: [][]string{{
		"nt!KiTrap0E+0x2a8", "nt!IopfCallDriver+0x31", "nt!KeWaitForSingleObject+0x1c4", "nt!ExpWorkerThread+0x10d",
	}, {
		"nt!KeBugCheckEx", "nt!MmAccessFault+0x1f8", "nt!KiPageFault+0x16e",
	}}},
	{file: "hardwrap.log", exact: true, stacks: [][]string{{
		"somedriver!SomeVeryLongFunctionNameThatWrapsAround+0x1c", "otherdrv!AnotherRatherLongFunctionNameHere+0x2a",
		"nt!IopLoadDriver+0x7ed", "nt!ExpWorkerThread+0x10d",
	}, {
		"nt!KiSwapContextWithAVeryLongName+0x76",
	}}},
	{file: "glued_dbgprint.log", hits: 2, stacks: [][]string{
		{"nt!MmAllocateSpecialPool", "nt!ExAllocatePoolWithTag+0x4e", "avscan!ScanFile+0x1b2"},
		{"nt!MmAllocateSpecialPool", "netfilt+0x1c20"},
	}},
	{file: "prompts_threads.log", stacks: [][]string{
		{"NT!_RtlMoveMemory@12+0x3e", "HAL!_HalpCopyBufferMap@20+0x49"},
		{"HAL!_IoFlushAdapterBuffers@24+0x148"},
		{"QIC117!_kdi_FlushDMABuffers@20+0x28"},
		{"ntdll!KiFastSystemCallRet", "ntdll!NtRaiseHardError+0xc"},
		{"ntdll!NtWaitForSingleObject+0x15", "gssssvr!CGameServer::OnRequest+0xfa"},
		{"nt!KiSwapContext+0x76", "nt!KiSwapThread+0x15a"},
		{"nt!NtTerminateProcess", "0x866561a9", "nt!KiSystemServicePostCall", "nt!ZwTerminateProcess+0x11", "AtdrAgent+0x194bd"},
		{"NT!_DbgBreakPoint", "NT!_KeBugCheckEx+0x194", "?", "NT!_KeBugCheckEx+0x194"},
		{"nt!KiSwapContext", "nt!KiSwapThread+0x15a"},
		{"nt!KiSwapContext+0x76", "nt!KiSwapThread+0x15a"},
	}},
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// parseAll runs every way of parsing over log and checks they agree.
func parseAll(t *testing.T, log []byte) (got [][]string, hits int) {
	t.Helper()
	p := newParser(bytes.NewReader(log))
	for {
		s, err := p.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Parser: %v", err)
		}
		got = append(got, s.Frames)
	}
	hits = p.Hits()

	var scanned [][]string
	st, err := ScanWorkers(bytes.NewReader(log), 2, func(s Stack) { scanned = append(scanned, s.Frames) })
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	if !reflect.DeepEqual(scanned, got) || st.Hits != hits || st.Stacks != len(got) {
		t.Errorf("Scan disagrees with Parser:\nscan   %q (hits %d)\nparser %q (hits %d)", scanned, st.Hits, got, hits)
	}

	// Tail, fed a few bytes at a time, then flushed.
	var tailed [][]string
	tl := NewTail(func(s Stack) { tailed = append(tailed, s.Frames) })
	for i := 0; i < len(log); i += 7 {
		if _, err := tl.Write(log[i:min(i+7, len(log))]); err != nil {
			t.Fatalf("Tail: %v", err)
		}
	}
	tl.Flush()
	if !reflect.DeepEqual(tailed, got) || tl.Hits() != hits {
		t.Errorf("Tail disagrees with Parser:\ntail   %q (hits %d)\nparser %q", tailed, tl.Hits(), got)
	}
	return got, hits
}

func parseSeq(t *testing.T, log []byte) (got [][]string) {
	t.Helper()
	p := newParser(bytes.NewReader(log))
	for {
		s, err := p.Next()
		if err == io.EOF {
			return got
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, s.Frames)
	}
}

func checkStacks(t *testing.T, got [][]string, hits int, f fixture) {
	t.Helper()
	if hits != f.hits {
		t.Errorf("hits = %d, want %d", hits, f.hits)
	}
	if len(got) != len(f.stacks) {
		t.Errorf("got %d stacks, want %d", len(got), len(f.stacks))
	}
	for i := 0; i < len(got) && i < len(f.stacks); i++ {
		if !reflect.DeepEqual(got[i], f.stacks[i]) {
			t.Errorf("stack %d:\n got  %q\n want %q", i, got[i], f.stacks[i])
		}
	}
}

func TestFixtures(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.file, func(t *testing.T) {
			got, hits := parseAll(t, readFixture(t, f.file))
			checkStacks(t, got, hits, f)
		})
	}
}

// Variants of every fixture that must parse the same: CRLF, UTF-16 with and
// without a BOM, indentation, trailing spaces, no final newline.
func TestFixtureVariants(t *testing.T) {
	variants := map[string]func([]byte) []byte{
		"crlf": func(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n")) },
		"utf16le-bom": func(b []byte) []byte {
			return append([]byte{0xFF, 0xFE}, utf16Bytes(crlf(b), binary.LittleEndian)...)
		},
		"utf16le": func(b []byte) []byte { return utf16Bytes(crlf(b), binary.LittleEndian) },
		"utf16be-bom": func(b []byte) []byte {
			return append([]byte{0xFE, 0xFF}, utf16Bytes(b, binary.BigEndian)...)
		},
		"utf8-bom": func(b []byte) []byte { return append([]byte{0xEF, 0xBB, 0xBF}, b...) },
		"indented": func(b []byte) []byte {
			return append([]byte("    "), bytes.ReplaceAll(b, []byte("\n"), []byte("\n    "))...)
		},
		"trailing-spaces":  func(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\n"), []byte("  \t \n")) },
		"no-final-newline": func(b []byte) []byte { return bytes.TrimRight(b, "\n") },
	}
	for name, conv := range variants {
		for _, f := range fixtures {
			if f.exact && (name == "indented" || name == "trailing-spaces") {
				continue
			}
			t.Run(name+"/"+f.file, func(t *testing.T) {
				got, hits := parseAll(t, conv(readFixture(t, f.file)))
				checkStacks(t, got, hits, f)
			})
		}
	}
}

func crlf(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n")) }

func utf16Bytes(b []byte, order binary.ByteOrder) []byte {
	units := utf16.Encode([]rune(string(b)))
	out := make([]byte, 2*len(units))
	for i, u := range units {
		order.PutUint16(out[2*i:], u)
	}
	return out
}

// A log cut anywhere (a log kd is still writing) parses without error: the
// stacks before the cut are whole and the last one, if any, is a prefix of
// the one that was cut.
func TestTruncatedAnywhere(t *testing.T) {
	for _, name := range []string{"hits_x64.log", "kp_params.log", "wrapped.log", "x86_kv_fpo.log"} {
		log := readFixture(t, name)
		var full fixture
		for _, f := range fixtures {
			if f.file == name {
				full = f
			}
		}
		for cut := 0; cut <= len(log); cut++ {
			var got [][]string
			if cut%5 == 0 {
				got, _ = parseAll(t, log[:cut]) // all parsers, compared
			} else {
				got = parseSeq(t, log[:cut])
			}
			if len(got) > len(full.stacks) {
				t.Fatalf("%s cut at %d: %d stacks, more than %d", name, cut, len(got), len(full.stacks))
			}
			for i, s := range got {
				want := full.stacks[i]
				if i < len(got)-1 {
					if !reflect.DeepEqual(s, want) {
						t.Fatalf("%s cut at %d: stack %d = %q, want %q", name, cut, i, s, want)
					}
					continue
				}
				// the last one may be cut short, its last frame too
				if len(s) > len(want) || !reflect.DeepEqual(s[:len(s)-1], want[:len(s)-1]) {
					t.Fatalf("%s cut at %d: last stack %q is not a prefix of %q", name, cut, s, want)
				}
			}
		}
	}
}

func TestBinaryAndEmpty(t *testing.T) {
	binaries := map[string][]byte{
		"elf":     append([]byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00"), make([]byte, 64)...),
		"gzip":    {0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xcb, 0x48, 0xcd, 0xc9},
		"control": bytes.Repeat([]byte{0x01, 0x02, 0x03, 'a'}, 50),
		"nul":     []byte("Breakpoint 0 hit\n\x00\x00\x00 ChildEBP RetAddr\n"),
	}
	for name, b := range binaries {
		_, err := ScanWorkers(bytes.NewReader(b), 2, func(Stack) {})
		var be *BinaryError
		if !errors.Is(err, ErrBinary) || !errors.As(err, &be) {
			t.Errorf("%s: Scan error = %v, want ErrBinary", name, err)
		}
		if _, err := newParser(bytes.NewReader(b)).Next(); !errors.Is(err, ErrBinary) {
			t.Errorf("%s: Parser error = %v, want ErrBinary", name, err)
		}
		if _, err := NewTail(func(Stack) {}).Write(append(b, '\n')); !errors.Is(err, ErrBinary) {
			t.Errorf("%s: Tail error = %v, want ErrBinary", name, err)
		}
	}
	st, err := Scan(bytes.NewReader(nil), func(Stack) { t.Error("stack in empty input") })
	if err != nil || st.Bytes != 0 || st.Stacks != 0 {
		t.Errorf("empty input: %+v, %v", st, err)
	}
	if _, err := newParser(strings.NewReader("")).Next(); err != io.EOF {
		t.Errorf("empty input: Parser error %v, want io.EOF", err)
	}
}

// A read error is reported, with the stacks read before it.
func TestReadError(t *testing.T) {
	boom := errors.New("boom")
	r := io.MultiReader(bytes.NewReader(readFixture(t, "hits_x64.log")), errReader{boom})
	n := 0
	_, err := Scan(r, func(Stack) { n++ })
	if !errors.Is(err, boom) || n == 0 {
		t.Errorf("Scan: %d stacks, err %v; want some stacks and boom", n, err)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// Stacks that span the parallel scanner's chunk boundaries, with and
// without a cut point nearby.
func TestChunkBoundaries(t *testing.T) {
	block := readFixture(t, "x64_kn.log")
	var log bytes.Buffer
	n := 0
	for log.Len() < 3*chunkSize {
		log.Write(block)
		n++
	}
	// a long stretch without hits or headers: chunks must be continued
	noise := bytes.Repeat([]byte("avscan: scanning a file that is not interesting\n"), chunkSize/40)
	log.Write(noise)
	log.Write(block)
	n++
	want := 2 * n
	for _, w := range []int{1, 2, 4} {
		got := 0
		st, err := ScanWorkers(bytes.NewReader(log.Bytes()), w, func(s Stack) {
			if len(s.Frames) != 13 && len(s.Frames) != 5 {
				t.Errorf("workers %d: stack of %d frames: %q", w, len(s.Frames), s.Frames)
			}
			got++
		})
		if err != nil || got != want || st.Stacks != want {
			t.Errorf("workers %d: %d stacks (%+v), err %v; want %d", w, got, st, err, want)
		}
	}
}

func TestHeaders(t *testing.T) {
	for _, h := range []string{
		"ChildEBP RetAddr  Args to Child",
		"ChildEBP RetAddr",
		" # ChildEBP RetAddr  Args to Child              ",
		"FramePtr  RetAddr   Param1   Param2   Param3   Function Name",
		"Child-SP          RetAddr           : Args to Child                                                           : Call Site",
		"# RetAddr           : Args to Child                                                           : Call Site",
		" # Child-SP          RetAddr           Call Site",
		" # Child-SP          RetAddr               Call Site",
		" #   Memory  Child-SP          RetAddr           Call Site",
		" # Call Site",
		" # Child-SP         Return           Call Site    Source",
	} {
		if _, ok := parseHeader(trimSpace([]byte(h))); !ok {
			t.Errorf("not a header: %q", h)
		}
	}
	for _, h := range []string{"Call Site count = 3", "# of frames: 3", "Cid 0004.0044", "FLTMGR!FltpCreate+0x2e9", "Return value 0"} {
		if _, ok := parseHeader([]byte(h)); ok {
			t.Errorf("taken for a header: %q", h)
		}
	}
}

// The table shared with kd's dialect: what ends a stack as a prompt or a hit.
func TestSharedLines(t *testing.T) {
	for _, l := range scripttest.Lines {
		tt := trimSpace([]byte(l.Text))
		if len(tt) == 0 {
			continue
		}
		want := lkOther
		switch {
		case l.Hit:
			want = lkBreakpoint
		case l.LogPrompt:
			want = lkPrompt
		}
		got, _ := classify(tt)
		if (got == lkBreakpoint || got == lkPrompt || want != lkOther) && got != want {
			t.Errorf("classify(%q) = %d, want %d (hit %v, log prompt %v)", l.Text, got, want, l.Hit, l.LogPrompt)
		}
	}
}

// Single rows under a header: the call site found, or not a row.
func TestRows(t *testing.T) {
	const (
		x86kb  = "ChildEBP RetAddr  Args to Child"
		x86kvn = " # ChildEBP RetAddr  Args to Child"
		x64k   = "Child-SP          RetAddr           Call Site"
		x64kb  = "Child-SP          RetAddr           : Args to Child                                                           : Call Site"
		mex    = " # Child-SP         Return           Call Site    Source"
	)
	cases := []struct{ header, row, site string }{
		{x86kb, "92f6374c 82c2c95a 00000003 92f68cdc 00000000 nt!RtlpBreakWithStatusInstruction", "nt!RtlpBreakWithStatusInstruction"},
		{x86kb, "(Inline) -------- -------- -------- -------- mydrv!Inl+0x4", "mydrv!Inl+0x4"},
		{x86kvn, "03 (Inline) -------- -------- -------- -------- mydrv!Inl+0x4 (FPO: [0,0,0])", "mydrv!Inl+0x4"},
		{x86kb, "92f6374c 82c2c95a 00000003 92f68cdc 00000000 <Unloaded_foo.sys>+0x1234", "<Unloaded_foo.sys>+0x1234"},
		{x86kb, "92f6374c 82c2c95a 00000003 92f68cdc 00000000 0x82c2c95a", "0x82c2c95a"},
		{x86kb, "92f6374c 82c2c95a 00000003 92f68cdc 00000000 mod!std::vector<unsigned char,std::allocator<unsigned char> >::push_back+0x12", "mod!std::vector<unsigned char,std::allocator<unsigned char> >::push_back+0x12"},
		{x86kb, "92f6374c 82c2c95a 00000003 92f68cdc 00000000 mod!operator new+0x12 [f.cpp @ 3]", "mod!operator new+0x12"},
		{x64k, "(Inline Function) --------`--------     eBPFCore!ebpf_lock_lock+0xf [d:\\x.c @ 40]", "eBPFCore!ebpf_lock_lock+0xf"},
		{x64kb, "(Inline Function) --------`-------- : --------`-------- --------`-------- --------`-------- --------`-------- : portcls!X+0x2c", "portcls!X+0x2c"},
		{x64kb, "ffffd001`c70c6b10 00007ffb`19e0393a : 00000000`00000000 00000000`00000000 00000000`00000000 00000000`00000000 : nt!KiSystemServiceCopyEnd+0x13 (TrapFrame @ ffffd001`c70c6c40)", "nt!KiSystemServiceCopyEnd+0x13"},
		{mex, "00 ffffd001c70c62a8 fffff8007a0fa607 nt!KiSwapContext+0x76    c:\\src\\file.c @ 123", "nt!KiSwapContext+0x76"},
		{x86kb, "aade54c0 55              push    ebp", ""},
		{x64k, "fffff801`0bf95810 4c89442418      mov     qword ptr [rsp+18h],r8", ""},
		{x86kb, "0: kd> kb", ""},
		{x64kb, "eax=00087000 ebx=00000000 ecx=03ff0000", ""},
	}
	for _, c := range cases {
		lay, ok := parseHeader(trimSpace([]byte(c.header)))
		if !ok {
			t.Fatalf("header %q", c.header)
		}
		site, _, st := parseRow(trimSpace([]byte(c.row)), &lay)
		if c.site == "" {
			if st == rowOK {
				t.Errorf("%q taken for a row (site %q)", c.row, site)
			}
			continue
		}
		if st != rowOK || string(site) != c.site {
			t.Errorf("%q: site %q (status %d), want %q", c.row, site, st, c.site)
		}
	}
}
