package stacks

import (
	"encoding/binary"
	"testing"
)

// realFixtures are excerpts of real kd, WinDbg and cdb output copied from
// public sources (testdata/real/SOURCES.md). The expected frames were
// written by reading the text, not by running the parser.
var realFixtures = []fixture{
	{file: "real/nickkuo_0x19c_bp_k_inline.log", hits: 1, stacks: [][]string{{
		"nt!KiAcquireKobjectLockSafe+0x14", "nt!KiAcquireKobjectLock+0xd", "nt!KeSetEvent+0x6b",
		"dxgmms2!VIDMM_WORKER_THREAD::SetWorkerThreadStatus+0x1f", "dxgmms2!VIDMM_WORKER_THREAD::Run+0x1ce0",
		"dxgmms2!VidMmWorkerThreadProc+0x9", "nt!PspSystemThreadStartup+0x57", "nt!KiStartSystemThread+0x34",
	}}},
	{file: "real/nickkuo_0x19c_thread_kv.log", stacks: [][]string{{
		"nt!KiSwapContext+0x76", "nt!KiSwapThread+0xab5", "nt!KiCommitThreadWait+0x137", "nt!KeWaitForSingleObject+0x256",
		"dxgmms2!VIDMM_WORKER_THREAD::TransitionToState+0x4d", "dxgmms2!VidMmSuspendWorkerThread+0x9",
		"dxgkrnl!VIDMM_EXPORT::VidMmSuspendWorkerThread+0x20", "dxgkrnl!ADAPTER_RENDER::SuspendVidMmWorkerThread+0x48",
		"dxgkrnl!DpiDispatchInternalIoctl+0xff", "nt!IopfCallDriver+0x40", "nt!IofCallDriver+0x55",
		"win32kbase!GreDeviceIoControlImpl+0x100", "win32k!NtUserUserPowerCalloutWorker+0x15",
		"nt!KiSystemServiceCopyEnd+0x28", "win32u!NtUserUserPowerCalloutWorker+0x14", "ntdll!RtlUserThreadStart+0x35",
	}}},
	{file: "real/ebpf2197_analyze_verifier_c4.log", stacks: [][]string{{
		"nt!KeBugCheckEx", "nt!VerifierBugCheckIfAppropriate+0xdf", "nt!VfPoolCheckForLeaks+0x46",
	}}},
	// The log ends in the middle of row 02, before its call site.
	{file: "real/ebpf1115_k100_cut.log", stacks: [][]string{{
		"nt!DbgBreakPointWithStatus", "nt!KiBugCheckDebugBreak+0x12",
	}}},
	{file: "real/ebpf2971_kn_verifier_inline.log", stacks: [][]string{{
		"nt!KeBugCheckEx", "nt!VerifierBugCheckIfAppropriate+0xdf", "nt!VfUtilCheckKernelAddress+0x41",
		"nt!ViKeAcquireSpinLockRaiseToDpcCommon+0x17", "nt!VerifierKeAcquireSpinLockRaiseToDpc+0x12",
		"eBPFCore!ebpf_lock_lock+0xf",
	}}},
	{file: "real/systeminformer1523_stack_text.log", stacks: [][]string{{
		"nt!ExpLookupHandleTableEntry", "nt!ExpGetNextHandleTableEntry+0x22", "nt!ExEnumHandleTable+0x44",
		"SystemInformer!KphEnumerateProcessHandlesEx+0x10e", "SystemInformer!KphEnumProcessContextsForProtection+0x36",
	}}},
	{file: "real/dokandotnet68_stack_text_blank_fnodobfm.log", stacks: [][]string{{
		"nt!KeBugCheckEx", "nt! ?? ::FNODOBFM::`string'+0x10295", "nt!MmAccessFault+0x5f1",
	}}},
	{file: "real/xinali7_x86_kb_kp_kP_kv.log", stacks: [][]string{
		{"test1!Add+0x1e"}, {"test1!Add+0x1e"}, {"test1!Add+0x1e"}, {"test1!Add+0x1e"},
	}},
	// x86 k with an inline frame; the log ends inside a source annotation.
	{file: "real/windbgfeedback226_x86_k_inline_cut.log", hits: 1, stacks: [][]string{{
		"x!inner", "x!wrapper_struct<void (__cdecl*)(void)>::call+0x6", "x!wrapper_func<void (__cdecl*)(void)>+0xc",
		"x!main+0xd", "x!invoke_main+0x1c", "x!__scrt_common_main_seh+0xfa",
	}}},
	{file: "real/talos_x86_kvn_warning.log", stacks: [][]string{{
		"MSVCR90!memmove+0xfc", "wwlib!DllGetClassObject+0x455a", "wwlib!GetAllocCounters+0xcadb",
		"wwlib!GetAllocCounters+0xc4bb", "wwlib!GetAllocCounters+0xc45e", "wwlib!GetAllocCounters+0x586ac",
		"wwlib!DllGetLCID+0x2d4521", "wwlib!DllGetLCID+0x299a45", "wwlib!DllGetLCID+0x685d1", "wwlib!DllGetLCID+0x6b9d5",
	}}},
	{file: "real/gdi32_x86_kv_inline_fpo_conv.log", stacks: [][]string{{
		"ntdll!memcpy+0x213", "GDI32!pmfAllocMF+0x36197", "GDI32!SetEnhMetaFileBits+0x37", "SetEnhMetaFileBits!main+0x98",
		"SetEnhMetaFileBits!invoke_main+0x1c", "SetEnhMetaFileBits!__scrt_common_main_seh+0xfa",
	}}},
	// A header without "#" over numbered rows.
	{file: "real/chromium432289371_k_header_without_hash.log", stacks: [][]string{{
		"0x000001a2`bf16199c", "d8!Builtins_JSToWasmWrapperAsm+0x86", "d8!Builtins_JSToWasmWrapper+0xdb3",
		"d8!Builtins_InterpreterEntryTrampoline+0x135", "d8!Builtins_JSEntryTrampoline+0x5c", "d8!Builtins_JSEntry+0xff",
		"d8!v8::internal::GeneratedCode<unsigned long long,unsigned long long,unsigned long long,unsigned long long,unsigned long long,long long,unsigned long long **>::Call+0x12",
		"d8!v8::internal::`anonymous namespace'::Invoke+0xaaa", "d8!v8::internal::Execution::CallScript+0xe2",
		"d8!v8::Script::Run+0x2ca", "d8!v8::Script::Run+0xd", "d8!v8::Shell::ExecuteString+0x755", "d8!invoke_main+0x22",
		"d8!__scrt_common_main_seh+0x10c", "KERNEL32!BaseThreadInitThunk+0x1d", "ntdll!RtlUserThreadStart+0x28",
	}}},
	// ARM32: a symbol warning glued to a call site, then the row's own
	// newline as a blank line inside the stack.
	{file: "real/coreclr27184_arm32_k_glued_warning.log", stacks: [][]string{{
		"CoreCLR!JIT_StackProbe+0x10", "GitHub_21061_StackOverflowInFuncletProlog!GitHub_21061._00159000.AllocLocal_DivideByZero+0xbc",
		"CoreCLR!CallEHFunclet+0x15", "CoreCLR!ExceptionTracker::CallHandler+0xe5", "CoreCLR!ExceptionTracker::CallCatchHandler+0x111",
	}}},
	{file: "real/usbhub_x86_thread_tab_indented.log", stacks: [][]string{{
		"nt!KiSwapContext+0x26", "nt!KiSwapThread+0x266", "nt!KiCommitThreadWait+0x1df", "nt!KeWaitForSingleObject+0x393",
		"usbhub!UsbhSyncSendCommand+0x1ac", "usbhub!UsbhGetDescriptor+0x5f", "usbhub!UsbhGetHubConfigurationDescriptor+0x5b",
		"usbhub!UsbhConfigureUsbHub+0x4d", "usbhub!UsbhInitialize+0x143",
	}}},
	{file: "real/appi77_mex_t_and_stack_text.log", stacks: [][]string{{
		"nt!KeBugCheckEx", "nt!KiBugCheckDispatch+0x69", "nt!KiSystemServiceHandler+0x7c", "nt!KiPageFault+0x422",
		"nt!ObpCaptureHandleInformation+0x68", "nt!ExSnapShotHandleTables+0x10d", "nt!ObGetHandleInformation+0x37",
		"nt!ExpGetHandleInformation+0x55", "nt!KiSystemServiceCopyEnd+0x13", "ntdll!ZwQuerySystemInformation+0xa",
		"MiniCtrl+0x5708d", "MiniCtrl+0x264ec",
	}, {
		"nt!ObpCaptureHandleInformation+0x68", "nt!ExSnapShotHandleTables+0x10d", "nt!KiSystemServiceCopyEnd+0x13",
		"ntdll!ZwQuerySystemInformation+0xa", "MiniCtrl+0x5708d", "MiniCtrl+0x264ec",
	}}},
	{file: "real/rust_cdb_k_unnumbered_inline.log", stacks: [][]string{{
		"core_messaging_4b9cbd3c8bffceb0!zmq::ctx_t::check_tag",
		"core_messaging_4b9cbd3c8bffceb0!zmq_ctx_term+0x13",
		"core_messaging_4b9cbd3c8bffceb0!zmq::RawContext::term+0x8",
		"core_messaging_4b9cbd3c8bffceb0!zmq::impl$10::drop+0x10",
		"core_messaging_4b9cbd3c8bffceb0!alloc::sync::Arc::drop_slow<zmq::RawContext,alloc::alloc::Global>+0x11",
		"core_messaging_4b9cbd3c8bffceb0!tokio::runtime::context::runtime::enter_runtime<tokio::runtime::scheduler::multi_thread::impl$0::block_on::closure_env$0<core::pin::Pin<ref_mut$<dyn$<core::future::...",
		"core_messaging_4b9cbd3c8bffceb0!tokio::runtime::runtime::Runtime::block_on<core::pin::Pin<ref_mut$<dyn$<core::future::future::Future<assoc$<Output,tuple$<> > > > > > >+0x55",
		"core_messaging_4b9cbd3c8bffceb0!core::ops::function::FnOnce::call_once<core_messaging::tests::zmq::two_senders_and_one_receiver_handler_tokio::closure_env$0,tuple$<> >+0xd",
		"core_messaging_4b9cbd3c8bffceb0!core::ops::function::FnOnce::call_once+0x2",
		"core_messaging_4b9cbd3c8bffceb0!std::sys::pal::windows::thread::impl$0::new::thread_start+0x3d",
		"kernel32!BaseThreadInitThunk+0x14", "ntdll!RtlUserThreadStart+0x21",
	}}},
}

// TestRealFixtures parses each real excerpt with every parser, and its
// CRLF and UTF-16 (.logopen /u) forms.
func TestRealFixtures(t *testing.T) {
	conv := map[string]func([]byte) []byte{
		"as-is":   func(b []byte) []byte { return b },
		"crlf":    crlf,
		"utf16le": func(b []byte) []byte { return append([]byte{0xFF, 0xFE}, utf16Bytes(crlf(b), binary.LittleEndian)...) },
	}
	for _, f := range realFixtures {
		for name, c := range conv {
			t.Run(f.file+"/"+name, func(t *testing.T) {
				got, hits := parseAll(t, c(readFixture(t, f.file)))
				checkStacks(t, got, hits, f)
			})
		}
	}
}
