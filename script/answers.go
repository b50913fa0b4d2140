package script

// kd's answers, read rather than assumed: to bp/bu (and the symbol warnings
// that come with them), to bl, to the PoolHitTag readback, a failed start,
// a g that cannot insert its breakpoints, and the kind of break a halt is.
// Pure functions over kd's text; see docs/kd-protocol.md, sections
// "Breakpoint answers", "Start failures", "A failed g" and "Breaks".

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/kdlaunch/kdlaunch/pooltag"
)

// SymbolWarningKind is what a symbol warning of kd's says.
type SymbolWarningKind int

// Kinds of symbol warnings.
const (
	SymExportOnly SymbolWarningKind = iota + 1 // "Defaulted to export symbols for ntkrnlmp.exe"
	SymNone                                    // "symbols could not be loaded for X"
	SymNoImage                                 // "Unable to load image X, Win32 error 0n2"
	SymTimestamp                               // "Unable to verify timestamp for X"
	SymSummary                                 // "Symbol Loading Error Summary"
)

// SymbolWarning is one symbol warning, with the image it is about.
type SymbolWarning struct {
	Kind  SymbolWarningKind
	Image string // "ntkrnlmp.exe", "\SystemRoot\system32\ntoskrnl.exe"; "" for SymSummary
	Line  string
}

// AboutKernel reports whether the warning is about nt (any of its image
// names) or does not name an image.
func (w SymbolWarning) AboutKernel() bool {
	if w.Image == "" {
		return true
	}
	img := strings.ToLower(w.Image)
	if i := strings.LastIndexAny(img, `\/`); i >= 0 {
		img = img[i+1:]
	}
	img = strings.TrimSuffix(img, ".exe")
	return img == "nt" || kernelModules[img] && img != "verifier"
}

var (
	reSymExport  = regexp.MustCompile(`(?i)Defaulted to export symbols for (\S+?)\s*-?\s*$`)
	reSymNone    = regexp.MustCompile(`(?i)symbols could not be loaded for (\S+)`)
	reSymNoImage = regexp.MustCompile(`(?i)^Unable to load image (.+?), Win32 error`)
	reSymStamp   = regexp.MustCompile(`(?i)Unable to verify timestamp for (\S+)`)
)

// ParseSymbolWarning recognises kd's symbol warnings. The wording varies
// between debugger versions, so each is matched on its distinctive part.
func ParseSymbolWarning(line string) (SymbolWarning, bool) {
	s := strings.TrimSpace(StripPrompt(line))
	if m := reSymExport.FindStringSubmatch(s); m != nil {
		return SymbolWarning{Kind: SymExportOnly, Image: m[1], Line: s}, true
	}
	if m := reSymNone.FindStringSubmatch(s); m != nil {
		return SymbolWarning{Kind: SymNone, Image: m[1], Line: s}, true
	}
	if m := reSymNoImage.FindStringSubmatch(s); m != nil {
		return SymbolWarning{Kind: SymNoImage, Image: m[1], Line: s}, true
	}
	if m := reSymStamp.FindStringSubmatch(s); m != nil {
		return SymbolWarning{Kind: SymTimestamp, Image: m[1], Line: s}, true
	}
	if strings.Contains(s, "Symbol Loading Error Summary") {
		return SymbolWarning{Kind: SymSummary, Line: s}, true
	}
	return SymbolWarning{}, false
}

// BPStatus is what kd answered to a bp or bu.
type BPStatus int

// Answers to bp/bu.
const (
	BPSet        BPStatus = iota // no complaint: kd prints nothing for a breakpoint it could place
	BPRedefined                  // "breakpoint N redefined": set, replacing an older one
	BPDeferred                   // "Bp expression '...' could not be resolved, adding deferred bp"
	BPUnresolved                 // "Couldn't resolve error at '...'": no breakpoint
	BPSyntax                     // "Syntax error at '...'": no breakpoint
)

var bpStatusNames = [...]string{"set", "redefined", "deferred", "unresolved", "syntax error"}

