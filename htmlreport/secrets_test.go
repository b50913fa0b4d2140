//go:build !windows

package htmlreport_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPageHoldsNoSecret runs the main job as a user would (kdlaunch run
// against the fake kd, told to print every secret it was given, with a
// server password and a KDNET key), then makes the page from the log and
// the transcript the run wrote: neither secret may be in it, and it names
// both files.
func TestPageHoldsNoSecret(t *testing.T) {
	if testing.Short() {
		t.Skip("runs kdlaunch run")
	}
	dir := t.TempDir()
	kdlaunch, _ := buildTools(t, dir)
	fakekd := filepath.Join(dir, "fakekd")
	build := exec.Command("go", "build", "-o", fakekd, "./cmd/fakekd")
	build.Dir = repoRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build fakekd: %v\n%s", err, out)
	}
	const password, key = "Corr3ctHorseBatteryStaple", "1kdn3t.s3cr3t.k3y9.zz7q"
	cfg := filepath.Join(dir, "lab.toml")
	if err := os.WriteFile(cfg, []byte("[server]\npassword = \""+password+"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	logPath, transcript := filepath.Join(dir, "debug.log"), filepath.Join(dir, "transcript.log")
	run := exec.Command(kdlaunch, "run", "--config", cfg, "--kd", fakekd, "--log", logPath, "--transcript", transcript,
		"--tag", "Ddk", "--max-hits", "5", "--connect", "net:port=50000,key="+key)
	run.Env = append(os.Environ(), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"), "HOME="+dir,
		"FAKEKD_STATE="+filepath.Join(dir, "state.json"), "FAKEKD_ECHO_SECRETS=1",
		"FAKEKD_CONNECT_DELAY=200ms", "FAKEKD_HIT_INTERVAL=10ms")
	if out, err := run.CombinedOutput(); err != nil {
		t.Fatalf("kdlaunch run: %v\n%s", err, out)
	}
	logText, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(logText), password) && !strings.Contains(string(logText), key) {
		t.Log("the log holds neither secret (kd's own log, as the fake writes it); the page is checked all the same")
	}
	page := filepath.Join(dir, "report.html")
	if out, err := exec.Command(kdlaunch, "report", "--format", "html", "-o", page, logPath, transcript).CombinedOutput(); err != nil {
		t.Fatalf("kdlaunch report --format html: %v\n%s", err, out)
	}
	html, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{password, key} {
		if strings.Contains(string(html), secret) {
			t.Errorf("the page holds the secret %q", secret)
		}
	}
	for _, src := range []string{logPath, transcript} {
		if !strings.Contains(string(html), "<code>"+src+"</code>") {
			t.Errorf("the page does not say it was made from %s", src)
		}
	}
	if !strings.Contains(string(html), `<dd id="total">`) || strings.Contains(string(html), `<dd id="total">0<`) {
		t.Error("the page counts no stacks: the run made none?")
	}
}
