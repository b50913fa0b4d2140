package fakekd

import (
	"fmt"
	"strings"
)

// exprEnv is what a MASM expression can see at a halt: registers and
// pseudo-registers, target memory and symbols.
type exprEnv interface {
	// register returns a register or pseudo-register ("rcx", "edx",
	// "$thread", "$ra"), lower case, without the at sign.
	register(name string) (uint64, bool)
	// memory reads size bytes (1, 2, 4 or 8) of target memory.
	memory(addr uint64, size int) (uint64, bool)
	// symbol resolves module!name (or a bare kernel name).
	symbol(name string) (uint64, bool)
	// ptr64: the target's pointers are 64 bits (poi reads 8 bytes).
	ptr64() bool
}

// exprError is a failed evaluation in kd's words (kd-protocol.md
// "Breakpoint answers": "Couldn't resolve error at", "Syntax error at"); at is
// the rest of the expression from the failing token, as kd quotes it.
type exprError struct {
	kind string // "Syntax", "Couldn't resolve", "Memory access"
	at   string
}

func (e *exprError) Error() string { return fmt.Sprintf("%s error at '%s'", e.kind, e.at) }

// evalMASM evaluates a MASM expression the way kd's default evaluator
// does, for the operators kd lists in its `?` help ("unary ops: + - not by
// wo dwo qwo poi hi low; binary ops: + - * / mod(%) and(&) xor(^) or(|);
// comparisons: == (=) < > !="): default radix 16, numbers with 0x, 0n, 0t,
// 0y and a grave accent between the halves, @register and @$pseudo. The
// kernel-mode sign-extension rules of
// https://learn.microsoft.com/en-us/windows-hardware/drivers/debuggercmds/sign-extension
// apply: a 32-bit register and a constant of up to 8 digits with bit 31 set
// are sign-extended unless a grave accent precedes its low bytes;
// pseudo-registers never are.
func evalMASM(s string, env exprEnv) (uint64, error) {
	p := &exprParser{s: s, env: env}
	v, err := p.parseOr()
	if err != nil {
		return 0, err
	}
	p.space()
	if p.i < len(p.s) {
		return 0, p.fail("Syntax")
	}
	return v, nil
}

type exprParser struct {
	s   string
	i   int
	env exprEnv
	// depth bounds recursion: a fuzzer's "((((((..." must not blow the stack.
	depth int
}

const maxExprDepth = 64

func (p *exprParser) fail(kind string) error {
	return &exprError{kind: kind, at: p.s[min(p.i, len(p.s)):]}
}

