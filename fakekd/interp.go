package fakekd

import (
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
)

// typedLine runs one line typed at the prompt (or queued until it showed).
func (m *machine) typedLine(line string) {
	m.out.typed(line) // kd's log shows the prompt followed by the command
	text := line
	if strings.TrimSpace(line) == "" {
		// kd repeats the previous command on an empty line: a driver that
		// sends stray newlines re-runs whatever it sent last.
		text = m.lastCmd
		if text == "" {
			m.prompt()
			return
		}
	}
	m.cmdFailed = false
	m.st.Commands = append(m.st.Commands, text)
	m.recordAnswerCommand(text)
	m.lastCmd = text
	if m.execList(text) || m.exiting {
		return
	}
	m.save()
	m.prompt()
}

// execList runs a command list. It returns true when a command ended the
// list: one that resumes the target ("Any command that resumes program
// execution ... ends the execution of the command list",
// https://learn.microsoft.com/en-us/windows-hardware/drivers/debuggercmds/bp--bu--bm--set-breakpoint-),
// reboots it, or quits. A command that fails (a syntax error, a memory
// access error) also ends it, with kd's error line: the rest of the list
// is not run and the target stays where it is (the documentation does not
// say; this is the safer reading for a driver to meet).
func (m *machine) execList(text string) bool {
	_, ended := m.execListErr(text)
	return ended
}

// execListErr is execList that also tells whether a command failed.
func (m *machine) execListErr(text string) (failed, ended bool) {
	for _, c := range splitCommands(text) {
		if c == "" {
			continue
		}
		if m.exec(c) || m.exiting {
			return false, true
		}
		if m.cmdFailed {
			m.cmdFailed = false
			return true, false
		}
	}
	return false, false
}

// exec runs one command at a halt; true means the list ends.
func (m *machine) exec(c string) bool {
	word, rest := splitWord(c)
	switch {
	case word == "g" || word == "gh" || word == "gn" || word == "gc":
		m.st.GTyped++
		if m.bugChecked {
			// Continuing a bug check: the target writes its dump and
			// restarts.
			m.st.GIntoBugCheck = true
			m.reboot()
			return true
		}
		if m.failInsert() {
			return false // kd stays at the prompt
		}
		m.personResumed()
		if m.cfg.BugCheck == "arming" && !m.bugCheckDone && (m.poolHitActive() || m.bps.firstHit() != nil) {
			m.st.Target = targetRunning
			m.bugCheck("arming")
			return true
		}
		m.resume()
		return true
	case word == "!analyze":
		m.analyze()
	case word == "q" || word == "qq":
		// kd-protocol.md "Session commands": q "ends the debugging session. The target computer
		// remains locked."
		m.out.line(quitLine)
		m.st.Target = targetLocked
		m.exit(0, "quit")
		return true
	case word == ".reboot":
		m.reboot()
		return true
	case isBpWord(word):
		m.symbolWarning()
		m.cmdBp(word, rest)
	case word == "bl":
		m.out.lines(m.bps.blLines(m.a))
	case word == "bc" || word == "bd" || word == "be":
		m.cmdBcde(word, rest, c)
	case word == ".echo":
		if len(rest) >= 2 && rest[0] == '"' && rest[len(rest)-1] == '"' {
			rest = rest[1 : len(rest)-1]
		}
		m.out.line(rest)
	case stackCmds[word]:
		m.cmdStack(word, rest)
	case word == "dd":
		m.symbolWarning()
		m.cmdDd(rest)
	case word == "ed":
		m.symbolWarning()
		m.cmdEd(rest)
	case word == "x":
		m.symbolWarning()
		m.cmdX(rest)
	case word == "r":
		m.cmdR(rest)
	case word == ".reload":
		// Invented shape: kd prints a progress line of dots per module.
		m.out.lines([]string{"Loading Kernel Symbols", strings.Repeat(".", 63), "", "Loading unloaded module list", "........"})
	case word == ".sympath":
		m.out.line("Symbol search path is: " + m.symbolPath())
	case word == ".printf":
		m.cmdPrintf(rest)
	case word == ".if":
		return m.cmdIf(c[len(".if"):])
	case word == "j" || strings.HasPrefix(strings.ToLower(c), "j("):
		return m.cmdJ(strings.TrimSpace(c[1:]))
	case word == "bs":
		m.cmdBs(rest)
	case word == "?":
		m.cmdEval(rest)
	case word == "!poolused":
		m.cmdPoolused(rest)
	default:
		m.out.line(fmt.Sprintf(couldNotResolve, c))
	}
	return false
}

