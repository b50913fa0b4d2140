package cli

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestReportHTML(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "report.html")
	code, _, stderr := runMain(t, "report", "--format", "html", "--tag", "Ddk", "--strategy", "pool-hit-tag", "-o", dst, fixturePath("hits_x64.log"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	b, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, want := range []string{"<!DOCTYPE html>", `<dd id="tag">Ddk</dd>`, `<dd id="strategy">pool-hit-tag</dd>`, `<dd id="total">4</dd>`,
		"avscan!ScanFile&#43;0x1b2", "<code>" + fixturePath("hits_x64.log") + "</code>"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestReportJSONExtras(t *testing.T) {
	code, out, stderr := runMain(t, "report", "--format", "json", "--tag", "Ddk", "--strategy", "special-pool", fixturePath("hits_x64.log"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["breakpoint_hits"] != 4.0 || doc["tag"] != "Ddk" || doc["strategy"] != "special-pool" {
		t.Errorf("extras: %v %v %v", doc["breakpoint_hits"], doc["tag"], doc["strategy"])
	}
	// Without the flags, what the log tells: this one typed the
	// special-pool breakpoint but holds no live check, so no tag.
	_, out, _ = runMain(t, "report", "--format", "json", fixturePath("hits_x64.log"))
	if strings.Contains(out, `"tag"`) || !strings.Contains(out, `"strategy": "special-pool"`) {
		t.Errorf("tag or strategy from the log:\n%s", out)
	}
	// A log with the live check names the tag; a flag still wins.
	log := filepath.Join(t.TempDir(), "kd.log")
	body, _ := os.ReadFile(fixturePath("hits_x64.log"))
	if err := os.WriteFile(log, append([]byte("1: kd> dd nt!MmSpecialPoolTag L1\nfffff801`1e5c3a10  206b6444\n"), body...), 0o644); err != nil {
		t.Fatal(err)
	}
	_, out, _ = runMain(t, "report", "--format", "json", log)
	if !strings.Contains(out, `"tag": "Ddk"`) || !strings.Contains(out, `"strategy": "special-pool"`) {
		t.Errorf("tag from the log:\n%s", out)
	}
	_, out, _ = runMain(t, "report", "--format", "json", "--tag", "Tag1", log)
	if !strings.Contains(out, `"tag": "Tag1"`) {
		t.Errorf("--tag did not win over the log:\n%s", out)
	}
}

func TestReportHTMLAndWebRefusals(t *testing.T) {
	log := fixturePath("hits_x64.log")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"report", "--tag", "TooLong", log}, "--tag"},
		{[]string{"report", "--strategy", "guess", log}, "unknown strategy \"guess\""},
		{[]string{"report", "--http", "127.0.0.1:8080", log}, "go with --web"},
		{[]string{"report", "--no-browser", log}, "go with --web"},
		{[]string{"report", "--web", "-o", "x.html", log}, "--web serves the pprof UI"},
		{[]string{"report", "--web", "--format", "html", log}, "--web serves the pprof UI"},
		{[]string{"report", "--web", "--http", "256.1.1.1:1", "--no-browser", log}, "choose another with --http"},
	} {
		wantOneLine(t, tc.args, tc.want)
	}
}

// --web as a user runs it: the URL it reports answers with the flame
// graph, which names the culprit; Ctrl+C (here: the context) ends it.
func TestReportWeb(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	urls := make(chan string, 1)
	c := &ReportCmd{Logs: []string{fixturePath("hits_x64.log")}, Web: true, NoBrowser: true, HTTP: "127.0.0.1:0", ctx: ctx, ready: func(u string) { urls <- u }}
	done := make(chan error, 1)
	var errb strings.Builder
	go func() { done <- c.Run(streams{Out: io.Discard, Err: &errb}) }()
	var u string
	select {
	case u = <-urls:
	case err := <-done:
		t.Fatalf("--web ended early: %v", err)
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/flamegraph" || !strings.Contains(string(body), "avscan!ScanFile+0x1b2") {
		t.Errorf("GET %s: %s at %s, culprit named: %v", u, resp.Status, resp.Request.URL.Path, strings.Contains(string(body), "avscan!ScanFile+0x1b2"))
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("--web: %v", err)
	}
	if !strings.Contains(errb.String(), "pprof web UI: "+u) {
		t.Errorf("URL not printed: %q", errb.String())
	}
}

// --follow before run has created the log: it says it waits for that log,
// not that the log holds no stacks.
func TestReportFollowWaiting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "later.log")
	ctx, cancel := context.WithCancel(context.Background())
	out := &lockedBuilder{}
	c := &ReportCmd{Logs: []string{path}, Follow: true, Interval: 10 * time.Millisecond, ctx: ctx}
	done := make(chan error, 1)
	go func() { done <- c.Run(streams{Out: out, Err: out}) }()
	for deadline := time.Now().Add(5 * time.Second); strings.Count(out.String(), "to appear") < 2; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no waiting line:\n%s", out.String())
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if s := out.String(); !strings.Contains(s, "waiting for ") || strings.Contains(s, "No stacks found") {
		t.Errorf("follow output:\n%s", s)
	}
}

type lockedBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuilder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuilder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// The page's time span comes from kd's Debug session time lines.
func TestReportHTMLTimeSpan(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "kd.log")
	body, err := os.ReadFile(fixturePath("hits_x64.log"))
	if err != nil {
		t.Fatal(err)
	}
	text := "Debug session time: Wed Nov 25 22:01:02.051 2026 (UTC + 0:00)\n" + string(body) + "\nDebug session time: Wed Nov 25 23:01:02.051 2026 (UTC + 1:00)\n"
	if err := os.WriteFile(log, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "r.html")
	if code, _, stderr := runMain(t, "report", "--format", "html", "-o", dst, log); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	page, _ := os.ReadFile(dst)
	if want := `<dd id="span">2026-11-25T22:01:02Z (target clock)</dd>`; !strings.Contains(string(page), want) {
		t.Errorf("page lacks %q", want)
	}
}

// A log with a bug check: the page's optional section lists it.
func TestReportHTMLBugCheck(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "r.html")
	if code, _, stderr := runMain(t, "report", "--format", "html", "-o", dst, fixturePath("bugcheck_c4.log")); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	page, _ := os.ReadFile(dst)
	for _, want := range []string{`id="bugchecks"`, "0x000000C4"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("page lacks %q", want)
		}
	}
}
