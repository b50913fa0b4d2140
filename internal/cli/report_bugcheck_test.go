package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kdlaunch/kdlaunch/report"
)

// A log with three allocation hits, then a 0xC4 bug check with its kb and
// !analyze -v, read as a user would: the bug check is listed, never counted.
func TestReportBugCheckLog(t *testing.T) {
	log := fixturePath("bugcheck_c4.log")
	code, out, errs := runMain(t, "report", "--format", "json", log)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var r report.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.StacksTotal != 3 || len(r.Stacks) != 1 || r.Stacks[0].Culprit != "leakydrv!LeakyAllocateBuffer+0x2c" {
		t.Errorf("allocations: %+v", r.Stacks)
	}
	if len(r.BugChecks) != 1 {
		t.Fatalf("bug checks: %+v", r.BugChecks)
	}
	b := r.BugChecks[0]
	if b.Code != "0x000000C4" || b.Name != "DRIVER_VERIFIER_DETECTED_VIOLATION" || b.Culprit != "leakydrv!LeakyIoctl+0x5d" ||
		strings.Join(b.Params, ",") != "0xF6,0xF88,0xFFFFB00D4E2B2080,0xFFFFF8036F2B12A8" || b.Frames[3] != "nt!KeBugCheckEx+0x107" {
		t.Errorf("bug check %+v", b)
	}

	code, out, _ = runMain(t, "report", log)
	if code != 0 || !strings.Contains(out, "3 stacks, 1 unique, 3 breakpoint hits") || !strings.Contains(out, "#1   0x000000C4 DRIVER_VERIFIER_DETECTED_VIOLATION") || !strings.Contains(out, "culprit leakydrv!LeakyIoctl+0x5d") {
		t.Errorf("table:\n%s", out)
	}

	code, out, errs = runMain(t, "report", "--format", "folded", log)
	if code != 0 || strings.Contains(out, "KeBugCheck") || !strings.HasSuffix(strings.TrimSpace(out), " 3") || !strings.Contains(errs, "1 bug check in the logs, not counted as allocations") {
		t.Errorf("folded: %q, stderr %q", out, errs)
	}
}

// A pool-hit-tag log breaks on allocations and frees: the frees are
// reported apart, with no culprit, and never counted as allocations.
func TestReportPoolHitTagFrees(t *testing.T) {
	log := fixturePath("poolhittag_frees.log")
	dst := filepath.Join(t.TempDir(), "r.json")
	if code, _, errs := runMain(t, "report", "-f", "json", "-o", dst, log); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	b, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var r report.Report
	json.Unmarshal(b, &r)
	if r.StacksTotal != 4 || r.FreesTotal != 2 || len(r.FreeStacks) != 1 || r.FreeStacks[0].Frames[0] != "nt!ExFreeHeapPool+0x3c1" {
		t.Errorf("allocations %d, frees %d %+v", r.StacksTotal, r.FreesTotal, r.FreeStacks)
	}
	if strings.Contains(string(doc["free_stacks"]), "culprit") {
		t.Errorf("a free has a culprit: %s", doc["free_stacks"])
	}
	for _, s := range r.Stacks {
		if strings.Contains(s.Frames[0], "Free") {
			t.Errorf("a free counted as an allocation: %v", s.Frames)
		}
	}
	code, out, _ := runMain(t, "report", log)
	if code != 0 || !strings.Contains(out, "4 stacks, 1 unique") || !strings.Contains(out, "Free stacks: 2, 1 unique (frees, not allocations: no culprit)") {
		t.Errorf("table:\n%s", out)
	}
}
