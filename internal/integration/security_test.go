//go:build !windows

package integration

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The server password kdlaunch generates is on kd's command line and
// nowhere else: not on the terminal, stderr, the transcript or the summary.
// The fake kd is told to print every secret it was given, to prove the
// redaction.
func TestSecretsNeverLeak(t *testing.T) {
	key := "k1secretpart.k2secretpart.k3secretpart.k4secretpart"
	r := start(t, map[string]string{"FAKEKD_ECHO_SECRETS": "1"}, "--tag", "Ddk", "--max-hits", "3",
		"--connect", "net:port=50000,key="+key, "--log-level", "trace")
	if code := r.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("exit %d\n%s", code, r.stderr.String())
	}
	s := r.fake(t)
	argv := strings.Join(s.Argv, " ")
	m := regexp.MustCompile(`-server npipe:pipe=livedebug,password=(\S+)`).FindStringSubmatch(argv)
	if m == nil {
		t.Fatalf("no password on kd's command line: %q", argv)
	}
	password := m[1]
	if len(password) < 20 {
		t.Errorf("password %d characters, want a strong one", len(password))
	}
	if !strings.Contains(argv, "key="+key) {
		t.Errorf("KDNET key not on kd's command line: %q", argv)
	}
	outputs := map[string]string{"stdout": r.stdout.String(), "stderr": r.stderr.String(), "transcript": r.read(t, r.transcript)}
	for name, out := range outputs {
		for _, secret := range []string{password, key} {
			if strings.Contains(out, secret) {
				t.Errorf("%s leaks a secret", name)
			}
		}
		if !strings.Contains(out, "***") && name != "stderr" {
			t.Errorf("%s shows no masked secret: was FAKEKD_ECHO_SECRETS honoured?", name)
		}
	}
	// The client line, with the password, is in a file only the user reads.
	cm := regexp.MustCompile(`is in (\S+)`).FindStringSubmatch(r.stderr.String())
	if cm == nil {
		t.Fatalf("client file not named:\n%s", r.stderr.String())
	}
	fi, err := os.Stat(cm[1])
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("client file mode %04o, want 0600", fi.Mode().Perm())
	}
	if b, _ := os.ReadFile(cm[1]); !strings.Contains(string(b), "kd -remote npipe:server=") || !strings.Contains(string(b), "password="+password) {
		t.Errorf("client file %q", b)
	}
}

// A configured password is used as it is, and masked too.
func TestConfiguredPassword(t *testing.T) {
	short(t)
	cfg := writeConfig(t, "[server]\npassword = \"Corr3ctHorseBattery\"\nclient_file = \"CLIENT\"\n")
	client := filepath.Join(t.TempDir(), "client.txt")
	body, _ := os.ReadFile(cfg)
	if err := os.WriteFile(cfg, []byte(strings.Replace(string(body), "CLIENT", client, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	r := start(t, map[string]string{"FAKEKD_ECHO_SECRETS": "1"}, "--config", cfg, "--tag", "Ddk", "--max-hits", "2")
	if code := r.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("exit %d\n%s", code, r.stderr.String())
	}
	if !strings.Contains(strings.Join(r.fake(t).Argv, " "), "password=Corr3ctHorseBattery") {
		t.Errorf("configured password not used")
	}
	for _, out := range []string{r.stdout.String(), r.stderr.String(), r.read(t, r.transcript)} {
		if strings.Contains(out, "Corr3ctHorseBattery") {
			t.Errorf("configured password leaked")
		}
	}
	if _, err := os.Stat(client); err != nil {
		t.Errorf("client file not written where configured: %v", err)
	}
}

// An unauthenticated server needs the explicit opt-in, and warns.
func TestUnauthenticatedServer(t *testing.T) {
	short(t)
	cfg := writeConfig(t, "[server]\nallow_unauthenticated_server = true\n")
	r := start(t, nil, "--config", cfg, "--tag", "Ddk", "--max-hits", "2")
	if code := r.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("exit %d\n%s", code, r.stderr.String())
	}
	if strings.Contains(strings.Join(r.fake(t).Argv, " "), "password=") {
		t.Errorf("password set although unauthenticated was asked for")
	}
	if !strings.Contains(r.stderr.String(), "has no password") {
		t.Errorf("no warning for an unauthenticated server")
	}
	// server = "none": no -server at all.
	r = start(t, nil, "--server", "none", "--tag", "Ddk", "--max-hits", "2")
	if code := r.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("exit %d\n%s", code, r.stderr.String())
	}
	if strings.Contains(strings.Join(r.fake(t).Argv, " "), "-server") {
		t.Errorf("-server passed with --server none")
	}
}

// A config that holds a secret and is readable by others draws a warning.
func TestReadableSecretConfigWarns(t *testing.T) {
	cfg := writeConfig(t, "[target]\nconnection = \"net:port=50000,key=abc.def.ghi.jkl\"\n")
	if err := os.Chmod(cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := execCmd(t, "run", "--kd", fakekdCmd, "--config", cfg, "--dry-run", "--tag", "Ddk", "--log", filepath.Join(t.TempDir(), "d.log"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !strings.Contains(string(out), "chmod 600 "+cfg) || strings.Contains(string(out), "abc.def") {
		t.Errorf("output %q: want the chmod warning and no key", out)
	}
}

// Config values cannot inject kd options or commands.
func TestInjectionRefused(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"tag with quote", "[target]\ntag = 'Dd\"k'\n", "tag"},
		{"tag with semicolon", "[target]\ntag = \"D;g\"\n", "tag"},
		{"symbol path newline", "[kd]\nsymbol_path = \"srv*\\n.reboot\"\n", "line break"},
		{"command newline", "[script]\ncommands = [\"bl\\ng\"]\n", "line break"},
		{"command ctrl-b", "[script]\ncommands = [\"\\u0002\"]\n", "control character"},
		{"connection option", "[target]\nconnection = \"com:port=com1 -server tcp:port=1\"\n", "target.connection"},
		{"transport option", "[server]\ntransport = \"npipe:pipe=x -noio\"\n", "server.transport"},
		{"env injection", "[env]\n\"A=B\" = \"x\"\n", "environment variable name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := writeConfig(t, tt.body)
			cmd := execCmd(t, "run", "--kd", fakekdCmd, "--config", cfg, "--tag", "Ddk", "--log", filepath.Join(t.TempDir(), "d.log"))
			if strings.Contains(tt.body, "tag =") {
				cmd = execCmd(t, "run", "--kd", fakekdCmd, "--config", cfg, "--log", filepath.Join(t.TempDir(), "d.log"))
			}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Run(); exitCode(err) == 0 {
				t.Fatal("accepted")
			}
			if !strings.Contains(stderr.String(), tt.want) || strings.Count(strings.TrimSpace(stderr.String()), "\n") != 0 {
				t.Errorf("stderr %q: want one line naming %q", stderr.String(), tt.want)
			}
		})
	}
}
