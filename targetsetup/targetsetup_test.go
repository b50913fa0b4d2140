package targetsetup

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kdlaunch/kdlaunch/pooltag"
	"github.com/kdlaunch/kdlaunch/script"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const testKey = "2steg4fzbj2sz.23418vzkd4ko3.1g34ou07z4pev.1sp3yo9yz874p"

// golden compares got with testdata/name.golden, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./targetsetup -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s (run go test ./targetsetup -update if the change is intended)\n--- got ---\n%s", name, path, got)
	}
}

func TestGolden(t *testing.T) {
	tests := []struct {
		name   string
		opts   Options
		format string
	}{
		{"serial_cmd", Options{Connection: "com:port=com1,baud=115200", Tag: "Ddk"}, FormatCmd},
		{"serial_powershell", Options{Connection: "com:port=com1,baud=115200", Tag: "Ddk"}, FormatPowerShell},
		{"serial_com2_underruns_cmd", Options{Connection: `com:port=\\.\COM2,baud=57600`, Tag: "Tag1", Underruns: true}, ""},
		{"net_cmd", Options{Connection: "net:port=50000,key=" + testKey, HostIP: "192.168.0.10", Tag: "Tag1"}, FormatCmd},
		{"net_powershell", Options{Connection: "net:port=50000", Key: testKey, HostIP: "192.168.0.10", Tag: "Tag1"}, FormatPowerShell},
		{"net_nokey_cmd", Options{Connection: "net:port=50005,target=10.0.0.2", HostIP: "10.0.0.1", Tag: "Fred"}, FormatCmd},
		{"usb_cmd", Options{Connection: "usb:targetname=leaky01", Tag: "N??s"}, FormatCmd},
		{"pipe_cmd", Options{Connection: `com:pipe,port=\\.\pipe\com_1,resets=0,reconnect`, Tag: "Nt*"}, FormatCmd},
		{"pooltaghit_cmd", Options{Connection: "com:port=com1,baud=115200", Tag: "Ddk", Strategy: "pool-hit-tag"}, FormatCmd},
		{"pooltaghit_powershell", Options{Connection: "com:port=com1,baud=115200", Tag: "Ddk", Strategy: "pool-hit-tag"}, FormatPowerShell},
		{"notag_cmd", Options{Connection: "com:port=com1,baud=19200"}, FormatCmd},
		{"notag_powershell", Options{Connection: "com:port=com1,baud=19200"}, FormatPowerShell},
		{"percent_cmd", Options{Connection: "com:port=com1,baud=115200", Tag: "a%~"}, FormatCmd},
		{"legacy_bootini", Options{Connection: "com:port=com1,baud=19200", Tag: "Ddk", Legacy: true}, ""},
		{"legacy_explicit_bootini", Options{Connection: "com:port=com2,baud=115200", Tag: "Ddk", Strategy: "pool-hit-tag"}, FormatBootIni},
		{"remote_pipe_powershell", Options{Connection: `com:pipe,port=\\vmhost\pipe\com_1,baud=57600`, Tag: "Ddk"}, FormatPowerShell},
		{"legacy_pipe_notag_bootini", Options{Connection: `com:pipe,port=\\.\pipe\xp`, Legacy: true}, FormatCmd},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.opts.Script(tc.format)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name, got)
		})
	}
}

func TestScriptContent(t *testing.T) {
	s, err := Options{Connection: "com:port=com1,baud=115200", Tag: "Ddk"}.Script(FormatCmd)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"bcdedit /debug on",
		"bcdedit /dbgsettings serial debugport:1 baudrate:115200",
		`reg add "HKLM\SYSTEM\CurrentControlSet\Control\Session Manager\Memory Management" /v PoolTag /t REG_DWORD /d 0x206b6444 /f`,
		"/v PoolTagOverruns /t REG_DWORD /d 1 /f",
		"REM   manage-bde -protectors -disable C: -RebootCount 1",
		"REM shutdown /r /t 0",
		"bcdedit /dbgsettings\n",
		`reg query "HKLM\SYSTEM\CurrentControlSet\Control\Session Manager\Memory Management" /v PoolTag`,
		`gflags /r +spp "Ddk "`,
		`gflags /k +spp "Ddk "`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("cmd script lacks %q", want)
		}
	}
	n, err := Options{Connection: "net:port=50000,key=" + testKey, HostIP: "192.168.0.10"}.Script(FormatCmd)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(n, "bcdedit /dbgsettings net hostip:192.168.0.10 port:50000 key:"+testKey) {
		t.Error("net script lacks the bcdedit line with the key")
	}
	if strings.Count(n, testKey) != 1 {
		t.Errorf("the key appears %d times; want once, on the bcdedit line", strings.Count(n, testKey))
	}
	if !strings.Contains(n, "WARNING: this file holds the KDNET key") {
		t.Error("net script does not warn that it holds the key")
	}
	u, err := Options{Connection: "usb:targetname=T1"}.Script(FormatPowerShell)
	if err != nil || !strings.Contains(u, "bcdedit /dbgsettings usb targetname:T1") {
		t.Errorf("usb: %v\n%s", err, u)
	}
	ps, _ := Options{Connection: "com:port=com1,baud=115200", Tag: "Ddk"}.Script(FormatPowerShell)
	if !strings.Contains(ps, "New-ItemProperty -Path $mm -Name PoolTag -PropertyType DWord -Value 0x206b6444 -Force") {
		t.Error("powershell script lacks New-ItemProperty PoolTag")
	}
	b, _ := Options{Connection: "com:port=com1,baud=19200", Tag: "Ddk", Legacy: true}.Script("")
	if !strings.Contains(b, `multi(0)disk(0)rdisk(0)partition(1)\WINDOWS="Windows Server 2003" /fastdetect /debug /debugport=com1 /baudrate=19200`) {
		t.Error("boot.ini entry missing")
	}
}