func (s BPStatus) String() string {
	if int(s) < len(bpStatusNames) {
		return bpStatusNames[s]
	}
	return "status(" + strconv.Itoa(int(s)) + ")"
}

// BreakpointAnswer is kd's answer to one bp/bu command.
type BreakpointAnswer struct {
	Status   BPStatus
	Expr     string // the expression kd quoted (deferred, unresolved, syntax error)
	ID       int    // N of "breakpoint N redefined", else -1
	Line     string // kd's line, to quote
	Warnings []SymbolWarning
}

var (
	reDeferred   = regexp.MustCompile(`(?i)^Bp expression '(.*)' could not be resolved, adding deferred bp`)
	reUnresolved = regexp.MustCompile(`Couldn't resolve error at '(.*)'`)
	reSyntax     = regexp.MustCompile(`(?i)Syntax error at '(.*)'`)
	reRedefined  = regexp.MustCompile(`(?i)^breakpoint (\d+) (?:redefined|exists, redefining)`)
)

// ParseBreakpointAnswer reads what kd printed after a bp/bu command (up to
// the next prompt). The worst answer wins: a syntax error over an
// unresolved expression over a deferred one.
func ParseBreakpointAnswer(output string) BreakpointAnswer {
	a := BreakpointAnswer{Status: BPSet, ID: -1}
	worse := func(st BPStatus, expr, line string) {
		if st > a.Status || a.Status == BPRedefined {
			a.Status, a.Expr, a.Line = st, expr, line
		}
	}
	for _, line := range strings.Split(output, "\n") {
		s := strings.TrimSpace(StripPrompt(line))
		if s == "" {
			continue
		}
		if w, ok := ParseSymbolWarning(s); ok {
			a.Warnings = append(a.Warnings, w)
			continue
		}
		if m := reDeferred.FindStringSubmatch(s); m != nil {
			worse(BPDeferred, m[1], s)
		} else if m := reSyntax.FindStringSubmatch(s); m != nil {
			worse(BPSyntax, m[1], s)
		} else if m := reUnresolved.FindStringSubmatch(s); m != nil {
			worse(BPUnresolved, m[1], s)
		} else if m := reRedefined.FindStringSubmatch(s); m != nil && a.Status == BPSet {
			a.Status, a.Line = BPRedefined, s
			a.ID, _ = strconv.Atoi(m[1])
		}
	}
	return a
}

// Armed reports whether the breakpoint is placed and can hit.
func (a BreakpointAnswer) Armed() bool { return a.Status == BPSet || a.Status == BPRedefined }

// ErrNotArmed is matched (errors.Is) by every *ArmError.
var ErrNotArmed = errors.New("breakpoint not armed")

// ArmError says why something kdlaunch armed cannot hit, quoting kd, with
// the fix in the same line.
type ArmError struct {
	What string // the command or symbol: `bp nt!MmAllocateSpecialPool ";kb;g"`, "nt!PoolHitTag"
	Why  string // the cause, in words
	KD   string // kd's own line, quoted; may be ""
	Fix  string
}

func (e *ArmError) Error() string {
	s := e.What + ": " + e.Why
	if e.KD != "" {
		s += fmt.Sprintf(" (kd: %q)", e.KD)
	}
	if e.Fix != "" {
		s += "; " + e.Fix
	}
	return s
}

// Is makes errors.Is(err, ErrNotArmed) true.
func (e *ArmError) Is(target error) bool { return target == ErrNotArmed }

// Err returns nil for an armed breakpoint, else an *ArmError for cmd.
func (a BreakpointAnswer) Err(cmd string) error {
	why := ""
	fix := SymbolFix
	switch a.Status {
	case BPSet, BPRedefined:
		return nil
	case BPDeferred:
		why = "kd could not resolve " + quoteExpr(a.Expr) + " and deferred the breakpoint, which cannot hit until it resolves"
	case BPUnresolved:
		why = "kd could not resolve " + quoteExpr(a.Expr) + ", so no breakpoint was set"
	case BPSyntax:
		why = "kd reports a syntax error at " + quoteExpr(a.Expr) + ", so no breakpoint was set"
		fix = "correct the command (bp Address \"Commands\")"
	}
	for _, w := range a.Warnings {
		if w.AboutKernel() && (w.Kind == SymExportOnly || w.Kind == SymNone || w.Kind == SymNoImage) {
			why += "; kd has no full symbols for nt"
			break
		}
	}
	return &ArmError{What: cmd, Why: why, KD: a.Line, Fix: fix}
}

