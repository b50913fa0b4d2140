package report

import (
	"fmt"
	"strings"
)

// DefaultSkipList is the default --skip: the kernel and HAL under every
// image name they go by, and Driver Verifier's allocation thunks (which sit
// between a verified driver and the allocator).
var DefaultSkipList = []string{
	"nt", "ntoskrnl", "ntkrnlmp", "ntkrnlpa", "ntkrpamp", "hal",
	"verifier", "*!VerifierExAllocatePool*", "*!VeAllocatePool*", "*!VfAllocPool*",
}

// allocatorList is used only when every frame of a stack is skipped (the
// kernel allocating for itself): the culprit is then the first frame that is
// not the allocator.
var allocatorList = []string{
	"*!MmAllocateSpecialPool*", "*!ExAllocatePool*", "*!ExpAllocatePool*",
	"*!ExAllocateHeapPool*", "*!RtlpHp*", "*!ExAllocatePoolWithTag*",
	"*!VerifierExAllocatePool*", "*!VeAllocatePool*", "*!VfAllocPool*",
	"*!ExAllocatePoolWithQuota*", "*!ExAllocatePoolWithTagPriority*",
}

// Skip decides which frames cannot be a culprit. Entries are module names
// ("nt") or module!function patterns ("nt!ExAllocatePool*", "*!VfAllocPool*");
// '*' matches any run of characters; matching ignores case. A
// module!function pattern is matched against the frame with and without its
// "+0x" offset.
type Skip struct {
	modules []string // lower-case globs on the module
	symbols []string // lower-case globs on module!function
	alloc   []string
}

// NewSkip compiles a skip list. Empty entries are ignored; the single entry
// "none" means skip nothing.
func NewSkip(list []string) (*Skip, error) {
	s := &Skip{}
	for _, p := range list {
		p = strings.TrimSpace(p)
		if p == "" || strings.EqualFold(p, "none") && len(list) == 1 {
			continue
		}
		if strings.ContainsAny(p, " \t;") {
			return nil, fmt.Errorf("bad skip pattern %q: no spaces or ';'", p)
		}
		lp := strings.ToLower(p)
		if i := strings.IndexByte(lp, '!'); i >= 0 {
			if i == 0 || i == len(lp)-1 {
				return nil, fmt.Errorf("bad skip pattern %q: want module or module!function", p)
			}
			s.symbols = append(s.symbols, lp)
		} else {
			s.modules = append(s.modules, lp)
		}
	}
	for _, p := range allocatorList {
		s.alloc = append(s.alloc, strings.ToLower(p))
	}
	return s, nil
}

// DefaultSkip returns the compiled DefaultSkipList.
func DefaultSkip() *Skip {
	s, err := NewSkip(DefaultSkipList)
	if err != nil {
		panic(err)
	}
	return s
}

// Skipped reports whether frame cannot be a culprit.
func (s *Skip) Skipped(frame string) bool {
	if frame == "?" {
		return true
	}
	mod := strings.ToLower(Module(frame))
	for _, p := range s.modules {
		if glob(p, mod) {
			return true
		}
	}
	if len(s.symbols) == 0 {
		return false
	}
	lf := strings.ToLower(frame)
	sym := strings.ToLower(Symbol(frame))
	for _, p := range s.symbols {
		if glob(p, sym) || glob(p, lf) {
			return true
		}
	}
	return false
}

// Culprit returns the first frame, from the innermost, that is not skipped.
// If all are, it returns the first that is not the allocator itself, and
// failing that the outermost frame.
func (s *Skip) Culprit(frames []string) string {
	for _, f := range frames {
		if !s.Skipped(f) {
			return f
		}
	}
outer:
	for _, f := range frames {
		if f == "?" {
			continue
		}
		lf := strings.ToLower(Symbol(f))
		for _, p := range s.alloc {
			if glob(p, lf) {
				continue outer
			}
		}
		return f
	}
	if len(frames) == 0 {
		return ""
	}
	return frames[len(frames)-1]
}

// glob matches s against pattern p where '*' matches any run of bytes.
func glob(p, s string) bool {
	star, ss := -1, 0
	i, j := 0, 0
	for j < len(s) {
		switch {
		case i < len(p) && p[i] == '*':
			star, ss = i, j
			i++
		case i < len(p) && p[i] == s[j]:
			i++
			j++
		case star >= 0:
			ss++
			i, j = star+1, ss
		default:
			return false
		}
	}
	for i < len(p) && p[i] == '*' {
		i++
	}
	return i == len(p)
}
