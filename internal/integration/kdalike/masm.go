package kdalike

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// kd's MASM evaluator, as far as breakpoint commands use it, written from
// https://learn.microsoft.com/en-us/windows-hardware/drivers/debuggercmds/masm-numbers-and-operators
// and .../sign-extension: numbers in radix 16 (0x, 0n decimal, a grave
// accent between the halves), @registers and @$pseudo-registers, the memory
// operators poi dwo wo by qwo, arithmetic, comparisons and and/or/xor, with
// kernel-mode sign extension (a 32-bit register always; a constant of up to
// eight digits with its top bit set, unless a grave accent precedes the low
// bytes; pseudo-registers never).

// machineView is what an expression can read at a halt.
type machineView struct {
	regs  map[string]uint64 // general registers, lower case; the 32-bit ones already sign-extended
	pseud map[string]uint64 // $thread, $ra, $ip, ...
	mem   func(addr uint64, n int) (uint64, bool)
	sym   func(name string) (uint64, bool)
	wide  bool // 64-bit pointers
}

type masmTok struct {
	kind byte // 'n' number, 'r' @register, 'p' $pseudo, 's' symbol or bare word, 'o' operator, 'e' end
	text string
	val  uint64
}

// kdError is an error in kd's own words ("Syntax error at '...'"),
// printed as it is.
type kdError string

func (e kdError) Error() string { return string(e) }

var errMASMSyntax = kdError("Syntax error")

func lexMASM(s string) ([]masmTok, error) {
	var out []masmTok
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case strings.ContainsRune("+-*/%&|^()", rune(c)):
			out = append(out, masmTok{kind: 'o', text: string(c)})
			i++
		case c == '=' || c == '!' || c == '<' || c == '>':
			j := i + 1
			if j < len(s) && (s[j] == '=' || (c == '<' || c == '>') && s[j] == c) {
				j++
			}
			if c == '!' && j == i+1 {
				return nil, errMASMSyntax
			}
			out = append(out, masmTok{kind: 'o', text: s[i:j]})
			i = j
		default:
			j := i
			for j < len(s) && (isWordChar(s[j]) || s[j] == '`' || s[j] == '!' || s[j] == '@' || s[j] == '$' || s[j] == '.') {
				j++
			}
			if j == i {
				return nil, kdError(fmt.Sprintf("Syntax error at '%s'", s[i:]))
			}
			w := s[i:j]
			i = j
			switch {
			case w[0] == '@' && len(w) > 1 && w[1] == '$':
				out = append(out, masmTok{kind: 'p', text: strings.ToLower(w[1:])})
			case w[0] == '@':
				out = append(out, masmTok{kind: 'r', text: strings.ToLower(w[1:])})
			case w[0] == '$':
				out = append(out, masmTok{kind: 'p', text: strings.ToLower(w)})
			default:
				if v, ok := masmNumber(w); ok {
					out = append(out, masmTok{kind: 'n', text: w, val: v})
				} else {
					out = append(out, masmTok{kind: 's', text: w})
				}
			}
		}
	}
	return append(out, masmTok{kind: 'e'}), nil
}

