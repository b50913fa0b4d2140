//go:build !windows

package clitest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// --dry-run on a machine without kd says where run would look, and lists
// in order what it would type at the connection and at the stop; it
// writes nothing.
func TestDryRunWithoutKD(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "new", "debug.log")
	tests := []struct {
		args []string
		want []string // in this order
	}{
		{[]string{"--tag", "Ddk"}, []string{
			"kd: not found on this machine; run would look in this order:", "1. kd on PATH",
			"-k com:port=com1,baud=19200",
			"_NT_DEBUG_LOG_FILE_APPEND=" + log,
			"1. x nt!MmAllocateSpecialPool    (which allocator", "3. x nt!ExAllocateHeapSpecialPool", "5. dd nt!MmSpecialPoolTag L1    (live check",
			`6. bp nt!MmAllocateSpecialPool ";kb;g"    (if the probe finds it)`, `7. bp nt!ExAllocateHeapSpecialPool ";kb;g"`, "8. bl", "9. g",
			"typed to stop safely:", "1. break in", "2. bc *", "3. g", "4. CTRL+B ENTER",
		}},
		{[]string{"--tag", "Ddk", "--strategy", "pool-hit-tag", "--command", "lm"}, []string{
			"1. ed nt!PoolHitTag 206b6444", "2. lm", "3. x nt!PoolHitTag", "4. dd nt!PoolHitTag L1    (kd confirms", "5. g", "typed to stop safely:", "2. bc *", "3. ed nt!PoolHitTag 0", "4. g", "5. CTRL+B ENTER",
		}},
	}
	for _, tt := range tests {
		args := append([]string{"run", "--dry-run", "--log", log}, tt.args...)
		r := kdEnv(t, dir, []string{"PATH=" + filepath.Join(dir, "empty")}, args...)
		if r.code != 0 {
			t.Fatalf("%q: exit %d: %s", tt.args, r.code, r.stderr)
		}
		rest := r.stdout
		for _, w := range tt.want {
			i := strings.Index(rest, w)
			if i < 0 {
				t.Errorf("%q: %q missing or out of order in:\n%s", tt.args, w, r.stdout)
				break
			}
			rest = rest[i+len(w):]
		}
		if strings.Contains(r.stdout, "password=") && !strings.Contains(r.stdout, "password=***") {
			t.Errorf("the server password is shown:\n%s", r.stdout)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("--dry-run wrote %v", entries)
	}
}
