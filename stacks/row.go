package stacks

import (
	"bytes"

	"github.com/kdlaunch/kdlaunch/script"
)

// This file holds the per-line recognisers: stack headers, frame rows, call
// sites and the lines that end or interrupt a stack. They work on byte
// slices without allocating; the state machine in machine.go strings them
// together.

type layoutKind uint8

const (
	// kindColumns: [#] [Memory] ChildEBP/Child-SP RetAddr [args...] CallSite.
	kindColumns layoutKind = iota
	// kindColons: [#] [Child-SP] RetAddr : args : CallSite (x64 kb/kv, !thread).
	kindColons
	// kindAuto: !analyze STACK_TEXT, which has no header; each row is
	// either x64 (with colons) or x86 (ChildEBP RetAddr 3 args CallSite).
	kindAuto
)

// layout is what a stack header says about the rows that follow it: how
// many column values (addresses, frame number, args) come before the call
// site. Values are counted, not located at fixed offsets, so indentation,
// wider columns and padding do not matter.
type layout struct {
	kind    layoutKind
	minCols int  // column values a row must have before the call site
	maxCols int  // column values a row may have before the call site (or the first colon)
	colons  int  // standalone ':' separators in the header (kindColons)
	num     bool // the header has a "#" column
}

var (
	autoColons  = layout{kind: kindColons, minCols: 1, maxCols: 3, colons: 2}
	autoColumns = layout{kind: kindColumns, minCols: 2, maxCols: 5}
)

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isSpace(c byte) bool { return cls[c]&cSpace != 0 }

func skipSpace(t []byte, i int) int {
	for i < len(t) && isSpace(t[i]) {
		i++
	}
	return i
}

func tokEnd(t []byte, i int) int {
	for i < len(t) && !isSpace(t[i]) {
		i++
	}
	return i
}

func trimSpace(t []byte) []byte {
	i, j := 0, len(t)
	for i < j && cls[t[i]]&cSpace != 0 {
		i++
	}
	for j > i && cls[t[j-1]]&cSpace != 0 {
		j--
	}
	return t[i:j]
}

