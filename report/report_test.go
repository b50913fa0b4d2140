package report

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/pprof/profile"
	"go.uber.org/goleak"

	"github.com/kdlaunch/kdlaunch/stacks"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func st(frames ...string) stacks.Stack { return stacks.Stack{Frames: frames} }

var (
	avscan  = st("nt!MmAllocateSpecialPool", "nt!ExAllocatePoolWithTag+0x4e", "avscan!ScanFile+0x1b2", "FLTMGR!FltpCreate+0x2e9", "nt!IofCallDriver+0x59")
	netflt  = st("nt!MmAllocateSpecialPool", "nt!ExAllocatePool2+0x9a", "netfilt+0x1c20", "NETIO!KfdClassify+0x1b0")
	verif   = st("nt!MmAllocateSpecialPool", "nt!ExAllocatePoolWithTagPriority+0x196", "nt!VerifierExAllocatePoolWithTag+0x1e", "Sample!DriverEntry+0x27", "nt!IopLoadDriver+0x7ed")
	kernel  = st("nt!MmAllocateSpecialPool", "nt!ExAllocatePoolWithTag+0x4e", "nt!ObpAllocateObject+0x133", "nt!ObCreateObjectEx+0xdd")
	avscan2 = st("nt!MmAllocateSpecialPool", "nt!ExAllocatePoolWithTag+0x4e", "avscan!ScanDir+0x10")
)

// sample: netflt 3, avscan 3 (appears later: ties sort by first appearance),
// verif 2, kernel 1, avscan2 1. Total 10.
func sample() *Aggregator {
	a := NewAggregator()
	for _, s := range []stacks.Stack{netflt, avscan, verif, netflt, avscan, kernel, avscan, netflt, verif, avscan2} {
		a.Add(s)
	}
	a.AddHits(11)
	return a
}

func TestReport(t *testing.T) {
	r := sample().Report(nil)
	if r.StacksTotal != 10 || r.UniqueStacks != 5 || r.Hits != 11 {
		t.Fatalf("totals: %+v", r)
	}
	want := []struct {
		count   int
		percent float64
		culprit string
	}{
		{3, 30, "netfilt+0x1c20"},
		{3, 30, "avscan!ScanFile+0x1b2"},
		{2, 20, "Sample!DriverEntry+0x27"},
		{1, 10, "nt!ObpAllocateObject+0x133"}, // all nt: first frame that is not the allocator
		{1, 10, "avscan!ScanDir+0x10"},
	}
	for i, w := range want {
		s := r.Stacks[i]
		if s.Count != w.count || s.Percent != w.percent || s.Culprit != w.culprit {
			t.Errorf("stack %d: %d %.2f %q, want %d %.2f %q", i, s.Count, s.Percent, s.Culprit, w.count, w.percent, w.culprit)
		}
	}
	wantMods := []ModuleCount{{"netfilt", 3}, {"avscan", 4}, {"Sample", 2}, {"nt", 1}}
	sortedWant := []ModuleCount{wantMods[1], wantMods[0], wantMods[2], wantMods[3]}
	if !reflect.DeepEqual(r.Modules, sortedWant) {
		t.Errorf("modules = %+v, want %+v", r.Modules, sortedWant)
	}
}

func TestPercentRounding(t *testing.T) {
	a := NewAggregator()
	a.Add(avscan)
	a.Add(netflt)
	a.Add(netflt)
	r := a.Report(nil)
	if r.Stacks[0].Percent != 66.67 || r.Stacks[1].Percent != 33.33 {
		t.Errorf("percents %v %v", r.Stacks[0].Percent, r.Stacks[1].Percent)
	}
}

