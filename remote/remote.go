// Package remote sets up kd's own debugging server (-server) safely: a
// server anyone can open is a remote console to the target's kernel, so
// kdlaunch gives it a fresh random password unless told otherwise and hands
// the matching client command line to the user in a private file only.
package remote

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
)

const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"

// NewPassword returns a random password of n characters (about 5.8 bits
// each) from an alphabet kd's transport syntax has no use for.
func NewPassword(n int) (string, error) {
	var b strings.Builder
	max := big.NewInt(int64(len(alphabet)))
	for i := 0; i < n; i++ {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", fmt.Errorf("generate server password: %w", err)
		}
		b.WriteByte(alphabet[v.Int64()])
	}
	return b.String(), nil
}

// ServerTransport is the -server value: the configured transport with the
// password appended.
func ServerTransport(transport, password string) string {
	if password == "" {
		return transport
	}
	return transport + ",password=" + password
}

// ClientCommand is the kd command line that connects to the server:
// `kd -remote npipe:server=HOST,pipe=NAME,password=PW`. Options that only
// make sense for the server (hidden, IcfEnable, ipversion, clicon) are left out.
func ClientCommand(transport, password, host string) string {
	proto, params, _ := strings.Cut(transport, ":")
	out := []string{"server=" + host}
	for _, p := range strings.Split(params, ",") {
		k, _, _ := strings.Cut(strings.ToLower(p), "=")
		switch k {
		case "", "hidden", "icfenable", "clicon", "password", "ipversion":
			continue
		}
		out = append(out, p)
	}
	if password != "" {
		out = append(out, "password="+password)
	}
	return fmt.Sprintf("kd -remote %s:%s", proto, strings.Join(out, ","))
}

// DefaultClientFile is where the client line goes unless configured: the
// user's own configuration folder, which on Windows only the user's ACL can
// read, and which is created 0700 on Unix.
func DefaultClientFile(pipeOrPort string) (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find a private folder for the client line: %w (set server.client_file)", err)
	}
	name := "remote"
	if pipeOrPort != "" {
		name += "-" + sanitize(pipeOrPort)
	}
	return filepath.Join(dir, "kdlaunch", name+".txt"), nil
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

// WriteClientFile writes the client command line to path, readable by the
// user only (mode 0600; on Windows the folder's ACL), replacing it atomically.
func WriteClientFile(path, line string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, ".kdlaunch-client-*")
	if err != nil {
		return fmt.Errorf("write client file in %s: %w", dir, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil && !isWindows() {
		tmp.Close()
		return fmt.Errorf("restrict %s: %w", tmp.Name(), err)
	}
	if _, err := fmt.Fprintln(tmp, line); err != nil {
		tmp.Close()
		return fmt.Errorf("write client file %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write client file %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write client file %s: %w", path, err)
	}
	return nil
}

// Param returns the value of key in a transport string ("pipe" in
// npipe:pipe=livedebug), or "".
func Param(transport, key string) string {
	_, params, _ := strings.Cut(transport, ":")
	for _, p := range strings.Split(params, ",") {
		k, v, ok := strings.Cut(p, "=")
		if ok && strings.EqualFold(k, key) {
			return v
		}
	}
	return ""
}