func quoteExpr(e string) string {
	if e == "" {
		return "the address"
	}
	return "'" + e + "'"
}

// BreakpointExpr returns the address expression of a bp/bu/bm command:
// "nt!MmAllocateSpecialPool" for `bp nt!MmAllocateSpecialPool ";kb;g"`,
// after the ID and the /1 /p /t /c /C /w options. ok is false for
// anything that is not a breakpoint command.
func BreakpointExpr(cmd string) (expr string, ok bool) {
	f := strings.Fields(cmd)
	if len(f) == 0 {
		return "", false
	}
	verb := strings.ToLower(f[0])
	if len(verb) < 2 || (verb[:2] != "bp" && verb[:2] != "bu" && verb[:2] != "bm") {
		return "", false
	}
	if rest := verb[2:]; rest != "" {
		if _, err := strconv.Atoi(rest); err != nil && !strings.HasPrefix(rest, "[") {
			return "", false
		}
	}
	for i := 1; i < len(f); i++ {
		switch a := f[i]; {
		case a == "/1":
		case a == "/p" || a == "/t" || a == "/c" || a == "/C":
			i++
		case a == "/w":
			// A quoted dx expression, spaces and all.
			i++
			if i < len(f) && strings.HasPrefix(f[i], `"`) {
				for t := f[i][1:]; !strings.HasSuffix(t, `"`) && i+1 < len(f); t = f[i] {
					i++
				}
			}
		case strings.HasPrefix(a, "\""):
			return "", false
		default:
			return a, true
		}
	}
	return "", false
}

// Breakpoint is one line of bl.
type Breakpoint struct {
	ID       int
	Enabled  bool
	Deferred bool   // "u" flag: unresolved, kd waits for the module
	Address  string // "" for a deferred one
	Expr     string // the symbol or expression, parentheses removed
	Command  string // the command string, without its quotes
}

// " 0 e fffff800`02e03904     0001 (0001) nt!MmCreateProcessAddressSpace"
// " 0 e 010049e0     0001 (0001)  0:**** stst!main"
// " 1 eu             0001 (0001) (nt!MmAllocateSpecialPool)"
var reBL = regexp.MustCompile("^\\s*(\\d+)\\s+([edED])([uU]?)\\s+(?:(?:Disable|Enable) Clear\\s+)?(?:((?:[0-9a-fA-F]{8}`)?[0-9a-fA-F]{8,16})\\s+)?([0-9a-fA-F]{4})\\s+\\(([0-9a-fA-F]{4})\\)\\s*(?:\\d+:\\*{4}\\s+)?(.*)$")

// ParseBL reads bl output. Lines that are not breakpoints (prompts,
// "Match thread" restrictions, warnings) are skipped.
func ParseBL(output string) []Breakpoint {
	var out []Breakpoint
	for _, line := range strings.Split(output, "\n") {
		s := strings.TrimRight(StripPrompt(line), " \t\r")
		m := reBL.FindStringSubmatch(s)
		if m == nil {
			continue
		}
		id, err := strconv.Atoi(m[1])
		if err != nil {
			continue
		}
		b := Breakpoint{ID: id, Enabled: m[2] == "e" || m[2] == "E", Deferred: m[3] != "", Address: m[4]}
		rest := strings.TrimSpace(m[7])
		if i := strings.IndexByte(rest, '"'); i >= 0 {
			b.Command = strings.TrimSuffix(rest[i+1:], `"`)
			rest = strings.TrimSpace(rest[:i])
		}
		if strings.HasPrefix(rest, "(") && strings.HasSuffix(rest, ")") {
			rest = rest[1 : len(rest)-1]
		}
		b.Expr = rest
		out = append(out, b)
	}
	return out
}

