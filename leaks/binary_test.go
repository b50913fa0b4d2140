package leaks_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"github.com/kdlaunch/kdlaunch/internal/genlog"
	"go.uber.org/goleak"
)

var kdlaunch string // the real binary, built by TestMain

func TestMain(m *testing.M) {
	os.Exit(func() int {
		dir, err := os.MkdirTemp("", "leaks-test")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		kdlaunch = filepath.Join(dir, "kdlaunch")
		cmd := exec.Command("go", "build", "-o", kdlaunch, "github.com/kdlaunch/kdlaunch")
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build kdlaunch:", err)
			return 1
		}
		code := m.Run()
		// Scan starts goroutines: none may outlive it.
		if err := goleak.Find(); code == 0 && err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			return 1
		}
		return code
	}())
}

// report runs `kdlaunch report args...` and returns its standard output;
// a non-zero exit fails the test unless fail is set.
func report(t *testing.T, wantExit int, args ...string) (string, string) {
	t.Helper()
	cmd := exec.Command(kdlaunch, append([]string{"report"}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if code != wantExit {
		t.Fatalf("kdlaunch report %s: exit %d, want %d\nstderr: %s", strings.Join(args, " "), code, wantExit, errb.String())
	}
	return out.String(), errb.String()
}

func writeLeakLog(t *testing.T, o genlog.LeakOptions) (string, genlog.LeakStats) {
	t.Helper()
	var b bytes.Buffer
	truth, err := genlog.GenerateLeaks(&b, o)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "debug.log")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p, truth
}

type jsonStack struct {
	AllocCount       int64    `json:"alloc_count"`
	AllocBytes       int64    `json:"alloc_bytes"`
	FreeCount        int64    `json:"free_count"`
	FreeBytes        int64    `json:"free_bytes"`
	OutstandingCount int64    `json:"outstanding_count"`
	OutstandingBytes int64    `json:"outstanding_bytes"`
	UnpairedAllocs   int64    `json:"unpaired_allocs"`
	Culprit          string   `json:"culprit"`
	Frames           []string `json:"frames"`
}

type jsonReport struct {
	Kind             string      `json:"kind"`
	AllocCount       int64       `json:"alloc_count"`
	FreeCount        int64       `json:"free_count"`
	OutstandingCount int64       `json:"outstanding_count"`
	OutstandingBytes int64       `json:"outstanding_bytes"`
	UnpairedAllocs   int64       `json:"unpaired_allocs"`
	FreesUntracked   int64       `json:"frees_untracked"`
	Reconciled       bool        `json:"reconciled"`
	Stacks           []jsonStack `json:"stacks"`
	Growth           struct {
		Shape    string `json:"shape"`
		ByAllocs []struct {
			OutstandingBytes int64 `json:"outstanding_bytes"`
		} `json:"by_allocs"`
		ByMinute []struct {
			Minute float64 `json:"minute"`
		} `json:"by_minute"`
	} `json:"growth"`
	Notes []string `json:"notes"`
}

func decode(t *testing.T, s string) jsonReport {
	t.Helper()
	var r jsonReport
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		t.Fatalf("JSON: %v\n%s", err, s)
	}
	return r
}