func TestSkip(t *testing.T) {
	def := DefaultSkip()
	cases := []struct {
		skip   []string
		frames []string
		want   string
	}{
		{nil, avscan.Frames, "avscan!ScanFile+0x1b2"},
		{nil, []string{"NTOSKRNL!ExAllocatePoolWithTag+0x19", "ntkrnlmp!Foo", "HAL!Bar", "?", "mydrv+0x10"}, "mydrv+0x10"},
		{nil, []string{"nt!MmAllocateSpecialPool", "verifier!VfAllocPoolWithTag+0x20", "x!VfAllocPoolWithTagThunk", "drv!Go"}, "drv!Go"},
		{nil, []string{"nt!MmAllocateSpecialPool", "0xfffff801`d1e6f000", "netfilt+0x1c20"}, "0xfffff801`d1e6f000"},
		{nil, []string{"nt!MmAllocateSpecialPool", "nt!ExAllocatePoolWithTag+0x4e"}, "nt!ExAllocatePoolWithTag+0x4e"},
		{[]string{"none"}, avscan.Frames, "nt!MmAllocateSpecialPool"},
		{[]string{"nt", "avscan"}, avscan.Frames, "FLTMGR!FltpCreate+0x2e9"},
		{[]string{"nt", "avscan!Scan*"}, avscan.Frames, "FLTMGR!FltpCreate+0x2e9"},
		{[]string{"nt", "*!scanfile"}, avscan.Frames, "FLTMGR!FltpCreate+0x2e9"},
		{[]string{"nt", "avscan!ScanFile+0x1b2"}, avscan.Frames, "FLTMGR!FltpCreate+0x2e9"},
		{[]string{"nt", "netf*"}, netflt.Frames, "NETIO!KfdClassify+0x1b0"},
		{[]string{"n*"}, netflt.Frames, "netfilt+0x1c20"}, // all skipped: first non-allocator frame
	}
	for _, c := range cases {
		s := def
		if c.skip != nil {
			var err error
			if s, err = NewSkip(c.skip); err != nil {
				t.Fatal(err)
			}
		}
		if got := s.Culprit(c.frames); got != c.want {
			t.Errorf("skip %v: culprit of %q = %q, want %q", c.skip, c.frames, got, c.want)
		}
	}
	for _, bad := range []string{"!foo", "nt!", "a b", "x;y"} {
		if _, err := NewSkip([]string{bad}); err == nil {
			t.Errorf("NewSkip(%q) accepted", bad)
		}
	}
}

func TestModuleSymbol(t *testing.T) {
	for frame, want := range map[string][2]string{
		"nt!Foo+0x12":             {"nt", "nt!Foo"},
		"avscan+0x424e":           {"avscan", "avscan"},
		"0x00007fff`69805b74":     {UnknownModule, "0x00007fff`69805b74"},
		"?":                       {UnknownModule, "?"},
		"<Unloaded_foo.sys>+0x12": {"<Unloaded_foo.sys>", "<Unloaded_foo.sys>"},
		"nt!KiSwapContext":        {"nt", "nt!KiSwapContext"},
	} {
		if m, s := Module(frame), Symbol(frame); m != want[0] || s != want[1] {
			t.Errorf("%q: module %q symbol %q, want %q", frame, m, s, want)
		}
	}
}

// The JSON contract: exactly these keys and types, stacks sorted by count.
func TestJSONContract(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteJSON(&buf, sample().Report(nil)); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if keys := sortedKeys(doc); !reflect.DeepEqual(keys, []string{"breakpoint_hits", "bugchecks", "free_stacks", "frees_total", "modules", "stacks", "stacks_total", "unique_stacks"}) {
		t.Fatalf("top-level keys %v", keys)
	}
	if doc["stacks_total"] != 10.0 || doc["unique_stacks"] != 5.0 {
		t.Errorf("totals %v %v", doc["stacks_total"], doc["unique_stacks"])
	}
	ss := doc["stacks"].([]any)
	prev := 1e9
	for _, x := range ss {
		s := x.(map[string]any)
		if keys := sortedKeys(s); !reflect.DeepEqual(keys, []string{"count", "culprit", "frames", "percent"}) {
			t.Fatalf("stack keys %v", keys)
		}
		c := s["count"].(float64)
		if c > prev {
			t.Errorf("stacks not sorted by count")
		}
		prev = c
		_ = s["percent"].(float64)
		_ = s["culprit"].(string)
		for _, f := range s["frames"].([]any) {
			_ = f.(string)
		}
	}
	first := ss[0].(map[string]any)["frames"].([]any)
	if first[0] != "nt!MmAllocateSpecialPool" || first[len(first)-1] != "NETIO!KfdClassify+0x1b0" {
		t.Errorf("frames not innermost first: %v", first)
	}
	for _, x := range doc["modules"].([]any) {
		m := x.(map[string]any)
		if keys := sortedKeys(m); !reflect.DeepEqual(keys, []string{"count", "module"}) {
			t.Fatalf("module keys %v", keys)
		}
	}

	// No stacks: zero, and empty arrays rather than null.
	buf.Reset()
	if err := WriteJSON(&buf, NewAggregator().Report(nil)); err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"stacks_total\": 0,\n  \"unique_stacks\": 0,\n  \"breakpoint_hits\": 0,\n  \"stacks\": [],\n  \"modules\": [],\n  \"bugchecks\": [],\n  \"frees_total\": 0,\n  \"free_stacks\": []\n}\n"
	if buf.String() != want {
		t.Errorf("empty report JSON:\n%s\nwant\n%s", buf.String(), want)
	}
}

