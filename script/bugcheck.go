package script

// Bug checks: kd's announcement of a crash, recognised line by line, with
// the code's name and what to do next. See docs/kd-protocol.md, section
// "Bug checks".

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// BugCheckCommands are typed at a bug check, in this order, so the stack
// and the analysis land in the log: kb for the stack the report reads,
// !analyze -v for the code's arguments and the faulting module.
var BugCheckCommands = []string{"kb", "!analyze -v"}

// BugCheck is one bug check as kd announced it. Fields kd has not printed
// yet are zero; HaveCode and HaveParams say what is known.
type BugCheck struct {
	Code       uint32
	HaveCode   bool
	Params     [4]uint64
	HaveParams bool
	// CausedBy is kd's "Probably caused by : drv.sys ( drv!Fn+0x12 )"
	// guess, as printed inside the parentheses (or the image name alone).
	CausedBy string
}

// Name is the code's symbolic name ("DRIVER_VERIFIER_DETECTED_VIOLATION"),
// or "" for a code not in kdlaunch's table.
func (b BugCheck) Name() string {
	if !b.HaveCode {
		return ""
	}
	return bugCheckNames[b.Code].name
}

// Advice is one line that says what to do next.
func (b BugCheck) Advice() string {
	if e, ok := bugCheckNames[b.Code]; ok && b.HaveCode {
		return e.advice
	}
	return "the target has crashed: read !analyze -v in the log for the faulting module, then let it write its dump and reboot (g), or debug it now"
}

// CodeString is the code as kd prints it in "*** Fatal System Error":
// "0x000000C4", or "unknown".
func (b BugCheck) CodeString() string {
	if !b.HaveCode {
		return "unknown"
	}
	return fmt.Sprintf("0x%08X", b.Code)
}

// ParamStrings are the four parameters as "0x..." (nil when not known).
func (b BugCheck) ParamStrings() []string {
	if !b.HaveParams {
		return nil
	}
	out := make([]string, 4)
	for i, p := range b.Params {
		out[i] = fmt.Sprintf("0x%X", p)
	}
	return out
}

// String is the one line kdlaunch prints at a bug check:
// "bug check 0x000000C4 DRIVER_VERIFIER_DETECTED_VIOLATION (0xF6, 0x8, ...): advice".
func (b BugCheck) String() string {
	var sb strings.Builder
	sb.WriteString("bug check ")
	sb.WriteString(b.CodeString())
	if n := b.Name(); n != "" {
		sb.WriteString(" " + n)
	}
	if ps := b.ParamStrings(); ps != nil {
		sb.WriteString(" (" + strings.Join(ps, ", ") + ")")
	}
	if b.CausedBy != "" {
		sb.WriteString(", probably caused by " + b.CausedBy)
	}
	sb.WriteString(": " + b.Advice())
	return sb.String()
}

type bugCheckEntry struct{ name, advice string }