// The report of a generated leak log says, per stack, exactly what the
// generator knows is outstanding; a lost return is unpaired, never
// outstanding.
func TestReportLeakLogTruth(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    genlog.LeakOptions
	}{
		{"x64 legacy", genlog.LeakOptions{Allocs: 4000, Seed: 11, EarlyFrees: 25}},
		{"x64 segment heap", genlog.LeakOptions{Allocs: 4000, Seed: 12, Family: "heap-special-pool", Threads: 8}},
		{"x86 legacy", genlog.LeakOptions{Allocs: 4000, Seed: 13, Arch: "x86", CRLF: true}},
		{"lost returns", genlog.LeakOptions{Allocs: 4000, Seed: 14, LostPerMille: 30, EarlyFrees: 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log, truth := writeLeakLog(t, tc.o)
			out, _ := report(t, 0, "--format", "json", log)
			r := decode(t, out)
			if r.Kind != "leaks" || !r.Reconciled {
				t.Fatalf("kind %q, reconciled %v", r.Kind, r.Reconciled)
			}
			got := map[string]jsonStack{}
			for _, s := range r.Stacks {
				got[strings.Join(s.Frames, "\n")] = s
			}
			var outstanding int64
			for _, w := range truth.Stacks {
				s := got[strings.Join(w.Frames, "\n")]
				if s.OutstandingCount != int64(w.OutstandingCount) || s.OutstandingBytes != w.OutstandingBytes || s.UnpairedAllocs != int64(w.Unpaired) || s.AllocCount != int64(w.Allocs) {
					t.Errorf("%s: outstanding %d (%d bytes), unpaired %d, allocs %d; truth %d (%d bytes), %d, %d",
						s.Culprit, s.OutstandingCount, s.OutstandingBytes, s.UnpairedAllocs, s.AllocCount, w.OutstandingCount, w.OutstandingBytes, w.Unpaired, w.Allocs)
				}
				if s.AllocCount != s.FreeCount+s.OutstandingCount+s.UnpairedAllocs {
					t.Errorf("%s does not reconcile: %+v", s.Culprit, s)
				}
				outstanding += int64(w.OutstandingCount)
			}
			if r.OutstandingCount != outstanding || r.UnpairedAllocs != int64(truth.Unpaired) || r.FreesUntracked != int64(truth.FreesUntracked) || r.AllocCount != int64(truth.Allocs) {
				t.Errorf("totals: outstanding %d unpaired %d untracked %d allocs %d; truth %d %d %d %d",
					r.OutstandingCount, r.UnpairedAllocs, r.FreesUntracked, r.AllocCount, outstanding, truth.Unpaired, truth.FreesUntracked, truth.Allocs)
			}
			for i := 1; i < len(r.Stacks); i++ {
				if r.Stacks[i].OutstandingBytes > r.Stacks[i-1].OutstandingBytes {
					t.Fatalf("stacks not sorted by outstanding bytes at %d", i)
				}
			}
		})
	}
}

