package htmlreport_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

var (
	pageFlag       = flag.String("page", "", "TestBrowser: check this HTML report instead of one made from a generated log")
	screenshotFlag = flag.String("screenshot", "", "TestBrowser: also write the screenshot to this PNG file (docs/report.png)")
)

// chromium finds a Chromium or Chrome binary, or says why there is none.
func chromium() (string, string) {
	if p := os.Getenv("KDLAUNCH_CHROMIUM"); p != "" {
		return p, ""
	}
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(n); err == nil {
			return p, ""
		}
	}
	return "", "no chromium, chromium-browser or google-chrome on PATH (apt-get install chromium; .ci/run does)"
}

// repoRoot is the module's folder (tests run in the package's).
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

// buildTools builds bin/kdlaunch and genlog of this tree into dir.
func buildTools(t *testing.T, dir string) (kdlaunch, genlog string) {
	t.Helper()
	root := repoRoot(t)
	kdlaunch, genlog = filepath.Join(dir, "kdlaunch"), filepath.Join(dir, "genlog")
	for _, b := range [][2]string{{kdlaunch, "."}, {genlog, "./cmd/genlog"}} {
		cmd := exec.Command("go", "build", "-o", b[0], b[1])
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", b[1], err, out)
		}
	}
	return kdlaunch, genlog
}

type jsonReport struct {
	StacksTotal int `json:"stacks_total"`
	Stacks      []struct {
		Count   int    `json:"count"`
		Culprit string `json:"culprit"`
	} `json:"stacks"`
}

// topCulprit groups the JSON's stacks by culprit, as the page's table does.
func (r jsonReport) topCulprit() string {
	sum := map[string]int{}
	best := ""
	for _, s := range r.Stacks {
		sum[s.Culprit] += s.Count
		if best == "" || sum[s.Culprit] > sum[best] {
			best = s.Culprit
		}
	}
	return best
}

