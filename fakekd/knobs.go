package fakekd

import (
	"fmt"
	"sort"
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
// Knobs for kd's answers (what kdlaunch must read rather than assume):
//
//	FAKEKD_KERNEL                     legacy           segment-heap: Windows 10 1903+, no nt!MmAllocateSpecialPool;
//	                                                   special pool is nt!ExAllocateHeapSpecialPool (called by
//	                                                   nt!ExAllocateHeapPool) and nt!ExpFreeHeapSpecialPool
//	FAKEKD_SYMBOLS                    full             export: nt has export symbols only (internal routines and
//	                                                   variables do not resolve); none: nothing in nt resolves
//	FAKEKD_BUGCHECK                   "" (off)         the target bug checks at this stage: waiting (while it boots:
//	                                                   the bug check comes with the connection) | connected (the
//	                                                   first break meets it) | arming (the first g after a bp, bu
//	                                                   or ed) | running (after FAKEKD_BUGCHECK_AFTER_HITS hits) |
//	                                                   stopping (a break after the first hit meets it)
//	FAKEKD_BUGCHECK_CODE              0xC4             its code (hex)
//	FAKEKD_BUGCHECK_AFTER_HITS        3                hits before a "running" bug check
//	FAKEKD_START_FAILURE              "" (off)         access-denied (Win32 error 0n5: the port is held) | no-pipe
//	                                                   (0n2: the VM pipe is missing) | kdnet (0n10048: the KDNET
//	                                                   port is taken); kd prints it and exits 1, never connecting
//	FAKEKD_START_FAILURE_TIMES        0 (all)          only the first N kd processes of this state file fail
//	FAKEKD_FAILED_INSERT              0 (off)          the first N g's with a breakpoint set fail ("Unable to insert
//	                                                   breakpoint ... Win32 error 0n299"), kd stays at the prompt;
//	                                                   "always": every one
//	FAKEKD_PERSON_BREAK_AFTER_HITS    0 (off)          after N hits the target halts with the break box though no
//	                                                   break was sent (someone at the debugging server's CTRL+C)
//	FAKEKD_FREE_EVERY                 0 (off)          with PoolHitTag set, every Nth tag break is a free
//	                                                   (nt!ExFreePoolWithTag on top) instead of an allocation
//
// Knobs of what an earlier session left on the target (kdlaunch disarm):
//
//	FAKEKD_POOL_HIT_TAG               0                nt!PoolHitTag as kd finds it (target memory: an earlier
//	                                                   session's ed; a reboot resets it): hex or a tag; set, every
//	                                                   allocation with the tag halts the running target
//	FAKEKD_START_HALTED               0                1: the target was left halted (a killed kdlaunch, a second
//	                                                   Ctrl+C): kd attaching shows the break and its prompt at once
//	FAKEKD_BREAKPOINTS                ""               bp/bu commands kd has run when the target connects (kd's own
//	                                                   startup commands: -c, a script), separated by "|"
//
// Knobs of the leak workload (what the leak recipe's breakpoints meet):
//
//	FAKEKD_LEAKS                      0                1: the target's threads allocate through the special-pool
//	                                                   allocator of FAKEKD_KERNEL (legacy MmAllocateSpecialPool,
//	                                                   segment-heap ExAllocateHeapSpecialPool) from a few call sites
//	                                                   and free through its free routine; breakpoints at the routines
//	                                                   and at return sites halt as in kd; the truth goes to the
//	                                                   state file's "leak"
//	FAKEKD_CPUS                       2                processors the threads run on
//	FAKEKD_LEAK_THREADS               4                threads that allocate and free
//	FAKEKD_LEAKER                     leakydrv         module of the driver that never frees (the others free
//	                                                   what they allocate, a few steps later)
//	FAKEKD_LEAK_ALLOCS                0 (unlimited)    allocations before the drivers stop allocating (pending
//	                                                   frees still happen, then the state says "done")
//	FAKEKD_PREARMED                   6                allocations outstanding at boot, before any breakpoint; the
//	                                                   busy drivers free them
//	FAKEKD_LOSE_RETURN                0 (off)          every Nth return of a tracked allocation at a return-site
//	                                                   breakpoint does not halt (a lost return record)
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

	Kernel            string // legacy | segment-heap
	Symbols           string // full | export | none
	BugCheck          string // "" | waiting | connected | arming | running | stopping
	BugCheckCode      uint32
	BugCheckAfterHits int
	StartFailure      string // "" | access-denied | no-pipe | kdnet
	StartFailureTimes int
	FailedInserts     int // < 0: every g fails
	PersonBreakAfter  int
	FreeEvery         int
	PoolHitTag        uint32
	StartHalted       bool
	Breakpoints       []string

	Leaks       bool
	CPUs        int
	LeakThreads int
	Leaker      string
	LeakAllocs  int
	Prearmed    int
	LoseReturn  int
	driversSet  bool // FAKEKD_DRIVERS was given
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
	c.Kernel = k.oneOf("FAKEKD_KERNEL", "legacy", "legacy", "segment-heap")
	c.Symbols = k.oneOf("FAKEKD_SYMBOLS", "full", "full", "export", "none")
	c.BugCheck = k.oneOf("FAKEKD_BUGCHECK", "", "waiting", "connected", "arming", "running", "stopping")
	c.BugCheckCode = k.hexCode("FAKEKD_BUGCHECK_CODE", 0xc4)
	c.BugCheckAfterHits = k.integer("FAKEKD_BUGCHECK_AFTER_HITS", 3)
	if c.BugCheckAfterHits < 1 {
		k.fail("FAKEKD_BUGCHECK_AFTER_HITS", getenv("FAKEKD_BUGCHECK_AFTER_HITS"), "want at least 1")
	}
	c.StartFailure = k.oneOf("FAKEKD_START_FAILURE", "", "access-denied", "no-pipe", "kdnet")
	c.StartFailureTimes = k.count("FAKEKD_START_FAILURE_TIMES")
	if v := strings.TrimSpace(getenv("FAKEKD_FAILED_INSERT")); v == "always" {
		c.FailedInserts = -1
	} else {
		c.FailedInserts = k.count("FAKEKD_FAILED_INSERT")
	}
	c.PersonBreakAfter = k.count("FAKEKD_PERSON_BREAK_AFTER_HITS")
	c.FreeEvery = k.count("FAKEKD_FREE_EVERY")
	c.PoolHitTag = k.tag("FAKEKD_POOL_HIT_TAG", 0)
	c.StartHalted = k.flag("FAKEKD_START_HALTED")
	for _, b := range strings.Split(getenv("FAKEKD_BREAKPOINTS"), "|") {
		if b = strings.TrimSpace(b); b == "" {
			continue
		}
		if w := strings.ToLower(strings.Fields(b)[0]); w != "bp" && w != "bu" {
			k.fail("FAKEKD_BREAKPOINTS", b, "want bp or bu commands separated by |")
		}
		c.Breakpoints = append(c.Breakpoints, b)
	}
	c.Leaks = k.flag("FAKEKD_LEAKS")
	c.CPUs = k.integer("FAKEKD_CPUS", 2)
	if c.CPUs < 1 || c.CPUs > 64 {
		k.fail("FAKEKD_CPUS", getenv("FAKEKD_CPUS"), "want 1 to 64")
		c.CPUs = 2
	}
	c.LeakThreads = k.integer("FAKEKD_LEAK_THREADS", 4)
	if c.LeakThreads < 1 || c.LeakThreads > 256 {
		k.fail("FAKEKD_LEAK_THREADS", getenv("FAKEKD_LEAK_THREADS"), "want 1 to 256")
		c.LeakThreads = 4
	}
	c.Leaker = k.str("FAKEKD_LEAKER", "leakydrv")
	c.LeakAllocs = k.count("FAKEKD_LEAK_ALLOCS")
	c.Prearmed = k.integer("FAKEKD_PREARMED", 6)
	if c.Prearmed < 0 || c.Prearmed > 1<<16 {
		k.fail("FAKEKD_PREARMED", getenv("FAKEKD_PREARMED"), "want 0 to 65536")
		c.Prearmed = 0
	}
	c.LoseReturn = k.count("FAKEKD_LOSE_RETURN")
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
		c.driversSet = true
	}
	return c, k.err
}

// UnknownKnobs returns the FAKEKD_* names in environ that are no knob, in
// order: a misspelt knob would otherwise leave its default in place.
func UnknownKnobs(environ []string) []string {
	known := map[string]bool{}
	_, _ = LoadConfig(func(name string) string { known[name] = true; return "" })
	var out []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "FAKEKD_") && !known[name] {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
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

// oneOf reads a knob that names one of a few choices.
func (k *knobReader) oneOf(name, def string, choices ...string) string {
	v := strings.TrimSpace(k.getenv(name))
	if v == "" {
		return def
	}
	for _, c := range choices {
		if v == c {
			return v
		}
	}
	k.fail(name, v, "want "+strings.Join(choices, ", "))
	return def
}

// hexCode reads a non-zero hex number such as a bug check code (0xC4, c4).
func (k *knobReader) hexCode(name string, def uint32) uint32 {
	v := strings.TrimSpace(k.getenv(name))
	if v == "" {
		return def
	}
	n, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(v), "0x"), 16, 32)
	if err != nil || n == 0 {
		k.fail(name, v, "want a hex code such as 0xC4")
		return def
	}
	return uint32(n)
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
// stored little-endian (kd-protocol.md "Special pool and PoolTag": 'Fred' is 0x64657246).
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
