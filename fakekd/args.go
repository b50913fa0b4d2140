package fakekd

import (
	"errors"
	"strings"
)

// CmdLine is what fakekd understood of its kd-style command line
// (kd-protocol.md "Command line", "Connection strings"). Options it does not model are accepted and ignored,
// as a driver may pass them to the real kd.
type CmdLine struct {
	Server         string // -server transport, exactly as given
	Kernel         string // -k connection string, "" if absent
	SymbolPath     string // -y
	LogFile        string // -logo / -loga
	LogAppend      bool
	BreakOnConnect bool // -bonc, also -b (kd-protocol.md "Command line")
}

// optsWithValue are the kd options that consume the next argument
// (kd-protocol.md "Command line"), so their values are not mistaken for options.
var optsWithValue = map[string]bool{
	"y": true, "srcpath": true, "i": true, "z": true, "zp": true, "c": true,
	"cf": true, "cfr": true, "logo": true, "loga": true, "logau": true,
	"logou": true, "t": true, "clines": true, "sflags": true, "ee": true,
	"kx": true,
}

// ParseCmdLine parses kd's arguments (without the program name).
func ParseCmdLine(args []string) (CmdLine, error) {
	var c CmdLine
	for i := 0; i < len(args); i++ {
		a := args[i]
		if len(a) < 2 || (a[0] != '-' && a[0] != '/') {
			continue // stray words: kd would complain, the fake does not care
		}
		// kd-protocol.md "Command line": "Only the -remote and -server options are
		// case-sensitive" and "it must appear before any other options".
		name := a[1:]
		if name == "server" || name == "remote" {
			if i != 0 {
				return c, errors.New("-" + name + " must be the first argument")
			}
			if i+1 >= len(args) {
				return c, errors.New("-" + name + " requires a transport argument")
			}
			if name == "remote" {
				return c, errors.New("-remote is not supported by fakekd")
			}
			i++
			c.Server = args[i]
			continue
		}
		lname := strings.ToLower(name)
		switch {
		case lname == "k":
			// A bare -k is legal (kd-protocol.md "Connection strings"); a value never starts with '-'.
			if i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				i++
				c.Kernel = args[i]
			}
		case lname == "bonc" || lname == "b":
			c.BreakOnConnect = true
		case optsWithValue[lname]:
			if i+1 >= len(args) {
				return c, errors.New("-" + name + " requires an argument")
			}
			i++
			switch lname {
			case "y":
				c.SymbolPath = args[i]
			case "logo", "logou":
				c.LogFile, c.LogAppend = args[i], false
			case "loga", "logau":
				c.LogFile, c.LogAppend = args[i], true
			}
		}
	}
	return c, nil
}

// Transport is the kernel connection, parsed from -k or, without -k, from
// _NT_DEBUG_PORT / _NT_DEBUG_BAUD_RATE with the historic defaults com1 and
// 19200 (kd-protocol.md "Command line", "Environment variables").
type Transport struct {
	Kind   string // "com", "pipe", "net" or "usb"
	Device string // \\.\com1, \\.\pipe\X, the KDNET port, or the USB target name
	Baud   string
	Key    string // KDNET key: a secret, printed only with FAKEKD_ECHO_SECRETS
}

// ParseTransport interprets a -k connection string (kd-protocol.md "Connection strings").
func ParseTransport(conn string, getenv func(string) string) Transport {
	kind, rest, _ := strings.Cut(conn, ":")
	params := map[string]string{}
	flags := map[string]bool{}
	for _, p := range strings.Split(rest, ",") {
		k, v, hasValue := strings.Cut(p, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		if hasValue {
			params[k] = v
		} else if k != "" {
			flags[k] = true
		}
	}
	switch strings.ToLower(kind) {
	case "net":
		return Transport{Kind: "net", Device: params["port"], Key: params["key"]}
	case "usb":
		return Transport{Kind: "usb", Device: params["targetname"]}
	case "com":
		if flags["pipe"] {
			return Transport{Kind: "pipe", Device: params["port"]}
		}
		return Transport{Kind: "com", Device: comDevice(params["port"]), Baud: params["baud"]}
	}
	// No -k (or a transport the fake does not model): the ambient
	// variables, then kd's historic defaults.
	t := Transport{Kind: "com", Device: comDevice(getenv("_NT_DEBUG_PORT")), Baud: getenv("_NT_DEBUG_BAUD_RATE")}
	if t.Baud == "" {
		t.Baud = "19200"
	}
	return t
}

// comDevice turns "com2" or "\\.\com2" into the device name kd opens
// (kd-protocol.md "Connection strings": the port is com2 or \\.\com2, never a bare number).
func comDevice(port string) string {
	if port == "" {
		port = "com1"
	}
	if strings.HasPrefix(port, `\\`) {
		return port
	}
	return `\\.\` + port
}

// remoteLine is the "0: <debugger> -remote ..." line a server prints
// (kd-protocol.md "Remote server transports"): the transport with the parameter name capitalised, the
// password left out, and ",Server=HOST" appended.
func remoteLine(server, host string, echoSecrets bool) string {
	if echoSecrets {
		return "0: <debugger> -remote " + server + ",Server=" + host
	}
	kind, rest, _ := strings.Cut(server, ":")
	var kept []string
	for _, p := range strings.Split(rest, ",") {
		k, v, hasValue := strings.Cut(p, "=")
		switch lk := strings.ToLower(k); {
		case lk == "password" || p == "":
			continue
		case hasValue && len(lk) > 0:
			kept = append(kept, strings.ToUpper(lk[:1])+lk[1:]+"="+v)
		default:
			kept = append(kept, p)
		}
	}
	return "0: <debugger> -remote " + strings.ToLower(kind) + ":" + strings.Join(kept, ",") + ",Server=" + host
}
