package fakekd

import (
	"fmt"
	"strings"
)

// Stack layouts of kd-protocol.md "Stack layouts", with kd's exact column widths. Args to
// Child is 4 x 17 characters plus separators on x64, so its header is
// "Args to Child" padded to 72 columns.
const (
	argsHeader64 = "Args to Child                                                           "
	// kb in newer debuggers. kd-protocol.md "Stack layouts" shows the header
	// as copied, without its leading space, but the header's "#" sits over
	// the frame numbers' second digit, as in kn (" # Child-SP").
	hdrKbNew = " # RetAddr           : " + argsHeader64 + ": Call Site"
	hdrKbOld = "Child-SP          RetAddr           : " + argsHeader64 + ": Call Site"
	hdrKn    = " # Child-SP          RetAddr               Call Site"
	hdrX86Kb = "ChildEBP RetAddr  Args to Child"
	hdrX86K  = "ChildEBP RetAddr"

	inlineSP  = "(Inline Function)"
	inlineRet = "--------`--------"
)

// layoutFor maps a k* command to a layout. "kb" is what breakpoint command
// strings use, so FAKEKD_STACK_FORMAT decides it; the others are fixed.
func layoutFor(a *arch, cmd, configured string) string {
	switch {
	case cmd == "kb":
		return configured
	case a.ptr64 && cmd == "kv":
		return "kb-old" // kd-protocol.md "Stack layouts": x64 kv prints the older layout
	case a.ptr64:
		return "kn"
	case cmd == "kv":
		return "kv"
	default:
		return "k"
	}
}

// formatStack prints frames in a layout; max limits the frame count (0: all).
// warnAt is the index of a frame after which the unwind warning is printed,
// -1 for none.
func formatStack(a *arch, layout string, frames []frame, max, warnAt int) []string {
	var out []string
	switch layout {
	case "kb-new":
		out = append(out, hdrKbNew)
	case "kb-old":
		out = append(out, hdrKbOld)
	case "kn":
		out = append(out, hdrKn)
	case "kb", "kv":
		out = append(out, hdrX86Kb)
	case "k":
		out = append(out, hdrX86K)
	}
	n := 0
	for i, f := range frames {
		if max > 0 && n >= max {
			break
		}
		if f.inline && layout != "kn" {
			continue // only the numbered x64 layout shows inline frames here
		}
		out = append(out, frameLine(a, layout, n, f))
		n++
		if i == warnAt {
			out = append(out, unwindWarning)
		}
	}
	return out
}

func frameLine(a *arch, layout string, n int, f frame) string {
	src := ""
	if f.src != "" {
		src = " [" + f.src + "]"
	}
	num := hex2(n)
	switch layout {
	case "kb-new":
		return num + " " + a.addr(f.ret) + " : " + args(a, f) + " : " + f.site + src
	case "kb-old":
		return a.addr(f.sp) + " " + a.addr(f.ret) + " : " + args(a, f) + " : " + f.site + src
	case "kn":
		if f.inline {
			return num + " " + inlineSP + " " + inlineRet + "     " + f.site + src
		}
		return num + " " + a.addr(f.sp) + " " + a.addr(f.ret) + "     " + f.site + src
	case "kb":
		return a.addr(f.sp) + " " + a.addr(f.ret) + " " + args(a, f) + " " + f.site + src
	case "kv":
		return a.addr(f.sp) + " " + a.addr(f.ret) + " " + args(a, f) + " " + f.site + " (FPO: [Non-Fpo])" + src
	default: // "k"
		return a.addr(f.sp) + " " + a.addr(f.ret) + " " + f.site + src
	}
}

func args(a *arch, f frame) string {
	parts := make([]string, len(f.args))
	for i, v := range f.args {
		parts[i] = a.addr(v)
	}
	return strings.Join(parts, " ")
}

// hex2 is kd's frame number: lower-case hex, at least two digits
// (kd-protocol.md "Stack layouts": "0a", "0b", ... "11").
func hex2(n int) string { return fmt.Sprintf("%02x", n) }