// bugCheckNames are the codes a pool hunt meets: special pool and Driver
// Verifier exist to raise 0xC1, 0xC4, 0xCC, 0xCD, 0xD5 and 0xD6; the others
// are a driver's common bad memory accesses. Names from Microsoft's bug
// check code reference.
var bugCheckNames = map[uint32]bugCheckEntry{
	0x0A:  {"IRQL_NOT_LESS_OR_EQUAL", "a driver touched pageable or invalid memory at raised IRQL: !analyze -v names it; parameter 1 is the address, parameter 4 the faulting instruction"},
	0x19:  {"BAD_POOL_HEADER", "a pool header is corrupt, usually by an overrun of the block before it: put the suspect driver's tag in special pool (kdlaunch tag) or enable Driver Verifier for it"},
	0x1E:  {"KMODE_EXCEPTION_NOT_HANDLED", "a kernel-mode exception was not handled: !analyze -v shows the exception code and the faulting module"},
	0x3B:  {"SYSTEM_SERVICE_EXCEPTION", "an exception in a system service: run .cxr with parameter 3 (the context record), then kb, to see the faulting stack"},
	0x50:  {"PAGE_FAULT_IN_NONPAGED_AREA", "invalid memory was referenced (parameter 1 is the address): with special pool this is often a use after free or an overrun by the driver !analyze -v names"},
	0x7E:  {"SYSTEM_THREAD_EXCEPTION_NOT_HANDLED", "a system thread raised an exception: run .cxr with parameter 4 (the context record), then kb, to see the faulting stack"},
	0xC1:  {"SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION", "special pool caught a driver writing outside its allocation or freeing it wrongly: the stack (kb) names the driver; parameter 4 says which check failed"},
	0xC2:  {"BAD_POOL_CALLER", "a driver made a bad pool request (double free, wrong IRQL, bad tag): the stack (kb) names the driver; parameter 1 says which"},
	0xC4:  {"DRIVER_VERIFIER_DETECTED_VIOLATION", "Driver Verifier caught a driver breaking a rule: parameter 1 names the rule (!analyze -v explains it), the stack (kb) names the driver"},
	0xC5:  {"DRIVER_CORRUPTED_EXPOOL", "the pool was corrupted at raised IRQL: enable special pool for the suspect driver's tag (kdlaunch tag) or Driver Verifier to catch it in the act"},
	0xCC:  {"PAGE_FAULT_IN_FREED_SPECIAL_POOL", "memory was used after it was freed (special pool caught it): the stack (kb) names who used it"},
	0xCD:  {"PAGE_FAULT_BEYOND_END_OF_ALLOCATION", "a driver read or wrote past the end of its special-pool allocation: the stack (kb) names the driver"},
	0xD1:  {"DRIVER_IRQL_NOT_LESS_OR_EQUAL", "a driver touched pageable or invalid memory at raised IRQL: parameter 4 is the faulting instruction, !analyze -v names the driver"},
	0xD5:  {"DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL", "a driver used memory after freeing it (special pool caught it): the stack (kb) names the driver"},
	0xD6:  {"DRIVER_PAGE_FAULT_BEYOND_END_OF_ALLOCATION", "a driver accessed memory past the end of its special-pool allocation: the stack (kb) names the driver"},
	0xE2:  {"MANUALLY_INITIATED_CRASH", "someone crashed the target on purpose (keyboard or .crash): nothing to analyse unless that was not you"},
	0x13A: {"KERNEL_MODE_HEAP_CORRUPTION", "the kernel segment heap found a corrupted pool block: enable special pool for the suspect tag or Driver Verifier for the suspect driver"},
}

// BugCheckName returns the name of code, or "" when kdlaunch has none.
func BugCheckName(code uint32) string { return bugCheckNames[code].name }

// BugCheckEvent is what one line told a BugCheckRecognizer.
type BugCheckEvent int

// Events, in the order they usually come.
const (
	BugCheckNone      BugCheckEvent = iota // nothing about a bug check
	BugCheckAnnounced                      // a new bug check (its code may come later)
	BugCheckDetail                         // more about the current one: code, parameters, cause
)

