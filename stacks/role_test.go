package stacks

import "testing"

func TestRoleOf(t *testing.T) {
	tests := []struct {
		name   string
		frames []string
		role   Role
	}{
		{"special-pool allocation", []string{"nt!MmAllocateSpecialPool", "nt!ExAllocatePoolWithTag+0x4e", "avscan!ScanFile+0x1b2"}, RoleAllocation},
		{"segment heap allocation", []string{"nt!ExAllocateHeapSpecialPool", "nt!ExAllocateHeapPool+0x1bd", "leakydrv!Alloc+0x2c"}, RoleAllocation},
		{"pool hit tag allocation", []string{"nt!ExAllocatePoolWithTag+0x881", "nt!ExAllocatePoolWithTagPriority+0x196", "nt!VeAllocatePoolWithTagPriority+0x1a7", "Sample!DriverEntry+0x27"}, RoleAllocation},
		{"pool hit tag free", []string{"nt!ExFreeHeapPool+0x3c1", "nt!ExFreePool+0x9", "leakydrv!Free+0x1e"}, RoleFree},
		{"special-pool free", []string{"nt!MmFreeSpecialPool", "nt!ExFreePoolWithTag+0x1a", "drv!Close+0x44"}, RoleFree},
		{"segment heap special free", []string{"nt!ExpFreeHeapSpecialPool", "nt!ExFreeHeapPool+0x2a", "nt!ExFreePoolWithTag+0x1a", "drv!Close+0x44"}, RoleFree},
		{"other kernel image name", []string{"ntkrnlmp!ExFreePoolWithTag+0x1a", "drv!Close+0x44"}, RoleFree},
		{"a free further out is a caller, not the top", []string{"drv!Helper+0x10", "nt!ExFreePoolWithTag+0x1a"}, RoleAllocation},
		{"a driver's own free routine", []string{"drv!ExFreePoolWithTag+0x10", "drv!Close"}, RoleAllocation},
		{"bug check", []string{"nt!DbgBreakPointWithStatus", "nt!KiBugCheckDebugBreak+0x12", "nt!KeBugCheck2+0x952", "nt!KeBugCheckEx+0x107", "nt!VerifierBugCheckIfAppropriate+0x6d", "nt!VerifierExAllocatePoolWithTag+0x1e", "drv!Alloc+0x2c"}, RoleBugCheck},
		{"page fault bug check", []string{"nt!KeBugCheckEx", "nt!KiBugCheckDispatch+0x69", "nt!KiPageFault+0x457", "avscan+0x424e"}, RoleBugCheck},
		{"user breakpoint", []string{"mydrv!Foo+0x12", "nt!IofCallDriver+0x55"}, RoleAllocation},
		{"empty", nil, RoleAllocation},
	}
	for _, tc := range tests {
		if got := RoleOf(tc.frames); got != tc.role {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.role)
		}
	}
}