// The leaker (stack 0: allocates less often, never frees) comes first in
// the table, above the busy stack that allocates most.
func TestReportLeakTable(t *testing.T) {
	log, truth := writeLeakLog(t, genlog.LeakOptions{Allocs: 3000, Seed: 21})
	out, _ := report(t, 0, log)
	leaker := truth.Stacks[0].Frames[3]
	lines := strings.Split(out, "\n")
	first := ""
	for _, l := range lines {
		if first == "" && strings.HasPrefix(l, "     culprit ") {
			first = strings.TrimPrefix(l, "     culprit ")
		}
		if len([]rune(l)) > 80 {
			t.Errorf("line wider than 80: %q", l)
		}
	}
	if first != leaker {
		t.Errorf("first culprit %q, want the leaker %q\n%s", first, leaker, out)
	}
	for _, want := range []string{"totals reconcile: 3000 allocated", "outstanding bytes, every", "Culprit modules"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestReportLeakFoldedAndPprof(t *testing.T) {
	log, truth := writeLeakLog(t, genlog.LeakOptions{Allocs: 2000, Seed: 31})
	var outstanding, allocs int64
	for _, s := range truth.Stacks {
		outstanding += s.OutstandingBytes
		allocs += int64(s.Allocs)
	}
	sum := func(folded string) int64 {
		var n int64
		for _, l := range strings.Split(strings.TrimSpace(folded), "\n") {
			v, err := strconv.ParseInt(l[strings.LastIndexByte(l, ' ')+1:], 10, 64)
			if err != nil {
				t.Fatalf("folded line %q: %v", l, err)
			}
			n += v
		}
		return n
	}
	out, _ := report(t, 0, "--format", "folded", log)
	if got := sum(out); got != outstanding {
		t.Errorf("folded sums to %d, want %d outstanding bytes", got, outstanding)
	}
	out, _ = report(t, 0, "--format", "folded", "--folded-value", "allocs", log)
	if got := sum(out); got != allocs {
		t.Errorf("folded --folded-value allocs sums to %d, want %d allocations", got, allocs)
	}

	pb := filepath.Join(t.TempDir(), "leaks.pb.gz")
	report(t, 0, "--format", "pprof", "-o", pb, log)
	f, err := os.Open(pb)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, st := range p.SampleType {
		types = append(types, st.Type+"/"+st.Unit)
	}
	if got := strings.Join(types, " "); got != "alloc_objects/count alloc_space/bytes inuse_objects/count inuse_space/bytes" {
		t.Fatalf("sample types %s", got)
	}
	var inuse, objects int64
	for _, s := range p.Sample {
		objects += s.Value[0]
		inuse += s.Value[3]
	}
	if inuse != outstanding || objects != allocs {
		t.Errorf("pprof: inuse_space %d, alloc_objects %d; want %d, %d", inuse, objects, outstanding, allocs)
	}
	// What a person types.
	if gobin, err := exec.LookPath("go"); err == nil {
		out, err := exec.Command(gobin, "tool", "pprof", "-sample_index=inuse_space", "-top", pb).CombinedOutput()
		if err != nil {
			t.Fatalf("go tool pprof: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), truth.Stacks[0].Frames[3]) {
			t.Errorf("go tool pprof -top does not name the leaker:\n%s", out)
		}
	}
}

// A steady leak and a one-off burst look different, by allocations and by
// minute (a transcript carries the times).
func TestReportLeakGrowthShapes(t *testing.T) {
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		burst bool
		want  string
	}{{false, "steady"}, {true, "burst"}} {
		log, _ := writeLeakLog(t, genlog.LeakOptions{Allocs: 6000, Seed: 41, Stacks: 2, Burst: tc.burst, Start: start, Step: 100 * time.Millisecond})
		r := decode(t, func() string { s, _ := report(t, 0, "--format", "json", log); return s }())
		if r.Growth.Shape != tc.want {
			t.Errorf("burst=%v: shape %q, want %q", tc.burst, r.Growth.Shape, tc.want)
		}
		if len(r.Growth.ByMinute) < 5 {
			t.Errorf("burst=%v: %d points by minute from a transcript", tc.burst, len(r.Growth.ByMinute))
		}
	}
}

func TestReportLeakBadInput(t *testing.T) {
	log, _ := writeLeakLog(t, genlog.LeakOptions{Allocs: 500, Seed: 51})
	data, _ := os.ReadFile(log)
	dir := t.TempDir()
	// Cut inside a record.
	i := bytes.LastIndex(data, []byte("KDLK1 A"))
	cut := filepath.Join(dir, "cut.log")
	os.WriteFile(cut, data[:i+20], 0o644)
	out, _ := report(t, 0, "--format", "json", cut)
	r := decode(t, out)
	if !r.Reconciled || len(r.Notes) < 2 {
		t.Errorf("cut log: reconciled %v, notes %q", r.Reconciled, r.Notes)
	}
	// A plain allocation log next to a leak log.
	plain := filepath.Join(dir, "plain.log")
	var b bytes.Buffer
	genlog.Generate(&b, genlog.Options{Hits: 10})
	os.WriteFile(plain, b.Bytes(), 0o644)
	_, errs := report(t, 1, log, plain)
	if n := strings.Count(strings.TrimSpace(errs), "\n"); n != 0 || !strings.Contains(errs, "plain.log has no leak records") {
		t.Errorf("mixed logs: stderr %q", errs)
	}
	// The plain log alone reports as before.
	out, _ = report(t, 0, "--format", "json", plain)
	if strings.Contains(out, `"kind"`) || !strings.Contains(out, `"stacks_total": 10`) {
		t.Errorf("plain log changed its report:\n%s", out)
	}
	// Binary input.
	bin := filepath.Join(dir, "bin.log")
	os.WriteFile(bin, append([]byte("KDLK1 F 1 2\n"), make([]byte, 5000)...), 0o644)
	_, errs = report(t, 1, bin)
	if !strings.Contains(errs, "binary") {
		t.Errorf("binary log: stderr %q", errs)
	}
	// Standard input.
	cmd := exec.Command(kdlaunch, "report", "--format", "json", "-")
	cmd.Stdin = bytes.NewReader(data)
	o, err := cmd.Output()
	if err != nil || decode(t, string(o)).AllocCount != 500 {
		t.Errorf("stdin: %v\n%s", err, o)
	}
}