// TestBrowser loads the page kdlaunch report --format html writes into
// headless Chromium, as a person would open it, and checks what they would
// see: the icicle's root holds every hit, the top culprit is named, a search
// highlights frames, and nothing went wrong or reached the network.
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	browser, why := chromium()
	if browser == "" {
		t.Skip(why)
	}
	dir := t.TempDir()
	page := *pageFlag
	var want jsonReport
	if page == "" {
		kdlaunch, genlog := buildTools(t, dir)
		logPath := filepath.Join(dir, "kd.log")
		if out, err := exec.Command(genlog, "-hits", "400", "-stacks", "30", "-o", logPath).CombinedOutput(); err != nil {
			t.Fatalf("genlog: %v\n%s", err, out)
		}
		page = filepath.Join(dir, "report.html")
		if out, err := exec.Command(kdlaunch, "report", "--format", "html", "--tag", "Ddk", "-o", page, logPath).CombinedOutput(); err != nil {
			t.Fatalf("kdlaunch report --format html: %v\n%s", err, out)
		}
		out, err := exec.Command(kdlaunch, "report", "--format", "json", logPath).Output()
		if err != nil {
			t.Fatalf("kdlaunch report --format json: %v", err)
		}
		if err := json.Unmarshal(out, &want); err != nil {
			t.Fatal(err)
		}
	}
	abs, err := filepath.Abs(page)
	if err != nil {
		t.Fatal(err)
	}
	html, err := os.ReadFile(abs)
	if err != nil {
		t.Fatal(err)
	}
	if want.StacksTotal == 0 {
		// A given page: its own numbers are the reference.
		want = pageNumbers(t, html)
	}

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(browser),
		chromedp.UserDataDir(filepath.Join(dir, "profile")),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.WindowSize(1280, 900),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()

	var mu sync.Mutex
	var problems, requests []string
	chromedp.Listen(bctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			if u := e.Request.URL; !strings.HasPrefix(u, "file://") && !strings.HasPrefix(u, "data:") && u != "about:blank" {
				requests = append(requests, u)
			}
		case *cdpruntime.EventConsoleAPICalled:
			if e.Type == cdpruntime.ConsoleAPICalledTypeError || e.Type == cdpruntime.ConsoleAPICalledTypeWarning {
				var args []string
				for _, a := range e.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				problems = append(problems, fmt.Sprintf("console.%s: %s", e.Type, strings.Join(args, " ")))
			}
		case *cdpruntime.EventExceptionThrown:
			problems = append(problems, fmt.Sprintf("exception: %s line %d", e.ExceptionDetails.Text, e.ExceptionDetails.LineNumber))
		case *log.EventEntryAdded:
			if e.Entry.Level == log.EntryLevelError || e.Entry.Level == log.EntryLevelWarning {
				problems = append(problems, fmt.Sprintf("%s: %s %s", e.Entry.Level, e.Entry.Text, e.Entry.URL))
			}
		}
	})

	module := culpritModule(want.topCulprit())
	step := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("chromium: %s: %v", what, err)
		}
	}
	step("load the page", chromedp.Do(bctx, chromedp.Navigate("file://"+abs), chromedp.WaitVisible(`body[data-flame="ready"]`)))
	// The library grows the frames into place: wait until the root spans
	// the whole graph, so the screenshot shows the graph as a reader does.
	_, err = chromedp.Run(soon(t, bctx), chromedp.Poll[bool](`(() => { const s = document.querySelector('#flame svg'); const r = s && s.querySelector('g rect'); return !!r && Math.abs(r.getBoundingClientRect().width - s.getBoundingClientRect().width) < 1; })()`, chromedp.WithPollingInterval(50*time.Millisecond)))
	step("wait for the icicle to settle", err)
	root, err := chromedp.Run(bctx, chromedp.Evaluate[string](`(() => { for (const t of document.querySelectorAll('#flame svg g title')) { if (t.textContent.startsWith('all stacks:')) return t.textContent; } return ''; })()`))
	step("read the icicle's root", err)
	culprit, err := chromedp.Run(bctx, chromedp.Text(`#culprits tbody tr:first-child code.culprit`))
	step("read the culprit table", err)
	nodes, err := chromedp.Run(bctx, chromedp.Evaluate[string](`[...document.querySelectorAll('#flame svg g title')].map(t => t.textContent).join('\n')`))
	step("read the icicle's frames", err)
	shot, err := chromedp.Run(bctx, chromedp.CaptureScreenshot())
	step("screenshot", err)
	step("type a search", chromedp.Do(bctx, chromedp.SetValue(`#search`, module)))
	_, err = chromedp.Run(bctx, chromedp.Evaluate[bool](`document.getElementById('search').dispatchEvent(new Event('input'))`))
	step("search", err)
	highlighted, err := chromedp.Run(soon(t, bctx), chromedp.Poll[int](`[...document.querySelectorAll('#flame svg rect')].filter(r => (r.getAttribute('fill') || '').toUpperCase() === '#E600E6').length`, chromedp.WithPollingInterval(50*time.Millisecond)))
	step("wait for a highlighted frame", err)
	// A click on the culprit's frame zooms it to the graph's full width.
	_, err = chromedp.Run(bctx, chromedp.Evaluate[bool](`(() => { for (const g of document.querySelectorAll('#flame svg g')) { const t = g.querySelector('title'); if (t && t.textContent.startsWith(`+jsString(want.topCulprit()+": ")+`)) { g.dispatchEvent(new MouseEvent('click', {bubbles: true})); return true; } } return false; })()`))
	step("click the culprit", err)
	_, err = chromedp.Run(soon(t, bctx), chromedp.Poll[bool](`(() => { const s = document.querySelector('#flame svg').getBoundingClientRect().width; for (const g of document.querySelectorAll('#flame svg g')) { const t = g.querySelector('title'); if (t && t.textContent.startsWith(`+jsString(want.topCulprit()+": ")+`)) return Math.abs(g.querySelector('rect').getBoundingClientRect().width - s) < 1; } return false; })()`, chromedp.WithPollingInterval(50*time.Millisecond)))
	step("wait for the zoom", err)

	wantRoot := fmt.Sprintf("all stacks: %d hits", want.StacksTotal)
	if !strings.HasPrefix(root, wantRoot) || !strings.Contains(root, "100.00%") {
		t.Errorf("icicle root %q, want it to start with %q and hold 100.00%%", root, wantRoot)
	}
	if culprit != want.topCulprit() {
		t.Errorf("top culprit shown %q, want %q", culprit, want.topCulprit())
	}
	if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(want.topCulprit()) + `: \d+ hits?, \d+\.\d\d% of all$`).MatchString(nodes) {
		t.Errorf("no icicle frame with count and share for the top culprit %q", want.topCulprit())
	}

	if highlighted == 0 {
		t.Errorf("searching %q highlighted no frame", module)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 640 || b.Dy() < 400 {
		t.Errorf("screenshot is %v", b)
	}
	if *screenshotFlag != "" {
		if err := os.WriteFile(*screenshotFlag, shot, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot written to %s", *screenshotFlag)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Errorf("browser reported %s", p)
	}
	for _, u := range requests {
		t.Errorf("the page made a network request: %s", u)
	}
}

// soon bounds a wait in the page (a poll), so a page that never gets there
// fails the test in seconds; the browser lives on in the parent context.
func soon(t *testing.T, ctx context.Context) context.Context {
	c, cancel := context.WithTimeout(ctx, 20*time.Second)
	t.Cleanup(cancel)
	return c
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func culpritModule(c string) string {
	if i := strings.IndexByte(c, '!'); i > 0 {
		return c[:i]
	}
	if i := strings.Index(c, "+0x"); i > 0 {
		return c[:i]
	}
	return c
}

// pageNumbers reads the total and the culprit rows from a page made
// elsewhere (make demo's), for -page.
func pageNumbers(t *testing.T, html []byte) jsonReport {
	t.Helper()
	var r jsonReport
	s := string(html)
	if i := strings.Index(s, `id="total">`); i >= 0 {
		fmt.Sscanf(s[i+len(`id="total">`):], "%d", &r.StacksTotal)
	}
	i := strings.Index(s, `data-frame="`)
	if i < 0 || r.StacksTotal == 0 {
		t.Fatalf("%s does not look like kdlaunch's HTML report", *pageFlag)
	}
	rest := s[i+len(`data-frame="`):]
	name := rest[:strings.IndexByte(rest, '"')]
	r.Stacks = append(r.Stacks, struct {
		Count   int    `json:"count"`
		Culprit string `json:"culprit"`
	}{1, strings.NewReplacer("&#43;", "+", "&amp;", "&", "&lt;", "<", "&gt;", ">", "&#34;", `"`, "&#39;", "'").Replace(name)})
	return r
}
