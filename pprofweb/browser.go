package pprofweb

import (
	"errors"
	"os"
	"os/exec"
	"runtime"
)

// openBrowser opens url in the desktop's browser: $BROWSER first, as pprof
// does, then the platform's opener. A machine without a desktop (no
// DISPLAY on Unix) gets an error, and the caller prints the URL instead.
func openBrowser(url string) error {
	var cmd *exec.Cmd
	switch {
	case os.Getenv("BROWSER") != "":
		cmd = exec.Command(os.Getenv("BROWSER"), url)
	case runtime.GOOS == "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	case runtime.GOOS == "darwin":
		cmd = exec.Command("open", url)
	case os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "":
		return errors.New("no desktop: DISPLAY is not set")
	default:
		cmd = exec.Command("xdg-open", url)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	// Reaped in the background: the browser outlives nothing of ours.
	go cmd.Wait()
	return nil
}
