package cli

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/alecthomas/kong"

	"github.com/kdlaunch/kdlaunch/config"
)

const tsKey = "1a2b3c.4d5e6f.7g8h9i.0j1k2l"

// runTargetSetup parses `kdlaunch target-setup ARGS` with kong and runs it
// with captured output.
func runTargetSetup(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var root struct {
		TargetSetup TargetSetupCmd `cmd:"" name:"target-setup" help:"Target-side script."`
	}
	p, err := kong.New(&root, kong.Name("kdlaunch"), kong.Exit(func(int) { t.Fatal("kong exited") }))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Parse(append([]string{"target-setup"}, args...)); err != nil {
		return "", "", err
	}
	var out, errb bytes.Buffer
	err = root.TargetSetup.Run(streams{&out, &errb})
	return out.String(), errb.String(), err
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "lab.toml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestTargetSetupSerialFlags(t *testing.T) {
	out, _, err := runTargetSetup(t, "--port", "com1", "--baud", "115200", "--tag", "Ddk")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"bcdedit /debug on",
		"bcdedit /dbgsettings serial debugport:1 baudrate:115200",
		`/v PoolTag /t REG_DWORD /d 0x206b6444 /f`,
		"manage-bde -protectors -disable C: -RebootCount 1",
		"REM shutdown /r /t 0",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("script lacks %q", want)
		}
	}
	if strings.Contains(out, "\r\n") {
		t.Error("printed script has CRLF; only files get CRLF")
	}
}

func TestTargetSetupDefaultsMatchRun(t *testing.T) {
	// No connection flags and no config: the script matches run's default
	// connection.
	out, _, err := runTargetSetup(t)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "kd -k "+config.DefaultConnection) || !strings.Contains(out, "debugport:1 baudrate:19200") {
		t.Errorf("default script:\n%s", out)
	}
	// --port alone: baud 19200, as run.
	out, _, err = runTargetSetup(t, "--port", "com2")
	if err != nil || !strings.Contains(out, "debugport:2 baudrate:19200") {
		t.Errorf("--port com2: %v\n%s", err, out)
	}
}

func TestTargetSetupConfig(t *testing.T) {
	cfg := writeConfig(t, `[target]
connection = "net:port=50000"
key = "`+tsKey+`"
host_ip = "192.168.1.5"
tag = "Tag1"
`)
	out, errOut, err := runTargetSetup(t, "--config", cfg, "--format", "powershell")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "bcdedit /dbgsettings net hostip:192.168.1.5 port:50000 key:"+tsKey) {
		t.Errorf("script:\n%s", out)
	}
	if !strings.Contains(out, "-Name PoolTag -PropertyType DWord -Value 0x31676154") {
		t.Error("powershell PoolTag line missing")
	}
	if !strings.Contains(errOut, "holds the KDNET key") {
		t.Errorf("no key warning on stderr: %q", errOut)
	}
	// Flags override the file.
	out, _, err = runTargetSetup(t, "--config", cfg, "--host-ip", "10.1.1.1", "--tag", "Fred")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "hostip:10.1.1.1") || !strings.Contains(out, "0x64657246") || strings.Contains(out, "0x31676154") {
		t.Errorf("flags did not override the config:\n%s", out)
	}
	out, _, err = runTargetSetup(t, "--config", cfg, "--connect", "usb:targetname=box1")
	if err != nil || !strings.Contains(out, "bcdedit /dbgsettings usb targetname:box1") || strings.Contains(out, tsKey) {
		t.Errorf("--connect over config: %v\n%s", err, out)
	}
}

func TestTargetSetupOutputFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "setup.cmd")
	if err := os.WriteFile(path, []byte("old contents"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := runTargetSetup(t, "--connect", "net:port=50000,key="+tsKey, "--host-ip", "192.168.1.5", "-o", path)
	if err != nil {
		t.Fatal(err)
	}
	if out != "" {
		t.Errorf("with -o nothing goes to stdout, got %q", out)
	}
	if !strings.Contains(errOut, "mode 0600") {
		t.Errorf("stderr = %q", errOut)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if !strings.Contains(s, "key:"+tsKey+" || exit /b 1\r\n") || strings.Contains(strings.ReplaceAll(s, "\r\n", ""), "\n") {
		t.Errorf("file is not the CRLF script with the key:\n%q", s)
	}
	if runtime.GOOS != "windows" {
		fi, _ := os.Stat(path)
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("mode %o, want 0600", fi.Mode().Perm())
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}

	// Without a key: an ordinary file.
	plain := filepath.Join(dir, "serial.ps1")
	if _, _, err := runTargetSetup(t, "--port", "com1", "--baud", "115200", "--format", "powershell", "-o", plain); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		fi, _ := os.Stat(plain)
		if fi.Mode().Perm() != 0o644 {
			t.Errorf("mode %o, want 0644", fi.Mode().Perm())
		}
	}

	// A failing generation leaves an existing output untouched.
	if _, _, err := runTargetSetup(t, "--connect", "tcp:port=1", "-o", path); err == nil {
		t.Fatal("tcp accepted")
	}
	if b2, _ := os.ReadFile(path); !bytes.Equal(b, b2) {
		t.Error("existing output changed by a failed run")
	}
}

func TestTargetSetupLegacy(t *testing.T) {
	out, _, err := runTargetSetup(t, "--legacy", "--port", "com1", "--baud", "19200", "--tag", "Ddk")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, `multi(0)disk(0)rdisk(0)partition(1)\WINDOWS="Windows Server 2003" /fastdetect /debug /debugport=com1 /baudrate=19200`) {
		t.Errorf("legacy:\n%s", out)
	}
	if _, _, err := runTargetSetup(t, "--legacy", "--format", "powershell"); err == nil || !strings.Contains(err.Error(), "--legacy") {
		t.Errorf("--legacy --format powershell: %v", err)
	}
}

