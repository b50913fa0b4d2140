package fakekd

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Config holds every FAKEKD_* knob. The zero value is not useful; build it
// with LoadConfig so the defaults apply.
//
//	knob                              default          meaning
//	FAKEKD_CONNECT_DELAY              300ms            time from start (or reboot) to the target connection
//	FAKEKD_NEVER_CONNECT              0                1: the target never connects
//	FAKEKD_INITIAL_BREAK              0                1: "(Initial Breakpoint requested)" and halt on connect
//	FAKEKD_IGNORE_BREAKS              0                ignore the first N breaks while the target runs
//	FAKEKD_PROMPT                     numbered         "plain" prints "kd> " instead of "N: kd> "
//	FAKEKD_CRLF                       0                1: write "\r\n" line ends (Windows kd over pipes)
//	FAKEKD_HIT_INTERVAL               50ms             time between allocations while a breakpoint is armed
//	FAKEKD_MISSING_SYMBOLS            ""               comma list of symbols kd cannot resolve
//	FAKEKD_SPECIAL_POOL_TAG           0x206b6444       nt!MmSpecialPoolTag: hex ("0x206b6444") or a tag ("Ddk ")
//	FAKEKD_SEED                       1                seed of every random choice (stacks, args, processor)
//	FAKEKD_DRIVERS                    built-in set     allocating stacks, see parseDrivers
//	FAKEKD_ARCH                       x64              x64 | x86
//	FAKEKD_STACK_FORMAT               kb-new / kb      what "kb" prints: x64 kb-new|kb-old|kn, x86 kb|kv|k
//	FAKEKD_NOISE                      0                1: DbgPrint lines, unwind warnings, symbol errors
//	FAKEKD_CRASH_AFTER_HITS           0 (off)          exit abruptly after N hits
//	FAKEKD_CRASH_CODE                 3 / 0xC0000005   exit code of that crash (Unix / Windows)
//	FAKEKD_REBOOT_AFTER_HITS          0 (off)          target reboots after N hits (breakpoints lost)
//	FAKEKD_REBOOT_DELAY               500ms            reboot to reconnection
//	FAKEKD_REBOOT_REPEAT              0                1: reboot again after every N hits
//	FAKEKD_TRANSPORT_LOSS_AFTER_HITS  0 (off)          transport failure after N hits (once)
//	FAKEKD_TRANSPORT_LOSS_FOR         2s               how long the transport stays lost
//	FAKEKD_SLOW_BPS                   0 (off)          throttle stdout to N bytes/s (1920 ~ 19200 baud)
//	FAKEKD_HANG_ON_CTRLB              0                1: ignore CTRL+B (tests kill escalation)
//	FAKEKD_FLOOD                      0                1: hits back to back, no interval
//	FAKEKD_FLOOD_HITS                 0 (unlimited)    with FLOOD: stop allocating after N hits
//	FAKEKD_ECHO_SECRETS               0                1: print passwords and KDNET keys (redaction tests)
//	FAKEKD_STATE                      ""               path of the JSON state file
//
// Durations accept Go syntax ("300ms", "2s") or a bare number of
// milliseconds. A malformed knob is an error: a fake that silently falls back
// to a default would make a test pass for the wrong reason.
type Config struct {
	ConnectDelay    time.Duration
	NeverConnect    bool
	InitialBreak    bool
	IgnoreBreaks    int
	PlainPrompt     bool
	CRLF            bool
	HitInterval     time.Duration
	MissingSymbols  map[string]bool // lower-cased symbol names
	SpecialPoolTag  uint32
	Seed            uint64
	Stacks          []StackDef
	Arch            string
	StackFormat     string
	Noise           bool
	CrashAfterHits  int
	CrashCode       int
	RebootAfterHits int
	RebootDelay     time.Duration
	RebootRepeat    bool
	LossAfterHits   int
	LossFor         time.Duration
	SlowBPS         int
	HangOnCtrlB     bool
	Flood           bool
	FloodHits       int
	EchoSecrets     bool
	StatePath       string
}