// isMarker reports whether tok is a one- to three-letter flag in
// parentheses, such as the "(T)" kv prints for trap frames. Markers do not
// count as columns.
func isMarker(tok []byte) bool {
	if len(tok) < 3 || len(tok) > 5 || tok[0] != '(' || tok[len(tok)-1] != ')' {
		return false
	}
	for _, c := range tok[1 : len(tok)-1] {
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}

var inlinePrefix = []byte("(Inline")

// colValue reads a column value at t[i:] that starts with '(': a marker
// such as "(T)" (which does not count as a column), or the
// "(Inline Function)" or "(Inline)" kd prints in the address columns of an
// inline frame (which counts as one). Plain values (hex numbers, dashes)
// are read with colTokEnd. ok=false if t[i:] is neither.
func colValue(t []byte, i int) (end int, counts, inline, ok bool) {
	e := tokEnd(t, i)
	tok := t[i:e]
	if len(tok) > 0 && tok[0] == '(' {
		if isMarker(tok) {
			return e, false, false, true
		}
		if bytes.HasPrefix(tok, inlinePrefix) {
			if tok[len(tok)-1] == ')' {
				return e, true, true, true
			}
			j := skipSpace(t, e)
			k := tokEnd(t, j)
			if k > j && t[k-1] == ')' && k-j <= 12 {
				return k, true, true, true
			}
		}
	}
	return i, false, false, false
}

type rowStatus uint8

const (
	rowNot        rowStatus = iota // not a frame row
	rowOK                          // a frame row with its call site
	rowIncomplete                  // the columns of a row without a call site (wrapped, or unresolved)
)

// parseRow reads a frame row of layout lay. t is trimmed. It returns the
// call site without annotations and the annotation text that followed it.
func parseRow(t []byte, lay *layout) (site, annot []byte, st rowStatus) {
	switch lay.kind {
	case kindColons:
		return parseColonRow(t, lay)
	case kindAuto:
		if indexStandaloneColon(t) >= 0 {
			return parseColonRow(t, &autoColons)
		}
		return parseColumnRow(t, &autoColumns)
	}
	return parseColumnRow(t, lay)
}

// Character classes for the hot loops.
const (
	cCol   = 1 << iota // may appear in a column value: hex digits, '`', '-'
	cSpace             // ' ', '\t', '\r', '\v', '\f'
)

var cls = func() (c [256]uint8) {
	for _, b := range []byte("0123456789abcdefABCDEF`-") {
		c[b] |= cCol
	}
	for _, b := range []byte(" \t\r\v\f") {
		c[b] |= cSpace
	}
	return c
}()

// colTokEnd returns the end of the column value starting at t[i] (which
// has class cCol), or -1 if the token goes on with other characters.
func colTokEnd(t []byte, i int) int {
	e := i + 1
	for e < len(t) && cls[t[e]]&cCol != 0 {
		e++
	}
	if e == len(t) || cls[t[e]]&cSpace != 0 {
		return e
	}
	return -1
}

// extraFrameNumber reports whether a row starts with a frame number (one
// to three hex digits) that its header has no "#" column for, as when the
// header was typed or copied without it.
func extraFrameNumber(t []byte, lay *layout) bool {
	if lay.num {
		return false
	}
	k := 0
	for k < len(t) && k < 4 && isHexDigit(t[k]) {
		k++
	}
	return k > 0 && k < 4 && k < len(t) && isSpace(t[k])
}

func parseColumnRow(t []byte, lay *layout) (site, annot []byte, st rowStatus) {
	pos, cols, limit, n := 0, 0, lay.maxCols, len(t)
	if extraFrameNumber(t, lay) {
		limit++
	}
	inlineSeen := false
	for cols < limit {
		for pos < n && cls[t[pos]]&cSpace != 0 {
			pos++
		}
		if pos >= n {
			break
		}
		if cls[t[pos]]&cCol != 0 {
			e := colTokEnd(t, pos)
			if e < 0 {
				break
			}
			cols++
			pos = e
			continue
		}
		if t[pos] != '(' {
			break
		}
		end, counts, inline, ok := colValue(t, pos)
		if !ok {
			break
		}
		if counts {
			cols++
		}
		if inline && !inlineSeen {
			inlineSeen = true
			limit++ // an inline frame may show both its marker and dashes
		}
		pos = end
	}
	if cols < lay.minCols {
		return nil, nil, rowNot
	}
	pos = skipSpace(t, pos)
	if pos >= n {
		if cols < 2 {
			return nil, nil, rowNot
		}
		return nil, nil, rowIncomplete
	}
	site, annot, ok := scanSite(t[pos:])
	if !ok {
		return nil, nil, rowNot
	}
	return site, annot, rowOK
}

func parseColonRow(t []byte, lay *layout) (site, annot []byte, st rowStatus) {
	pos, cols, limit, n := 0, 0, lay.maxCols, len(t)
	if extraFrameNumber(t, lay) {
		limit++
	}
	inlineSeen := false
	for {
		for pos < n && cls[t[pos]]&cSpace != 0 {
			pos++
		}
		if pos >= n {
			// No colon yet: the rest of the row may be on the next line.
			if cols >= lay.minCols && cols >= 2 {
				return nil, nil, rowIncomplete
			}
			return nil, nil, rowNot
		}
		c := t[pos]
		if c == ':' {
			if pos+1 == n || cls[t[pos+1]]&cSpace != 0 {
				pos++
				break
			}
			return nil, nil, rowNot
		}
		if cls[c]&cCol != 0 {
			e := colTokEnd(t, pos)
			if e < 0 {
				return nil, nil, rowNot
			}
			cols++
			if cols > limit {
				return nil, nil, rowNot
			}
			pos = e
			continue
		}
		end, counts, inline, ok := colValue(t, pos)
		if !ok {
			return nil, nil, rowNot
		}
		if inline && !inlineSeen {
			inlineSeen = true
			limit++
		}
		if counts {
			cols++
			if cols > limit {
				return nil, nil, rowNot
			}
		}
		pos = end
	}
	if cols < lay.minCols {
		return nil, nil, rowNot
	}
	for found := 1; found < lay.colons; found++ {
		j := indexStandaloneColon(t[pos:])
		if j < 0 {
			break
		}
		pos += j + 1
	}
	// After the last colon comes the call site; with a colon missing
	// (wrapped rows, rows re-joined) skip argument values first.
	for k := 0; k < 8; k++ {
		for pos < n && cls[t[pos]]&cSpace != 0 {
			pos++
		}
		if pos >= n {
			break
		}
		if cls[t[pos]]&cCol != 0 {
			if e := colTokEnd(t, pos); e > 0 {
				pos = e
				continue
			}
		} else if t[pos] == '.' && bytes.HasPrefix(t[pos:], dots) && (pos+3 == n || cls[t[pos+3]]&cSpace != 0) {
			pos += 3
			continue
		}
		break
	}
	if pos >= n {
		return nil, nil, rowIncomplete
	}
	site, annot, ok := scanSite(t[pos:])
	if !ok {
		return nil, nil, rowNot
	}
	return site, annot, rowOK
}

// scanSite checks that s starts with what kd prints for a frame -
// module!function[+0xoff], module+0xoff, 0x<address> or
// <Unloaded_x.sys>+0xoff, which keeps disassembly ("push ebp") and prose out
// of stacks - and splits it from its annotations (cutSite).
func scanSite(s []byte) (site, annot []byte, ok bool) {
	end := bytes.IndexByte(s, ' ')
	if end < 0 {
		end = len(s)
	}
	if t := bytes.IndexByte(s[:end], '\t'); t >= 0 {
		end = t
	}
	tok := s[:end]
	if !(bytes.IndexByte(tok, '!') > 0 || s[0] == '<' || len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') || hasOffset(tok)) {
		return nil, nil, false
	}
	if end == len(s) {
		return s, nil, true
	}
	site, annot = cutSite(s)
	return site, annot, len(site) > 0
}

// hasOffset reports whether tok has "+0x<something>" after its first byte.
func hasOffset(tok []byte) bool {
	i := bytes.Index(tok, plusHex)
	return i > 0 && i+3 < len(tok)
}

var plusHex = []byte("+0x")

var dots = []byte("...")

// indexStandaloneColon returns the index of the first ':' that has a space
// (or tab) before it and a space or the end of the line after it.
func indexStandaloneColon(s []byte) int {
	off := 0
	for {
		j := bytes.IndexByte(s[off:], ':')
		if j < 0 {
			return -1
		}
		p := off + j
		if p > 0 && isSpace(s[p-1]) && (p+1 == len(s) || isSpace(s[p+1])) {
			return p
		}
		off = p + 1
	}
}

// cutSite splits the call site from the annotations kd appends after a
// space: " [file @ line]", " (FPO: ...)", " (CONV: ...)", " (TrapFrame @ ...)",
// " [Stdcall: N]", or a column after two spaces or a tab (MEX "Source"). A
// " (" inside template arguments (Foo<void (__cdecl*)(int)>) is part of the
// name.
func cutSite(s []byte) (site, annot []byte) {
	angle := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '<':
			angle++
		case '>':
			if angle > 0 {
				angle--
			}
		case '\t':
			return trimRightSpace(s[:i]), s[i:]
		case '*':
			// A debugger message written into the row before its newline:
			// "frame+0xbc*** WARNING: Unable to verify checksum for x.exe".
			if i > 0 && i+3 < len(s) && s[i+1] == '*' && s[i+2] == '*' && s[i+3] == ' ' {
				return trimRightSpace(s[:i]), s[i:]
			}
		case ' ':
			if i+1 >= len(s) {
				return trimRightSpace(s[:i]), s[i:]
			}
			switch s[i+1] {
			case '[', ' ', '\t':
				return trimRightSpace(s[:i]), s[i:]
			case '(':
				if angle == 0 || isAnnotation(s[i+1:]) {
					return trimRightSpace(s[:i]), s[i:]
				}
			}
		}
	}
	return s, nil
}