func TestHoldsKey(t *testing.T) {
	if !(Options{Connection: "net:port=50000,key=1.2.3.4", HostIP: "10.0.0.1"}).HoldsKey() {
		t.Error("key in connection")
	}
	if !(Options{Connection: "net:port=50000", Key: "1.2.3.4", HostIP: "10.0.0.1"}).HoldsKey() {
		t.Error("key apart")
	}
	if (Options{Connection: "net:port=50000", HostIP: "10.0.0.1"}).HoldsKey() {
		t.Error("no key")
	}
	if (Options{Connection: "com:port=com1,baud=115200", Key: "1.2.3.4"}).HoldsKey() {
		t.Error("serial never holds the key")
	}
}

func TestRejects(t *testing.T) {
	tests := []struct {
		name   string
		opts   Options
		format string
		want   string // substring of the error
	}{
		{"empty connection", Options{}, "", "no debug connection"},
		{"no colon", Options{Connection: "com1"}, "", "not a kd -k connection string"},
		{"tcp", Options{Connection: "tcp:port=5005"}, "", `transport "tcp" is not supported`},
		{"1394", Options{Connection: "1394:channel=20"}, "", `net:port=PORT,key=KEY`},
		{"com ipport", Options{Connection: "com:ipport=4000,port=10.0.0.5"}, "", "com:ipport"},
		{"com modem", Options{Connection: "com:modem"}, "", "com:modem"},
		{"com no baud", Options{Connection: "com:port=com1"}, "", "add baud=RATE"},
		{"com bad baud", Options{Connection: "com:port=com1,baud=12345"}, "", `baud=12345`},
		{"com bare number", Options{Connection: "com:port=1,baud=115200"}, "", `port=1:`},
		{"com0", Options{Connection: "com:port=com0,baud=115200"}, "", "no COM port 0"},
		{"com unknown option", Options{Connection: "com:port=com1,baud=115200,parity=odd"}, "", `unknown option "parity"`},
		{"pipe no port", Options{Connection: "com:pipe"}, "", `port=\\.\pipe\NAME`},
		{"pipe bad", Options{Connection: `com:pipe,port=com_1`}, "", `port=\\.\pipe\NAME`},
		{"net no port", Options{Connection: "net:key=1.2.3.4", HostIP: "10.0.0.1"}, "", "give port=PORT"},
		{"net bad port", Options{Connection: "net:port=70000", HostIP: "10.0.0.1"}, "", "give port=PORT"},
		{"net bad key", Options{Connection: "net:port=50000,key=a&b", HostIP: "10.0.0.1"}, "", "four dot-separated parts"},
		{"net bad key apart", Options{Connection: "net:port=50000", Key: "x y", HostIP: "10.0.0.1"}, "", "four dot-separated parts"},
		{"net two keys", Options{Connection: "net:port=50000,key=1.2.3.4", Key: "5.6.7.8", HostIP: "10.0.0.1"}, "", "differ"},
		{"net no host ip", Options{Connection: "net:port=50000,key=1.2.3.4"}, "", "--host-ip (or target.host_ip) is required for a network (KDNET) connection: the target connects to this host"},
		{"net bad host ip", Options{Connection: "net:port=50000,key=1.2.3.4", HostIP: "myhost"}, "", "not an IPv4 address"},
		{"net ipv6 host", Options{Connection: "net:port=50000,key=1.2.3.4", HostIP: "fe80::1"}, "", "not an IPv4 address"},
		{"usb no name", Options{Connection: "usb:"}, "", "targetname=NAME"},
		{"usb bad name", Options{Connection: "usb:targetname=a b"}, "", "targetname=NAME"},
		{"bad tag", Options{Connection: "com:port=com1,baud=115200", Tag: "Ddk!x"}, "", "5 characters"},
		{"kd syntax tag", Options{Connection: "com:port=com1,baud=115200", Tag: "a;b"}, "", "separates kd commands"},
		{"wildcard pool-hit-tag", Options{Connection: "com:port=com1,baud=115200", Tag: "Nt*", Strategy: "pool-hit-tag"}, "", "compares the tag exactly"},
		{"bad strategy", Options{Connection: "com:port=com1,baud=115200", Strategy: "verifier"}, "", `strategy "verifier"`},
		{"bad format", Options{Connection: "com:port=com1,baud=115200"}, "bash", `format "bash"`},
		{"legacy powershell", Options{Connection: "com:port=com1,baud=115200", Legacy: true}, FormatPowerShell, "drop --format powershell or --legacy"},
		{"legacy net", Options{Connection: "net:port=50000,key=1.2.3.4", HostIP: "10.0.0.1", Legacy: true}, "", "serial only"},
		{"legacy usb", Options{Connection: "usb:targetname=x"}, FormatBootIni, "serial only"},
	}
	for _, tc := range tests {
		_, err := tc.opts.Script(tc.format)
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q lacks %q", tc.name, err, tc.want)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error is not one line: %q", tc.name, err)
		}
		for _, secret := range []string{"1.2.3.4", "5.6.7.8", "a&b"} {
			if strings.Contains(tc.opts.Connection+tc.opts.Key, secret) && strings.Contains(err.Error(), secret) {
				t.Errorf("%s: error shows the key: %q", tc.name, err)
			}
		}
	}
}