// CheckBL confirms that every breakpoint command in armed is in bl's list,
// enabled and resolved. It returns one *ArmError per breakpoint that is
// not (joined with errors.Join), or nil.
func CheckBL(list []Breakpoint, armed []string) error {
	var errs []error
	for _, cmd := range armed {
		expr, ok := BreakpointExpr(cmd)
		if !ok {
			continue
		}
		// The same expression may be listed twice: one good entry is enough.
		var found *Breakpoint
		for i := range list {
			if b := &list[i]; (sameExpr(b.Expr, expr) || sameAddress(b.Address, expr)) && (found == nil || b.Enabled && !b.Deferred) {
				found = b
			}
		}
		switch {
		case found == nil:
			errs = append(errs, &ArmError{What: cmd, Why: "bl does not list it: kd did not keep the breakpoint", Fix: "set it again, and check kd's answer to it"})
		case found.Deferred:
			errs = append(errs, &ArmError{What: cmd, Why: fmt.Sprintf("bl lists breakpoint %d as deferred (unresolved): it cannot hit", found.ID), Fix: SymbolFix})
		case !found.Enabled:
			errs = append(errs, &ArmError{What: cmd, Why: fmt.Sprintf("bl lists breakpoint %d as disabled", found.ID), Fix: fmt.Sprintf("enable it with be %d", found.ID)})
		}
	}
	return errors.Join(errs...)
}

// sameExpr compares a bl expression with a command's: kd lists the symbol
// it resolved, the case may differ, and the kernel goes by several names.
func sameExpr(bl, cmd string) bool {
	if strings.EqualFold(bl, cmd) {
		return true
	}
	return sameSymbol(bl, cmd)
}

// sameAddress matches a breakpoint set at a raw address ("bp
// fffff801`1e7a2b30", "bp 0xfffff8011e7a2b30"): bl lists the symbol kd
// resolved it to, with the address beside it. An expression that is not a
// plain hex number (a symbol, an offset from one) never matches here.
func sameAddress(bl, cmd string) bool {
	a, ok := hexAddress(bl)
	if !ok {
		return false
	}
	b, ok := hexAddress(cmd)
	return ok && a == b
}

func hexAddress(s string) (uint64, bool) {
	s = strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(s), "0x"), "0X")
	s = strings.ReplaceAll(s, "`", "")
	if s == "" || len(s) > 16 {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 16, 64)
	return v, err == nil
}

// PoolHitTagReadback reads back what the pool-hit-tag recipe wrote.
const PoolHitTagReadback = "dd nt!PoolHitTag L1"

// CheckPoolHitTagArmed checks the pool-hit-tag recipe after "ed
// nt!PoolHitTag <tag>": xOut is kd's answer to PoolHitTagQuery, ddOut to
// PoolHitTagReadback. It returns nil when the kernel holds tag, else an
// *ArmError naming the cause and the fix (CheckPoolHitTag's check, plus
// the readback).
func CheckPoolHitTagArmed(tag pooltag.Tag, xOut, ddOut string) error {
	what := "ed nt!PoolHitTag " + tag.Debugger()
	x := ParseXAnswer(xOut, PoolHitTagSymbol)
	if x.Status != SymbolResolved {
		why := "nt!PoolHitTag does not resolve on the target, so ed cannot set it"
		if x.ExportOnly {
			why += " (kd has only nt's export symbols)"
		}
		return &ArmError{What: what, Why: why, Fix: SymbolFix + "; or use --strategy " + string(StrategySpecialPool)}
	}
	v, ok := ParseDD(ddOut)
	if !ok {
		return &ArmError{What: what, Why: "reading nt!PoolHitTag back gave no value", KD: firstLine(ddOut), Fix: SymbolFix}
	}
	if v != tag.DWORD() {
		return &ArmError{What: what, Why: fmt.Sprintf("nt!PoolHitTag reads back %s, not %s", describeValue(v), describeTag(tag)),
			Fix: "check that the tag is typed as kd shows it (kdlaunch tag " + tag.String() + ")"}
	}
	return nil
}