var annotationWords = [][]byte{[]byte("(FPO:"), []byte("(CONV:"), []byte("(TrapFrame"), []byte("(Inline")}

func isAnnotation(s []byte) bool {
	for _, w := range annotationWords {
		if bytes.HasPrefix(s, w) {
			return true
		}
	}
	return false
}

func trimRightSpace(s []byte) []byte {
	for len(s) > 0 && isSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

// paramsSpan finds the parameter list kp/kP print after a function name:
// "(int a = 1, int b = 2)", "(void)" or "()". It returns the span to drop,
// or open=true when the list is not closed on this line (kP prints one
// parameter per line). Parentheses that are part of a name (operator(),
// function types in template arguments) are kept.
func paramsSpan(site []byte) (start, end int, open bool) {
	off := 0
	for {
		j := bytes.IndexByte(site[off:], '(')
		if j < 0 {
			return -1, -1, false
		}
		i := off + j
		if i == 0 || isSpace(site[i-1]) || angleDepth(site[:i]) > 0 {
			off = i + 1
			continue
		}
		depth, k := 0, i
		for ; k < len(site); k++ {
			if site[k] == '(' {
				depth++
			} else if site[k] == ')' {
				depth--
				if depth == 0 {
					break
				}
			}
		}
		if bytes.HasSuffix(site[:i], operatorWord) {
			if k >= len(site) {
				return -1, -1, false
			}
			off = k + 1
			continue
		}
		if k >= len(site) {
			return i, len(site), true
		}
		content := site[i+1 : k]
		if len(content) == 0 || bytes.Equal(content, voidWord) || bytes.Contains(content, eqSign) || bytes.Contains(content, noParamWord) {
			return i, k + 1, false
		}
		off = k + 1
	}
}

// angleDepth counts the template brackets open at the end of s ("<" and
// ">" of operator<, operator>> and operator-> do not count).
func angleDepth(s []byte) int {
	d := 0
	for i, c := range s {
		switch c {
		case '<', '>':
			if bytes.HasSuffix(s[:i], operatorWord) || c == '>' && i > 0 && (s[i-1] == '-' || s[i-1] == '>' && bytes.HasSuffix(s[:i-1], operatorWord)) || c == '<' && i > 0 && s[i-1] == '<' && bytes.HasSuffix(s[:i-1], operatorWord) {
				continue
			}
			if c == '<' {
				d++
			} else if d > 0 {
				d--
			}
		}
	}
	return d
}

var (
	operatorWord = []byte("operator")
	voidWord     = []byte("void")
	eqSign       = []byte(" = ")
	noParamWord  = []byte("No parameter")
)

// depthDelta counts opening minus closing brackets and parentheses in s. If
// the running depth (starting at depth) drops to zero, it returns the index
// just after the closing character.
func depthDelta(s []byte, depth int) (int, int) {
	for i, c := range s {
		switch c {
		case '(', '[':
			depth++
		case ')', ']':
			depth--
			if depth <= 0 {
				return 0, i + 1
			}
		}
	}
	return depth, -1
}

// Line classes other than frame rows.
type lineKind uint8

const (
	lkOther lineKind = iota
	lkBreakpoint
	lkHeader
	lkStackText
	lkPrompt
	lkNoise
)

// classify recognises the lines that end a stack (hit, header, STACK_TEXT,
// prompt) and the known noise kd prints inside stacks. t is trimmed.
func classify(t []byte) (lineKind, layout) {
	switch c := t[0]; {
	case c == 'B':
		if script.IsHit(t) {
			return lkBreakpoint, layout{}
		}
	case c == 'S':
		if bytes.HasPrefix(t, stackTextWord) {
			return lkStackText, layout{kind: kindAuto}
		}
	case c == 'W':
		if bytes.HasPrefix(t, warningWord) {
			return lkNoise, layout{}
		}
	case c == '*' || c == '<' && bytes.HasPrefix(t, intermediateWord) || c == '.' && bytes.HasPrefix(t, dots):
		return lkNoise, layout{}
	}
	if lay, ok := parseHeader(t); ok {
		return lkHeader, lay
	}
	if end := script.AnyPromptLen(t); end > 0 {
		// kd's prompt has no newline: output may follow it on the line.
		if rest := trimSpace(t[end:]); len(rest) > 0 {
			switch {
			case script.IsHit(rest):
				return lkBreakpoint, layout{}
			case bytes.HasPrefix(rest, stackTextWord):
				return lkStackText, layout{kind: kindAuto}
			}
			if lay, ok := parseHeader(rest); ok {
				return lkHeader, lay
			}
		}
		return lkPrompt, layout{}
	}
	if c := t[0]; c == 'U' && bytes.HasPrefix(t, unableWord) || c == 'K' && bytes.HasPrefix(t, kdUnableWord) {
		return lkNoise, layout{} // symbol loading messages
	}
	return embedded(t)
}

// embedded finds a hit line or a header glued to the end of another line,
// as when a driver's DbgPrint lacks its newline:
// "avscan: scanning x.tmpBreakpoint 0 hit".
func embedded(t []byte) (lineKind, layout) {
	if script.EndsWithHit(t) {
		return lkBreakpoint, layout{}
	}
	if j := bytes.Index(t, retAddrWord); j > 0 {
		for _, w := range headerStarts {
			if k := bytes.Index(t[:j], w); k > 0 {
				if lay, ok := parseHeader(t[k:]); ok {
					return lkHeader, lay
				}
			}
		}
	}
	return lkOther, layout{}
}

var (
	retAddrWord  = []byte("RetAddr")
	headerStarts = [][]byte{[]byte("ChildEBP"), []byte("Child-SP"), []byte("FramePtr"), []byte("# ")}
)

var (
	stackTextWord    = []byte("STACK_TEXT:")
	warningWord      = []byte("WARNING:")
	intermediateWord = []byte("<Intermediate frames")
	unableWord       = []byte("Unable to ")
	kdUnableWord     = []byte("KD: Unable to ")
)

// parseHeader recognises a stack header and derives the row layout from
// the column names it lists ("Stack layouts" in docs/kd-protocol.md):
//
//	ChildEBP RetAddr  Args to Child                 x86 kb/kv
//	ChildEBP RetAddr                                x86 k
//	FramePtr  RetAddr   Param1   Param2   Param3   Function Name   (i386kd)
//	Child-SP          RetAddr           : Args to Child ... : Call Site
//	# RetAddr           : Args to Child ... : Call Site
//	# Child-SP          RetAddr           Call Site
//	#   Memory  Child-SP          RetAddr           Call Site   (kf)
//	# Call Site                                     (kc)
func parseHeader(t []byte) (layout, bool) {
	switch t[0] {
	case '#', 'C', 'F', 'R', 'M':
	default:
		return layout{}, false
	}
	return parseHeaderFields(t)
}

func parseHeaderFields(t []byte) (layout, bool) {
	var (
		num, mem, ret, site bool
		retWord             bool
		addrs, args, colons int
		unknown, ntok       int
	)
	for pos := skipSpace(t, 0); pos < len(t); pos = skipSpace(t, pos) {
		end := tokEnd(t, pos)
		tok := t[pos:end]
		ntok++
		switch string(tok) {
		case "#":
			if ntok == 1 {
				num = true
			} else {
				unknown++
			}
		case "ChildEBP", "Child-SP", "FramePtr", "ChildSP":
			addrs++
		case "RetAddr", "RetAddr:":
			ret = true
			addrs++
		case "Return": // MEX !t, with "Call Site"
			retWord = true
			addrs++
		case "Memory":
			mem = true
		case "Args":
			args += 3
			// "Args to Child"
			for _, w := range []string{"to", "Child"} {
				p := skipSpace(t, end)
				e := tokEnd(t, p)
				if string(t[p:e]) == w {
					end = e
				}
			}
		case ":":
			colons++
		case "Call", "Function":
			site = true
		case "Site", "Name", "Source":
		default:
			if len(tok) > 5 && string(tok[:5]) == "Param" {
				args++
			} else {
				unknown++
			}
		}
		if ntok == 1 && !num && addrs == 0 && !mem && !site {
			return layout{}, false
		}
		pos = end
	}
	switch {
	case unknown > 2:
		return layout{}, false
	case ret, retWord && site:
	case site && addrs == 0 && unknown == 0:
	default:
		return layout{}, false
	}
	b := func(v bool) int {
		if v {
			return 1
		}
		return 0
	}
	if colons > 0 {
		return layout{kind: kindColons, minCols: 1, maxCols: b(num) + addrs + b(mem), colons: colons, num: num}, true
	}
	minCols := addrs
	if minCols > 2 {
		minCols = 2
	}
	return layout{kind: kindColumns, minCols: minCols, maxCols: b(num) + addrs + b(mem) + args, num: num}, true
}
