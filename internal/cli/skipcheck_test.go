package cli

import (
	"slices"
	"testing"

	"github.com/kdlaunch/kdlaunch/report"
)

func TestUnseenSkipModules(t *testing.T) {
	r := &report.Report{StacksTotal: 1, Stacks: []report.StackCount{{Count: 1, Frames: []string{"nt!MmAllocateSpecialPool", "avscan+0x424e", "FLTMGR!FltpPerformPreCallbacks+0x2f9"}}}}
	tests := []struct {
		skip, add []string
		want      []string
	}{
		{report.DefaultSkipList, nil, nil},
		{report.DefaultSkipList, []string{"avscan", "fltmgr"}, nil},
		{report.DefaultSkipList, []string{"avscna"}, []string{"avscna"}},
		{[]string{"nt", "ntoskrl", "ntoskrl"}, nil, []string{"ntoskrl"}},
		{[]string{"none"}, nil, nil},
		{[]string{"nt!Ex*", "mydrv!Wrap"}, nil, nil},
	}
	for _, tt := range tests {
		if got := unseenSkipModules(tt.skip, tt.add, r); !slices.Equal(got, tt.want) {
			t.Errorf("skip %q add %q: %q, want %q", tt.skip, tt.add, got, tt.want)
		}
	}
	if got := unseenSkipModules([]string{"zzz"}, nil, &report.Report{}); got != nil {
		t.Errorf("a log without stacks: %q", got)
	}
}

func TestJoinNegativeValues(t *testing.T) {
	flags := map[string]bool{"--duration": true, "--log": true}
	tests := []struct{ in, want []string }{
		{[]string{"run", "--duration", "-5s"}, []string{"run", "--duration=-5s"}},
		{[]string{"run", "--duration", "-.5h"}, []string{"run", "--duration=-.5h"}},
		{[]string{"run", "--log", "-v"}, []string{"run", "--log", "-v"}},
		{[]string{"run", "--dry-run", "-5"}, []string{"run", "--dry-run", "-5"}},
		{[]string{"run", "--", "--duration", "-5s"}, []string{"run", "--", "--duration", "-5s"}},
		{[]string{"run", "--duration"}, []string{"run", "--duration"}},
	}
	for _, tt := range tests {
		if got := joinNegativeValues(tt.in, flags); !slices.Equal(got, tt.want) {
			t.Errorf("%q: %q, want %q", tt.in, got, tt.want)
		}
	}
}