func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if t := strings.TrimSpace(StripPrompt(l)); t != "" {
			return t
		}
	}
	return ""
}

// StartCause is why kd could not open its connection to the target.
type StartCause int

// Causes of a start failure.
const (
	StartOther        StartCause = iota
	StartAccessDenied            // 0n5: another program holds the port or pipe
	StartNotFound                // 0n2 / 0n3: no such port, or the VM's pipe is not there
	StartInUse                   // 0n32 / 0n231 / 0n10048: the port, pipe or KDNET socket is in use
	StartBadParameter            // 0n87: the connection string (KDNET key, port) is malformed
)

// StartFailure is kd's "Could not start kernel debugging using X
// parameters, Win32 error 0nN" and the message it prints on the next line.
type StartFailure struct {
	Connection string // X, with a KDNET key masked
	Win32      int
	Message    string // `Access is denied.`, without kd's quotes
	Cause      StartCause
}

var (
	reStart    = regexp.MustCompile(`(?i)^Could not start kernel debugging using (\S+) parameters, (?:Win32 error|error) 0n(\d+)`)
	reKey      = regexp.MustCompile(`(?i)(key=)[^,\s]*`)
	reQuotedMs = regexp.MustCompile(`^"(.*)"$`)
)

// ParseStartFailure recognises the first line of a start failure.
func ParseStartFailure(line string) (StartFailure, bool) {
	m := reStart.FindStringSubmatch(strings.TrimSpace(StripPrompt(line)))
	if m == nil {
		return StartFailure{}, false
	}
	code, err := strconv.Atoi(m[2])
	if err != nil {
		return StartFailure{}, false
	}
	f := StartFailure{Connection: reKey.ReplaceAllString(m[1], "${1}***"), Win32: code}
	switch code {
	case 5:
		f.Cause = StartAccessDenied
	case 2, 3:
		f.Cause = StartNotFound
	case 32, 231, 10048:
		f.Cause = StartInUse
	case 87:
		f.Cause = StartBadParameter
	}
	return f, true
}

// WithMessage takes the line after the failure: kd's quoted Win32 message
// ("Access is denied."). ok is false if the line is not one.
func (f StartFailure) WithMessage(line string) (StartFailure, bool) {
	m := reQuotedMs.FindStringSubmatch(strings.TrimSpace(StripPrompt(line)))
	if m == nil {
		return f, false
	}
	f.Message = m[1]
	return f, true
}

func (f StartFailure) transport() string {
	c := strings.ToLower(f.Connection)
	switch {
	case strings.HasPrefix(c, "net:"):
		return "net"
	case strings.HasPrefix(c, "com:") && strings.Contains(c, "pipe"):
		return "pipe"
	case strings.HasPrefix(c, "com:"):
		return "com"
	case strings.HasPrefix(c, "usb:"):
		return "usb"
	}
	return ""
}

// Check is the one line that says what to check.
func (f StartFailure) Check() string {
	t := f.transport()
	switch f.Cause {
	case StartAccessDenied:
		if t == "pipe" {
			return "another program (a second kd or WinDbg, or the VM's own console) holds the pipe: close it"
		}
		return "another program (a second kd, WinDbg, a terminal or a modem tool) holds the port: close it, or run kdlaunch elevated if the port needs it"
	case StartNotFound:
		if t == "pipe" {
			return "the VM's serial pipe is not there: start the VM first, or add reconnect to the connection (com:pipe,port=...,resets=0,reconnect) so kd waits for it"
		}
		return "no such port on this host: check the port name (com1, \\\\.\\com2) in the connection"
	case StartInUse:
		if t == "net" {
			return "the KDNET port is in use on this host: another kd or WinDbg listens on it; close it or pick another port (and bcdedit /dbgsettings net port:N on the target)"
		}
		return "the port or pipe is in use by another program: close it"
	case StartBadParameter:
		if t == "net" {
			return "kd refuses the KDNET parameters: the port must be 49152-65535 and the key the one bcdedit /dbgsettings printed on the target (four dot-separated parts)"
		}
		return "kd refuses the connection parameters: check the connection string (port, baud)"
	}
	if t == "net" {
		return "check the KDNET port and key against bcdedit /dbgsettings on the target"
	}
	return "check the connection string and that no other program uses the port"
}

