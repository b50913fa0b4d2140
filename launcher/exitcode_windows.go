//go:build windows

package launcher

import "fmt"

// kd's exit codes on Windows are NTSTATUS values (0xC0000005 and friends);
// shown in hex they can be looked up, in decimal they mean nothing.
func formatExitCode(code int) string { return fmt.Sprintf("exit code 0x%08X", uint32(code)) }
