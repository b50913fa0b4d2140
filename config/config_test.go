package config

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/kdlaunch/kdlaunch/script"
)

func writeFile(t *testing.T, body string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "lab.toml")
	if err := os.WriteFile(p, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// The shipped example must load and validate as it is.
func TestExampleLoads(t *testing.T) {
	for _, name := range []string{"../config.example.toml", "../config.demo.toml"} {
		c, err := Load(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
}

func TestLoad(t *testing.T) {
	p := writeFile(t, `
[kd]
path = 'C:\Program Files (x86)\Windows Kits\10\Debuggers\x64\kd.exe'
args = ["-v"]
log = 'c:\debug\debug.log'
[target]
connection = "net:port=50000,key=1.2.3.4"
tag = "Ddk"
[limits]
max_hits = 40
duration = "1h30m"
[env]
KDQUIET = "1"
`, 0o600)
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Limits.Duration.Duration != 90*time.Minute || c.Limits.MaxHits != 40 || c.Target.Tag != "Ddk" || c.Env["KDQUIET"] != "1" {
		t.Errorf("loaded %+v", c)
	}
	// Defaults survive a file that does not mention them.
	if c.Server.Transport != DefaultTransport || c.Supervise.BreakRetries != 5 {
		t.Errorf("defaults lost: %+v", c.Server)
	}
	if got := c.Secrets(); len(got) != 1 || got[0] != "1.2.3.4" {
		t.Errorf("secrets %q, want the KDNET key", got)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name, body, want string
		unknown          bool
	}{
		{"syntax", "[kd]\nlog = \"a\"\n[target\n", "line 3", false},
		{"unterminated", "[kd]\nlog = \"a\n", "line 2", false},
		{"unknown key", "[kd]\nlgo = \"x\"\n", "kd.lgo", true},
		{"unknown table", "[kdd]\npath = \"x\"\n", "kdd", true},
		{"table in upper case", "[KD]\nlog = \"x\"\n", `write "kd"`, true},
		{"key in mixed case", "[kd]\nLog = \"x\"\n", `write "kd.log"`, true},
		{"env table in upper case", "[Env]\nA = \"x\"\n", `write "env"`, true},
		{"bad duration", "[limits]\nduration = \"soon\"\n", "bad duration", false},
		{"negative duration", "[limits]\nduration = \"-5s\"\n", "negative", false},
		{"wrong type", "[limits]\nmax_hits = \"many\"\n", "max_hits", false},
		{"wrong type says what to give", "[kd]\nargs = \"-v\"\n", `line 2: kd.args is a TOML string: give a list of strings in quotes, like ["-v"]`, false},
		{"float for integer", "[limits]\nmax_hits = 1.5\n", "limits.max_hits is a TOML float: give a whole number", false},
		{"string for boolean", "[kd]\nfresh_log = \"yes\"\n", "give true or false", false},
		{"value for table", "kd = \"x\"\n", "kd is a TOML string: give a table, [kd]", false},
		{"env not a table", "env = \"x\"\n", "env is a TOML string: give a table", false},
		{"env an array", "env = [\"A=1\"]\n", "env is a TOML array: give a table", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(writeFile(t, tt.body, 0o600))
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q: want one line naming %q", err, tt.want)
			}
			var se *SyntaxError
			if !tt.unknown && !errors.As(err, &se) {
				t.Errorf("error %v is not a *SyntaxError (the CLI exits 2 on it)", err)
			}
			if errors.Is(err, ErrUnknownKey) != tt.unknown {
				t.Errorf("errors.Is(ErrUnknownKey) = %v, want %v", !tt.unknown, tt.unknown)
			}
		})
	}
	if _, err := Load(filepath.Join(t.TempDir(), "none.toml")); err == nil || strings.Count(err.Error(), "none.toml") != 1 {
		t.Errorf("missing file: %v, want the path named once", err)
	}
	if _, err := Load(t.TempDir()); err == nil || !strings.Contains(err.Error(), "is a folder") {
		t.Errorf("folder: %v", err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want string // "" = valid
	}{
		{"default", func(*Config) {}, ""},
		{"newline in symbol path", func(c *Config) { c.KD.SymbolPath = "srv*\n.reboot" }, "line break"},
		{"control char in arg", func(c *Config) { c.KD.Args = []string{"-v\x03"} }, "control character"},
		{"newline in env", func(c *Config) { c.Env = map[string]string{"A": "x\ny"} }, "line break"},
		{"bad env name", func(c *Config) { c.Env = map[string]string{"A B": "x"} }, "environment variable name"},
		{"env log var", func(c *Config) { c.Env = map[string]string{"_NT_DEBUG_LOG_FILE_OPEN": "x"} }, "kd.log"},
		{"transport spaces", func(c *Config) { c.Server.Transport = "npipe:pipe=a -b" }, "server.transport"},
		{"transport password", func(c *Config) { c.Server.Transport = "npipe:pipe=a,password=hunter2" }, "server.password"},
		{"transport password masked", func(c *Config) { c.Server.Transport = "npipe:pipe=a,password=hunter2" }, "***"},
		{"transport unknown", func(c *Config) { c.Server.Transport = "http:port=1" }, "server.transport"},
		{"transport none", func(c *Config) { c.Server.Transport = "none" }, ""},
		{"password comma", func(c *Config) { c.Server.Password = "a,b" }, "server.password"},
		{"connection spaces", func(c *Config) { c.Target.Connection = "com:port=com1 -b" }, "target.connection"},
		{"connection unknown", func(c *Config) { c.Target.Connection = "serial:com1" }, "target.connection"},
		{"net without key", func(c *Config) { c.Target.Connection = "net:port=50000" }, "key"},
		{"net key separate", func(c *Config) { c.Target.Connection = "net:port=50000"; c.Target.Key = "1.2.3.4" }, ""},
		{"net port not a number", func(c *Config) { c.Target.Connection = "net:port=abc,key=s3cr3t" }, "port=abc is not a number"},
		{"net port too big", func(c *Config) { c.Target.Connection = "net:port=70000,key=s3cr3t" }, "from 1 to 65535"},
		{"com baud not a number", func(c *Config) { c.Target.Connection = "com:port=com1,baud=fast" }, "baud=fast"},
		{"tcp server port", func(c *Config) { c.Server.Transport = "tcp:port=x" }, "port=x"},
		{"tcp server port range", func(c *Config) { c.Server.Transport = "tcp:port=5000:5010" }, ""},
		{"pipe connection", func(c *Config) { c.Target.Connection = `com:pipe,port=\\.\pipe\com_1,resets=0,reconnect` }, ""},
		{"usb", func(c *Config) { c.Target.Connection = "usb:targetname=box" }, ""},
		{"strategy", func(c *Config) { c.Target.Strategy = "magic" }, "target.strategy"},
		{"pool-hit-tag needs tag", func(c *Config) { c.Target.Strategy = script.StrategyPoolHitTag }, "needs a tag"},
		{"leaks needs tag", func(c *Config) { c.Target.Strategy = script.StrategyLeaks }, "needs a tag"},
		{"leaks with a tag", func(c *Config) { c.Target.Strategy, c.Target.Tag = script.StrategyLeaks, "Ddk" }, ""},
		{"on_break_failure", func(c *Config) { c.Supervise.OnBreakFailure = "panic" }, "on_break_failure"},
		{"on_unexpected_halt", func(c *Config) { c.Supervise.UnexpectedHalts = "x" }, "on_unexpected_halt"},
		{"max hits", func(c *Config) { c.Limits.MaxHits = -1 }, "max_hits"},
		{"max rate", func(c *Config) { c.Limits.MaxRate = -1 }, "max_rate"},
		{"max rate NaN", func(c *Config) { c.Limits.MaxRate = math.NaN() }, "max_rate"},
		{"max rate Inf", func(c *Config) { c.Limits.MaxRate = math.Inf(1) }, "max_rate"},
		{"max rate without window", func(c *Config) { c.Limits.MaxRate = 5; c.Limits.RateWindow.Duration = 0 }, "rate_window"},
		{"no window without max rate", func(c *Config) { c.Limits.RateWindow.Duration = 0 }, ""},
		{"empty log", func(c *Config) { c.KD.Log = "" }, "kd.log"},
		{"zero break timeout", func(c *Config) { c.Supervise.BreakTimeout.Duration = 0 }, "break_timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.edit(c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v, want ErrInvalid naming %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error leaks a secret: %v", err)
			}
		})
	}
}

