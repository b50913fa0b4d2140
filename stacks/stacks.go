// Package stacks finds the stack backtraces in kd and WinDbg output (kb, kv,
// kn, kp, kP, k, kc, !thread, !analyze -v STACK_TEXT, x86 and x64, every
// layout "Stack layouts" in docs/kd-protocol.md lists) and yields each as the list of
// its call sites, innermost first.
//
// The parser streams: it holds one stack in progress and an intern table of
// the distinct stacks seen, so memory grows with the number of distinct
// stacks, not with the size of the log. Columns are found from the stack
// header (ChildEBP/Child-SP/RetAddr/Args to Child/Call Site) by counting
// values, not by fixed offsets; indentation, CRLF, UTF-16 (.logopen /u),
// prompts, commands, DbgPrint lines and debugger warnings between or inside
// stacks are tolerated, and a log cut off in the middle of a stack is not an
// error.
//
// A frame is the call site as kd printed it (module!function+0xoffset,
// module+0xoffset, or a bare 0x address) without the annotations kd appends:
// " [file @ line]", "(FPO: ...)", "(CONV: ...)", "(TrapFrame @ ...)",
// "[Stdcall: N]", and without kp/kP parameter lists. A row that has its
// address columns but no call site becomes the frame "?".
//
// A stack ends at a blank line, a prompt ("0: kd> "), the next header, a
// "Breakpoint N hit" line, more than a few unrecognised lines, or the end of
// the input.
package stacks

import "strings"

// Stack is one stack backtrace.
type Stack struct {
	// Frames are the call sites, innermost (frame 00) first. Parsers share
	// the slice between identical stacks: do not modify it.
	Frames []string

	key string
}

// Key returns the frames joined with "\n": equal keys mean identical stacks.
func (s Stack) Key() string {
	if s.key == "" && len(s.Frames) > 0 {
		return strings.Join(s.Frames, "\n")
	}
	return s.key
}

func (u *unique) stack() Stack { return Stack{Frames: u.frames, key: u.key} }

// Stats describes one parsed input.
type Stats struct {
	Encoding Encoding
	Bytes    int64 // bytes of text (UTF-8, after decoding) read
	Lines    int64
	Hits     int // "Breakpoint N hit" lines
	Stacks   int // stacks yielded
}
