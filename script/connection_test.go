package script

import (
	"errors"
	"strings"
	"testing"
)

func TestParseConnection(t *testing.T) {
	tests := []struct {
		in   string
		kind string
		want string // substring of the error; "" = accepted
	}{
		{"com:port=com1,baud=115200", KindSerial, ""},
		{`com:port=\\.\com2,baud=57600`, KindSerial, ""},
		{`com:pipe,port=\\.\pipe\com_1,resets=0,reconnect`, KindSerial, ""},
		{"com:ipport=4000,port=10.0.0.5", KindSerial, ""},
		{"com:modem", KindSerial, ""},
		{"net:port=50000,key=1.2.3.4", KindNet, ""},
		{"net:port=50000", KindNet, ""},
		{"usb:targetname=box1", KindUSB, ""},
		{"1394:channel=20,symlink=instance", Kind1394, ""},
		{"", "", "no debug connection"},
		{"com1", "", "not a kd -k connection string"},
		{"tcp:port=5005", "", `transport "tcp" is not supported`},
		{"com:port=com1", "", "add baud=RATE"},
		{"com:port=com1,baud=fast", "", "baud=fast"},
		{"com:port=com1 -b,baud=115200", "", "port=com1 -b"},
		{"com:port=com1,baud=115200,parity=odd", "", `unknown option "parity"`},
		{"net:port=abc,key=1.2.3.4", "", "port=abc is not a number"},
		{"net:port=70000", "", "from 1 to 65535"},
		{"net:port=50000,key=a&b", "", "four dot-separated parts"},
		{"net:port=50000, key=1.2.3.4", "", "unknown option"},
		{"net:port=50000,target=a b", "", "space"},
		{"1394:channel=99", "", "0 through 62"},
	}
	for _, tt := range tests {
		c, err := ParseConnection(tt.in)
		if tt.want == "" {
			if err != nil || c.Kind != tt.kind || c.String() != tt.in {
				t.Errorf("ParseConnection(%q) = %+v, %v; want kind %s", tt.in, c, err, tt.kind)
			}
			continue
		}
		var ce *ConnectionError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseConnection(%q) = %v, want a *ConnectionError with %q", tt.in, err, tt.want)
		}
	}
}

func TestConnectionWithKey(t *testing.T) {
	c, _ := ParseConnection("net:port=50000")
	if got := c.WithKey("1.2.3.4").String(); got != "net:port=50000,key=1.2.3.4" {
		t.Errorf("WithKey = %q", got)
	}
	c, _ = ParseConnection("net:port=50000,key=5.6.7.8")
	if got := c.WithKey("1.2.3.4"); got.String() != "net:port=50000,key=5.6.7.8" || got.Redacted("***") != "net:port=50000,key=***" {
		t.Errorf("WithKey over a key = %q", got)
	}
	if s, err := SerialConnection("com2", 115200); err != nil || s.COMPort != 2 || s.Baud != 115200 {
		t.Errorf("SerialConnection = %+v, %v", s, err)
	}
}

// FuzzParseConnection: whatever the string, no panic, no key in an error or
// in the redacted form, and an accepted string is given back as it was.
func FuzzParseConnection(f *testing.F) {
	for _, s := range []string{"com:port=com1,baud=115200", `com:pipe,port=\\.\pipe\com_1,resets=0,reconnect`,
		"net:port=50000,key=1.2.3.4", "net:port=x,key=zz.yy.xx.ww", "usb:targetname=a", "1394:channel=1", "key=qq.rr.ss.tt"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseConnection(s)
		key := ""
		if m := reAnyKey.FindStringSubmatch(s); m != nil {
			key = strings.TrimPrefix(m[0], m[1])
		}
		if err != nil {
			if len(key) >= 4 && !strings.Contains("***", key) && strings.Contains(err.Error(), key) {
				t.Fatalf("error %q shows the key %q", err, key)
			}
			return
		}
		if c.String() != s {
			t.Fatalf("String() = %q, want %q", c.String(), s)
		}
		if c.Key != "" && strings.Contains(c.Redacted("***"), c.Key) && !strings.Contains("***", c.Key) {
			t.Fatalf("Redacted(%q) shows the key", s)
		}
	})
}