func sortedKeys(m map[string]any) []string {
	var k []string
	for key := range m {
		k = append(k, key)
	}
	for i := range k {
		for j := i + 1; j < len(k); j++ {
			if k[j] < k[i] {
				k[i], k[j] = k[j], k[i]
			}
		}
	}
	return k
}

func TestFolded(t *testing.T) {
	a := sample()
	a.Add(st("nt!MmAllocateSpecialPool", "weird!a;b+0x1"))
	r := a.Report(nil)
	var buf bytes.Buffer
	if err := WriteFolded(&buf, r); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != r.UniqueStacks {
		t.Fatalf("%d lines for %d stacks", len(lines), r.UniqueStacks)
	}
	sum := 0
	for _, l := range lines {
		i := strings.LastIndexByte(l, ' ')
		n, err := strconv.Atoi(l[i+1:])
		if err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		sum += n
		frames := strings.Split(l[:i], ";")
		if frames[len(frames)-1] != "nt!MmAllocateSpecialPool" {
			t.Errorf("line %q: leaf is not last", l)
		}
	}
	if sum != r.StacksTotal {
		t.Errorf("folded counts sum to %d, stacks_total %d", sum, r.StacksTotal)
	}
	if lines[0] != "NETIO!KfdClassify+0x1b0;netfilt+0x1c20;nt!ExAllocatePool2+0x9a;nt!MmAllocateSpecialPool 3" {
		t.Errorf("first line %q", lines[0])
	}
	if !strings.Contains(buf.String(), "weird!a:b+0x1;nt!MmAllocateSpecialPool 1") {
		t.Errorf("';' in a frame not replaced:\n%s", buf.String())
	}
}

func TestPprof(t *testing.T) {
	r := sample().Report(nil)
	var buf bytes.Buffer
	if err := WritePprof(&buf, r); err != nil {
		t.Fatal(err)
	}
	if b := buf.Bytes(); len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Fatalf("not gzipped")
	}
	p, err := profile.Parse(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.SampleType) != 1 || p.SampleType[0].Type != "hits" || p.SampleType[0].Unit != "count" {
		t.Errorf("sample type %v", p.SampleType)
	}
	if len(p.Sample) != r.UniqueStacks {
		t.Errorf("%d samples for %d stacks", len(p.Sample), r.UniqueStacks)
	}
	total := int64(0)
	for i, s := range p.Sample {
		total += s.Value[0]
		var names []string
		for _, l := range s.Location {
			names = append(names, l.Line[0].Function.Name)
		}
		if !reflect.DeepEqual(names, r.Stacks[i].Frames) {
			t.Errorf("sample %d: %q, want %q (leaf first)", i, names, r.Stacks[i].Frames)
		}
		if got := s.Label["culprit"]; len(got) != 1 || got[0] != r.Stacks[i].Culprit {
			t.Errorf("sample %d culprit label %v", i, got)
		}
	}
	if total != int64(r.StacksTotal) {
		t.Errorf("samples sum to %d, want %d", total, r.StacksTotal)
	}
	distinct := map[string]bool{}
	for _, s := range r.Stacks {
		for _, f := range s.Frames {
			distinct[f] = true
		}
	}
	if len(p.Location) != len(distinct) || len(p.Function) != len(distinct) {
		t.Errorf("%d locations, %d functions for %d distinct frames", len(p.Location), len(p.Function), len(distinct))
	}

	// go tool pprof -top reads it.
	if testing.Short() {
		return
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool")
	}
	file := filepath.Join(t.TempDir(), "stacks.pb.gz")
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(goBin, "tool", "pprof", "-top", file).CombinedOutput()
	if err != nil {
		t.Fatalf("go tool pprof -top: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "nt!MmAllocateSpecialPool") || !strings.Contains(string(out), "Type: hits") {
		t.Errorf("go tool pprof -top output:\n%s", out)
	}
}

