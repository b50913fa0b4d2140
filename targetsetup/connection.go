package targetsetup

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Kinds of debug connection, as the target's boot settings name them.
const (
	KindSerial = "serial" // com:port=comN,baud=B and com:pipe (a VM's COM port)
	KindNet    = "net"    // KDNET
	KindUSB    = "usb"
)

// Connection is a kd -k connection string read for the target's side.
type Connection struct {
	Kind       string
	COMPort    int    // serial: N of comN (1 for a pipe)
	Baud       int    // serial
	Pipe       string // serial over a VM's named pipe: \\.\pipe\NAME
	NetPort    int    // net
	Key        string // net; secret
	TargetName string // usb

	raw  string
	opts []option
}

type option struct {
	key, val string
	eq       bool // written as key=val (not a bare flag like "pipe")
}

// Redacted is the connection string as given, with the KDNET key replaced by
// what, for comments and messages.
func (c Connection) Redacted(what string) string {
	if c.raw == "" {
		return ""
	}
	i := strings.IndexByte(c.raw, ':')
	parts := make([]string, len(c.opts))
	for j, o := range c.opts {
		switch {
		case o.key == "key":
			parts[j] = "key=" + what
		case !o.eq:
			parts[j] = o.key
		default:
			parts[j] = o.key + "=" + o.val
		}
	}
	return c.raw[:i+1] + strings.Join(parts, ",")
}

// Supported names the connection forms target-setup handles, for errors.
const Supported = `com:port=COMn,baud=RATE, com:pipe,port=\\.\pipe\NAME, net:port=PORT,key=KEY or usb:targetname=NAME`

var (
	reCOM     = regexp.MustCompile(`(?i)^(?:\\\\\.\\)?com([0-9]{1,3})$`)
	reKey     = regexp.MustCompile(`^[0-9A-Za-z]+(\.[0-9A-Za-z]+){3}$`)
	reUSBName = regexp.MustCompile(`^[0-9A-Za-z._-]{1,64}$`)
	rePipe    = regexp.MustCompile(`(?i)^\\\\[^\\"%]+\\pipe\\[^"%\s]+$`)
	bauds     = map[int]bool{9600: true, 19200: true, 38400: true, 57600: true, 115200: true}
)

// ParseConnection reads a kd -k connection string (kd-facts 1.3):
// com:port=com1,baud=115200, com:pipe,port=\\.\pipe\com_1[,resets=0][,reconnect],
// net:port=50000,key=K[,target=..] and usb:targetname=T. Other transports
// (com:ipport, com:modem, 1394, tcp) are refused with the supported forms.
// Errors never hold the KDNET key.
func ParseConnection(s string) (Connection, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Connection{}, fmt.Errorf("no debug connection: give --connect, --port and --baud, or a config with [target] connection (forms: %s)", Supported)
	}
	i := strings.IndexByte(s, ':')
	if i <= 0 {
		return Connection{}, fmt.Errorf("connection %q: not a kd -k connection string; use %s", s, Supported)
	}
	c := Connection{raw: s}
	transport := strings.ToLower(s[:i])
	set := map[string]string{}
	for _, p := range strings.Split(s[i+1:], ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		k, v, eq := strings.Cut(p, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		c.opts = append(c.opts, option{k, strings.TrimSpace(v), eq})
		set[k] = strings.TrimSpace(v)
	}
	// The connection string with the key masked, for messages.
	shown := c.Redacted("***")
	known := func(keys ...string) error {
		for _, o := range c.opts {
			ok := false
			for _, k := range keys {
				ok = ok || o.key == k
			}
			if !ok {
				return fmt.Errorf("connection %q: unknown option %q for %s; the forms are %s", shown, o.key, transport, Supported)
			}
		}
		return nil
	}
	switch transport {
	case "com":
		if _, ok := set["ipport"]; ok {
			return Connection{}, fmt.Errorf("connection %q: serial over TCP (com:ipport) is not supported by target-setup; use %s", shown, Supported)
		}
		if _, ok := set["modem"]; ok {
			return Connection{}, fmt.Errorf("connection %q: com:modem is not supported by target-setup; use %s", shown, Supported)
		}
		if err := known("port", "baud", "pipe", "resets", "reconnect"); err != nil {
			return Connection{}, err
		}
		c.Kind = KindSerial
		if b, ok := set["baud"]; ok {
			n, err := strconv.Atoi(b)
			if err != nil || !bauds[n] {
				return Connection{}, fmt.Errorf("connection %q: baud %q: use 9600, 19200, 38400, 57600 or 115200", shown, b)
			}
			c.Baud = n
		}
		if _, ok := set["pipe"]; ok {
			c.Pipe = set["port"]
			if !rePipe.MatchString(c.Pipe) {
				return Connection{}, fmt.Errorf(`connection %q: a pipe connection needs port=\\.\pipe\NAME (or \\VMHOST\pipe\NAME)`, shown)
			}
			c.COMPort = 1
			if c.Baud == 0 {
				c.Baud = 115200
			}
			return c, nil
		}
		m := reCOM.FindStringSubmatch(set["port"])
		if m == nil {
			return Connection{}, fmt.Errorf(`connection %q: port %q: give the COM port as com1 or \\.\com1`, shown, set["port"])
		}
		c.COMPort, _ = strconv.Atoi(m[1])
		if c.COMPort < 1 {
			return Connection{}, fmt.Errorf("connection %q: there is no COM port 0; use com1 or higher", shown)
		}
		if c.Baud == 0 {
			return Connection{}, fmt.Errorf("connection %q: add baud=RATE (9600 to 115200, 115200 recommended): the target's baud rate must match the host's", shown)
		}
		return c, nil
	case "net":
		if err := known("port", "key", "target"); err != nil {
			return Connection{}, err
		}
		c.Kind = KindNet
		n, err := strconv.Atoi(set["port"])
		if err != nil || n < 1 || n > 65535 {
			return Connection{}, fmt.Errorf("connection %q: give port=PORT, a number from 49152 through 65535", shown)
		}
		c.NetPort = n
		c.Key = set["key"]
		if c.Key != "" && !reKey.MatchString(c.Key) {
			return Connection{}, fmt.Errorf("connection %q: the KDNET key must be four dot-separated parts of letters and digits (w.x.y.z), as bcdedit generates it", shown)
		}
		return c, nil
	case "usb":
		if err := known("targetname"); err != nil {
			return Connection{}, err
		}
		c.Kind = KindUSB
		c.TargetName = set["targetname"]
		if !reUSBName.MatchString(c.TargetName) {
			return Connection{}, fmt.Errorf("connection %q: give targetname=NAME, up to 64 letters, digits, '.', '_' or '-'", shown)
		}
		return c, nil
	}
	return Connection{}, fmt.Errorf("connection %q: transport %q is not supported by target-setup; use %s", shown, transport, Supported)
}
