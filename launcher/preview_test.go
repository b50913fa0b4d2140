package launcher

import (
	"strings"
	"testing"

	"github.com/kdlaunch/kdlaunch/script"
)

func TestPreview(t *testing.T) {
	tests := []struct {
		plan Plan
		want string
	}{
		{Plan{Allocators: true, Check: []Command{{Text: script.SpecialPoolTagQuery}}},
			`x nt!MmAllocateSpecialPool|x nt!MmFreeSpecialPool|x nt!ExAllocateHeapSpecialPool|x nt!ExpFreeHeapSpecialPool|dd nt!MmSpecialPoolTag L1|` +
				`bp nt!MmAllocateSpecialPool ";kb;g"|bp nt!ExAllocateHeapSpecialPool ";kb;g"|bl|g`},
		{Plan{Arm: []Command{{Text: "ed nt!PoolHitTag 206b6444"}}, Verify: []Command{{Text: script.PoolHitTagQuery}, {Text: script.PoolHitTagReadback}}},
			"ed nt!PoolHitTag 206b6444|x nt!PoolHitTag|dd nt!PoolHitTag L1|g"},
		{Plan{Arm: []Command{{Text: "bp mydrv!Alloc"}, {Text: "g"}}}, "bp mydrv!Alloc|bl|g"},
	}
	for _, tt := range tests {
		var got []string
		for _, c := range Preview(tt.plan) {
			got = append(got, c.Text)
		}
		if strings.Join(got, "|") != tt.want {
			t.Errorf("Preview(%+v) = %q, want %q", tt.plan, strings.Join(got, "|"), tt.want)
		}
	}
}
