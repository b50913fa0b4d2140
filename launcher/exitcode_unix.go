//go:build !windows

package launcher

import "fmt"

func formatExitCode(code int) string { return fmt.Sprintf("exit code %d", code) }
