package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kong"
	"github.com/google/pprof/profile"
	"go.uber.org/goleak"

	"github.com/kdlaunch/kdlaunch/report"
)

func fixturePath(name string) string {
	return filepath.Join("..", "..", "stacks", "testdata", name)
}

// runReport runs c and returns its stdout and stderr.
func runReport(t *testing.T, c *ReportCmd) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := c.Run(streams{Out: &out, Err: &errb})
	return out.String(), errb.String(), err
}

func TestReportTable(t *testing.T) {
	out, _, err := runReport(t, &ReportCmd{Logs: []string{fixturePath("hits_x64.log")}, Top: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"4 stacks, 2 unique, 4 breakpoint hits", "culprit avscan!ScanFile+0x1b2", "Culprit modules"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
}

func TestReportJSONToFileAndLogsAddUp(t *testing.T) {
	dir := t.TempDir()
	dst := filepath.Join(dir, "r.json")
	logs := []string{fixturePath("hits_x64.log"), fixturePath("hits_x86.log")}
	if _, _, err := runReport(t, &ReportCmd{Logs: logs, Format: "json", Output: dst}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	var r report.Report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if r.StacksTotal != 7 || r.UniqueStacks != 4 || r.Stacks[0].Count != 3 || r.Stacks[0].Culprit != "avscan!ScanFile+0x1b2" {
		t.Errorf("report %+v", r)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}

// -o is never truncated by a run that fails.
func TestReportOutputKeptOnFailure(t *testing.T) {
	dir := t.TempDir()
	dst := filepath.Join(dir, "r.json")
	os.WriteFile(dst, []byte("previous report"), 0o644)
	bin := filepath.Join(dir, "kd.dmp")
	os.WriteFile(bin, []byte("PAGEDU64\x00\x00\x00\x0f\x00\x00\x00\x00\x01\x02"), 0o644)
	_, _, err := runReport(t, &ReportCmd{Logs: []string{fixturePath("hits_x64.log"), bin}, Format: "json", Output: dst})
	if err == nil || !strings.Contains(err.Error(), "looks binary, not a kd log") {
		t.Fatalf("err = %v", err)
	}
	if b, _ := os.ReadFile(dst); string(b) != "previous report" {
		t.Errorf("-o file changed to %q", b)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("temporary files left: %v", entries)
	}
}

func TestReportFoldedStdin(t *testing.T) {
	log, err := os.ReadFile(fixturePath("hits_x86.log"))
	if err != nil {
		t.Fatal(err)
	}
	c := &ReportCmd{Logs: []string{"-"}, Format: "folded", stdin: bytes.NewReader(log)}
	out, _, err := runReport(t, c)
	if err != nil {
		t.Fatal(err)
	}
	sum := 0
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		n, err := strconv.Atoi(l[strings.LastIndexByte(l, ' ')+1:])
		if err != nil {
			t.Fatalf("line %q", l)
		}
		sum += n
	}
	if sum != 3 || !strings.HasPrefix(out, "gwdrv+0x424e;nt!ExAllocatePoolWithTag+0x1a;") {
		t.Errorf("folded (sum %d):\n%s", sum, out)
	}
}

func TestReportPprof(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "p.pb.gz")
	if _, _, err := runReport(t, &ReportCmd{Logs: []string{fixturePath("x64_kn.log")}, Format: "pprof", Output: dst}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	// The first stack is a bug check's (KeBugCheckEx): not an allocation
	// sample, but named in the comments.
	if len(p.Sample) != 1 || !strings.Contains(strings.Join(p.Comments, "\n"), "bug check unknown culprit avscan+0x424e") {
		t.Errorf("%d samples, comments %q", len(p.Sample), p.Comments)
	}
}

func TestReportEmptyAndNoStacks(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "debug.log")
	os.WriteFile(empty, nil, 0o644)
	out, errs, err := runReport(t, &ReportCmd{Logs: []string{empty}, Format: "json"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errs, "report: "+empty+" is empty: no kd output yet") {
		t.Errorf("stderr %q", errs)
	}
	var r map[string]any
	if err := json.Unmarshal([]byte(out), &r); err != nil || r["stacks_total"] != 0.0 {
		t.Errorf("json %q (%v)", out, err)
	}
	noStacks := filepath.Join(dir, "banner.log")
	os.WriteFile(noStacks, []byte("Microsoft (R) Windows Debugger Version 10.0.22621.2428 AMD64\nWaiting to reconnect...\n"), 0o644)
	_, errs, err = runReport(t, &ReportCmd{Logs: []string{noStacks}})
	if err != nil || !strings.Contains(errs, "no stacks in "+noStacks) {
		t.Errorf("no stacks: %v, stderr %q", err, errs)
	}
}

func TestReportErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope.log")
	log := fixturePath("hits_x64.log")
	binLog := filepath.Join(dir, "kd.exe")
	os.WriteFile(binLog, append([]byte("MZ\x90\x00\x03\x00\x00\x00"), make([]byte, 64)...), 0o644)
	cases := []struct {
		c    ReportCmd
		want string
	}{
		{ReportCmd{}, "report: no log given"},
		{ReportCmd{Logs: []string{missing}}, "report: open log " + missing + ": no such file or directory"},
		{ReportCmd{Logs: []string{dir}}, "report: " + dir + " is a directory, not a kd log"},
		{ReportCmd{Logs: []string{log}, Format: "xml"}, `report: unknown --format "xml"`},
		{ReportCmd{Logs: []string{log}, Top: -1}, "report: --top must be 0 (all) or more, not -1"},
		{ReportCmd{Logs: []string{log}, Skip: []string{"!x"}}, "report: --skip: bad skip pattern"},
		{ReportCmd{Logs: []string{log, log}, Follow: true}, "report: --follow takes exactly one log file"},
		{ReportCmd{Logs: []string{log}, Follow: true, Format: "json"}, "report: --follow draws a table"},
		{ReportCmd{Logs: []string{log}, Output: filepath.Join(log, "r.txt")}, "report: -o " + filepath.Join(log, "r.txt") + ": " + log + " is not a folder"},
		{ReportCmd{Logs: []string{log}, Output: dir}, "report: -o " + dir + ": is a folder"},
		{ReportCmd{Logs: []string{binLog}}, "report: " + binLog + " looks binary, not a kd log"},
	}
	for _, c := range cases {
		_, _, err := runReport(t, &c.c)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%+v: err = %v, want one line starting %q", c.c, err, c.want)
		}
	}
}

func TestReportSkip(t *testing.T) {
	out, _, err := runReport(t, &ReportCmd{Logs: []string{fixturePath("hits_x64.log")}, Format: "json", Skip: []string{"nt"}, SkipAdd: []string{"avscan"}})
	if err != nil {
		t.Fatal(err)
	}
	var r report.Report
	json.Unmarshal([]byte(out), &r)
	if r.Stacks[0].Culprit != "FLTMGR!FltpPerformPreCallbacks+0x2f9" {
		t.Errorf("culprit %q", r.Stacks[0].Culprit)
	}
}

func TestReportFollow(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx, cancel := context.WithCancel(context.Background())
	c := &ReportCmd{Logs: []string{fixturePath("hits_x64.log")}, Follow: true, Interval: 20 * time.Millisecond, Top: 1, ctx: ctx}
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- c.Run(streams{Out: &out, Err: &out}) }()
	time.Sleep(100 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "4 stacks, 2 unique, 4 breakpoint hits") {
		t.Errorf("follow output:\n%s", out.String())
	}
}

