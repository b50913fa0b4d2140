//go:build !windows

package integration

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The real bin/kdlaunch report on a log with a 0xC4 bug check and on a
// pool-hit-tag log with frees: bug checks listed, frees apart, neither
// counted as an allocation.
func TestReportBugCheckAndFrees(t *testing.T) {
	testdata := filepath.Join(root, "stacks", "testdata")
	out, err := exec.Command(kdlaunch, "report", "--format", "json",
		filepath.Join(testdata, "bugcheck_c4.log"), filepath.Join(testdata, "poolhittag_frees.log")).Output()
	if err != nil {
		t.Fatalf("kdlaunch report: %v", err)
	}
	var r struct {
		StacksTotal int `json:"stacks_total"`
		BugChecks   []struct {
			Code, Name, Culprit string
			Params              []string
		} `json:"bugchecks"`
		FreesTotal int `json:"frees_total"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatal(err)
	}
	if r.StacksTotal != 7 || r.FreesTotal != 2 || len(r.BugChecks) != 1 {
		t.Fatalf("report: %s", out)
	}
	if b := r.BugChecks[0]; b.Code != "0x000000C4" || b.Name != "DRIVER_VERIFIER_DETECTED_VIOLATION" || b.Culprit != "leakydrv!LeakyIoctl+0x5d" || len(b.Params) != 4 {
		t.Errorf("bug check %+v", b)
	}
	cmd := exec.Command(kdlaunch, "report", "--format", "folded", filepath.Join(testdata, "bugcheck_c4.log"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	folded, err := cmd.Output()
	if err != nil || strings.Contains(string(folded), "KeBugCheck") || !strings.Contains(stderr.String(), "1 bug check in") {
		t.Errorf("folded: %v %q %q", err, folded, stderr.String())
	}
}
