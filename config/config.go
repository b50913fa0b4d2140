// Package config loads a lab's TOML file, applies defaults and validates the
// result, so that every later stage can trust what it is given.
package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/kdlaunch/kdlaunch/script"
)

// Config is one lab/target: how to start kd, how to reach the target, what to
// arm and when to stop. Every key is documented in config.example.toml.
type Config struct {
	KD        KD                `toml:"kd"`
	Server    Server            `toml:"server"`
	Target    Target            `toml:"target"`
	Env       map[string]string `toml:"env"`
	Script    Script            `toml:"script"`
	Limits    Limits            `toml:"limits"`
	Supervise Supervise         `toml:"supervise"`

	// Path is the file this came from ("" when built from flags alone).
	Path string `toml:"-"`
}

// KD says which kd to run and where its output goes.
type KD struct {
	Path       string   `toml:"path"`
	Args       []string `toml:"args"`
	SymbolPath string   `toml:"symbol_path"`
	Log        string   `toml:"log"`
	FreshLog   bool     `toml:"fresh_log"`
	Transcript string   `toml:"transcript"`
	Console    string   `toml:"console"` // Windows: auto (default), pseudo or pipes
}

// Server is kd's own remote debugging server (-server).
type Server struct {
	Transport            string `toml:"transport"`
	Password             string `toml:"password"`
	AllowUnauthenticated bool   `toml:"allow_unauthenticated_server"`
	ClientFile           string `toml:"client_file"`
}

// Target is the machine under test and what to look for on it.
type Target struct {
	Connection     string          `toml:"connection"`
	Key            string          `toml:"key"`
	HostIP         string          `toml:"host_ip"`
	Tag            string          `toml:"tag"`
	Strategy       script.Strategy `toml:"strategy"`
	ConnectTimeout Duration        `toml:"connect_timeout"`
}

// Script is what is typed into kd once the target is halted.
type Script struct {
	Commands []string `toml:"commands"`
	Replace  bool     `toml:"replace"`
}

// Limits bound what a session may cost the target.
type Limits struct {
	MaxHits    int      `toml:"max_hits"`
	Duration   Duration `toml:"duration"`
	MaxRate    float64  `toml:"max_rate"`
	RateWindow Duration `toml:"rate_window"`
}

// Supervise tunes break-in, command and restart behaviour.
type Supervise struct {
	Settle          Duration       `toml:"settle"`
	BreakTimeout    Duration       `toml:"break_timeout"`
	BreakRetries    int            `toml:"break_retries"`
	OnBreakFailure  BreakFailure   `toml:"on_break_failure"`
	CommandTimeout  Duration       `toml:"command_timeout"`
	StopTimeout     Duration       `toml:"stop_timeout"`
	MaxRestarts     int            `toml:"max_restarts"`
	BackoffInitial  Duration       `toml:"backoff_initial"`
	BackoffMax      Duration       `toml:"backoff_max"`
	HealthyAfter    Duration       `toml:"healthy_after"`
	UnexpectedHalts UnexpectedHalt `toml:"on_unexpected_halt"`
	OnBugCheck      BugCheckPolicy `toml:"on_bugcheck"`
}

// Duration is a time.Duration written as "90s", "2h" or "1h30m" in TOML.
type Duration struct{ time.Duration }

// UnmarshalText lets TOML strings be durations.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration back in the form it is read.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.Duration.String()), nil }

// ParseDuration is time.ParseDuration with an error a user can act on.
func ParseDuration(s string) (time.Duration, error) {
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("bad duration %q: use a number with a unit, like 90s, 10m or 2h", s)
	}
	if v < 0 {
		return 0, fmt.Errorf("bad duration %q: must not be negative", s)
	}
	return v, nil
}

// BreakFailure is what kdlaunch does when a break-in gets no prompt after
// every retry (supervise.on_break_failure).
type BreakFailure string

// Break failure policies.
const (
	BreakFailureWait   BreakFailure = "wait"    // keep waiting for the target
	BreakFailureGiveUp BreakFailure = "give-up" // stop kd and exit
)

// UnmarshalText reads the policy from a config file.
func (p *BreakFailure) UnmarshalText(b []byte) error {
	if v := BreakFailure(b); !v.Valid() {
		return fmt.Errorf("on_break_failure %q: use %q or %q", b, BreakFailureWait, BreakFailureGiveUp)
	}
	*p = BreakFailure(b)
	return nil
}

