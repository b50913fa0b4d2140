package htmlreport_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestLeakPage: kdlaunch report --format html on a leak log (genlog's)
// shows the outstanding allocations: the icicle's total is the JSON's
// outstanding_count, and the leak view and its growth chart are there.
func TestLeakPage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds kdlaunch")
	}
	dir := t.TempDir()
	kdlaunch, genlog := buildTools(t, dir)
	log := filepath.Join(dir, "leak.log")
	if out, err := exec.Command(genlog, "-leak", "-allocs", "1500", "-stacks", "6", "-o", log).CombinedOutput(); err != nil {
		t.Fatalf("genlog: %v\n%s", err, out)
	}
	page := filepath.Join(dir, "leak.html")
	if out, err := exec.Command(kdlaunch, "report", "--format", "html", "-o", page, log).CombinedOutput(); err != nil {
		t.Fatalf("report --format html: %v\n%s", err, out)
	}
	out, err := exec.Command(kdlaunch, "report", "--format", "json", log).Output()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Kind        string `json:"kind"`
		Outstanding int    `json:"outstanding_count"`
	}
	if err := json.Unmarshal(out, &doc); err != nil || doc.Kind != "leaks" || doc.Outstanding == 0 {
		t.Fatalf("json: %v %+v", err, doc)
	}
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	html := string(b)
	for _, want := range []string{`id="leaks"`, `<svg id="growth"`, fmt.Sprintf(`<dd id="total">%d</dd>`, doc.Outstanding), fmt.Sprintf(`"all stacks: %d outstanding"`, doc.Outstanding), "<dt>Outstanding allocations</dt>"} {
		if !strings.Contains(html, want) {
			t.Errorf("leak page lacks %q", want)
		}
	}
}
