package pprofweb

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/kdlaunch/kdlaunch/report"
	"github.com/kdlaunch/kdlaunch/stacks"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func sample() *report.Report {
	a := report.NewAggregator()
	for i := 0; i < 5; i++ {
		a.Add(stacks.Stack{Frames: []string{"nt!MmAllocateSpecialPool", "nt!ExAllocatePoolWithTag+0x4e", "leakydrv!LeakyAllocateBuffer+0x2c", "nt!IofCallDriver+0x55"}})
	}
	a.Add(stacks.Stack{Frames: []string{"nt!MmAllocateSpecialPool", "nt!ExAllocatePool2+0x9a", "otherdrv!Alloc+0x10"}})
	return a.Report(nil)
}

func TestDefaultView(t *testing.T) {
	v := DefaultView(sample(), report.DefaultSkip())
	u, err := url.Parse(v)
	if err != nil || u.Path != "/flamegraph" {
		t.Fatalf("view %q", v)
	}
	hide := u.Query().Get("hide")
	want := `^(nt!ExAllocatePool2\+0x9a|nt!ExAllocatePoolWithTag\+0x4e|nt!MmAllocateSpecialPool)$`
	if hide != want {
		t.Errorf("hide %q, want %q", hide, want)
	}
	// Nothing before any culprit: nothing hidden.
	a := report.NewAggregator()
	a.Add(stacks.Stack{Frames: []string{"drv!F", "nt!G"}})
	if v := DefaultView(a.Report(nil), report.DefaultSkip()); v != "/flamegraph" {
		t.Errorf("view %q", v)
	}
}

// TestServe runs the UI and reads it over HTTP as a browser would: the bare
// address leads to the flame graph, which names the culprit; top answers;
// cancelling the context stops the server.
func TestServe(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	var out strings.Builder
	go func() {
		done <- Serve(ctx, sample(), Options{Out: &out, Ready: func(u string) { ready <- u }})
	}()
	var base string
	select {
	case base = <-ready:
	case err := <-done:
		t.Fatalf("Serve returned early: %v\n%s", err, out.String())
	}
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Errorf("URL %q is not on 127.0.0.1", base)
	}
	get := func(u string) (string, *http.Response) {
		t.Helper()
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s", u, resp.Status)
		}
		return string(b), resp
	}
	body, resp := get(base)
	if resp.Request.URL.Path != "/flamegraph" || !strings.Contains(resp.Request.URL.RawQuery, "hide=") {
		t.Errorf("%s led to %s, want the flame graph with allocator frames hidden", base, resp.Request.URL)
	}
	if !strings.Contains(body, "leakydrv!LeakyAllocateBuffer+0x2c") {
		t.Error("flame graph page does not name the culprit")
	}
	if top, _ := get(base + "top?hide=" + url.QueryEscape(`^nt!`)); !strings.Contains(top, "leakydrv!LeakyAllocateBuffer+0x2c") {
		t.Error("top view does not name the culprit")
	}
	if !strings.Contains(out.String(), base) {
		t.Errorf("URL not printed: %q", out.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if _, err := http.Get(base); err == nil {
		t.Error("server still answers after the context ended")
	}
	http.DefaultClient.CloseIdleConnections()
}

func TestServeErrors(t *testing.T) {
	if err := Serve(context.Background(), report.NewAggregator().Report(nil), Options{}); err == nil || !strings.Contains(err.Error(), "no stacks") {
		t.Errorf("empty report: %v", err)
	}
	if err := Serve(context.Background(), sample(), Options{Addr: "256.0.0.1:1"}); err == nil || !strings.Contains(err.Error(), "--http") {
		t.Errorf("bad address: %v", err)
	}
}