var stackCmds = map[string]bool{"k": true, "kb": true, "kv": true, "kn": true, "kp": true, "kc": true}

// isBpWord: bp, bu, and the forms with a requested ID (bp5).
func isBpWord(w string) bool {
	if len(w) < 2 || (w[:2] != "bp" && w[:2] != "bu") {
		return false
	}
	_, err := strconv.Atoi(w[2:])
	return len(w) == 2 || err == nil
}

func (m *machine) symbolPath() string {
	if m.cl.SymbolPath != "" {
		return m.cl.SymbolPath
	}
	if p := m.env("_NT_SYMBOL_PATH"); p != "" {
		return p
	}
	return "srv*"
}

func (m *machine) cmdBp(word, rest string) {
	a, err := parseBp(word, rest)
	if err != nil {
		m.failCmd(fmt.Sprintf(couldNotResolve, rest))
		return
	}
	b := &breakpoint{expr: a.address, command: a.command, hasCmd: a.hasCmd, enabled: true, oneShot: a.oneShot}
	b.sym, b.addr, b.resolved = m.resolve(a.address)
	if !b.resolved && !strings.Contains(a.address, "!") {
		// An address expression (@$ra, 0xfffff801`1e2c81f3): evaluated
		// once, now ("A bp breakpoint location is always converted to an
		// address").
		v, err := evalMASM(a.address, m.ev())
		if err != nil {
			m.failCmd(err.Error())
			return
		}
		b.addr, b.resolved, b.sym = v, true, m.nameAt(v)
	}
	if a.thread != "" {
		v, err := evalMASM(a.thread, m.ev())
		if err != nil {
			m.failCmd(err.Error())
			return
		}
		b.thread = v
	}
	if !b.resolved && word[:2] == "bp" {
		// kd-protocol.md "Breakpoints": an unresolvable bp "is automatically converted to a
		// bu breakpoint".
		m.out.line(fmt.Sprintf(deferredFmt, a.address))
	}
	id, redefined, err := m.bps.add(b, a.id)
	switch {
	case err != nil:
		m.failCmd(tooManyBreakpoints)
	case redefined:
		m.out.line(fmt.Sprintf(redefinedFmt, id))
	}
	m.save()
}

// cmdBs replaces a breakpoint's command string: bs ID "CommandString"
// (https://learn.microsoft.com/en-us/windows-hardware/drivers/debuggercmds/bs--update-breakpoint-command-).
func (m *machine) cmdBs(rest string) {
	idText, cmd, _ := strings.Cut(strings.TrimSpace(rest), " ")
	cmd = strings.TrimSpace(cmd)
	id, err := strconv.Atoi(idText)
	b := m.bps.get(id)
	content, after, ok := "", "", strings.HasPrefix(cmd, `"`)
	if ok {
		content, after, ok = cutQuoted(cmd)
	}
	if err != nil || !ok || strings.TrimSpace(after) != "" {
		m.failCmd(fmt.Sprintf(couldNotResolve, rest))
		return
	}
	if b == nil {
		m.failCmd(fmt.Sprintf(noBreakpointFmt, id))
		return
	}
	b.command, b.hasCmd = content, true
	m.save()
}