func isWordChar(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func masmNumber(w string) (uint64, bool) {
	base := 16
	l := strings.ToLower(w)
	switch {
	case strings.HasPrefix(l, "0x"):
		l = l[2:]
	case strings.HasPrefix(l, "0n"):
		base, l = 10, l[2:]
	}
	grave := strings.Contains(l, "`")
	if strings.Count(l, "`") > 1 || strings.HasPrefix(l, "`") || strings.HasSuffix(l, "`") {
		return 0, false
	}
	l = strings.ReplaceAll(l, "`", "")
	if l == "" {
		return 0, false
	}
	v, err := strconv.ParseUint(l, base, 64)
	if err != nil {
		return 0, false
	}
	if base == 16 && !grave && len(l) <= 8 && v >= 0x80000000 && v <= 0xffffffff {
		v |= 0xffffffff00000000
	}
	return v, true
}

// masmEval evaluates s; the error is kd's line for it.
func masmEval(s string, mv machineView) (uint64, error) {
	toks, err := lexMASM(s)
	if err != nil {
		return 0, err
	}
	e := &masmRun{t: toks, mv: mv, src: s}
	v, err := e.binary(0)
	if err != nil {
		return 0, err
	}
	if e.t[e.i].kind != 'e' {
		return 0, kdError(fmt.Sprintf("Syntax error at '%s'", s))
	}
	return v, nil
}

type masmRun struct {
	t     []masmTok
	i     int
	mv    machineView
	src   string
	depth int
}

// binary operators by precedence level (higher binds tighter).
func binPrec(t masmTok) int {
	if t.kind == 's' {
		switch strings.ToLower(t.text) {
		case "or":
			return 1
		case "xor":
			return 2
		case "and":
			return 3
		case "mod":
			return 7
		}
		return 0
	}
	if t.kind != 'o' {
		return 0
	}
	switch t.text {
	case "|":
		return 1
	case "^":
		return 2
	case "&":
		return 3
	case "==", "=", "!=", "<", ">", "<=", ">=":
		return 4
	case "<<", ">>":
		return 5
	case "+", "-":
		return 6
	case "*", "/", "%":
		return 7
	}
	return 0
}

func (e *masmRun) binary(min int) (uint64, error) {
	l, err := e.unary()
	if err != nil {
		return 0, err
	}
	for {
		op := e.t[e.i]
		p := binPrec(op)
		if p == 0 || p <= min {
			return l, nil
		}
		e.i++
		r, err := e.binary(p)
		if err != nil {
			return 0, err
		}
		switch strings.ToLower(op.text) {
		case "|", "or":
			l |= r
		case "^", "xor":
			l ^= r
		case "&", "and":
			l &= r
		case "==", "=":
			l = bool64(l == r)
		case "!=":
			l = bool64(l != r)
		case "<":
			l = bool64(int64(l) < int64(r))
		case ">":
			l = bool64(int64(l) > int64(r))
		case "<=":
			l = bool64(int64(l) <= int64(r))
		case ">=":
			l = bool64(int64(l) >= int64(r))
		case "<<":
			l <<= r & 63
		case ">>":
			l >>= r & 63
		case "+":
			l += r
		case "-":
			l -= r
		case "*":
			l *= r
		case "/", "%", "mod":
			if r == 0 {
				return 0, kdError(fmt.Sprintf("Divide by zero error at '%s'", e.src))
			}
			if op.text == "/" {
				l /= r
			} else {
				l %= r
			}
		}
	}
}

func bool64(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

var memSizes = map[string]int{"by": 1, "wo": 2, "dwo": 4, "qwo": 8, "poi": 0}

func (e *masmRun) unary() (uint64, error) {
	e.depth++
	defer func() { e.depth-- }()
	if e.depth > 100 {
		return 0, kdError(fmt.Sprintf("Syntax error at '%s'", e.src))
	}
	t := e.t[e.i]
	switch {
	case t.kind == 'o' && (t.text == "-" || t.text == "+"):
		e.i++
		v, err := e.unary()
		if t.text == "-" {
			v = -v
		}
		return v, err
	case t.kind == 's' && strings.EqualFold(t.text, "not"):
		e.i++
		v, err := e.unary()
		return bool64(v == 0), err
	case t.kind == 's' && (strings.EqualFold(t.text, "hi") || strings.EqualFold(t.text, "low")):
		e.i++
		v, err := e.unary()
		if strings.EqualFold(t.text, "hi") {
			return v >> 16 & 0xffff, err
		}
		return v & 0xffff, err
	case t.kind == 's':
		if n, ok := memSizes[strings.ToLower(t.text)]; ok {
			e.i++
			a, err := e.unary()
			if err != nil {
				return 0, err
			}
			if n == 0 {
				n = 4
				if e.mv.wide {
					n = 8
				}
			}
			v, ok := e.mv.mem(a, n)
			if !ok {
				return 0, kdError(fmt.Sprintf("Memory access error at '%s'", e.src))
			}
			if strings.EqualFold(t.text, "poi") && n == 4 && v >= 0x80000000 {
				v |= 0xffffffff00000000
			}
			return v, nil
		}
	}
	return e.primary()
}

func (e *masmRun) primary() (uint64, error) {
	t := e.t[e.i]
	e.i++
	switch t.kind {
	case 'n':
		return t.val, nil
	case 'r':
		if v, ok := e.mv.regs[t.text]; ok {
			return v, nil
		}
		return 0, kdError(fmt.Sprintf("Bad register error at '@%s'", t.text))
	case 'p':
		if v, ok := e.mv.pseud[t.text]; ok {
			return v, nil
		}
		return 0, kdError(fmt.Sprintf("Bad register error at '@%s'", t.text))
	case 's':
		if v, ok := e.mv.sym(t.text); ok {
			return v, nil
		}
		if v, ok := e.mv.regs[strings.ToLower(t.text)]; ok {
			return v, nil
		}
		return 0, kdError(fmt.Sprintf("Couldn't resolve error at '%s'", t.text))
	case 'o':
		if t.text == "(" {
			v, err := e.binary(0)
			if err != nil {
				return 0, err
			}
			if e.t[e.i].kind != 'o' || e.t[e.i].text != ")" {
				return 0, kdError(fmt.Sprintf("Syntax error at '%s'", e.src))
			}
			e.i++
			return v, nil
		}
	}
	return 0, kdError(fmt.Sprintf("Syntax error at '%s'", e.src))
}

// kdPrintf formats .printf's output. %p is a target pointer, written as kd
// writes addresses (fffff801`1e3b13b1 on a 64-bit target: the documentation
// leaves its spelling to "the debugger's internal address formatting", and
// this is the debugger's address display; 8 digits on a 32-bit target);
// %I64x/%I64X/%I64d/%I64u take 64 bits, plain %x %X %d %u 32; %N is a
// host (64-bit) pointer.
func kdPrintf(format string, vals []uint64, wide bool) (string, error) {
	var b strings.Builder
	next := 0
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			b.WriteByte(format[i])
			continue
		}
		rest := format[i+1:]
		if strings.HasPrefix(rest, "%") {
			b.WriteByte('%')
			i++
			continue
		}
		width := ""
		for len(rest) > 0 && (rest[0] >= '0' && rest[0] <= '9') {
			width += rest[:1]
			rest = rest[1:]
		}
		big := strings.HasPrefix(rest, "I64")
		if big {
			rest = rest[3:]
		}
		if rest == "" {
			return "", errors.New("bad format")
		}
		conv := rest[0]
		i = len(format) - len(rest)
		if next >= len(vals) {
			return "", errors.New("too few arguments")
		}
		v := vals[next]
		next++
		switch {
		case conv == 'p' && width == "" && !big:
			if wide {
				fmt.Fprintf(&b, "%08x`%08x", v>>32, v&0xffffffff)
			} else {
				fmt.Fprintf(&b, "%08x", v&0xffffffff)
			}
		case conv == 'N' && !big:
			fmt.Fprintf(&b, "%016X", v)
		case conv == 'x' || conv == 'X' || conv == 'u' || conv == 'd':
			if !big {
				v &= 0xffffffff
			}
			f := "%" + width + string(conv)
			switch conv {
			case 'u':
				f = "%" + width + "d"
			case 'd':
				if !big {
					fmt.Fprintf(&b, "%"+width+"d", int32(uint32(v)))
					continue
				}
				fmt.Fprintf(&b, f, int64(v))
				continue
			}
			fmt.Fprintf(&b, f, v)
		default:
			return "", fmt.Errorf("bad conversion %%%c", conv)
		}
	}
	if next != len(vals) {
		return "", errors.New("too many arguments")
	}
	return b.String(), nil
}

// cString undoes C escapes in a format string (\n, \t, \", \\).
func cString(s string) string {
	r := strings.NewReplacer(`\\`, `\`, `\n`, "\n", `\t`, "\t", `\"`, `"`)
	return r.Replace(s)
}