func TestTargetSetupWriteConfig(t *testing.T) {
	dir := t.TempDir()
	lab := filepath.Join(dir, "lab.toml")
	_, errOut, err := runTargetSetup(t, "--connect", "net:port=50001,key="+tsKey, "--host-ip", "10.0.0.1", "--tag", "Ddk", "--strategy", "pool-hit-tag", "--write-config", lab)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut, "wrote "+lab) {
		t.Errorf("stderr = %q", errOut)
	}
	cfg, err := config.Load(lab)
	if err != nil {
		t.Fatalf("run cannot read the written config: %v", err)
	}
	if cfg.Target.Connection != "net:port=50001,key="+tsKey || cfg.Target.HostIP != "10.0.0.1" || cfg.Target.Tag != "Ddk" || cfg.Target.Strategy != "pool-hit-tag" {
		t.Errorf("written [target] = %+v", cfg.Target)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("written config does not validate: %v", err)
	}
	if runtime.GOOS != "windows" {
		if fi, _ := os.Stat(lab); fi.Mode().Perm() != 0o600 {
			t.Errorf("config with a key has mode %o, want 0600", fi.Mode().Perm())
		}
	}
	// Reading it back gives the same script.
	a, _, err := runTargetSetup(t, "--config", lab)
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ := runTargetSetup(t, "--connect", "net:port=50001,key="+tsKey, "--host-ip", "10.0.0.1", "--tag", "Ddk", "--strategy", "pool-hit-tag")
	if a != b {
		t.Error("the script from the written config differs from the one from flags")
	}
	// Never overwritten.
	before, _ := os.ReadFile(lab)
	_, _, err = runTargetSetup(t, "--port", "com1", "--write-config", lab)
	if err == nil || !strings.Contains(err.Error(), "the file exists") {
		t.Errorf("overwrite: %v", err)
	}
	if after, _ := os.ReadFile(lab); !bytes.Equal(before, after) {
		t.Error("existing config changed")
	}

	// Serial, no key: readable file, and no note about a key.
	serial := filepath.Join(dir, "serial.toml")
	_, errOut, err = runTargetSetup(t, "--port", "com2", "--baud", "115200", "--tag", "Tag1", "--write-config", serial)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(errOut, "KDNET") {
		t.Errorf("stderr = %q", errOut)
	}
	cfg, err = config.Load(serial)
	if err != nil || cfg.Target.Connection != "com:port=com2,baud=115200" || cfg.Target.Tag != "Tag1" {
		t.Errorf("serial config: %+v %v", cfg, err)
	}
	// KDNET without a key: the note says to add it.
	nokey := filepath.Join(dir, "nokey.toml")
	_, errOut, err = runTargetSetup(t, "--connect", "net:port=50001", "--host-ip", "10.0.0.1", "--write-config", nokey)
	if err != nil || !strings.Contains(errOut, "no KDNET key yet") {
		t.Errorf("no key: %v %q", err, errOut)
	}
}

func TestTargetSetupRejects(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--connect", "net:port=50000,key=" + tsKey}, "--host-ip (or target.host_ip) is required for a network (KDNET) connection: the target connects to this host"},
		{[]string{"--connect", "tcp:port=5005"}, "not supported"},
		{[]string{"--connect", "com:port=com1,baud=115200", "--port", "com2"}, "not both"},
		{[]string{"--port", "com1", "--baud", "1234"}, `--baud 1234: kd takes 9600`},
		{[]string{"--port", "1"}, `port "1"`},
		{[]string{"--tag", "Ddk!x"}, "5 characters"},
		{[]string{"--tag", "N*x"}, "last character"},
		{[]string{"--tag", "a;b"}, "separates kd commands"},
		{[]string{"--strategy", "nope"}, `strategy "nope"`},
		{[]string{"--format", "bash"}, "--format"},
		{[]string{"--connect", "usb:targetname=x", "--legacy"}, "serial only"},
		{[]string{"--config", "/nonexistent/lab.toml"}, "read config"},
	}
	for _, tc := range tests {
		_, _, err := runTargetSetup(t, tc.args...)
		if err == nil {
			t.Errorf("%q: accepted", tc.args)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %q lacks %q", tc.args, err, tc.want)
		}
		if strings.Contains(err.Error(), tsKey) {
			t.Errorf("%q: error shows the key", tc.args)
		}
	}
	_, _, err := runTargetSetup(t, "--tag", "Ddk!x")
	if !errors.Is(err, config.ErrInvalid) {
		t.Errorf("a bad option is not config.ErrInvalid (exit 2): %v", err)
	}
}

// A bad -o or --write-config is refused before either file is written, with
// an error that names the file, not a temporary one.
func TestTargetSetupBadOutputWritesNothing(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "lab.toml")
	script := filepath.Join(dir, "setup.cmd")
	os.WriteFile(filepath.Join(dir, "f"), nil, 0o644)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--write-config", cfg, "-o", dir}, "-o " + dir + ": is a folder"},
		{[]string{"--write-config", cfg, "-o", filepath.Join(dir, "f", "x.cmd")}, "is not a folder"},
		{[]string{"--write-config", dir, "-o", script}, "--write-config " + dir + ": is a folder"},
	}
	for _, tc := range tests {
		_, _, err := runTargetSetup(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), ".tmp") {
			t.Errorf("%q: %v, want %q", tc.args, err, tc.want)
		}
		for _, p := range []string{cfg, script} {
			if _, err := os.Stat(p); !os.IsNotExist(err) {
				t.Errorf("%q: %s was written", tc.args, filepath.Base(p))
			}
		}
	}
}