func (p *exprParser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// word reports whether the operator word w (and, or, xor, mod, not, poi...)
// comes next, followed by something that cannot continue a name.
func (p *exprParser) word(w string) bool {
	p.space()
	if !strings.HasPrefix(strings.ToLower(p.s[p.i:]), w) {
		return false
	}
	j := p.i + len(w)
	if j < len(p.s) && isNameByte(p.s[j]) {
		return false
	}
	p.i = j
	return true
}

func (p *exprParser) op(o string) bool {
	p.space()
	if strings.HasPrefix(p.s[p.i:], o) {
		p.i += len(o)
		return true
	}
	return false
}

func isNameByte(c byte) bool {
	return c == '_' || c == '$' || c == '!' || c == '`' || c == '@' ||
		'0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// Precedence, lowest first: or, xor, and, comparisons, shifts, + -, * / mod,
// unary.
func (p *exprParser) parseOr() (uint64, error) {
	v, err := p.parseXor()
	for err == nil && (p.op("|") || p.word("or")) {
		var r uint64
		if r, err = p.parseXor(); err == nil {
			v |= r
		}
	}
	return v, err
}

func (p *exprParser) parseXor() (uint64, error) {
	v, err := p.parseAnd()
	for err == nil && (p.op("^") || p.word("xor")) {
		var r uint64
		if r, err = p.parseAnd(); err == nil {
			v ^= r
		}
	}
	return v, err
}

func (p *exprParser) parseAnd() (uint64, error) {
	v, err := p.parseCmp()
	for err == nil {
		p.space()
		// "&" but not "&&" (not MASM).
		if strings.HasPrefix(p.s[p.i:], "&") && !strings.HasPrefix(p.s[p.i:], "&&") {
			p.i++
		} else if !p.word("and") {
			break
		}
		var r uint64
		if r, err = p.parseCmp(); err == nil {
			v &= r
		}
	}
	return v, err
}

func (p *exprParser) parseCmp() (uint64, error) {
	v, err := p.parseShift()
	for err == nil {
		var f func(a, b uint64) bool
		switch {
		case p.op("=="):
			f = func(a, b uint64) bool { return a == b }
		case p.op("!="):
			f = func(a, b uint64) bool { return a != b }
		case p.op("<="):
			f = func(a, b uint64) bool { return int64(a) <= int64(b) }
		case p.op(">="):
			f = func(a, b uint64) bool { return int64(a) >= int64(b) }
		case p.op("<") && !strings.HasPrefix(p.s[p.i:], "<"):
			f = func(a, b uint64) bool { return int64(a) < int64(b) }
		case p.op(">") && !strings.HasPrefix(p.s[p.i:], ">"):
			f = func(a, b uint64) bool { return int64(a) > int64(b) }
		case p.op("="):
			f = func(a, b uint64) bool { return a == b }
		default:
			return v, nil
		}
		var r uint64
		if r, err = p.parseShift(); err == nil {
			v = b2u(f(v, r))
		}
	}
	return v, err
}

func (p *exprParser) parseShift() (uint64, error) {
	v, err := p.parseAdd()
	for err == nil {
		var f func(a, n uint64) uint64
		switch {
		case p.op(">>>"):
			f = func(a, n uint64) uint64 { return uint64(int64(a) >> (n & 63)) }
		case p.op(">>"):
			f = func(a, n uint64) uint64 { return a >> (n & 63) }
		case p.op("<<"):
			f = func(a, n uint64) uint64 { return a << (n & 63) }
		default:
			return v, nil
		}
		var r uint64
		if r, err = p.parseAdd(); err == nil {
			v = f(v, r)
		}
	}
	return v, err
}

func (p *exprParser) parseAdd() (uint64, error) {
	v, err := p.parseMul()
	for err == nil {
		var neg bool
		switch {
		case p.op("+"):
		case p.op("-"):
			neg = true
		default:
			return v, nil
		}
		var r uint64
		if r, err = p.parseMul(); err == nil {
			if neg {
				v -= r
			} else {
				v += r
			}
		}
	}
	return v, err
}

func (p *exprParser) parseMul() (uint64, error) {
	v, err := p.parseUnary()
	for err == nil {
		var div, mod bool
		switch {
		case p.op("*"):
		case p.op("/"):
			div = true
		case p.op("%") || p.word("mod"):
			mod = true
		default:
			return v, nil
		}
		at := p.i
		var r uint64
		if r, err = p.parseUnary(); err != nil {
			break
		}
		switch {
		case (div || mod) && r == 0:
			p.i = at
			return 0, &exprError{kind: "Divide by zero", at: p.s[at:]}
		case div:
			v /= r
		case mod:
			v %= r
		default:
			v *= r
		}
	}
	return v, err
}

// memOps are MASM's memory operators and the bytes they read; poi reads a
// pointer of the target's size.
var memOps = []struct {
	name string
	size int
}{{"poi", 0}, {"qwo", 8}, {"dwo", 4}, {"wo", 2}, {"by", 1}}

func (p *exprParser) parseUnary() (uint64, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxExprDepth {
		return 0, p.fail("Syntax")
	}
	switch {
	case p.op("-"):
		v, err := p.parseUnary()
		return -v, err
	case p.op("+"):
		return p.parseUnary()
	case p.word("not"):
		v, err := p.parseUnary()
		return b2u(v == 0), err
	case p.word("hi"):
		v, err := p.parseUnary()
		return v >> 16 & 0xffff, err
	case p.word("low"):
		v, err := p.parseUnary()
		return v & 0xffff, err
	}
	for _, m := range memOps {
		if !p.word(m.name) {
			continue
		}
		at := p.i
		addr, err := p.parseUnary()
		if err != nil {
			return 0, err
		}
		size := m.size
		if size == 0 {
			size = 4
			if p.env.ptr64() {
				size = 8
			}
		}
		v, ok := p.env.memory(addr, size)
		if !ok {
			return 0, &exprError{kind: "Memory access", at: strings.TrimSpace(p.s[at:])}
		}
		if m.name == "poi" && size == 4 {
			// poi of a 32-bit target is a pointer: sign-extended as
			// kernel addresses are.
			v = uint64(int64(int32(uint32(v))))
		}
		return v, nil
	}
	return p.parsePrimary()
}

func (p *exprParser) parsePrimary() (uint64, error) {
	p.space()
	if p.i >= len(p.s) {
		return 0, p.fail("Syntax")
	}
	if p.s[p.i] == '(' {
		p.i++
		p.depth++
		v, err := p.parseOr()
		p.depth--
		if err != nil {
			return 0, err
		}
		if !p.op(")") {
			return 0, p.fail("Syntax")
		}
		return v, nil
	}
	start := p.i
	for p.i < len(p.s) && (isNameByte(p.s[p.i]) || p.s[p.i] == '.' && p.i > start) {
		p.i++
	}
	tok := p.s[start:p.i]
	if tok == "" {
		return 0, p.fail("Syntax")
	}
	if tok[0] == '@' {
		name := strings.ToLower(tok[1:])
		if v, ok := p.env.register(name); ok {
			return v, nil
		}
		p.i = start
		return 0, p.fail("Bad register")
	}
	if v, ok := parseMASMNumber(tok); ok {
		return v, nil
	}
	l := strings.ToLower(tok)
	if l[0] == '$' {
		if v, ok := p.env.register(l); ok {
			return v, nil
		}
	}
	// Without the at sign kd looks for a symbol first, then a register
	// (slower, but it works: zeroSteiner's ".printf ..., rcx,rdx,r8").
	if v, ok := p.env.symbol(tok); ok {
		return v, nil
	}
	if v, ok := p.env.register(l); ok {
		return v, nil
	}
	p.i = start
	return 0, p.fail("Couldn't resolve")
}

// parseMASMNumber reads a MASM number: radix 16 unless 0x, 0n (decimal),
// 0t (octal) or 0y (binary) says otherwise, grave accents allowed between
// digits. A constant of at most 8 digits with bit 31 set and no grave accent
// is sign-extended, as kernel-mode kd does.
func parseMASMNumber(tok string) (uint64, bool) {
	l := strings.ToLower(tok)
	radix := uint64(16)
	if len(l) > 2 && l[0] == '0' {
		switch l[1] {
		case 'x':
			l = l[2:]
		case 'n':
			radix, l = 10, l[2:]
		case 't':
			radix, l = 8, l[2:]
		case 'y':
			radix, l = 2, l[2:]
		}
	}
	if l == "" || l[0] == '`' || l[len(l)-1] == '`' {
		return 0, false
	}
	var v uint64
	digits, tick := 0, false
	for i := 0; i < len(l); i++ {
		c := l[i]
		if c == '`' {
			if tick {
				return 0, false
			}
			tick = true
			continue
		}
		var d uint64
		switch {
		case '0' <= c && c <= '9':
			d = uint64(c - '0')
		case 'a' <= c && c <= 'f':
			d = uint64(c-'a') + 10
		default:
			return 0, false
		}
		if d >= radix {
			return 0, false
		}
		digits++
		if v > (^uint64(0)-d)/radix {
			return 0, false // overflow: kd refuses it too
		}
		v = v*radix + d
	}
	if radix == 16 && !tick && digits <= 8 && v&0x80000000 != 0 {
		v = uint64(int64(int32(uint32(v))))
	}
	return v, true
}
