package script

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// Kinds of debug connection, as the target's boot settings name them.
const (
	KindSerial = "serial" // com:port=comN,baud=B, com:pipe (a VM's COM port), com:ipport, com:modem
	KindNet    = "net"    // KDNET
	KindUSB    = "usb"
	Kind1394   = "1394"
)

// Connection is a kd -k connection string, read by kd's grammar ("Connection
// strings" in docs/kd-protocol.md). Config validation, target-setup and the
// CLI's --port/--baud all go through ParseConnection.
type Connection struct {
	Kind       string
	COMPort    int    // serial: N of comN (1 for a pipe)
	Baud       int    // serial
	Pipe       string // serial over a VM's named pipe: \\.\pipe\NAME
	IPPort     int    // serial over TCP (com:ipport=N,port=IP)
	Modem      bool   // com:modem
	NetPort    int    // net
	Key        string // net; secret
	TargetName string // usb

	raw  string
	opts []connOption
}

type connOption struct {
	key, val string
	eq       bool // written as key=val (not a bare flag like "pipe")
}

// ConnectionError is a connection string kd would not accept. Input has the
// KDNET key masked, so the error can be shown anywhere.
type ConnectionError struct {
	Input  string
	Reason string
}

func (e *ConnectionError) Error() string {
	if e.Input == "" {
		return "no debug connection: " + e.Reason
	}
	return fmt.Sprintf("connection %q: %s", e.Input, e.Reason)
}

// ConnectionForms names the connection forms, for errors.
const ConnectionForms = `com:port=COMn,baud=RATE, com:pipe,port=\\.\pipe\NAME[,resets=0][,reconnect], net:port=PORT,key=KEY or usb:targetname=NAME`

var (
	reCOM     = regexp.MustCompile(`(?i)^(?:\\\\\.\\)?com([0-9]{1,3})$`)
	reNetKey  = regexp.MustCompile(`^[0-9A-Za-z]+(\.[0-9A-Za-z]+){3}$`)
	reUSBName = regexp.MustCompile(`^[0-9A-Za-z._-]{1,64}$`)
	reAnyKey  = regexp.MustCompile(`(?i)(key=)[^,]*`)
	rePipe    = regexp.MustCompile(`(?i)^\\\\[^\\"%]+\\pipe\\[^"%\s]+$`)
)

// Bauds are the rates kd takes on a serial line.
var Bauds = []int{9600, 19200, 38400, 57600, 115200}

// ValidBaud reports whether kd takes baud rate n.
func ValidBaud(n int) bool {
	for _, b := range Bauds {
		if b == n {
			return true
		}
	}
	return false
}