// Valid reports whether p is one of the policies.
func (p BreakFailure) Valid() bool { return p == BreakFailureWait || p == BreakFailureGiveUp }

// UnexpectedHalt is what kdlaunch does when the target halts by itself, not
// at the breakpoint (supervise.on_unexpected_halt).
type UnexpectedHalt string

// Unexpected halt policies.
const (
	HaltResume UnexpectedHalt = "resume" // type g: the server keeps running
	HaltStay   UnexpectedHalt = "stay"   // leave it halted for a person
)

// UnmarshalText reads the policy from a config file.
func (p *UnexpectedHalt) UnmarshalText(b []byte) error {
	if v := UnexpectedHalt(b); !v.Valid() {
		return fmt.Errorf("on_unexpected_halt %q: use %q or %q", b, HaltResume, HaltStay)
	}
	*p = UnexpectedHalt(b)
	return nil
}

// Valid reports whether p is one of the policies.
func (p UnexpectedHalt) Valid() bool { return p == HaltResume || p == HaltStay }

// BugCheckPolicy is what kdlaunch does once a bug check's kb and
// !analyze -v are in the log.
type BugCheckPolicy string

// Bug check policies.
const (
	BugCheckStay     BugCheckPolicy = "stay"     // leave the crashed target halted for a person; the run ends
	BugCheckContinue BugCheckPolicy = "continue" // resume it (it writes its dump and reboots), arm again after the reboot
)

// UnmarshalText reads the policy from a config file.
func (p *BugCheckPolicy) UnmarshalText(b []byte) error {
	if v := BugCheckPolicy(b); !v.Valid() {
		return fmt.Errorf("on_bugcheck %q: use %q (leave the crashed target halted) or %q (let it write its dump and reboot)", b, BugCheckStay, BugCheckContinue)
	}
	*p = BugCheckPolicy(b)
	return nil
}

// Valid reports whether p is one of the policies.
func (p BugCheckPolicy) Valid() bool { return p == BugCheckStay || p == BugCheckContinue }

// Defaults.
const (
	DefaultTransport   = "npipe:pipe=livedebug"
	DefaultConnection  = "com:port=com1,baud=19200"
	DefaultLog         = "debug.log"
	DefaultSymbolCache = `SRV*c:\websymbols*https://msdl.microsoft.com/download/symbols`
)

// SyntaxError is a config file that is not valid TOML, or holds a value of
// the wrong type: the user must edit the file (the CLI exits 2, as for
// ErrInvalid).
type SyntaxError struct{ Err error }

func (e *SyntaxError) Error() string { return e.Err.Error() }
func (e *SyntaxError) Unwrap() error { return e.Err }

// ErrUnknownKey is returned (wrapped) when a config file has a key that
// kdlaunch does not know: a typo there would otherwise be silently ignored.
var ErrUnknownKey = errors.New("unknown config key")

// Default returns the configuration used when no file and no flags say otherwise.
func Default() *Config {
	return &Config{
		KD:     KD{Log: DefaultLog},
		Server: Server{Transport: DefaultTransport},
		Target: Target{Connection: DefaultConnection, Strategy: script.StrategySpecialPool},
		Limits: Limits{RateWindow: Duration{10 * time.Second}},
		Supervise: Supervise{
			Settle:          Duration{time.Second},
			BreakTimeout:    Duration{5 * time.Second},
			BreakRetries:    5,
			OnBreakFailure:  BreakFailureWait,
			CommandTimeout:  Duration{5 * time.Minute},
			StopTimeout:     Duration{30 * time.Second},
			MaxRestarts:     5,
			BackoffInitial:  Duration{time.Second},
			BackoffMax:      Duration{time.Minute},
			HealthyAfter:    Duration{2 * time.Minute},
			UnexpectedHalts: HaltResume,
			OnBugCheck:      BugCheckStay,
		},
	}
}

