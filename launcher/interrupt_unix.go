//go:build !windows

package launcher

// SuppressedInterrupt reports whether an os.Interrupt that kdlaunch just
// received is one it caused itself and should ignore. On Unix the break-in
// signals kd's own process group (or types into kd's pty), never kdlaunch's,
// so this is always false.
func SuppressedInterrupt() bool { return false }
