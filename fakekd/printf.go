package fakekd

import (
	"errors"
	"fmt"
	"strings"
)

// .printf as kd runs it
// (https://learn.microsoft.com/en-us/windows-hardware/drivers/debuggercmds/-printf):
// "conversion characters work exactly as in C", the I64 modifier makes a
// value 64 bits, %p "represents a pointer in the target's virtual address
// space" in the debugger's own formatting. The fake prints %p as a
// target-sized hex number without 0x: 16 digits on a 64-bit target, 8 on a
// 32-bit one (the documentation does not say whether kd puts its grave
// accent between the halves; leak records are read either way). %N is a
// pointer of the host's size (a 64-bit host here). Without I64, %x %d %u
// take the low 32 bits.

// unescapeC turns the C escapes of a quoted string into their characters:
// \n, \t, \", \\ (others are kept as written).
func unescapeC(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case '"', '\\':
			b.WriteByte(s[i])
		default:
			b.WriteByte('\\')
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// parsePrintf splits the arguments of .printf: the quoted format string
// (still escaped) and the argument expressions after it, split at commas
// outside parentheses.
func parsePrintf(rest string) (format string, args []string, err error) {
	rest = strings.TrimSpace(rest)
	// Options (/D: DML) come before the format.
	for strings.HasPrefix(rest, "/") {
		_, rest, _ = strings.Cut(rest, " ")
		rest = strings.TrimSpace(rest)
	}
	if !strings.HasPrefix(rest, `"`) {
		return "", nil, errors.New("format string must be quoted")
	}
	end := -1
	for i := 1; i < len(rest); i++ {
		if rest[i] == '\\' {
			i++
			continue
		}
		if rest[i] == '"' {
			end = i
			break
		}
	}
	if end < 0 {
		return "", nil, errors.New("unterminated format string")
	}
	format = rest[1:end]
	tail := strings.TrimSpace(rest[end+1:])
	if tail == "" {
		return format, nil, nil
	}
	if tail[0] != ',' {
		return "", nil, errors.New("expected a comma after the format string")
	}
	tail = tail[1:]
	depth, start := 0, 0
	for i := 0; i < len(tail); i++ {
		switch tail[i] {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				args = append(args, strings.TrimSpace(tail[start:i]))
				start = i + 1
			}
		}
	}
	args = append(args, strings.TrimSpace(tail[start:]))
	for _, a := range args {
		if a == "" {
			return "", nil, errors.New("empty argument")
		}
	}
	return format, args, nil
}

// formatPrintf formats values as kd's .printf does. The format is already
// unescaped; ptr64 is the target's pointer size.
func formatPrintf(format string, vals []uint64, ptr64 bool) (string, error) {
	var b strings.Builder
	n := 0
	next := func() (uint64, error) {
		if n >= len(vals) {
			return 0, errors.New("not enough arguments for the format string")
		}
		n++
		return vals[n-1], nil
	}
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(format) {
			return "", errors.New("format string ends in %")
		}
		if format[i] == '%' {
			b.WriteByte('%')
			continue
		}
		// Flags, width, then the I64 or l modifier, then the conversion.
		j := i
		for j < len(format) && strings.IndexByte("-+ #0", format[j]) >= 0 {
			j++
		}
		for j < len(format) && '0' <= format[j] && format[j] <= '9' {
			j++
		}
		spec := format[i:j]
		wide, modified := false, false
		switch {
		case strings.HasPrefix(format[j:], "I64"):
			wide, modified, j = true, true, j+3
		case strings.HasPrefix(format[j:], "ll"):
			wide, modified, j = true, true, j+2
		case strings.HasPrefix(format[j:], "l"):
			modified = true
			j++
		}
		if j >= len(format) {
			return "", errors.New("format string ends in a conversion")
		}
		conv := format[j]
		i = j
		v, err := next()
		if err != nil {
			return "", err
		}
		if !wide && conv != 'p' && conv != 'N' {
			v &= 0xffffffff
		}
		switch conv {
		case 'p':
			if spec != "" || modified {
				return "", errors.New("%p takes no modifiers")
			}
			if ptr64 {
				fmt.Fprintf(&b, "%016x", v)
			} else {
				fmt.Fprintf(&b, "%08x", uint32(v))
			}
		case 'N':
			fmt.Fprintf(&b, "%016X", v) // a host pointer: kd runs on 64-bit Windows
		case 'x', 'X', 'o':
			b.WriteString(fmt.Sprintf("%"+spec+string(conv), v))
		case 'u':
			b.WriteString(fmt.Sprintf("%"+spec+"d", v))
		case 'd', 'i':
			sv := int64(v)
			if !wide {
				sv = int64(int32(uint32(v)))
			}
			b.WriteString(fmt.Sprintf("%"+spec+"d", sv))
		case 'c':
			b.WriteByte(byte(v))
		default:
			return "", fmt.Errorf("unsupported conversion %%%c", conv)
		}
	}
	if n != len(vals) {
		return "", errors.New("more arguments than conversions")
	}
	return b.String(), nil
}