// Load reads path over the defaults. Unknown keys and syntax errors are
// errors that name the file and, where TOML knows it, the line.
func Load(path string) (*Config, error) {
	c := Default()
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("config %s is a folder: give the lab's TOML file (see config.example.toml)", path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("read config %s: %w", path, err)
	}
	md, err := toml.Decode(string(b), c)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, &SyntaxError{fmt.Errorf("config %s: line %d: %s", path, errorLine(b, pe), firstLine(pe.Message))}
		}
		if m := reTypeError.FindStringSubmatch(err.Error()); m != nil {
			return nil, &SyntaxError{fmt.Errorf("config %s: line %s: %s is a TOML %s: give %s", path, m[1], m[2], tomlType(m[3]), wantType(m[4]))}
		}
		if m := reTableError.FindStringSubmatch(err.Error()); m != nil {
			return nil, &SyntaxError{fmt.Errorf("config %s: line %s: %s is a TOML %s: give a table, [%s] with key = value lines", path, m[1], m[2], tomlType(m[3]), m[2])}
		}
		return nil, &SyntaxError{fmt.Errorf("config %s: %s", path, firstLine(err.Error()))}
	}
	// toml.Decode drops a value of the wrong kind for a map without a word.
	if md.IsDefined("env") && md.Type("env") != "Hash" {
		return nil, &SyntaxError{fmt.Errorf("config %s: env is a TOML %s: give a table, [env] with NAME = \"value\" lines", path, strings.ToLower(md.Type("env")))}
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, unknownKeyError(path, b, und)
	}
	// The decoder also matches keys without regard to case ([KD], Log);
	// kdlaunch's keys are lower case, and a file that works only by that
	// tolerance would be read differently by any other TOML tool.
	for _, k := range md.Keys() {
		if name, ok := caseMismatch(k); ok {
			return nil, fmt.Errorf("config %s: %w %q: keys are lower case, write %q", path, ErrUnknownKey, k.String(), name)
		}
	}
	c.Path = path
	return c, nil
}

// reTypeError matches the decoder's message for a value of the wrong type.
var reTypeError = regexp.MustCompile(`line (\d+) \(last key "([^"]+)"\): incompatible types: TOML value has type (\S+); destination has type (\w+)`)

// reTableError matches the decoder's message for a value where a table belongs.
var reTableError = regexp.MustCompile(`line (\d+) \(last key "([^"]+)"\): type mismatch for [\w.]+: expected table but found (\w+)`)

// tomlType turns the decoder's Go name for a TOML value into TOML's.
func tomlType(goType string) string {
	switch goType {
	case "int64":
		return "integer"
	case "float64":
		return "float"
	case "bool":
		return "boolean"
	case "[]any", "[]interface {}":
		return "array"
	case "map[string]any", "map[string]interface {}":
		return "table"
	}
	return goType
}

// wantType says, for the decoder's name of the Go type, what to write.
func wantType(goType string) string {
	switch goType {
	case "slice":
		return `a list of strings in quotes, like ["-v"]`
	case "boolean":
		return "true or false, without quotes"
	case "integer":
		return "a whole number, without quotes"
	case "float":
		return "a number, without quotes"
	case "string":
		return "a string in quotes"
	}
	return "a " + goType
}

// errorLine is the line the error is on. The parser counts a newline it
// stumbled on as the start of the next line; the byte offset does not.
func errorLine(b []byte, pe toml.ParseError) int {
	if st := pe.Position.Start; st > 0 && st <= len(b) {
		return 1 + strings.Count(string(b[:st]), "\n")
	}
	return pe.Position.Line
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// knownKeys are the config's tables and keys as written in TOML, from the
// struct tags (env's names are the user's own).
var knownKeys = func() map[string]bool {
	m := map[string]bool{}
	t := reflect.TypeOf(Config{})
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		table := f.Tag.Get("toml")
		if table == "" || table == "-" {
			continue
		}
		m[table] = true
		if f.Type.Kind() != reflect.Struct {
			continue
		}
		for j := 0; j < f.Type.NumField(); j++ {
			if k := f.Type.Field(j).Tag.Get("toml"); k != "" && k != "-" {
				m[table+"."+k] = true
			}
		}
	}
	return m
}()

// caseMismatch reports a key the decoder accepted only by ignoring case,
// with its proper spelling.
func caseMismatch(k toml.Key) (string, bool) {
	if len(k) == 0 || len(k) > 2 {
		return "", false
	}
	if strings.EqualFold(k[0], "env") {
		if k[0] != "env" {
			return "env", true
		}
		return "", false
	}
	key := strings.Join(k, ".")
	if knownKeys[key] {
		return "", false
	}
	if lower := strings.ToLower(key); knownKeys[lower] {
		return lower, true
	}
	return "", false
}
