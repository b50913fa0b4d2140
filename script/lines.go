package script

// kd's prompt and its breakpoint-hit line, recognised in one place for the
// session (strings) and the log parser (bytes). See "Prompts" and
// "Breakpoint hits" in docs/kd-protocol.md.

// text is what the recognisers read: the session's strings and the log
// parser's byte slices, without a copy.
type text interface{ ~string | ~[]byte }

// PromptLen returns the length of kd's prompt at the very start of s,
// including the one space kd prints after '>', or 0 if s does not start with
// one. A kd prompt is an optional processor number and colon ("0: ", "12: "),
// then kd (or lkd for local kernel debugging, kd:x86 in a WoW64 context, or
// the historic KD and KDx86), then '>'. kd prints it at the start of a line:
// an indented "  kd> " is not one, nor cdb's "0:000> " (see UserPromptLen),
// nor any other word ending in kd ("mykd> ", "ikd> ").
func PromptLen[T text](s T) int {
	i := digits(s, 0)
	if i > 0 {
		if i >= len(s) || s[i] != ':' {
			return 0
		}
		i++
		for i < len(s) && s[i] == ' ' {
			i++
		}
	}
	n := promptName(s, i)
	if n == 0 {
		return 0
	}
	i += n
	if i >= len(s) || s[i] != '>' {
		return 0
	}
	i++
	if i < len(s) && s[i] == ' ' {
		i++
	}
	return i
}

// promptNames are kd's prompt words, longest first where one starts another.
var promptNames = [...]string{"kd:x86", "kd", "lkd", "KDx86", "KD"}

func promptName[T text](s T, i int) int {
	for _, w := range promptNames {
		if hasPrefixAt(s, i, w) {
			return len(w)
		}
	}
	return 0
}

// UserPromptLen returns the length of a user-mode debugger's prompt (cdb,
// ntsd, WinDbg: "0:000> ", "0:000:x86> ") at the start of s, or 0. kd never
// prints one; logs read by kdlaunch report may hold them.
func UserPromptLen[T text](s T) int {
	i := digits(s, 0)
	if i == 0 || i >= len(s) || s[i] != ':' {
		return 0
	}
	j := digits(s, i+1)
	if j == i+1 {
		return 0
	}
	if j < len(s) && s[j] == ':' {
		k := j + 1
		for k < len(s) && (s[k] >= 'a' && s[k] <= 'z' || s[k] >= '0' && s[k] <= '9') {
			k++
		}
		if k == j+1 {
			return 0
		}
		j = k
	}
	if j >= len(s) || s[j] != '>' {
		return 0
	}
	j++
	if j < len(s) && s[j] == ' ' {
		j++
	}
	return j
}

// AnyPromptLen is PromptLen, or else UserPromptLen: a prompt of any of
// Microsoft's console debuggers, for reading logs.
func AnyPromptLen[T text](s T) int {
	if n := PromptLen(s); n > 0 {
		return n
	}
	return UserPromptLen(s)
}

const (
	hitStart = "Breakpoint "
	hitEnd   = " hit"
)

// IsHit reports whether s starts with kd's "Breakpoint N hit" (N decimal),
// the line kd prints when a breakpoint it set is reached.
func IsHit[T text](s T) bool {
	if !hasPrefixAt(s, 0, hitStart) {
		return false
	}
	j := digits(s, len(hitStart))
	return j > len(hitStart) && hasPrefixAt(s, j, hitEnd)
}

// EndsWithHit reports whether s ends (before trailing blanks and CR) with a
// whole "Breakpoint N hit" glued to other text. A driver's DbgPrint is
// printed as given, so one without its newline glues kd's next line to its
// text ("avscan: scanning x.tmpBreakpoint 0 hit"): such a line is a hit. A
// DbgPrint that merely mentions one in the middle ("Breakpoint 0 hit
// twice") is not.
func EndsWithHit[T text](s T) bool {
	j := len(s)
	for j > 0 && (s[j-1] == ' ' || s[j-1] == '\t' || s[j-1] == '\r') {
		j--
	}
	if j < len(hitEnd) || !hasPrefixAt(s, j-len(hitEnd), hitEnd) {
		return false
	}
	j -= len(hitEnd)
	d := j
	for d > 0 && s[d-1] >= '0' && s[d-1] <= '9' {
		d--
	}
	return d < j && d >= len(hitStart) && hasPrefixAt(s, d-len(hitStart), hitStart)
}

// digits returns the index after the decimal digits starting at i.
func digits[T text](s T, i int) int {
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

func hasPrefixAt[T text](s T, i int, p string) bool {
	if i < 0 || len(s)-i < len(p) {
		return false
	}
	for k := 0; k < len(p); k++ {
		if s[i+k] != p[k] {
			return false
		}
	}
	return true
}