// cmdPrintf runs .printf: format, then the arguments, each evaluated as a
// MASM expression.
func (m *machine) cmdPrintf(rest string) {
	format, args, err := parsePrintf(rest)
	if err != nil {
		m.failCmd(fmt.Sprintf(syntaxErrorFmt, rest))
		return
	}
	vals := make([]uint64, len(args))
	for i, a := range args {
		v, err := evalMASM(a, m.ev())
		if err != nil {
			m.failCmd(err.Error())
			return
		}
		vals[i] = v
	}
	text, err := formatPrintf(unescapeC(format), vals, m.a.ptr64)
	if err != nil {
		m.failCmd(fmt.Sprintf(syntaxErrorFmt, rest))
		return
	}
	// .printf writes exactly what the format says, no line end of its
	// own; a newline in it ends a line as kd's own lines end.
	m.out.raw(strings.ReplaceAll(text, "\n", m.out.nl))
}

// cmdEval answers ? expr: "Evaluate expression: 1 = 00000000`00000001".
func (m *machine) cmdEval(rest string) {
	v, err := evalMASM(rest, m.ev())
	if err != nil {
		m.failCmd(err.Error())
		return
	}
	m.out.line(fmt.Sprintf("Evaluate expression: %d = %08x`%08x", int64(v), v>>32, v&0xffffffff))
}

// cmdIf runs .if (Condition) { Commands } [.elsif (Condition) { Commands
// }] [.else { Commands }]
// (https://learn.microsoft.com/en-us/windows-hardware/drivers/debuggercmds/-if):
// "This block of commands needs to be enclosed in braces, even if it
// consists of a single command." It returns true when the block resumed
// the target.
func (m *machine) cmdIf(s string) bool {
	for {
		cond, block, rest, ok := cutIf(s)
		if !ok {
			m.failCmd(fmt.Sprintf(syntaxErrorFmt, strings.TrimSpace(s)))
			return false
		}
		v, err := evalMASM(cond, m.ev())
		if err != nil {
			m.failCmd(err.Error())
			return false
		}
		if v != 0 {
			return m.runBlock(block)
		}
		rest = strings.TrimSpace(rest)
		switch w, tail := splitWord(rest); {
		case rest == "":
			return false
		case w == ".elsif":
			s = tail
		case strings.HasPrefix(strings.ToLower(rest), ".else"):
			body, after, ok := cutBraces(strings.TrimSpace(rest[len(".else"):]))
			if !ok || strings.TrimSpace(after) != "" {
				m.failCmd(fmt.Sprintf(syntaxErrorFmt, rest))
				return false
			}
			return m.runBlock(body)
		default:
			m.failCmd(fmt.Sprintf(syntaxErrorFmt, rest))
			return false
		}
	}
}

// failCmd prints kd's error for the command being run and marks it failed:
// like kd, the fake then ends the rest of its command list.
func (m *machine) failCmd(text string) {
	m.out.line(text)
	m.cmdFailed = true
}

func (m *machine) runBlock(block string) bool {
	failed, ended := m.execListErr(block)
	if failed {
		m.cmdFailed = true
	}
	return ended
}

// cutIf reads "(Condition) {Commands} rest".
func cutIf(s string) (cond, block, rest string, ok bool) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "(") {
		return "", "", "", false
	}
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				block, rest, ok = cutBraces(strings.TrimSpace(s[i+1:]))
				return s[1:i], block, rest, ok
			}
		}
	}
	return "", "", "", false
}

// cutBraces reads "{Commands} rest", braces nested, quotes respected.
func cutBraces(s string) (body, rest string, ok bool) {
	if !strings.HasPrefix(s, "{") {
		return "", "", false
	}
	depth, inQuote := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && inQuote:
			i++
		case c == '"':
			inQuote = !inQuote
		case inQuote:
		case c == '{':
			depth++
		case c == '}':
			depth--
			if depth == 0 {
				return s[1:i], s[i+1:], true
			}
		}
	}
	return "", "", false
}