func TestRedacted(t *testing.T) {
	c, err := ParseConnection("net:port=50000,key=1.2.3.4,target=10.0.0.2")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Redacted("***"); got != "net:port=50000,key=***,target=10.0.0.2" {
		t.Errorf("Redacted = %q", got)
	}
	c, err = ParseConnection(`com:pipe,port=\\.\pipe\com_1,resets=0,reconnect`)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Redacted("***"); got != `com:pipe,port=\\.\pipe\com_1,resets=0,reconnect` {
		t.Errorf("Redacted = %q", got)
	}
	if c.Kind != KindSerial || c.COMPort != 1 || c.Baud != 115200 || c.Pipe != `\\.\pipe\com_1` {
		t.Errorf("pipe parsed as %+v", c)
	}
	c, err = ParseConnection("COM:Port=COM3,Baud=9600")
	if err != nil || c.COMPort != 3 || c.Baud != 9600 {
		t.Errorf("upper case: %+v %v", c, err)
	}
}

func TestCRLF(t *testing.T) {
	if got := CRLF("a\nb\r\nc\n"); got != "a\r\nb\r\nc\r\n" {
		t.Errorf("CRLF = %q", got)
	}
}

func TestRegFile(t *testing.T) {
	text := RegFile(0x206b6444, false, `pool tag "Ddk "`)
	golden(t, "regfile_reg", text)
	b := EncodeRegFile(text)
	if b[0] != 0xff || b[1] != 0xfe {
		t.Fatal("no UTF-16LE BOM")
	}
	if b[2] != 'W' || b[3] != 0 {
		t.Errorf("not UTF-16LE: % x", b[:8])
	}
	if !strings.Contains(RegFile(0x20, true, "a size range"), `"PoolTagOverruns"=dword:00000000`) {
		t.Error("underruns not written as 0")
	}
}

func TestRegAddAndGFlags(t *testing.T) {
	lines := RegAddLines(0x206b6444, false)
	want := []string{
		`reg add "HKLM\SYSTEM\CurrentControlSet\Control\Session Manager\Memory Management" /v PoolTag /t REG_DWORD /d 0x206b6444 /f`,
		`reg add "HKLM\SYSTEM\CurrentControlSet\Control\Session Manager\Memory Management" /v PoolTagOverruns /t REG_DWORD /d 1 /f`,
	}
	if len(lines) != 2 || lines[0] != want[0] || lines[1] != want[1] {
		t.Errorf("RegAddLines = %q", lines)
	}
	for _, tc := range []struct{ tag, shell, want string }{
		{"Tag1", FormatCmd, "Tag1"}, {"Ddk", FormatCmd, `"Ddk "`}, {"Nt*", FormatCmd, "Nt*"},
		{"a&bc", FormatCmd, `"a&bc"`}, {"Ddk", FormatPowerShell, "'Ddk '"}, {"a%b", FormatPowerShell, "'a%b '"},
	} {
		got, ok := GFlagsArg(pooltag.MustParse(tc.tag), tc.shell)
		if !ok || got != tc.want {
			t.Errorf("GFlagsArg(%q, %s) = %q, %v; want %q", tc.tag, tc.shell, got, ok, tc.want)
		}
	}
	if _, ok := GFlagsArg(pooltag.MustParse("a%b"), FormatCmd); ok {
		t.Error("GFlagsArg accepted '%' for cmd")
	}
}

// The leak strategy hunts in special pool too: its script sets PoolTag
// exactly as special-pool's does.
func TestLeaksSetsPoolTag(t *testing.T) {
	for _, format := range []string{FormatCmd, FormatPowerShell} {
		sp, err := Options{Connection: "com:port=com1,baud=115200", Tag: "Ddk", Strategy: script.StrategySpecialPool}.Script(format)
		if err != nil {
			t.Fatal(err)
		}
		lk, err := Options{Connection: "com:port=com1,baud=115200", Tag: "Ddk", Strategy: script.StrategyLeaks}.Script(format)
		if err != nil {
			t.Fatal(err)
		}
		if lk != sp || !strings.Contains(lk, "0x206b6444") {
			t.Errorf("format %q: the leaks script differs from special-pool's or sets no PoolTag:\n%s", format, lk)
		}
	}
}