// LoadConfig reads the knobs through getenv (os.Getenv in the program, a map
// in tests).
func LoadConfig(getenv func(string) string) (*Config, error) {
	k := knobReader{getenv: getenv}
	c := &Config{
		ConnectDelay:    k.duration("FAKEKD_CONNECT_DELAY", 300*time.Millisecond),
		NeverConnect:    k.flag("FAKEKD_NEVER_CONNECT"),
		InitialBreak:    k.flag("FAKEKD_INITIAL_BREAK"),
		IgnoreBreaks:    k.count("FAKEKD_IGNORE_BREAKS"),
		CRLF:            k.flag("FAKEKD_CRLF"),
		HitInterval:     k.duration("FAKEKD_HIT_INTERVAL", 50*time.Millisecond),
		MissingSymbols:  map[string]bool{},
		SpecialPoolTag:  k.tag("FAKEKD_SPECIAL_POOL_TAG", 0x206b6444),
		Seed:            uint64(k.count("FAKEKD_SEED")),
		Arch:            strings.ToLower(k.str("FAKEKD_ARCH", "x64")),
		Noise:           k.flag("FAKEKD_NOISE"),
		CrashAfterHits:  k.count("FAKEKD_CRASH_AFTER_HITS"),
		CrashCode:       k.integer("FAKEKD_CRASH_CODE", defaultCrashCode),
		RebootAfterHits: k.count("FAKEKD_REBOOT_AFTER_HITS"),
		RebootDelay:     k.duration("FAKEKD_REBOOT_DELAY", 500*time.Millisecond),
		RebootRepeat:    k.flag("FAKEKD_REBOOT_REPEAT"),
		LossAfterHits:   k.count("FAKEKD_TRANSPORT_LOSS_AFTER_HITS"),
		LossFor:         k.duration("FAKEKD_TRANSPORT_LOSS_FOR", 2*time.Second),
		SlowBPS:         k.count("FAKEKD_SLOW_BPS"),
		HangOnCtrlB:     k.flag("FAKEKD_HANG_ON_CTRLB"),
		Flood:           k.flag("FAKEKD_FLOOD"),
		FloodHits:       k.count("FAKEKD_FLOOD_HITS"),
		EchoSecrets:     k.flag("FAKEKD_ECHO_SECRETS"),
		StatePath:       getenv("FAKEKD_STATE"),
	}
	if getenv("FAKEKD_SEED") == "" {
		c.Seed = 1
	}
	switch p := k.str("FAKEKD_PROMPT", "numbered"); p {
	case "numbered":
	case "plain":
		c.PlainPrompt = true
	default:
		k.fail("FAKEKD_PROMPT", p, "want numbered or plain")
	}
	for _, s := range strings.Split(getenv("FAKEKD_MISSING_SYMBOLS"), ",") {
		if s = strings.TrimSpace(s); s != "" {
			c.MissingSymbols[strings.ToLower(s)] = true
		}
	}
	if archs[c.Arch] == nil {
		k.fail("FAKEKD_ARCH", c.Arch, "want x64 or x86")
		return nil, k.err
	}
	c.StackFormat = k.str("FAKEKD_STACK_FORMAT", archs[c.Arch].defaultFormat)
	if !archs[c.Arch].formats[c.StackFormat] {
		k.fail("FAKEKD_STACK_FORMAT", c.StackFormat, "not a "+c.Arch+" layout")
	}
	c.Stacks = defaultStacks
	if spec := getenv("FAKEKD_DRIVERS"); spec != "" {
		stacks, err := parseDrivers(spec)
		if err != nil {
			k.fail("FAKEKD_DRIVERS", spec, err.Error())
		}
		c.Stacks = stacks
	}
	return c, k.err
}

// knobReader parses knobs and keeps the first error, so LoadConfig reads as a
// flat list instead of an error check per line.
type knobReader struct {
	getenv func(string) string
	err    error
}

func (k *knobReader) fail(name, val, why string) {
	if k.err == nil {
		k.err = fmt.Errorf("bad %s=%q: %s", name, val, why)
	}
}

func (k *knobReader) str(name, def string) string {
	if v := strings.TrimSpace(k.getenv(name)); v != "" {
		return v
	}
	return def
}

func (k *knobReader) flag(name string) bool {
	switch v := strings.TrimSpace(k.getenv(name)); strings.ToLower(v) {
	case "", "0", "false", "no", "off":
		return false
	case "1", "true", "yes", "on":
		return true
	default:
		k.fail(name, v, "want 0 or 1")
		return false
	}
}

func (k *knobReader) integer(name string, def int) int {
	v := strings.TrimSpace(k.getenv(name))
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 0, 64)
	if err != nil {
		k.fail(name, v, "want an integer (0x for hex)")
	}
	return int(n)
}

func (k *knobReader) count(name string) int {
	n := k.integer(name, 0)
	if n < 0 {
		k.fail(name, k.getenv(name), "must not be negative")
		return 0
	}
	return n
}

func (k *knobReader) duration(name string, def time.Duration) time.Duration {
	v := strings.TrimSpace(k.getenv(name))
	if v == "" {
		return def
	}
	if ms, err := strconv.Atoi(v); err == nil && ms >= 0 {
		return time.Duration(ms) * time.Millisecond
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		k.fail(name, v, "want a duration such as 300ms or a number of milliseconds")
		return def
	}
	return d
}

// tag reads a pool tag either as the hex number kd and the registry show
// (0x206b6444) or as the four characters a driver passes ("Ddk "), which are
// stored little-endian ("Special pool and PoolTag" in docs/kd-protocol.md: 'Fred' is 0x64657246).
func (k *knobReader) tag(name string, def uint32) uint32 {
	v := k.getenv(name)
	if strings.TrimSpace(v) == "" {
		return def
	}
	if t, ok := parseTagText(v); ok && !strings.HasPrefix(strings.ToLower(v), "0x") {
		return t
	}
	n, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(strings.TrimSpace(v)), "0x"), 16, 32)
	if err != nil {
		k.fail(name, v, "want hex (0x206b6444) or a 4-character tag")
	}
	return uint32(n)
}

// parseTagText accepts a tag written as its characters, 1 to 4 of them, at
// least one not a hex digit (so "Ddk " is a tag but "1234" is a number).
func parseTagText(v string) (uint32, bool) {
	if len(v) == 0 || len(v) > 4 {
		return 0, false
	}
	hex := true
	for _, r := range v {
		if r < 0x20 || r > 0x7e {
			return 0, false
		}
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			hex = false
		}
	}
	if hex {
		return 0, false
	}
	var t uint32
	for i := len(v) - 1; i >= 0; i-- {
		t = t<<8 | uint32(v[i])
	}
	return t, true
}
