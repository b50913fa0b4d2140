package exitcode

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The table is the contract: every code once, in ascending order, each
// documented, and Help lists them all.
func TestTable(t *testing.T) {
	seen := map[int]bool{}
	last := -1
	for _, c := range Table {
		if seen[c.Code] || c.Code <= last || c.Meaning == "" {
			t.Errorf("code %d: duplicate, out of order or undocumented", c.Code)
		}
		seen[c.Code], last = true, c.Code
		if !strings.Contains(Help(), c.Meaning) {
			t.Errorf("Help lacks code %d", c.Code)
		}
	}
	for _, code := range []int{OK, Failure, Usage, Busy, StartFailed, Unresolved, HaltedBugCheck, HaltedByPerson, Interrupted} {
		if !seen[code] {
			t.Errorf("code %d is not in Table", code)
		}
	}
}

func TestError(t *testing.T) {
	base := errors.New("x")
	var e *Error
	if err := error(&Error{Code: Busy, Err: base}); !errors.As(err, &e) || e.Code != Busy || !errors.Is(err, base) {
		t.Errorf("Error does not unwrap")
	}
}

// The README's table is Table, row for row.
func TestREADME(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range Table {
		row := fmt.Sprintf("| %d | %s |", c.Code, c.Meaning)
		if !strings.Contains(string(b), row) {
			t.Errorf("README lacks the row %q", row)
		}
	}
}
