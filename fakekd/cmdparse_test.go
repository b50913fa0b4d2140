package fakekd

import (
	"reflect"
	"testing"
)

func TestSplitCommands(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"g", []string{"g"}},
		{";kb;g", []string{"", "kb", "g"}},
		{"bl; .echo X", []string{"bl", ".echo X"}},
		{`bp nt!MmAllocateSpecialPool ";kb;g"`, []string{`bp nt!MmAllocateSpecialPool ";kb;g"`}},
		{`bp nt!X ".echo \"a;b\"; g"; bl`, []string{`bp nt!X ".echo \"a;b\"; g"`, "bl"}},
		{".echo SPHIT; r rdx; kb; g", []string{".echo SPHIT", "r rdx", "kb", "g"}},
		{"", []string{""}},
	}
	for _, tt := range tests {
		if got := splitCommands(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("splitCommands(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseBp(t *testing.T) {
	tests := []struct {
		word, rest string
		want       bpArgs
		wantErr    bool
	}{
		{"bp", `nt!MmAllocateSpecialPool ";kb;g"`, bpArgs{id: -1, address: "nt!MmAllocateSpecialPool", command: ";kb;g", hasCmd: true}, false},
		{"bp", "nt!MmAllocateSpecialPool", bpArgs{id: -1, address: "nt!MmAllocateSpecialPool"}, false},
		{"bu", `/1 nt!ExAllocatePool2 "kb"`, bpArgs{id: -1, oneShot: true, address: "nt!ExAllocatePool2", command: "kb", hasCmd: true}, false},
		{"bp7", "nt!X", bpArgs{id: 7, address: "nt!X"}, false},
		{"bp", `nt!X 5 "g"`, bpArgs{id: -1, address: "nt!X", command: "g", hasCmd: true}, false},
		{"bp", `/p ffffe001d4aec5c0 nt!X`, bpArgs{id: -1, address: "nt!X"}, false},
		{"bp", `/w "@rdx == 0x206b6444" nt!X "kb;g"`, bpArgs{id: -1, address: "nt!X", command: "kb;g", hasCmd: true}, false},
		{"bp", `nt!X ".echo \"hit\"; g"`, bpArgs{id: -1, address: "nt!X", command: `.echo "hit"; g`, hasCmd: true}, false},
		{"bp", `nt!X "unterminated`, bpArgs{}, true},
		{"bp", "", bpArgs{}, true},
		{"bp", "/z nt!X", bpArgs{}, true},
		{"bpx", "nt!X", bpArgs{}, true},
	}
	for _, tt := range tests {
		got, err := parseBp(tt.word, tt.rest)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseBp(%q, %q) error = %v, wantErr %v", tt.word, tt.rest, err, tt.wantErr)
			continue
		}
		if err == nil && got != tt.want {
			t.Errorf("parseBp(%q, %q) = %+v, want %+v", tt.word, tt.rest, got, tt.want)
		}
	}
}

func TestParseIDList(t *testing.T) {
	tests := []struct {
		in      string
		has     []int
		hasNot  []int
		wantErr bool
	}{
		{"*", []int{0, 5, 31}, nil, false},
		{"0", []int{0}, []int{1}, false},
		{"1-3", []int{1, 2, 3}, []int{0, 4}, false},
		{"0 2,4", []int{0, 2, 4}, []int{1, 3}, false},
		{"1-3, 7", []int{1, 2, 3, 7}, []int{4}, false},
		{"", nil, nil, true},
		{"x", nil, nil, true},
		{"3-1", nil, nil, true},
	}
	for _, tt := range tests {
		got, err := parseIDList(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseIDList(%q) error = %v", tt.in, err)
			continue
		}
		for _, id := range tt.has {
			if !got.has(id) {
				t.Errorf("parseIDList(%q) lacks %d", tt.in, id)
			}
		}
		for _, id := range tt.hasNot {
			if got.has(id) {
				t.Errorf("parseIDList(%q) has %d", tt.in, id)
			}
		}
	}
}

func TestParseValue(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		err  bool
	}{
		{"206b6444", 0x206b6444, false},
		{"0x206b6444", 0x206b6444, false},
		{"0n42", 42, false},
		{"0", 0, false},
		{"fffff801`1e2a3b40", 0xfffff8011e2a3b40, false},
		{"' cbA'", 0x20636241, false}, // kd-protocol.md "PoolHitTag and the allocators": tag "Abc " entered backwards
		{"'Ddk '", 0x44646b20, false},
		{"zz", 0, true},
		{"''", 0, true},
	}
	for _, tt := range tests {
		got, err := parseValue(tt.in)
		if (err != nil) != tt.err || (!tt.err && got != tt.want) {
			t.Errorf("parseValue(%q) = %#x, %v; want %#x", tt.in, got, err, tt.want)
		}
	}
}