var (
	// "*** Fatal System Error: 0x000000c4"
	reFatal = regexp.MustCompile(`^\*\*\* Fatal System Error: (0x[0-9A-Fa-f]{1,8})`)
	// "                       (0x00000000000000F6,0x0000000000000008,0xFFFF...,0x...)"
	reFatalParams = regexp.MustCompile(`^\(\s*(0x[0-9A-Fa-f` + "`" + `]+)\s*,\s*(0x[0-9A-Fa-f` + "`" + `]+)\s*,\s*(0x[0-9A-Fa-f` + "`" + `]+)\s*,\s*(0x[0-9A-Fa-f` + "`" + `]+)\s*\)`)
	// "BugCheck C4, {f6, 8, ffffb00d4e2b2080, fffff8036f2b12a8}"
	reAnalyzeLine = regexp.MustCompile(`^BugCheck ([0-9A-Fa-f]{1,8}), \{\s*([0-9A-Fa-fx` + "`" + `]+)\s*,\s*([0-9A-Fa-fx` + "`" + `]+)\s*,\s*([0-9A-Fa-fx` + "`" + `]+)\s*,\s*([0-9A-Fa-fx` + "`" + `]+)\s*\}`)
	// "DRIVER_VERIFIER_DETECTED_VIOLATION (c4)", the head of !analyze -v.
	reAnalyzeHead = regexp.MustCompile(`^([A-Z][A-Z0-9_]{3,}) \(([0-9A-Fa-f]{1,8})\)$`)
	// "Arg1: 00000000000000f6, ..."
	reArg = regexp.MustCompile(`^Arg([1-4]): ([0-9A-Fa-f` + "`" + `]+)`)
	// "BUGCHECK_CODE:  c4", "BUGCHECK_P1: f6" (newer !analyze -v).
	reBugcheckField = regexp.MustCompile(`^BUGCHECK_(CODE|P[1-4]):\s+([0-9A-Fa-fx` + "`" + `]+)\s*$`)
	// "Probably caused by : leakydrv.sys ( leakydrv!LeakyFree+2c )"
	reCausedBy = regexp.MustCompile(`^Probably caused by\s*:\s*(\S+)(?:\s*\(\s*(.*?)\s*\))?`)
)

// BugCheckRecognizer follows kd's output line by line and assembles the bug
// check it announces: the code ("*** Fatal System Error: 0x000000c4") and
// its parameters (the next line) arrive on different lines, and !analyze
// repeats them ("BugCheck C4, {...}", "Arg1: ...", "BUGCHECK_P1: ...").
// Lines that repeat the current bug check refine it; a different code or
// different parameters start a new one; a reboot or a new connection
// (which follow the dump) ends it. The zero value is ready.
type BugCheckRecognizer struct {
	cur        BugCheck
	active     bool
	wantParams bool // the line after "*** Fatal System Error" holds them
	inAnalyze  bool // after "NAME (code)": Arg1..Arg4 follow
	args       [4]uint64
	haveArgs   int
}

// Active reports whether the target is stopped in (or crashing with) a bug
// check: from its announcement until Reset, a reboot or a new connection.
// A "Break instruction exception" seen while active is the bug check's own
// break into the debugger, not a person's.
func (r *BugCheckRecognizer) Active() bool { return r.active }

// Current returns the bug check being assembled, and whether there is one.
func (r *BugCheckRecognizer) Current() (BugCheck, bool) { return r.cur, r.active }

// Reset forgets the current bug check (the session calls it when the
// target runs again).
func (r *BugCheckRecognizer) Reset() { *r = BugCheckRecognizer{} }

