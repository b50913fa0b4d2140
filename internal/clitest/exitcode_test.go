//go:build !windows

package clitest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kdlaunch/kdlaunch/exitcode"
)

// Every command's --help ends with the one exit code table.
func TestHelpHasExitCodes(t *testing.T) {
	for _, cmd := range [][]string{{"--help"}, {"run", "--help"}, {"report", "--help"}, {"tag", "--help"}, {"target-setup", "--help"}, {"completion", "--help"}} {
		r := kd(t, t.TempDir(), cmd...)
		if r.code != exitcode.OK {
			t.Errorf("%q: exit %d", cmd, r.code)
		}
		for _, c := range exitcode.Table {
			if !strings.Contains(r.stdout, fmt.Sprintf("%3d  %s", c.Code, c.Meaning)) {
				t.Errorf("%q: help lacks exit code %d", cmd, c.Code)
			}
		}
	}
}

// Usage errors exit 2 in every command, runtime errors 1.
func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		args []string
		want int
	}{
		{[]string{"nosuchcommand"}, exitcode.Usage},
		{[]string{"run", "--nosuchflag"}, exitcode.Usage},
		{[]string{"report", "--top", "x", "a.log"}, exitcode.Usage},
		{[]string{"run", "--dry-run", "--tag", "Ddk", "--baud", "1234"}, exitcode.Usage},
		{[]string{"report", "missing.log"}, exitcode.Failure},
		{[]string{"tag", "--decode", "zz"}, exitcode.Usage},
		{[]string{"report", "-o", dir, "a.log"}, exitcode.Failure},
	}
	for _, tt := range tests {
		if r := kd(t, dir, tt.args...); r.code != tt.want {
			t.Errorf("%q: exit %d, want %d\n%s", tt.args, r.code, tt.want, r.stderr)
		}
	}
}
