package config

import (
	"errors"
	"fmt"
	"math"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"unicode"

	"github.com/kdlaunch/kdlaunch/script"
)

// ErrInvalid is wrapped by every validation error, so callers can tell a bad
// configuration (exit 2, fix the file) from a failure to run.
var ErrInvalid = errors.New("invalid configuration")

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, a...)...)
}

var (
	reEnvName   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_().]*$`)
	reTransport = regexp.MustCompile(`^(npipe|tcp|com|spipe|ssl):\S+$`)
	rePassword  = regexp.MustCompile(`(?i)(?:^|[,:])password=`)
)

// Validate checks every value before any of it reaches kd's command line,
// environment or input. Config values cannot add kd options or commands: a
// line break or control character anywhere is refused, and the connection and
// transport must be single kd option values.
func (c *Config) Validate() error {
	strs := map[string]string{
		"kd.path": c.KD.Path, "kd.symbol_path": c.KD.SymbolPath, "kd.log": c.KD.Log, "kd.transcript": c.KD.Transcript,
		"server.transport": c.Server.Transport, "server.password": c.Server.Password, "server.client_file": c.Server.ClientFile,
		"target.connection": c.Target.Connection, "target.key": c.Target.Key, "target.host_ip": c.Target.HostIP,
		"target.tag": c.Target.Tag,
	}
	for i, a := range c.KD.Args {
		strs[fmt.Sprintf("kd.args[%d]", i)] = a
	}
	for k, v := range c.Env {
		strs["env."+k] = v
	}
	for k, v := range strs {
		if err := plainValue(k, v); err != nil {
			return err
		}
	}
	switch strings.ToLower(c.KD.Console) {
	case "", "auto", "pseudo", "pipes":
	default:
		return invalid("kd.console %q: use auto (a pseudo console where Windows has one), pseudo or pipes", c.KD.Console)
	}
	if c.KD.Log == "" {
		return invalid("kd.log is empty: give the debug log's path (--log FILE)")
	}
	for k := range c.Env {
		if !reEnvName.MatchString(k) {
			return invalid("env key %q is not a valid environment variable name", k)
		}
		switch strings.ToUpper(k) {
		case "_NT_DEBUG_LOG_FILE_OPEN", "_NT_DEBUG_LOG_FILE_APPEND":
			return invalid("env.%s: set the debug log with kd.log (and kd.fresh_log), which never destroys an earlier log by accident", k)
		}
	}
	if t := c.Server.Transport; t != "none" {
		if !reTransport.MatchString(t) {
			return invalid("server.transport %q: use npipe:pipe=NAME, tcp:port=N, com:..., spipe:... or ssl:..., without spaces, or \"none\" for no server", t)
		}
		if rePassword.MatchString(t) {
			return invalid("server.transport %q holds a password: put it in server.password, which kdlaunch keeps out of every output", redactPassword(t))
		}
		if strings.HasPrefix(t, "npipe:") && !strings.Contains(strings.ToLower(t), "pipe=") {
			return invalid("server.transport %q names no pipe: use npipe:pipe=NAME", t)
		}
	}
	if p := c.Server.Password; p != "" && strings.ContainsAny(p, ",=\" ") {
		return invalid("server.password must not contain commas, '=', quotes or spaces: kd reads them as part of the transport string")
	}
	conn, err := script.ParseConnection(c.Target.Connection)
	if err != nil {
		return fmt.Errorf("%w: target.connection: %w", ErrInvalid, err)
	}
	if conn.Kind == script.KindNet && conn.Key == "" && c.Target.Key == "" {
		return invalid("target.connection %q has no key: add key=K (the key bcdedit printed on the target) or set target.key", conn.Redacted("***"))
	}
	for _, scheme := range []string{"tcp:", "ssl:"} {
		if err := numericParams("server.transport", c.Server.Transport, "port", scheme); err != nil {
			return err
		}
	}
	if err := plainValue("target.strategy", string(c.Target.Strategy)); err != nil {
		return err
	}
	if !c.Target.Strategy.Valid() {
		return invalid("target.strategy %q: use %q (the default) or %q", c.Target.Strategy, script.StrategySpecialPool, script.StrategyPoolHitTag)
	}
	if c.Target.Strategy == script.StrategyPoolHitTag && c.Target.Tag == "" {
		return invalid("target.strategy %q needs a tag: give --tag TAG", script.StrategyPoolHitTag)
	}
	if !c.Supervise.OnBreakFailure.Valid() {
		return invalid("supervise.on_break_failure %q: use %q or %q", c.Supervise.OnBreakFailure, BreakFailureWait, BreakFailureGiveUp)
	}
	if !c.Supervise.UnexpectedHalts.Valid() {
		return invalid("supervise.on_unexpected_halt %q: use %q or %q", c.Supervise.UnexpectedHalts, HaltResume, HaltStay)
	}
	if !c.Supervise.OnBugCheck.Valid() {
		return invalid("supervise.on_bugcheck %q: use %q (leave the crashed target halted) or %q (let it write its dump and reboot)", c.Supervise.OnBugCheck, BugCheckStay, BugCheckContinue)
	}
	if c.Limits.MaxHits < 0 {
		return invalid("limits.max_hits %d: must be 0 (no limit) or more", c.Limits.MaxHits)
	}
	if c.Limits.MaxRate < 0 || math.IsNaN(c.Limits.MaxRate) || math.IsInf(c.Limits.MaxRate, 0) {
		return invalid("limits.max_rate %g: must be a number, 0 (no cap) or more", c.Limits.MaxRate)
	}
	if c.Limits.MaxRate > 0 && c.Limits.RateWindow.Duration <= 0 {
		return invalid("limits.rate_window must be more than 0 when limits.max_rate is set (the rate is measured over it): use e.g. \"10s\"")
	}
	if c.Supervise.MaxRestarts < 0 || c.Supervise.BreakRetries < 1 {
		return invalid("supervise.max_restarts must be 0 or more and supervise.break_retries 1 or more")
	}
	if c.Supervise.BreakTimeout.Duration <= 0 || c.Supervise.StopTimeout.Duration <= 0 {
		return invalid("supervise.break_timeout and supervise.stop_timeout must be more than 0")
	}
	return nil
}

// numericParams checks that name=V in a kd option string of the given scheme
// is a number (or a port range N:M), so a typo is caught here rather than by
// a kd that then sits waiting for a target it can never reach.
func numericParams(key, v, name, scheme string) error {
	if !strings.HasPrefix(strings.ToLower(v), scheme) {
		return nil
	}
	for _, kv := range strings.Split(v[len(scheme):], ",") {
		k, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.EqualFold(k, name) {
			continue
		}
		for _, part := range strings.SplitN(val, ":", 2) {
			n, err := strconv.Atoi(part)
			if err != nil || n <= 0 || name == "port" && n > 65535 {
				// Only the bad parameter is named: the string may hold a KDNET key.
				return invalid("%s: %s=%s is not a number%s", key, k, val, map[bool]string{true: " from 1 to 65535", false: ""}[name == "port"])
			}
		}
	}
	return nil
}

// plainValue refuses line breaks and control characters: one value must stay
// one argument, one variable or one command.
func plainValue(key, v string) error {
	for _, r := range v {
		if r == '\n' || r == '\r' {
			return invalid("%s holds a line break: a value must be one line", key)
		}
		if unicode.IsControl(r) && r != '\t' {
			return invalid("%s holds control character %U: remove it", key, r)
		}
	}
	return nil
}

func redactPassword(t string) string {
	return regexp.MustCompile(`(?i)(password=)[^,]*`).ReplaceAllString(t, "${1}***")
}

// NetKey is the KDNET key, from target.key or the connection string.
func (c *Config) NetKey() string {
	if c.Target.Key != "" {
		return c.Target.Key
	}
	if conn, err := script.ParseConnection(c.Target.Connection); err == nil {
		return conn.Key
	}
	return rawNetKey(c.Target.Connection)
}

// rawNetKey finds key=K in a connection string kd's grammar refused, so that
// even a bad one's key is masked.
func rawNetKey(conn string) string {
	if m := reRawKey.FindStringSubmatch(conn); m != nil {
		return m[1]
	}
	return ""
}

var reRawKey = regexp.MustCompile(`(?i)(?:^|[,:])key=([^,]+)`)

// ConnectionString is the -k value, with target.key added to a net:
// connection that lacks one.
func (c *Config) ConnectionString() string {
	conn, err := script.ParseConnection(c.Target.Connection)
	if err != nil {
		return c.Target.Connection // Validate refuses it
	}
	return conn.WithKey(c.Target.Key).String()
}

// Secrets are the values that must never appear in any output.
func (c *Config) Secrets() []string {
	var s []string
	if c.Server.Password != "" {
		s = append(s, c.Server.Password)
	}
	if k := c.NetKey(); k != "" {
		s = append(s, k)
	}
	return s
}

// HasSecret reports whether the file itself holds a secret.
func (c *Config) HasSecret() bool {
	return c.Server.Password != "" || c.Target.Key != "" || rawNetKey(c.Target.Connection) != ""
}

// PermissionWarning returns a one-line warning when the config file holds a
// secret and others can read it; "" when all is well or it cannot be told.
func (c *Config) PermissionWarning() string {
	if c.Path == "" || !c.HasSecret() || runtime.GOOS == "windows" {
		return ""
	}
	fi, err := os.Stat(c.Path)
	if err != nil || fi.Mode().Perm()&0o077 == 0 {
		return ""
	}
	return fmt.Sprintf("config %s holds a secret (password or KDNET key) and is readable by others (mode %04o): run chmod 600 %s", c.Path, fi.Mode().Perm(), c.Path)
}
