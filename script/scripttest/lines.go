// Package scripttest holds the table of real kd prompt and hit lines that
// both kd's dialect (package script) and the log parser (package stacks)
// are tested against, so the two cannot come to disagree about what kd
// prints. Each line is one kd printed, as docs/kd-protocol.md ("Prompts",
// "Breakpoint hits") describes it with its source, or a near miss that is
// not kd's.
package scripttest

// Line is one line of kd output and what it is.
type Line struct {
	Text string
	// Prompt: a partial line made of kd prompts only; the session may type
	// at it.
	Prompt bool
	// LogPrompt: the log parser reads the line as a prompt (a kd prompt or a
	// user-mode debugger's, either with output after it); it reads every
	// line without its indentation, as logs pasted into reports often are.
	LogPrompt bool
	// Hit: kd's "Breakpoint N hit", at the start of the line, after a
	// prompt, or glued to a DbgPrint that lacked its newline.
	Hit bool
}

// Lines are the shared cases.
var Lines = []Line{
	// Prompts: single processor, multiprocessor, historic, local, WoW64.
	{Text: "kd> ", Prompt: true, LogPrompt: true},
	{Text: "0: kd> ", Prompt: true, LogPrompt: true},
	{Text: "12: kd> ", Prompt: true, LogPrompt: true},
	{Text: "1: kd>", Prompt: true, LogPrompt: true},
	{Text: "0: kd> \r", Prompt: true, LogPrompt: true},
	{Text: "0: kd:x86> ", Prompt: true, LogPrompt: true},
	{Text: "lkd> ", Prompt: true, LogPrompt: true},
	{Text: "KD>", Prompt: true, LogPrompt: true},
	{Text: "KDx86> ", Prompt: true, LogPrompt: true},
	{Text: "0: kd> 0: kd> ", Prompt: true, LogPrompt: true}, // two commands that printed nothing
	{Text: "kd> kd> kd> ", Prompt: true, LogPrompt: true},
	// A prompt with a command or output after it: a prompt to the log
	// parser, not a bare prompt to the session.
	{Text: "0: kd> kb", LogPrompt: true},
	{Text: "kd>!kv", LogPrompt: true},
	{Text: "1: kd:x86> kb", LogPrompt: true},
	{Text: "lkd> !thread", LogPrompt: true},
	{Text: "KDx86> k", LogPrompt: true},
	// User-mode debuggers' prompts: never kd's, but found in WinDbg logs.
	{Text: "0:000> ", LogPrompt: true},
	{Text: "0:000> ~*kb", LogPrompt: true},
	{Text: "0:000:x86> k", LogPrompt: true},
	// Not prompts.
	// kd prints its prompt at the start of a line: indented it is text to
	// the session, while the log parser reads the line unindented.
	{Text: "  kd> ", LogPrompt: true},
	{Text: "mykd> "},
	{Text: "ikd> "},
	{Text: "0: kd"},
	{Text: "kd"},
	{Text: "avscan> scanning"},
	{Text: "x> y"},
	{Text: "0: 12"},
	{Text: "00 fffff800`12345678"},
	{Text: "some very long line of text that ends in kd> "},
	{Text: ""},
	// Breakpoint hits.
	{Text: "Breakpoint 0 hit", Hit: true},
	{Text: "Breakpoint 12 hit", Hit: true},
	{Text: "Breakpoint 31 hit\r", Hit: true},
	{Text: "  Breakpoint 3 hit", Hit: true},
	{Text: "0: kd> Breakpoint 0 hit", LogPrompt: true, Hit: true}, // after g over pipes: on the prompt's line
	{Text: "Ddkdrv: DdkDispatchCreate Breakpoint 0 hit", Hit: true},
	{Text: "avscan: scanning x.tmpBreakpoint 0 hit", Hit: true},
	{Text: "avscan: scanning x.tmpBreakpoint 12 hit\r", Hit: true},
	// Not hits.
	{Text: "my driver says Breakpoint 0 hit in a DbgPrint"},
	{Text: "Ddkdrv: no Breakpoint hit"},
	{Text: "Ddkdrv: Breakpoint 0 hit twice"},
	{Text: "Breakpoint x hit"},
	{Text: "Breakpoint 0 redefined"},
	{Text: "nt!MmAllocateSpecialPool:"},
}