// cmdJ runs j Expression Command1 ; Command2 (either in single quotes)
// (https://learn.microsoft.com/en-us/windows-hardware/drivers/debuggercmds/j--execute-if---else-).
func (m *machine) cmdJ(s string) bool {
	cond, cmds, ok := cutJ(s)
	if !ok {
		m.failCmd(fmt.Sprintf(syntaxErrorFmt, s))
		return false
	}
	v, err := evalMASM(cond, m.ev())
	if err != nil {
		m.failCmd(err.Error())
		return false
	}
	if v != 0 {
		return m.runBlock(cmds[0])
	}
	return m.runBlock(cmds[1])
}

// cutJ splits "Expression 'Command1' ; 'Command2'": the expression ends
// where the first quoted command (or, unquoted, the first word after a
// balanced expression) starts.
func cutJ(s string) (cond string, cmds [2]string, ok bool) {
	s = strings.TrimSpace(s)
	q := strings.IndexByte(s, '\'')
	if q < 0 {
		// Unquoted: "j (cond) cmd1;cmd2" needs parentheses to end the
		// expression.
		if !strings.HasPrefix(s, "(") {
			return "", cmds, false
		}
		c, _, rest, _ := cutIfLoose(s)
		one, two, _ := strings.Cut(rest, ";")
		return c, [2]string{strings.TrimSpace(one), strings.TrimSpace(two)}, true
	}
	cond = strings.TrimSpace(s[:q])
	rest := s[q:]
	for i := 0; i < 2; i++ {
		rest = strings.TrimSpace(rest)
		if i == 1 {
			if !strings.HasPrefix(rest, ";") {
				return cond, cmds, i == 1 && rest == ""
			}
			rest = strings.TrimSpace(rest[1:])
		}
		if !strings.HasPrefix(rest, "'") {
			c, _, _ := strings.Cut(rest, ";")
			cmds[i] = strings.TrimSpace(c)
			return cond, cmds, cond != ""
		}
		end := strings.IndexByte(rest[1:], '\'')
		if end < 0 {
			return "", cmds, false
		}
		cmds[i] = rest[1 : end+1]
		rest = rest[end+2:]
	}
	return cond, cmds, cond != ""
}

// cutIfLoose reads "(Condition) rest" without requiring braces.
func cutIfLoose(s string) (cond, block, rest string, ok bool) {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return s[1:i], "", s[i+1:], true
			}
		}
	}
	return "", "", "", false
}

func (m *machine) cmdBcde(word, rest, whole string) {
	set, err := parseIDList(rest)
	if err != nil {
		m.out.line(fmt.Sprintf(couldNotResolve, whole))
		return
	}
	switch word {
	case "bc":
		m.bps.clear(set)
	case "bd":
		m.bps.setEnabled(set, false)
	case "be":
		m.bps.setEnabled(set, true)
	}
	m.save()
}

// symbolModules are the modules the fake has symbols for: the kernel, the
// HAL, and every module named with a function in the stack set.
func (m *machine) symbolModules() map[string]bool {
	mods := map[string]bool{"nt": true, "hal": true}
	for _, s := range m.cfg.Stacks {
		for _, f := range s.Frames {
			if mod, _, ok := strings.Cut(f.Sym, "!"); ok {
				mods[strings.ToLower(mod)] = true
			}
		}
	}
	return mods
}