// Line takes one complete line of kd output (prompts, leading blanks and a
// trailing CR are ignored) and says what it meant.
func (r *BugCheckRecognizer) Line(line string) BugCheckEvent {
	s := strings.TrimSpace(StripPrompt(line))
	if r.wantParams {
		r.wantParams = false
		if m := reFatalParams.FindStringSubmatch(s); m != nil {
			return r.params(m[1:5], true)
		}
	}
	if s == "" {
		return BugCheckNone
	}
	switch s[0] {
	case '*':
		if m := reFatal.FindStringSubmatch(s); m != nil {
			ev := r.code(parseHex(m[1]))
			r.wantParams = true
			return ev
		}
	case 'A':
		if strings.HasPrefix(s, "A fatal system error has occurred") {
			if r.active {
				return BugCheckNone
			}
			r.active = true
			return BugCheckAnnounced
		}
		if r.inAnalyze {
			if m := reArg.FindStringSubmatch(s); m != nil {
				return r.arg(int(m[1][0]-'1'), m[2])
			}
		}
	case 'B':
		if m := reAnalyzeLine.FindStringSubmatch(s); m != nil {
			ev := r.code(parseHex(m[1]))
			if ev2 := r.params(m[2:6], false); ev == BugCheckNone {
				ev = ev2
			}
			return ev
		}
		if m := reBugcheckField.FindStringSubmatch(s); m != nil {
			if m[1] == "CODE" {
				return r.code(parseHex(m[2]))
			}
			return r.arg(int(m[1][1]-'1'), m[2])
		}
	case 'P':
		if m := reCausedBy.FindStringSubmatch(s); m != nil && r.active {
			by := m[1]
			if m[2] != "" {
				by = m[2]
			}
			if by == r.cur.CausedBy {
				return BugCheckNone
			}
			r.cur.CausedBy = by
			return BugCheckDetail
		}
	case 'S', 'K':
		// The target rebooted after writing its dump: the crash is over.
		if k := Classify(s); k == Shutdown || k == Established {
			r.Reset()
		}
		return BugCheckNone
	}
	if s[len(s)-1] != ')' || s[0] < 'A' || s[0] > 'Z' {
		return BugCheckNone
	}
	if m := reAnalyzeHead.FindStringSubmatch(s); m != nil {
		r.inAnalyze, r.haveArgs = true, 0
		return r.code(parseHex(m[2]))
	}
	return BugCheckNone
}

// code records a code: a new bug check unless it is the current one's.
func (r *BugCheckRecognizer) code(c uint64, ok bool) BugCheckEvent {
	if !ok || c > 0xFFFFFFFF {
		return BugCheckNone
	}
	code := uint32(c)
	switch {
	case r.active && r.cur.HaveCode && r.cur.Code == code:
		return BugCheckNone
	case r.active && !r.cur.HaveCode:
		// "A fatal system error has occurred." came first.
		r.cur.Code, r.cur.HaveCode = code, true
		return BugCheckDetail
	}
	r.cur = BugCheck{Code: code, HaveCode: true}
	r.active = true
	return BugCheckAnnounced
}

// params records the four parameters; different ones than the current bug
// check's mean a new bug check with the same code.
func (r *BugCheckRecognizer) params(raw []string, fatal bool) BugCheckEvent {
	var p [4]uint64
	for i, s := range raw {
		v, ok := parseHex(s)
		if !ok {
			return BugCheckNone
		}
		p[i] = v
	}
	if !r.active {
		return BugCheckNone
	}
	if r.cur.HaveParams {
		if r.cur.Params == p {
			return BugCheckNone
		}
		if !fatal {
			// A second analysis of another crash with the same code.
			r.cur = BugCheck{Code: r.cur.Code, HaveCode: r.cur.HaveCode, Params: p, HaveParams: true}
			return BugCheckAnnounced
		}
	}
	r.cur.Params, r.cur.HaveParams = p, true
	return BugCheckDetail
}

// arg records ArgN / BUGCHECK_PN; the four together are the parameters.
func (r *BugCheckRecognizer) arg(i int, s string) BugCheckEvent {
	v, ok := parseHex(s)
	if !ok || i < 0 || i > 3 || !r.active {
		return BugCheckNone
	}
	r.args[i] = v
	r.haveArgs |= 1 << i
	if r.haveArgs != 0xF {
		return BugCheckNone
	}
	r.haveArgs, r.inAnalyze = 0, false
	raw := make([]string, 4)
	for j, a := range r.args {
		raw[j] = strconv.FormatUint(a, 16)
	}
	return r.params(raw, false)
}

// parseHex reads kd's hex forms: "0x1F", "1f", "fffff803`6f2b12a8".
func parseHex(s string) (uint64, bool) {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	s = strings.ReplaceAll(s, "`", "")
	if s == "" || len(s) > 16 {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 16, 64)
	return v, err == nil
}
