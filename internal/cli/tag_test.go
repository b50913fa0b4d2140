package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/alecthomas/kong"
)

// runTag parses args as `kdlaunch tag ARGS` with kong (so the struct tags are
// exercised) and runs the command with captured output.
func runTag(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var root struct {
		Tag TagCmd `cmd:"" help:"Encode or decode a pool tag."`
	}
	p, err := kong.New(&root, kong.Name("kdlaunch"), kong.Exit(func(int) { t.Fatal("kong exited") }))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Parse(append([]string{"tag"}, args...)); err != nil {
		return "", "", err
	}
	var out, errb bytes.Buffer
	err = root.Tag.Run(streams{&out, &errb})
	return out.String(), errb.String(), err
}

func TestTagText(t *testing.T) {
	out, _, err := runTag(t, "Ddk")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`Pool tag "Ddk " (padded with spaces to 4 characters)`,
		"  'D'      68  0x44",
		"  'd'     100  0x64",
		"  'k'     107  0x6b",
		"  ' '      32  0x20",
		"0x206b6444 (543908932)",
		": 206b6444",
		`reg add "HKLM\SYSTEM\CurrentControlSet\Control\Session Manager\Memory Management" /v PoolTag /t REG_DWORD /d 0x206b6444 /f`,
		`/v PoolTagOverruns /t REG_DWORD /d 1 /f`,
		`gflags /r +spp "Ddk "`,
		`gflags /k +spp "Ddk "`,
		"ed nt!PoolHitTag 206b6444",
		`dc and !pool show "Ddk "; only dd's DWORD view (206b6444) reads them backwards, as does a character constant for ed (' kdD')`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "pool dump shows the characters backwards") {
		t.Error("the output still says a pool dump reads backwards (only dd's DWORD does)")
	}
}

// A PoolTag value given as the tag is refused with the --decode hint.
func TestTagValueHintsDecode(t *testing.T) {
	for _, v := range []string{"0x206b6444", "206b6444", "0n543908932"} {
		wantOneLine(t, []string{"tag", v}, "kdlaunch tag --decode "+v)
	}
}

func TestTagKnownValues(t *testing.T) {
	for in, want := range map[string]string{
		"Ddk": "0x206b6444", "Tag1": "0x31676154", "Fred": "0x64657246",
		"N??s": "0x733f3f4e", "Nt*": "0x002a744e", "*": "0x0000002a",
	} {
		out, _, err := runTag(t, "--json", in)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		var v struct {
			Tag      string `json:"tag"`
			DWORD    uint32 `json:"dword"`
			Hex      string `json:"hex"`
			Wildcard bool   `json:"wildcard"`
		}
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("%s: %v\n%s", in, err, out)
		}
		if v.Hex != want {
			t.Errorf("%s: hex %s, want %s", in, v.Hex, want)
		}
		if strings.ContainsAny(in, "?*") != v.Wildcard {
			t.Errorf("%s: wildcard %v", in, v.Wildcard)
		}
	}
}

func TestTagJSON(t *testing.T) {
	out, _, err := runTag(t, "Ddk", "--json")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "{\n  \"tag\": \"Ddk \",\n  \"dword\": 543908932,\n  \"hex\": \"0x206b6444\",") {
		t.Errorf("JSON does not open with tag, dword, hex:\n%s", out)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	if v["debugger"] != "206b6444" || v["kind"] != "tag" || v["pool_hit_tag"] != "ed nt!PoolHitTag 206b6444" {
		t.Errorf("JSON = %v", v)
	}
	if chars, _ := v["chars"].([]any); len(chars) != 4 {
		t.Errorf("chars = %v", v["chars"])
	}
}

func TestTagDecode(t *testing.T) {
	for _, in := range []string{"0x206b6444", "206b6444", "0n543908932"} {
		out, _, err := runTag(t, "--decode", in, "--json")
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if !strings.Contains(out, `"tag": "Ddk "`) {
			t.Errorf("--decode %s:\n%s", in, out)
		}
	}
	out, _, err := runTag(t, "--decode", "0x2a")
	if err != nil || !strings.Contains(out, `Pool tag "*"`) {
		t.Errorf("--decode 0x2a: %v\n%s", err, out)
	}
	out, _, err = runTag(t, "--decode", "0")
	if err != nil || !strings.Contains(out, "turns special pool off") {
		t.Errorf("--decode 0: %v\n%s", err, out)
	}
	out, errOut, err := runTag(t, "--decode", "0x20")
	if err != nil || !strings.Contains(out, "x64: allocations of 1 to 16 bytes") || !strings.Contains(out, "x86: allocations of 17 to 24 bytes") ||
		!strings.Contains(errOut, "not a pool tag") {
		t.Errorf("--decode 0x20: %v\n%s\n%s", err, out, errOut)
	}
}