func TestConnectionString(t *testing.T) {
	c := Default()
	c.Target.Connection, c.Target.Key = "net:port=50000", "k3y"
	if got := c.ConnectionString(); got != "net:port=50000,key=k3y" {
		t.Errorf("got %q", got)
	}
	c.Target.Connection, c.Target.Key = "net:port=50000,key=abc", ""
	if got := c.NetKey(); got != "abc" {
		t.Errorf("NetKey %q", got)
	}
}

func TestPermissionWarning(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix modes")
	}
	secret := "[server]\npassword = \"s3cret\"\n"
	tests := []struct {
		name string
		body string
		mode os.FileMode
		warn bool
	}{
		{"secret readable", secret, 0o644, true},
		{"secret private", secret, 0o600, false},
		{"kdnet key readable", "[target]\nconnection = \"net:port=50000,key=1.2.3.4\"\n", 0o640, true},
		{"no secret readable", "[kd]\nlog = \"x.log\"\n", 0o644, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeFile(t, tt.body, tt.mode)
			c, err := Load(p)
			if err != nil {
				t.Fatal(err)
			}
			w := c.PermissionWarning()
			if (w != "") != tt.warn {
				t.Fatalf("warning %q, want warn=%v", w, tt.warn)
			}
			if tt.warn && (!strings.Contains(w, p) || !strings.Contains(w, "chmod 600") || strings.Contains(w, "s3cret")) {
				t.Errorf("warning %q must name the file and the fix, not the secret", w)
			}
		})
	}
}

func FuzzLoad(f *testing.F) {
	f.Add("[kd]\nlog = \"a\"\n")
	f.Add("[target]\nconnection = \"net:port=1,key=2\"\n[limits]\nduration = \"1s\"\n")
	f.Add("[[x]]\n")
	f.Fuzz(func(t *testing.T, body string) {
		p := filepath.Join(t.TempDir(), "f.toml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(p)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error: %q", err)
			}
			return
		}
		_ = c.Validate()
	})
}