// ParseConnection reads a kd -k connection string: com:port=com1,baud=115200,
// com:pipe,port=\\.\pipe\com_1[,resets=0][,reconnect], com:ipport=N,port=IP,
// com:modem, net:port=50000[,key=K][,target=HOST], usb:targetname=T and
// 1394:channel=N[,symlink=S]. Names and transports are read without regard
// to case. A space anywhere is refused: kd would read the rest as another
// option. Errors are *ConnectionError and never hold the KDNET key.
func ParseConnection(s string) (Connection, error) {
	if strings.TrimSpace(s) == "" {
		return Connection{}, &ConnectionError{Reason: "give --connect, --port and --baud, or a config with [target] connection (forms: " + ConnectionForms + ")"}
	}
	i := strings.IndexByte(s, ':')
	if i <= 0 {
		return Connection{}, &ConnectionError{Input: reAnyKey.ReplaceAllString(s, "${1}***"), Reason: "not a kd -k connection string; use " + ConnectionForms}
	}
	c := Connection{raw: s}
	transport := strings.ToLower(s[:i])
	set := map[string]string{}
	for _, p := range strings.Split(s[i+1:], ",") {
		if p == "" {
			continue
		}
		k, v, eq := strings.Cut(p, "=")
		k = strings.ToLower(k)
		c.opts = append(c.opts, connOption{k, v, eq})
		set[k] = v
	}
	fail := func(format string, a ...any) (Connection, error) {
		return Connection{}, &ConnectionError{Input: c.Redacted("***"), Reason: maskKeys(fmt.Sprintf(format, a...))}
	}
	known := func(keys ...string) error {
		for _, o := range c.opts {
			ok := false
			for _, k := range keys {
				ok = ok || o.key == k
			}
			if !ok {
				return &ConnectionError{Input: c.Redacted("***"), Reason: maskKeys(fmt.Sprintf("unknown option %q for %s; the forms are %s", o.key, transport, ConnectionForms))}
			}
		}
		return nil
	}
	switch transport {
	case "com":
		if err := known("port", "baud", "pipe", "resets", "reconnect", "ipport", "modem"); err != nil {
			return Connection{}, err
		}
		c.Kind = KindSerial
		if b, ok := set["baud"]; ok {
			n, err := strconv.Atoi(b)
			if err != nil || !ValidBaud(n) {
				return fail("baud=%s: kd takes 9600, 19200, 38400, 57600 or 115200", b)
			}
			c.Baud = n
		}
		if r, ok := set["resets"]; ok {
			if n, err := strconv.Atoi(r); err != nil || n < 0 {
				return fail("resets=%s is not a number (resets=0 lets kd send resets without limit)", r)
			}
		}
		switch {
		case hasOpt(set, "modem"):
			c.Modem = true
		case hasOpt(set, "ipport"):
			n, err := strconv.Atoi(set["ipport"])
			if err != nil || n < 1 || n > 65535 {
				return fail("ipport=%s is not a number from 1 to 65535", set["ipport"])
			}
			if set["port"] == "" {
				return fail("serial over TCP needs port=ADDRESS, the serial server's address")
			}
			c.IPPort = n
		case hasOpt(set, "pipe"):
			c.Pipe = set["port"]
			if !rePipe.MatchString(c.Pipe) {
				return fail(`a pipe connection needs port=\\.\pipe\NAME (or \\VMHOST\pipe\NAME)`)
			}
			c.COMPort = 1
			if c.Baud == 0 {
				c.Baud = 115200
			}
		default:
			m := reCOM.FindStringSubmatch(set["port"])
			if m == nil {
				return fail(`port=%s: give the COM port as com1 or \\.\com1`, set["port"])
			}
			c.COMPort, _ = strconv.Atoi(m[1])
			if c.COMPort < 1 {
				return fail("there is no COM port 0; use com1 or higher")
			}
			if c.Baud == 0 {
				return fail("add baud=RATE (9600 to 115200, 115200 recommended): the target's baud rate must match the host's")
			}
		}
	case "net":
		if err := known("port", "key", "target"); err != nil {
			return Connection{}, err
		}
		c.Kind = KindNet
		p, ok := set["port"]
		if !ok {
			return fail("give port=PORT, a number from 49152 through 65535")
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return fail("port=%s is not a number from 1 to 65535: give port=PORT (KDNET uses 49152 through 65535)", p)
		}
		c.NetPort = n
		c.Key = set["key"]
		if c.Key != "" && !reNetKey.MatchString(c.Key) {
			return fail("the KDNET key must be four dot-separated parts of letters and digits (w.x.y.z), as bcdedit generates it")
		}
	case "usb":
		if err := known("targetname"); err != nil {
			return Connection{}, err
		}
		c.Kind = KindUSB
		c.TargetName = set["targetname"]
		if !reUSBName.MatchString(c.TargetName) {
			return fail("give targetname=NAME, up to 64 letters, digits, '.', '_' or '-'")
		}
	case "1394":
		if err := known("channel", "symlink"); err != nil {
			return Connection{}, err
		}
		c.Kind = Kind1394
		if n, err := strconv.Atoi(set["channel"]); err != nil || n < 0 || n > 62 {
			return fail("give channel=N, a number from 0 through 62")
		}
	default:
		return fail("transport %q is not supported: kd connects to a target with %s", transport, ConnectionForms)
	}
	if strings.IndexFunc(s, unicode.IsSpace) >= 0 {
		return fail("it holds a space: kd would read the rest as another option; remove it")
	}
	return c, nil
}

// maskKeys masks any "key=VALUE" in a message about a connection string
// (but not the placeholder KEY of the forms).
func maskKeys(s string) string {
	return reAnyKey.ReplaceAllStringFunc(s, func(m string) string {
		if strings.HasPrefix(m[4:], "KEY") {
			return m
		}
		return m[:4] + "***"
	})
}

func hasOpt(set map[string]string, k string) bool { _, ok := set[k]; return ok }

// SerialConnection is the connection for a COM port (com1 or \\.\com1) at a
// baud rate, as --port and --baud give them.
func SerialConnection(port string, baud int) (Connection, error) {
	return ParseConnection(fmt.Sprintf("com:port=%s,baud=%d", port, baud))
}

// String is the connection string as given.
func (c Connection) String() string { return c.raw }

// WithKey returns the connection with key=KEY added, for a KDNET connection
// whose key is kept apart from the string (target.key); any other connection,
// or one with a key already, is returned as it is.
func (c Connection) WithKey(key string) Connection {
	if c.Kind != KindNet || c.Key != "" || key == "" {
		return c
	}
	c.Key = key
	sep := ","
	if strings.HasSuffix(c.raw, ",") || strings.HasSuffix(c.raw, ":") {
		sep = ""
	}
	c.raw += sep + "key=" + key
	c.opts = append(append([]connOption(nil), c.opts...), connOption{"key", key, true})
	return c
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
		case strings.Contains(o.key, "key"):
			// Also a misspelt or unknown option that looks like the key.
			parts[j] = o.key + "=" + what
		case !o.eq:
			parts[j] = o.key
		default:
			parts[j] = o.key + "=" + o.val
		}
	}
	// Any "key=" left inside another value is masked too.
	return c.raw[:i+1] + reAnyKey.ReplaceAllStringFunc(strings.Join(parts, ","), func(m string) string {
		return m[:4] + what
	})
}

// ValidNetKey reports whether k has the form of a KDNET key as bcdedit
// generates it: four dot-separated parts of letters and digits.
func ValidNetKey(k string) bool { return reNetKey.MatchString(k) }