// resolve evaluates a breakpoint or memory address: module!symbol[+off],
// a bare kernel symbol, or a hex address. It returns the name kd shows.
func (m *machine) resolve(expr string) (sym string, addr uint64, ok bool) {
	if strings.ContainsAny(expr, "@$()*&|=<> ") {
		return "", 0, false // an expression, not a symbol: evaluated by the caller
	}
	base, offText, hasOff := strings.Cut(expr, "+")
	var off uint64
	if hasOff {
		var err error
		if off, err = parseValue(offText); err != nil {
			return "", 0, false
		}
	}
	l := strings.ToLower(base)
	if !strings.Contains(l, "!") {
		if v, err := parseValue(base); err == nil && strings.Trim(l, "0123456789abcdef`x") == "" {
			return m.symbolAt(v), v + off, true
		}
		l = "nt!" + l // kd searches every module; the fake only nt
	}
	mod, _, _ := strings.Cut(l, "!")
	if !m.symbolAvailable(l) || !m.symbolModules()[mod] {
		return "", 0, false
	}
	name := canonicalNames[l]
	if name == "" {
		name = base
	}
	if hasOff {
		return name + "+" + offText, m.a.symbolAddr(name) + off, true
	}
	return name, m.a.symbolAddr(name), true
}

// symbolAt names a known symbol at exactly this address, "" if none.
func (m *machine) symbolAt(v uint64) string {
	for l, a := range m.a.symbols {
		if a == v && m.symbolAvailable(l) {
			return canonicalNames[l]
		}
	}
	return ""
}

// cmdStack prints the current stack (kd-protocol.md "Stack layouts"). "kb 5" limits frames.
func (m *machine) cmdStack(word, rest string) {
	max := 0
	if rest != "" {
		n, err := parseValue(strings.Fields(rest)[0])
		if err != nil {
			m.out.line(fmt.Sprintf(couldNotResolve, rest))
			return
		}
		max = int(n)
	}
	if m.cfg.Noise && !m.symErrShown {
		for _, f := range m.halt.frames {
			if strings.HasPrefix(f.site, "avscan+") {
				// kd loads symbols while it walks the stack, so the
				// error comes before the stack (kd-protocol.md "Banners and connection lines").
				m.out.line(avscanSymbolErr)
				m.symErrShown = true
				break
			}
		}
	}
	layout := layoutFor(m.a, word, m.cfg.StackFormat)
	m.out.lines(formatStack(m.a, layout, m.halt.frames, max, m.halt.warnAt))
}

// memArgs splits "nt!Sym L4" into the address expression and a dword count.
func memArgs(rest string) (expr string, count int, ok bool) {
	fields := strings.Fields(rest)
	if len(fields) == 0 {
		return "", 0, false
	}
	count = 32 // dd's default: 0x20 dwords
	for _, f := range fields[1:] {
		if len(f) < 2 || (f[0] != 'L' && f[0] != 'l') {
			return "", 0, false
		}
		n, err := parseValue(f[1:])
		if err != nil || n == 0 || n > 0x1000 {
			return "", 0, false
		}
		count = int(n)
	}
	return fields[0], count, true
}

// cmdDd prints dwords, four per line, as kd does:
// fffff801`1e5c3a10  206b6444 00000001 00000000 00000000
func (m *machine) cmdDd(rest string) {
	expr, count, ok := memArgs(rest)
	var addr uint64
	if ok {
		_, addr, ok = m.resolve(expr)
	}
	if !ok {
		m.out.line(fmt.Sprintf(couldNotResolve, rest))
		return
	}
	for i := 0; i < count; i += 4 {
		line := m.a.addr(addr+uint64(i*4)) + " "
		for j := i; j < count && j < i+4; j++ {
			line += fmt.Sprintf(" %08x", m.mem[addr+uint64(j*4)])
		}
		m.out.line(line)
	}
}

// cmdEd writes dwords: "ed nt!PoolHitTag 3261654c" or "ed nt!poolhittag ' cbA'"
// (kd-protocol.md "PoolHitTag and the allocators"). Writing PoolHitTag arms or (with 0) disarms the tag break.
func (m *machine) cmdEd(rest string) {
	expr, valText, _ := strings.Cut(strings.TrimSpace(rest), " ")
	valText = strings.TrimSpace(valText)
	_, addr, ok := m.resolve(expr)
	if !ok || valText == "" {
		m.out.line(fmt.Sprintf(couldNotResolve, rest))
		return
	}
	var vals []string
	if strings.HasPrefix(valText, "'") {
		vals = []string{valText}
	} else {
		vals = strings.Fields(valText)
	}
	for i, vt := range vals {
		v, err := parseValue(vt)
		if err != nil {
			m.out.line(fmt.Sprintf(couldNotResolve, vt))
			return
		}
		m.mem[addr+uint64(4*i)] = uint32(v)
	}
	m.save()
}

