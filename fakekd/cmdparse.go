package fakekd

import (
	"errors"
	"strconv"
	"strings"
)

// splitCommands splits a command list at semicolons that are outside double
// quotes and braces (kd-protocol.md ".echo markers": ".echo ... is ended if the debugger encounters a
// semicolon (unless the semicolon occurs within a quoted string)"; an .if
// block's commands are in braces). Inside quotes, \" does not close the
// string. A j command takes the rest of the list: "You cannot add a
// semicolon or additional commands after the j command"
// (https://learn.microsoft.com/en-us/windows-hardware/drivers/debuggercmds/j--execute-if---else-).
// Pieces are trimmed; empty pieces are kept so callers can see them
// (";kb;g" starts with a harmless empty one, kd-protocol.md "Breakpoints").
func splitCommands(s string) []string {
	var out []string
	for {
		cmd, rest, more := nextCommand(s)
		out = append(out, cmd)
		if !more {
			return out
		}
		s = rest
	}
}

// nextCommand cuts the first command off a list; more is false when it was
// the last.
func nextCommand(s string) (cmd, rest string, more bool) {
	t := strings.TrimLeft(s, " \t")
	if w, _ := splitWord(t); w == "j" || strings.HasPrefix(strings.ToLower(t), "j(") {
		return strings.TrimSpace(t), "", false
	}
	inQuote, depth := false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && inQuote && i+1 < len(s):
			i++
		case c == '"':
			inQuote = !inQuote
		case inQuote:
		case c == '{':
			depth++
		case c == '}' && depth > 0:
			depth--
		case c == ';' && depth == 0:
			return strings.TrimSpace(s[:i]), s[i+1:], true
		}
	}
	return strings.TrimSpace(s), "", false
}

// splitWord returns the command word (lower-cased, as kd commands are
// case-insensitive) and the trimmed rest. Words end at a space; bp/bu/k*
// glue their options ("bp5", "kb100") and are split by their parsers.
func splitWord(s string) (string, string) {
	s = strings.TrimSpace(s)
	w, rest, _ := strings.Cut(s, " ")
	return strings.ToLower(w), strings.TrimSpace(rest)
}

// bpArgs is a parsed bp/bu command (kd-protocol.md "Breakpoints"):
// bp[ID] [/1] [Options] Address [Passes] ["CommandString"].
type bpArgs struct {
	id      int // -1: lowest free
	oneShot bool
	thread  string // /t EThread: an expression, evaluated when the bp is set
	address string
	command string
	hasCmd  bool
}

var errBpSyntax = errors.New("bp syntax")

func parseBp(word, rest string) (bpArgs, error) {
	a := bpArgs{id: -1}
	if idText := word[2:]; idText != "" {
		n, err := strconv.Atoi(idText)
		if err != nil || n < 0 {
			return a, errBpSyntax
		}
		a.id = n
	}
	s := strings.TrimSpace(rest)
	for strings.HasPrefix(s, "/") {
		opt, tail, _ := strings.Cut(s, " ")
		tail = strings.TrimSpace(tail)
		switch opt {
		case "/1":
		case "/p", "/t", "/c", "/C", "/w":
			// Options with a value: skip it (quoted for /w).
			if strings.HasPrefix(tail, "\"") {
				_, after, ok := cutQuoted(tail)
				if !ok {
					return a, errBpSyntax
				}
				tail = after
			} else {
				var val string
				val, tail, _ = strings.Cut(tail, " ")
				if val == "" {
					return a, errBpSyntax
				}
				if opt == "/t" {
					a.thread = val
				}
			}
		default:
			return a, errBpSyntax
		}
		a.oneShot = a.oneShot || opt == "/1"
		s = strings.TrimSpace(tail)
	}
	if q := strings.IndexByte(s, '"'); q >= 0 {
		cmd, after, ok := cutQuoted(s[q:])
		if !ok || strings.TrimSpace(after) != "" {
			return a, errBpSyntax
		}
		a.command, a.hasCmd = cmd, true
		s = s[:q]
	}
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return a, errBpSyntax
	}
	// A Passes count may follow the address; the fake accepts and ignores it.
	a.address = fields[0]
	return a, nil
}

// cutQuoted takes a string starting with '"' and returns its content
// unescaped once, as kd does when it parses the command holding it: \"
// becomes " and \\ becomes \, other escapes stay for the command inside to
// read (so a .printf inside a bp string writes its newline \\n, and a
// string two levels down doubles its backslashes again: the lowleveldesign
// recipes in https://github.com/lowleveldesign/debug-recipes). It also
// returns what follows the closing quote.
func cutQuoted(s string) (content, after string, ok bool) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\'):
			b.WriteByte(s[i+1])
			i++
		case c == '"':
			return b.String(), s[i+1:], true
		default:
			b.WriteByte(c)
		}
	}
	return "", "", false
}

// idSet is the argument of bc/bd/be (kd-protocol.md "Session commands"): "*", IDs, ranges
// "1-3", separated by spaces or commas.
type idSet struct {
	all bool
	ids map[int]bool
}

func (s idSet) has(id int) bool { return s.all || s.ids[id] }

func parseIDList(arg string) (idSet, error) {
	set := idSet{ids: map[int]bool{}}
	fields := strings.FieldsFunc(arg, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' })
	if len(fields) == 0 {
		return set, errors.New("no breakpoint IDs")
	}
	for _, f := range fields {
		if f == "*" {
			set.all = true
			continue
		}
		lo, hi, isRange := strings.Cut(f, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return set, err
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				return set, err
			}
		}
		if b < a || b-a > 1024 {
			return set, errors.New("bad range")
		}
		for id := a; id <= b; id++ {
			set.ids[id] = true
		}
	}
	return set, nil
}

// parseValue reads a MASM expression the way kd's default radix 16 does, for
// the few forms drivers use: 206b6444, 0x206b6444, 0n42, fffff801`1e2a3b40,
// and a character constant ' cbA' (kd-protocol.md "PoolHitTag and the allocators"), whose first character is
// the most significant byte.
func parseValue(s string) (uint64, error) {
	s = strings.TrimSpace(s)
	if len(s) >= 3 && s[0] == '\'' && s[len(s)-1] == '\'' {
		body := s[1 : len(s)-1]
		if len(body) == 0 || len(body) > 8 {
			return 0, errors.New("bad character constant")
		}
		var v uint64
		for i := 0; i < len(body); i++ {
			v = v<<8 | uint64(body[i])
		}
		return v, nil
	}
	s = strings.ReplaceAll(strings.ToLower(s), "`", "")
	switch {
	case strings.HasPrefix(s, "0n"):
		return strconv.ParseUint(s[2:], 10, 64)
	case strings.HasPrefix(s, "0x"):
		return strconv.ParseUint(s[2:], 16, 64)
	}
	return strconv.ParseUint(s, 16, 64)
}
