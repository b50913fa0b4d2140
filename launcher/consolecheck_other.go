//go:build !windows

package launcher

// CheckConsole tells, before kd starts, whether mode can be had here. Off
// Windows kd always gets a pty and the mode is ignored.
func CheckConsole(mode ConsoleMode) error {
	_, err := ParseConsoleMode(string(mode))
	return err
}
