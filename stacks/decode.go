package stacks

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// ErrBinary is matched (with errors.Is) by the error returned for input that
// is not text: NUL bytes outside UTF-16, or mostly control characters.
var ErrBinary = errors.New("binary data, not a kd log")

// BinaryError says why the input was taken for binary data.
type BinaryError struct {
	Offset int64  // offset of the first offending byte in the sample
	Reason string // e.g. "NUL byte at offset 16"
}

func (e *BinaryError) Error() string { return e.Reason }

// Is makes errors.Is(err, ErrBinary) true.
func (e *BinaryError) Is(target error) bool { return target == ErrBinary }

// Encoding is the text encoding detected at the start of a log.
type Encoding int

// Encodings kd writes: the ANSI/UTF-8 default, and UTF-16 from `.logopen /u`
// or -logou (little-endian in practice; big-endian is accepted too).
const (
	UTF8 Encoding = iota
	UTF16LE
	UTF16BE
)

func (e Encoding) String() string {
	switch e {
	case UTF16LE:
		return "UTF-16LE"
	case UTF16BE:
		return "UTF-16BE"
	}
	return "UTF-8"
}

// sniffLen is how much of the input is looked at to decide the encoding and
// whether it is binary.
const sniffLen = 4096

// sniff decides the encoding of a log from its first bytes and rejects
// binary data. skip is the length of the byte order mark.
func sniff(p []byte) (enc Encoding, skip int, err error) {
	switch {
	case len(p) >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF:
		return UTF8, 3, checkText(p[3:], 3)
	case len(p) >= 2 && p[0] == 0xFF && p[1] == 0xFE:
		return UTF16LE, 2, nil
	case len(p) >= 2 && p[0] == 0xFE && p[1] == 0xFF:
		return UTF16BE, 2, nil
	}
	// No BOM: UTF-16 text of mostly ASCII has a NUL in every other byte.
	pairs := len(p) / 2
	if pairs >= 2 {
		var evenZ, oddZ int
		for i := 0; i+1 < len(p); i += 2 {
			if p[i] == 0 {
				evenZ++
			}
			if p[i+1] == 0 {
				oddZ++
			}
		}
		switch {
		case oddZ*10 >= pairs*6 && evenZ*20 <= pairs:
			return UTF16LE, 0, nil
		case evenZ*10 >= pairs*6 && oddZ*20 <= pairs:
			return UTF16BE, 0, nil
		}
	}
	return UTF8, 0, checkText(p, 0)
}

// checkText rejects samples that are not text: any NUL byte, or more than
// one control character in twenty.
func checkText(p []byte, base int64) error {
	ctl := 0
	first := -1
	for i, c := range p {
		if c == 0 {
			return &BinaryError{Offset: base + int64(i), Reason: fmt.Sprintf("NUL byte at offset %d", base+int64(i))}
		}
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v' && c != '\b' && c != 0x1b || c == 0x7f {
			ctl++
			if first < 0 {
				first = i
			}
		}
	}
	if ctl > 0 && ctl*20 > len(p) {
		return &BinaryError{Offset: base + int64(first), Reason: fmt.Sprintf("%d control characters in the first %d bytes", ctl, len(p))}
	}
	return nil
}

// utf16State carries a decoder's state across buffers.
type utf16State struct {
	be      bool
	odd     byte // a first byte still waiting for its pair
	hasOdd  bool
	hi      rune // a high surrogate waiting for its low half
	started bool // whether any unit was seen (to drop a BOM-less U+FEFF)
}

// decode appends the UTF-8 form of the UTF-16 bytes src to dst. U+0000 is
// dropped (kd pads nothing, but a preallocated log may hold zeros) and so is
// a leading U+FEFF; unpaired surrogates become U+FFFD.
func (s *utf16State) decode(dst, src []byte) []byte {
	if s.hasOdd && len(src) > 0 {
		var u uint16
		if s.be {
			u = uint16(s.odd)<<8 | uint16(src[0])
		} else {
			u = uint16(src[0])<<8 | uint16(s.odd)
		}
		s.hasOdd = false
		src = src[1:]
		dst = s.unit(dst, u)
	}
	n := len(src) &^ 1
	if s.be {
		for i := 0; i < n; i += 2 {
			u := uint16(src[i])<<8 | uint16(src[i+1])
			if u < 0x80 && u != 0 && s.hi == 0 && s.started {
				dst = append(dst, byte(u))
				continue
			}
			dst = s.unit(dst, u)
		}
	} else {
		for i := 0; i < n; i += 2 {
			u := uint16(src[i]) | uint16(src[i+1])<<8
			if u < 0x80 && u != 0 && s.hi == 0 && s.started {
				dst = append(dst, byte(u))
				continue
			}
			dst = s.unit(dst, u)
		}
	}
	if n < len(src) {
		s.odd, s.hasOdd = src[n], true
	}
	return dst
}

func (s *utf16State) unit(dst []byte, u uint16) []byte {
	first := !s.started
	s.started = true
	r := rune(u)
	switch {
	case r >= 0xD800 && r < 0xDC00:
		if s.hi != 0 {
			dst = utf8.AppendRune(dst, utf8.RuneError)
		}
		s.hi = r
		return dst
	case r >= 0xDC00 && r < 0xE000:
		if s.hi == 0 {
			return utf8.AppendRune(dst, utf8.RuneError)
		}
		r = (s.hi-0xD800)<<10 + (r - 0xDC00) + 0x10000
		s.hi = 0
		return utf8.AppendRune(dst, r)
	}
	if s.hi != 0 {
		dst = utf8.AppendRune(dst, utf8.RuneError)
		s.hi = 0
	}
	if r == 0 || first && r == 0xFEFF {
		return dst
	}
	return utf8.AppendRune(dst, r)
}

// utf16Reader decodes a UTF-16 stream into UTF-8 while reading.
type utf16Reader struct {
	r   io.Reader
	st  utf16State
	raw []byte
	out []byte
	off int
	err error
}

func (u *utf16Reader) Read(p []byte) (int, error) {
	for u.off == len(u.out) {
		if u.err != nil {
			return 0, u.err
		}
		if u.raw == nil {
			u.raw = make([]byte, 64<<10)
		}
		n, err := u.r.Read(u.raw)
		u.out = u.st.decode(u.out[:0], u.raw[:n])
		u.off = 0
		if err != nil {
			u.err = err
		}
	}
	n := copy(p, u.out[u.off:])
	u.off += n
	return n, nil
}

// textReader sniffs r and returns a reader of its UTF-8 text, the detected
// encoding, or a *BinaryError. An empty input is not an error.
func textReader(r io.Reader) (io.Reader, Encoding, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(sniffLen)
	if err != nil && err != io.EOF && len(head) == 0 {
		return nil, UTF8, err // a read error comes back after head otherwise
	}
	enc, skip, serr := sniff(head)
	if serr != nil {
		return nil, enc, serr
	}
	if _, err := br.Discard(skip); err != nil {
		return nil, enc, err
	}
	if enc == UTF8 {
		return br, enc, nil
	}
	return &utf16Reader{r: br, st: utf16State{be: enc == UTF16BE}}, enc, nil
}