// StartError is a start failure as an error: one line, kd's message quoted.
type StartError struct{ Failure StartFailure }

func (e *StartError) Error() string {
	f := e.Failure
	s := fmt.Sprintf("kd could not open %s (Win32 error %d", f.Connection, f.Win32)
	if f.Message != "" {
		s += ": " + f.Message
	}
	return s + "): " + f.Check()
}

// InsertFailure is a g that kd could not carry out because it could not
// write a breakpoint into the target: "Unable to insert breakpoint 0 at
// fffff801`1e7a2b30, Win32 error 0n299" or "bp0 at fffff801`1e7a2b30
// failed". kd stays at the prompt; the target does not run.
type InsertFailure struct {
	ID      int
	Address string
	Win32   int // 0 when kd did not say
	Line    string
}

var (
	reInsert   = regexp.MustCompile(`(?i)^Unable to insert breakpoint (\d+) at (\S+?),? (?:Win32 error 0n(\d+))?`)
	reBpFailed = regexp.MustCompile(`(?i)^bp(\d+) at (\S+) failed`)
)

// ParseInsertFailure recognises one line of a failed g.
func ParseInsertFailure(line string) (InsertFailure, bool) {
	s := strings.TrimSpace(StripPrompt(line))
	if m := reInsert.FindStringSubmatch(s + " "); m != nil {
		id, _ := strconv.Atoi(m[1])
		code, _ := strconv.Atoi(m[3])
		return InsertFailure{ID: id, Address: strings.TrimSuffix(m[2], ","), Win32: code, Line: s}, true
	}
	if m := reBpFailed.FindStringSubmatch(s); m != nil {
		id, _ := strconv.Atoi(m[1])
		return InsertFailure{ID: id, Address: m[2], Line: s}, true
	}
	return InsertFailure{}, false
}

// GoError is a g that kd kept refusing: it quotes kd.
type GoError struct {
	Failure InsertFailure
	Tries   int
}

func (e *GoError) Error() string {
	return fmt.Sprintf("kd could not resume the target after %d tries, it stays halted (kd: %q): the breakpoint's memory is not writable; clear it (bc %d) or set it with bu on a symbol that resolves", e.Tries, e.Failure.Line, e.Failure.ID)
}

// BreakKind is what a halt kd announced with "Break instruction exception"
// was.
type BreakKind int

// Kinds of breaks.
const (
	BreakUnknown  BreakKind = iota
	BreakIn                 // a break-in (CTRL+C, CTRL+BREAK): kdlaunch's own, or a person's
	BreakPerson             // the break-in box: someone pressed CTRL+C/CTRL+BREAK (or kdlaunch did)
	BreakBugCheck           // a bug check's break
	BreakPoolHit            // a PoolHitTag break in the kernel's pool routines
	BreakInt3               // an int 3 somewhere else: a driver's own breakpoint
)

var breakKindNames = [...]string{"unknown", "break-in", "break-in box", "bug check", "pool hit", "int 3"}

func (k BreakKind) String() string {
	if int(k) < len(breakKindNames) {
		return breakKindNames[k]
	}
	return "break(" + strconv.Itoa(int(k)) + ")"
}

// Break describes one halt.
type Break struct {
	Kind  BreakKind
	Where string // the location kd printed ("mydrv!Foo+0x12"), "" if none
}

// breakInRoutines are where a break-in stops.
var breakInRoutines = map[string]bool{
	"nt!dbgbreakpointwithstatus":         true,
	"nt!rtlpbreakwithstatusinstruction":  true,
	"nt!dbgbreakpoint":                   true,
	"nt!kdcheckforbreakin":               true,
	"nt!kdpollbreakin":                   true,
	"nt!rtlpbreakwithstatusinstruction2": true,
}

var reLocation = regexp.MustCompile(`^([^\s!]+!\S+?|[^\s!]+\+0x[0-9a-fA-F]+):$`)