// dataSymbols are the variables among the known symbols; x shows them
// without a function signature.
var dataSymbols = map[string]bool{
	"nt!mmspecialpooltag": true, "nt!mmspecialpoolcatchoverruns": true,
	"nt!mispecialpoolenabled": true, "nt!poolhittag": true,
}

// cmdX examines symbols: "x nt!MmAllocateSpecialPool" or a wildcard over the
// known ones. An unknown symbol prints nothing, as in kd.
func (m *machine) cmdX(rest string) {
	pat := strings.ToLower(strings.TrimSpace(rest))
	var names []string
	if strings.ContainsAny(pat, "*?") {
		for l := range m.a.symbols {
			if ok, _ := path.Match(pat, l); ok && m.symbolAvailable(l) {
				names = append(names, l)
			}
		}
		sort.Slice(names, func(i, j int) bool { return m.a.symbols[names[i]] < m.a.symbols[names[j]] })
	} else if sym, _, ok := m.resolve(rest); ok && !strings.Contains(sym, "+") {
		names = []string{strings.ToLower(sym)}
	}
	for _, l := range names {
		name := canonicalNames[l]
		if name == "" {
			name = strings.TrimSpace(rest)
		}
		suffix := " (void)"
		if dataSymbols[l] {
			suffix = " = <no type information>"
		}
		m.out.line(m.a.addr(m.a.symbolAddr(name)) + " " + name + suffix)
	}
}

// cmdR prints registers: all of them in kd's layout, or "r rdx, r8".
func (m *machine) cmdR(rest string) {
	regs := map[string]uint64{}
	for _, r := range m.halt.regs {
		regs[r.name] = r.val
	}
	if rest == "" {
		m.out.lines(m.registerDump())
		return
	}
	var parts []string
	for _, n := range strings.FieldsFunc(strings.ToLower(rest), func(r rune) bool { return r == ',' || r == ' ' }) {
		v, ok := regs[n]
		if !ok {
			m.out.line("Bad register error at '" + n + "'")
			return
		}
		parts = append(parts, n+"="+m.regValue(v))
	}
	m.out.line(strings.Join(parts, " "))
}

func (m *machine) regValue(v uint64) string {
	if m.a.ptr64 {
		return fmt.Sprintf("%016x", v)
	}
	return fmt.Sprintf("%08x", uint32(v))
}

// registerDump is kd's "r" output: registers, flags, segment registers, and
// the current instruction.
func (m *machine) registerDump() []string {
	var out []string
	perLine := 3
	if !m.a.ptr64 {
		perLine = 6
	}
	var cur []string
	for i, r := range m.halt.regs {
		name := r.name
		if len(name) == 2 {
			name = " " + name // kd right-aligns r8 and r9
		}
		cur = append(cur, name+"="+m.regValue(r.val))
		if len(cur) == perLine || i == len(m.halt.regs)-1 {
			out = append(out, strings.Join(cur, " "))
			cur = nil
		}
	}
	if m.a.ptr64 {
		out = append(out,
			"iopl=0         nv up ei pl zr na po nc",
			"cs=0010  ss=0018  ds=002b  es=002b  fs=0053  gs=002b             efl=00000246")
	} else {
		out[len(out)-1] += " iopl=0         nv up ei pl zr na pe nc"
		out = append(out, "cs=0008  ss=0010  ds=0023  es=0023  fs=0030  gs=0000             efl=00000246")
	}
	return append(out, m.halt.sym+":", m.a.disasmLine(m.halt.ip, m.halt.disasm))
}