// -o naming one of the logs (by any spelling, or a hard link to it) is
// refused before anything is written: the log stays as it was.
func TestReportOutputIsInput(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "debug.log")
	orig, err := os.ReadFile(fixturePath("hits_x64.log"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(log, orig, 0o644)
	link := filepath.Join(dir, "link.log")
	if err := os.Link(log, link); err != nil {
		t.Skip(err)
	}
	other := fixturePath("hits_x86.log")
	for _, out := range []string{log, filepath.Join(dir, ".", "debug.log"), link} {
		_, _, err := runReport(t, &ReportCmd{Logs: []string{other, log}, Output: out, Format: "json"})
		if err == nil || !strings.Contains(err.Error(), "-o "+out+" is the input log "+log+": refusing to overwrite it") {
			t.Errorf("-o %s: err = %v", out, err)
		}
		if got, _ := os.ReadFile(log); !bytes.Equal(got, orig) {
			t.Fatalf("-o %s changed the log", out)
		}
	}
}

// --top 0 lists every stack in the table.
func TestReportTopZero(t *testing.T) {
	out, _, err := runReport(t, &ReportCmd{Logs: []string{fixturePath("hits_x86.log")}, Top: 0})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "gwdrv") || !strings.Contains(out, "tcpip") {
		t.Errorf("--top 0 table lacks a stack:\n%s", out)
	}
}

// The kong tags: defaults, the enum, the comma lists.
func TestReportFlags(t *testing.T) {
	var cli struct {
		Report ReportCmd `cmd:""`
	}
	k, err := kong.New(&cli, kong.Exit(func(int) {}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Parse([]string{"report", "a.log", "b.log"}); err != nil {
		t.Fatal(err)
	}
	r := cli.Report
	if !reflect.DeepEqual(r.Logs, []string{"a.log", "b.log"}) || r.Format != "table" || r.Top != 10 || r.Interval != 2*time.Second {
		t.Errorf("defaults: %+v", r)
	}
	if !reflect.DeepEqual(r.Skip, report.DefaultSkipList) {
		t.Errorf("default --skip %q, want %q", r.Skip, report.DefaultSkipList)
	}
	if _, err := k.Parse([]string{"report", "-f", "json", "-o", "x.json", "--top", "0", "--skip", "nt,hal", "--skip-add", "Wdf01000", "-"}); err != nil {
		t.Fatal(err)
	}
	r = cli.Report
	if r.Format != "json" || r.Output != "x.json" || r.Top != 0 || !reflect.DeepEqual(r.Skip, []string{"nt", "hal"}) || !reflect.DeepEqual(r.SkipAdd, []string{"Wdf01000"}) {
		t.Errorf("parsed: %+v", r)
	}
	if _, err := k.Parse([]string{"report", "--format", "xml", "a.log"}); err == nil || !strings.Contains(err.Error(), "must be one of") {
		t.Errorf("--format xml: %v", err)
	}
	if _, err := k.Parse([]string{"report", "--top", "many", "a.log"}); err == nil {
		t.Error("--top many accepted")
	}
	// A negative --top parses, and Run rejects it (TestReportErrors).
	if _, err := k.Parse([]string{"report", "--top=-1", "a.log"}); err != nil || cli.Report.Top != -1 {
		t.Errorf("--top=-1: %v, %d", err, cli.Report.Top)
	}
}