// ClassifyBreak says what a halt was, from kd's lines between the "Break
// instruction exception" and the prompt. bugCheck is whether a
// BugCheckRecognizer is active. The box kd prints at a break-in is the only
// sign of a person's CTRL+C; without it (KDQUIET, -myob) a break-in at the
// break-in routine is BreakIn, and the caller knows whether it asked for one.
func ClassifyBreak(lines []string, bugCheck bool) Break {
	var b Break
	box := false
	for _, l := range lines {
		s := strings.TrimSpace(StripPrompt(l))
		if strings.Contains(s, "You are seeing this message because you pressed") {
			box = true
		}
		if b.Where == "" {
			if m := reLocation.FindStringSubmatch(s); m != nil {
				b.Where = m[1]
			}
		}
	}
	sym := strings.ToLower(b.Where)
	if i := strings.Index(sym, "+0x"); i >= 0 {
		sym = sym[:i]
	}
	switch {
	case bugCheck:
		b.Kind = BreakBugCheck
	case box:
		b.Kind = BreakPerson
	case breakInRoutines[sym]:
		b.Kind = BreakIn
	case b.Where == "":
		b.Kind = BreakUnknown
	case RoleOf(b.Where) == AllocRoutine || RoleOf(b.Where) == FreeRoutine:
		b.Kind = BreakPoolHit
	default:
		b.Kind = BreakInt3
	}
	return b
}

// AnswerKind is which of kd's answers a line is, for a session that reads
// every line: the parsers above then take the details.
type AnswerKind int

// Kinds of answers. AnswerNone is every other line.
const (
	AnswerNone          AnswerKind = iota
	AnswerStartFailure             // ParseStartFailure
	AnswerInsertFailure            // ParseInsertFailure
	AnswerBreakpoint               // a deferred, unresolved or syntax-error answer: ParseBreakpointAnswer
	AnswerRedefined                // "breakpoint N redefined"
	AnswerSymbolWarning            // ParseSymbolWarning
)

var answerNames = [...]string{"none", "start failure", "insert failure", "breakpoint answer", "redefined", "symbol warning"}

func (k AnswerKind) String() string {
	if int(k) < len(answerNames) {
		return answerNames[k]
	}
	return "answer(" + strconv.Itoa(int(k)) + ")"
}

// Answer says which answer one complete line of kd output is. Stack rows,
// which start with a hex digit and make up most of a hunt's output, are
// answered from their first bytes.
func Answer(line string) AnswerKind {
	s := strings.TrimSpace(StripPrompt(line))
	if s == "" {
		return AnswerNone
	}
	switch s[0] {
	case 'C', 'c':
		if _, ok := ParseStartFailure(s); ok {
			return AnswerStartFailure
		}
		if reUnresolved.MatchString(s) {
			return AnswerBreakpoint
		}
	case 'U', 'u':
		if _, ok := ParseInsertFailure(s); ok {
			return AnswerInsertFailure
		}
		if _, ok := ParseSymbolWarning(s); ok {
			return AnswerSymbolWarning
		}
		return AnswerNone
	case 'b', 'B':
		if _, ok := ParseInsertFailure(s); ok {
			return AnswerInsertFailure
		}
		if reDeferred.MatchString(s) {
			return AnswerBreakpoint
		}
		if reRedefined.MatchString(s) {
			return AnswerRedefined
		}
		return AnswerNone
	case '^':
		if reUnresolved.MatchString(s) || reSyntax.MatchString(s) {
			return AnswerBreakpoint
		}
		return AnswerNone
	case '*':
		if _, ok := ParseSymbolWarning(s); ok {
			return AnswerSymbolWarning
		}
		return AnswerNone
	case 'S', 's':
		if reSyntax.MatchString(s) {
			return AnswerBreakpoint
		}
	}
	if '0' <= s[0] && s[0] <= '9' || 'a' <= s[0] && s[0] <= 'f' {
		return AnswerNone
	}
	if _, ok := ParseSymbolWarning(s); ok {
		return AnswerSymbolWarning
	}
	return AnswerNone
}
