package targetsetup

import "github.com/kdlaunch/kdlaunch/script"

// Connection is kd's -k connection string (script.Connection).
type Connection = script.Connection

// Kinds of debug connection, as the target's boot settings name them.
const (
	KindSerial = script.KindSerial
	KindNet    = script.KindNet
	KindUSB    = script.KindUSB
)

// Supported names the connection forms target-setup handles, for errors.
const Supported = script.ConnectionForms

// ParseConnection reads a connection string with kd's grammar
// (script.ParseConnection) and refuses the forms target-setup cannot write
// boot settings for: serial over TCP, a modem and 1394.
func ParseConnection(s string) (Connection, error) {
	c, err := script.ParseConnection(s)
	if err != nil {
		return c, err
	}
	reason := ""
	switch {
	case c.IPPort != 0:
		reason = "serial over TCP (com:ipport) is not supported by target-setup; use " + Supported
	case c.Modem:
		reason = "com:modem is not supported by target-setup; use " + Supported
	case c.Kind == script.Kind1394:
		reason = `transport "1394" is not supported by target-setup; use ` + Supported
	}
	if reason != "" {
		return Connection{}, &script.ConnectionError{Input: c.Redacted("***"), Reason: reason}
	}
	return c, nil
}