func TestTable(t *testing.T) {
	a := sample()
	long := st("nt!MmAllocateSpecialPool", "verylongdrivername!std::basic_string<char,std::char_traits<char>,std::allocator<char> >::_Construct<std::basic_string<char> >+0x1234",
		"0xfffff801`d1e6f000")
	for i := 0; i < 4; i++ {
		a.Add(long)
	}
	r := a.Report(nil)
	var buf bytes.Buffer
	if err := WriteTable(&buf, r, WriteOptions{Top: 3}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, l := range strings.Split(out, "\n") {
		if n := utf8.RuneCountInString(l); n > 80 {
			t.Errorf("line of %d columns: %q", n, l)
		}
	}
	for _, want := range []string{
		"14 stacks, 6 unique, 11 breakpoint hits",
		"#1         4   28.57%  culprit verylongdrivername!std:...c_string<char> >+0x1234",
		"    > 01  verylongdrivername!std::basic_stri...<std::basic_string<char> >+0x1234",
		"    > 02  avscan!ScanFile+0x1b2",
		"... 3 more stacks, seen 4 times (28.57%); --top 0 shows all",
		"Culprit modules",
		"       4   28.57%  avscan",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Sample!DriverEntry") {
		t.Errorf("--top 3 shows a 4th stack:\n%s", out)
	}
	// empty
	buf.Reset()
	WriteTable(&buf, NewAggregator().Report(nil), WriteOptions{})
	if !strings.Contains(buf.String(), "0 stacks") || !strings.Contains(buf.String(), "No stacks found") {
		t.Errorf("empty table:\n%s", buf.String())
	}
}

func TestWriteFormats(t *testing.T) {
	r := sample().Report(nil)
	for _, f := range Formats {
		var buf bytes.Buffer
		if err := Write(&buf, r, f, WriteOptions{}); err != nil || buf.Len() == 0 {
			t.Errorf("%s: %v (%d bytes)", f, err, buf.Len())
		}
	}
	if err := Write(&bytes.Buffer{}, r, "xml", WriteOptions{}); err == nil {
		t.Error("format xml accepted")
	}
}

func TestModulesIgnoreCase(t *testing.T) {
	a := NewAggregator()
	a.Add(st("NT!ExAllocatePoolWithTag+0x19", "QIC117!_kdi_ThreadRun@4+0xa9"))
	a.Add(st("nt!ExAllocatePoolWithTag+0x4e", "qic117!_kdi_ThreadRun@4+0xa9"))
	a.Add(st("nt!ExAllocatePoolWithTag+0x4e", "qic117!_kdi_ThreadRun@4+0xa9"))
	r := a.Report(nil)
	if want := []ModuleCount{{"QIC117", 3}}; !reflect.DeepEqual(r.Modules, want) {
		t.Errorf("modules %+v, want %+v", r.Modules, want)
	}
}

func TestClone(t *testing.T) {
	a := sample()
	b := a.Clone()
	b.Add(kernel)
	b.Add(st("x!y"))
	ra, rb := a.Report(nil), b.Report(nil)
	if ra.StacksTotal != 10 || ra.UniqueStacks != 5 || rb.StacksTotal != 12 || rb.UniqueStacks != 6 || rb.Hits != 11 {
		t.Errorf("a %d/%d, b %d/%d (hits %d)", ra.StacksTotal, ra.UniqueStacks, rb.StacksTotal, rb.UniqueStacks, rb.Hits)
	}
	if a.Report(nil).Stacks[3].Count != 1 || b.Report(nil).Stacks[2].Count != 2 {
		t.Error("clone shares counts")
	}
}

func TestTableCompact(t *testing.T) {
	a := sample()
	a.Add(st("nt!MmAllocateSpecialPool", "drv!A+0x1", "drv!B+0x2", "drv!C+0x3", "drv!D+0x4"))
	var buf bytes.Buffer
	WriteTable(&buf, a.Report(nil), WriteOptions{Compact: true})
	out := buf.String()
	// the culprit, its caller, then the rest summarised (unless it is one frame)
	for _, want := range []string{
		"    > 01  drv!A+0x1\n      02  drv!B+0x2\n          ... 2 more frames\n\n",
		"    > 02  avscan!ScanFile+0x1b2\n      03  FLTMGR!FltpCreate+0x2e9\n      04  nt!IofCallDriver+0x59\n\n",
		"    > 02  netfilt+0x1c20\n      03  NETIO!KfdClassify+0x1b0\n\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("compact table lacks %q:\n%s", want, out)
		}
	}
}