func TestTagSize(t *testing.T) {
	out, errOut, err := runTag(t, "--size", "32")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "0x00000030") || !strings.Contains(out, "x64: allocations of 17 to 32 bytes") {
		t.Errorf("--size 32:\n%s", out)
	}
	if !strings.Contains(errOut, "warning: 0x00000030 is an allocation-size value, not a pool tag") {
		t.Errorf("--size warning: %q", errOut)
	}
	out, _, err = runTag(t, "--size", "24", "--arch", "x86", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		DWORD   uint32 `json:"dword"`
		Kind    string `json:"kind"`
		Warning string `json:"warning"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.DWORD != 0x20 || v.Kind != "size" || !strings.Contains(v.Warning, "17 to 24 bytes on x86") {
		t.Errorf("--size 24 --arch x86: %+v %v\n%s", v, err, out)
	}
}

func TestTagRejects(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, "give a tag"},
		{[]string{""}, "give a tag"},
		{[]string{"Ddk!x"}, `tag "Ddk!x": 5 characters; a pool tag has 1 to 4`},
		{[]string{"Dék"}, "not ASCII"},
		{[]string{"A\tB"}, "control character"},
		{[]string{"N*x"}, "must be the last character"},
		{[]string{"Ddk", "--decode", "0x206b6444"}, "not several"},
		{[]string{"--decode", "xyz"}, "--decode: value \"xyz\": not a number"},
		{[]string{"--decode", "0x1ffffffff"}, "larger than 32 bits"},
		{[]string{"--decode", "0x00202041"}, "--decode: value 0x00202041"},
		{[]string{"--decode", "0xc1414243"}, "not ASCII"},
		{[]string{"--size", "0"}, "--size: size 0"},
		{[]string{"--size=-3"}, "--size: size -3"},
		{[]string{"--size", "4065"}, "1 to 4064 bytes on x64"},
		{[]string{"--size", "4081", "--arch", "x86"}, "1 to 4080 bytes on x86"},
		{[]string{"--size", "16", "--arch", "arm64"}, "--arch"},
		{[]string{"--decode", "0", "--reg-file", filepath.Join(t.TempDir(), "x.reg")}, "turns special pool off"},
	}
	for _, tc := range tests {
		_, _, err := runTag(t, tc.args...)
		if err == nil {
			t.Errorf("%q: accepted", tc.args)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %q lacks %q", tc.args, err, tc.want)
		}
	}
}

func TestTagKdNote(t *testing.T) {
	_, errOut, err := runTag(t, "a;b")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut, "refuse this tag") || !strings.Contains(errOut, "separates kd commands") {
		t.Errorf("stderr = %q", errOut)
	}
}

func TestTagStarAloneWarns(t *testing.T) {
	tests := []struct {
		tag  string
		warn bool
	}{{"*", true}, {"Nt*", false}, {"Ddk", false}}
	for _, tt := range tests {
		_, errOut, err := runTag(t, tt.tag)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(errOut, "matches every allocation"); got != tt.warn {
			t.Errorf("tag %q: warning %v, want %v (stderr %q)", tt.tag, got, tt.warn, errOut)
		}
	}
}

func decodeUTF16File(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 2 || b[0] != 0xff || b[1] != 0xfe || len(b)%2 != 0 {
		t.Fatalf("%s is not UTF-16LE with a BOM", path)
	}
	u := make([]uint16, 0, len(b)/2)
	for i := 2; i < len(b); i += 2 {
		u = append(u, uint16(b[i])|uint16(b[i+1])<<8)
	}
	return string(utf16.Decode(u))
}

func TestTagRegFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pooltag.reg")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err := runTag(t, "Tag1", "--reg-file", path, "--underruns")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "Wrote "+path) || !strings.Contains(out, "/v PoolTagOverruns /t REG_DWORD /d 0 /f") {
		t.Errorf("output:\n%s", out)
	}
	got := decodeUTF16File(t, path)
	for _, want := range []string{
		"Windows Registry Editor Version 5.00\r\n",
		"[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\Session Manager\\Memory Management]\r\n",
		"\"PoolTag\"=dword:31676154\r\n",
		"\"PoolTagOverruns\"=dword:00000000\r\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf(".reg file lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(strings.ReplaceAll(got, "\r\n", ""), "\n") {
		t.Error(".reg file has bare LF line ends")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
	// A failed write leaves the existing file alone.
	if _, _, err := runTag(t, "Tag1", "--reg-file", filepath.Join(path, "x.reg")); err == nil {
		t.Error("writing under a file succeeded")
	}
}

// --reg-file errors name the file and what is wrong, not a temporary file.
func TestTagRegFileBadPath(t *testing.T) {
	dir := t.TempDir()
	keep := filepath.Join(dir, "keep.reg")
	if err := os.WriteFile(keep, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ path, want string }{
		{dir, dir + ": is a folder"},
		{filepath.Join(keep, "x.reg"), "is not a folder"},
	}
	for _, tt := range tests {
		_, _, err := runTag(t, "Ddk", "--reg-file", tt.path)
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), ".tmp") {
			t.Errorf("--reg-file %s: %v, want %q", tt.path, err, tt.want)
		}
	}
	if b, _ := os.ReadFile(keep); string(b) != "keep" {
		t.Errorf("keep.reg changed: %q", b)
	}
}

// gflags cannot be given a tag holding '"' intact: only the reg add lines.
func TestTagQuoteNoGFlags(t *testing.T) {
	out, _, err := runTag(t, `Dd"`)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "gflags") || !strings.Contains(out, "reg add") {
		t.Errorf("tag with '\"': gflags offered or reg add missing:\n%s", out)
	}
}
