package kdalike

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Knobs (all optional; a malformed or unknown KDA_* variable is an error, so
// a test never passes against a default it did not ask for):
//
//	KDA_STATE          state file
//	KDA_TRANSPORT      serial (default) | net | pipe
//	KDA_WAITS          "Waiting to reconnect..." lines before the target connects (2)
//	KDA_CONNECT_DELAY  time before the target connects (150ms)
//	KDA_HANDSHAKE      1: net only; after "Connected to target" the rest of the
//	                   connection text comes only after the first break-in
//	KDA_INITIAL_BREAK  1: "(Initial Breakpoint requested)": the target halts by itself
//	KDA_INITIAL_DELAY  delay before that initial halt (100ms)
//	KDA_PROMPT         plain ("kd> ") | mp ("0: kd> ", cycling 0..3) | wide ("12: kd> ")
//	KDA_SPLIT_PROMPT   1: the prompt in two writes 30ms apart
//	KDA_GLUE           1: the prompt in the same write as the output before it
//	KDA_CRLF           1: CRLF line ends
//	KDA_ECHO           1: echo each command after the prompt
//	KDA_ARCH           x64 (default) | x86
//	KDA_KB             new (default, x64 without Child-SP) | old (x64 Child-SP layout)
//	KDA_HIT_INTERVAL   time between hits while armed and running (20ms); 0: flood
//	KDA_DBGPRINT       1: a DbgPrint line between hits; nonl: one without a
//	                   trailing newline (DbgPrint prints what the driver gave)
//	KDA_DEFERRED       1: bp answers "could not be resolved, adding deferred bp"
//	KDA_SYMERR         1: symbol load errors and warnings
//	KDA_BREAK_DELAY    time a break takes to land (0)
//	KDA_BREAK_SYMBOLS  time between the break-in box and the prompt (symbols loading) (0)
//	KDA_QUIET          1: no break-in box (KDQUIET)
//	KDA_RACE           hit: a hit is printed just before the break lands;
//	                   cancel: the break cancels the breakpoint's "kb;g": the
//	                   target stays at the breakpoint, prompt without a break banner
//	KDA_SELF_HALT      N: after N hits the target halts by itself (int 3 in a driver)
//	KDA_HIT_AFTER_G    1: the first hit comes immediately after g
//
// Fault knobs (modelled on kd's documented behaviour; "incarnation" counts
// kd processes started with the same KDA_STATE, from 1):
//
//	KDA_EXIT_AT_START  N: incarnations 1..N fail to open the port and exit 1
//	                   before any connection
//	KDA_EXIT_AFTER_HITS N: kd exits with KDA_EXIT_CODE (3) after N hits
//	KDA_SIGNAL_AFTER_HITS N: kd is killed by SIGKILL after N hits
//	KDA_FAULT_TIMES    these two and KDA_CLOSE_AFTER_HITS only in incarnations
//	                   1..N (0: all)
//	KDA_REBOOT_AFTER_HITS N: the running target reboots after N hits: the
//	                   Shutdown text, "Waiting to reconnect...", KDA_REBOOT_DOWN
//	                   (1s) later the connection text again; breakpoints lost
//	KDA_REBOOTS        how many such reboots per incarnation (1)
//	KDA_REBOOT_ON_BREAK N: the Nth break that reaches a running target finds
//	                   it rebooting instead (the break is lost)
//	KDA_RESET_ON_CMD   PREFIX: the halted target is hard-reset when a command
//	                   with this prefix arrives: kd answers it with the
//	                   transport-lost text and waits to reconnect, no prompt
//	KDA_IGNORE_BREAKS  N: the first N breaks to a running target are lost; -1: all
//	KDA_LOST_AFTER_HITS N: after N hits the transport is lost for
//	                   KDA_LOST_FOR (1s), then "KDTARGET: Refreshing KD
//	                   connection"; breaks meanwhile land after that
//	KDA_CTRLB_DELAY    kd leaves this long after CTRL+B ENTER (0); "never": not at all
//	KDA_STALL_AFTER_HITS N: after N hits a partial DbgPrint line, then kd is
//	                   silent and deaf for KDA_STALL_FOR (1s), then the rest
//	KDA_CLOSE_AFTER_HITS N: kd closes its console (stdin, stdout, stderr) after
//	                   N hits and keeps running (up to 60s)
//	KDA_BURST          N: a break landing on an armed target first flushes N
//	                   lines of target output (DbgPrint, a hit every 100)
//	KDA_IGNORE_HUP     1: SIGHUP is ignored (kd survives a pty hangup until its
//	                   console read fails)
//
// Knobs for kd's answers (what a modern kernel, missing symbols, a crash, a
// failed start, a failed g and a person at the server look like):
//
//	KDA_KERNEL         legacy (default): nt!MmAllocateSpecialPool exists;
//	                   segment-heap (Windows 10 1903+): it does not, the
//	                   special pool routines are nt!ExAllocateHeapSpecialPool
//	                   and nt!ExpFreeHeapSpecialPool, hits come through them
//	KDA_SYMBOLS        full (default) | export: nt has export symbols only
//	                   (internal routines and variables do not resolve) |
//	                   none: nothing in nt resolves
//	KDA_BUGCHECK       the target bug checks (KDA_BUGCHECK_CODE, 0xC4) at this
//	                   stage: waiting (it crashes while booting: the bug check
//	                   comes with the connection) | connected (the first break
//	                   meets a bug check) | arming (the first g after a bp or
//	                   ed) | running (after KDA_BUGCHECK_AFTER_HITS hits, 3) |
//	                   stopping (a break after the first hit meets it)
//	KDA_START_FAILURE  access-denied (Win32 error 0n5) | no-pipe (0n2, the VM
//	                   pipe is missing) | kdnet (0n10048, the KDNET port is
//	                   taken): kd prints it and exits 1 without connecting;
//	                   KDA_START_FAILURE_TIMES N limits it to incarnations 1..N
//	KDA_FAILED_INSERT  N: the first N g's with a breakpoint set fail with
//	                   "Unable to insert breakpoint ... Win32 error 0n299" and
//	                   kd stays at the prompt; "always": every one
//	KDA_PERSON_BREAK_AFTER_HITS N: after N hits the target halts with the
//	                   break box though nobody sent a break (someone on the
//	                   debugging server pressed CTRL+C)
//	KDA_FREE_EVERY     N: with PoolHitTag set, every Nth tag break is a free
//	                   (nt!ExFreePoolWithTag on top) instead of an allocation
//
// Knobs of what an earlier session left on the target (kdlaunch disarm):
//
//	KDA_POOL_HIT_TAG   hex: nt!PoolHitTag as kd finds it (target memory, an
//	                   earlier session's ed; a reboot resets it); set, the
//	                   running target halts at the next tagged allocation
//	KDA_START_HALTED   1: the target was left halted (a killed kdlaunch, a
//	                   second Ctrl+C): the first connection shows the break
//	                   (the box unless KDA_QUIET) and a prompt, no break sent
//
// The leak workload (what the leak recipe's breakpoints meet):
//
//	KDA_LEAKS          1: the target's threads allocate special pool through
//	                   the allocator of KDA_KERNEL from two call sites and free
//	                   it; kd runs breakpoint commands (.printf, kb, .if, j,
//	                   g, bp, bs) at the routines and return sites; the truth
//	                   goes to the state's "leak"
//	KDA_CPUS           processors (4)
//	KDA_LEAK_THREADS   threads that allocate (3)
//	KDA_LEAK_ALLOCS    N: the drivers stop allocating after N calls (0: never);
//	                   pending frees still come, then the state says done
//	KDA_PREARMED       allocations outstanding at boot, freed later (4)
//	KDA_LEAKER_EVERY   every Nth allocation is the leaker's, which never frees (4)
//	KDA_LOSE_RETURN    N: every Nth tracked return does not halt (0: none)
//	KDA_LEAK_SEED      seed of the workload's choices (1)
type config struct {
	state        string
	transport    string
	waits        int
	connectDelay time.Duration
	handshake    bool
	initialBreak bool
	initialDelay time.Duration
	prompt       string
	splitPrompt  bool
	glue         bool
	crlf         bool
	echo         bool
	arch         string
	kb           string
	hitInterval  time.Duration
	dbgprint     string
	deferred     bool
	symerr       bool
	breakDelay   time.Duration
	breakSymbols time.Duration
	quiet        bool
	race         string
	selfHalt     int
	hitAfterG    bool

	exitAtStart     int
	exitAfterHits   int
	exitCode        int
	signalAfterHits int
	faultTimes      int
	rebootAfterHits int
	reboots         int
	rebootDown      time.Duration
	rebootOnBreak   int
	resetOnCmd      string
	ignoreBreaks    int
	lostAfterHits   int
	lostFor         time.Duration
	ctrlbDelay      time.Duration // < 0: never leave
	stallAfterHits  int
	stallFor        time.Duration
	closeAfterHits  int
	burst           int
	ignoreHup       bool

	kernel            string
	symbols           string
	bugcheck          string
	bugcheckCode      uint32
	bugcheckAfterHits int
	startFailure      string
	startFailureTimes int
	failedInserts     int // < 0: always
	personBreakAtHits int
	freeEvery         int
	poolHitTag        uint32
	startHalted       bool

	leaks       bool
	cpus        int
	leakThreads int
	leakAllocs  int
	prearmed    int
	leakerEvery int
	loseReturn  int
	leakSeed    int
}

// reader parses knobs, keeping every error and every name it read (any
// other KDA_* variable is a typo).
type reader struct {
	getenv func(string) (string, bool)
	errs   []string
	seen   map[string]bool
}

func (r *reader) raw(name string) (string, bool) {
	r.seen[name] = true
	v, ok := r.getenv(name)
	return strings.TrimSpace(v), ok && strings.TrimSpace(v) != ""
}

func (r *reader) bad(name, val, want string) {
	r.errs = append(r.errs, fmt.Sprintf("kdalike: bad %s=%q: want %s", name, val, want))
}

func (r *reader) str(name, def string, allowed ...string) string {
	v, ok := r.raw(name)
	if !ok {
		return def
	}
	if len(allowed) == 0 {
		return v
	}
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	r.bad(name, v, strings.Join(allowed, " or "))
	return def
}

func (r *reader) flag(name string) bool {
	v, ok := r.raw(name)
	if !ok {
		return false
	}
	switch v {
	case "0":
		return false
	case "1":
		return true
	}
	r.bad(name, v, "0 or 1")
	return false
}

// num reads a whole number not below min.
func (r *reader) num(name string, def, min int) int {
	v, ok := r.raw(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min {
		r.bad(name, v, fmt.Sprintf("a whole number from %d", min))
		return def
	}
	return n
}

func (r *reader) dur(name string, def time.Duration) time.Duration {
	v, ok := r.raw(name)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		r.bad(name, v, "a duration such as 150ms")
		return def
	}
	return d
}

// load reads every knob. It returns every malformed one, one line each.
func load(getenv func(string) (string, bool), environ []string) (config, error) {
	r := &reader{getenv: getenv, seen: map[string]bool{}}
	c := config{
		transport:    r.str("KDA_TRANSPORT", "serial", "serial", "net", "pipe"),
		waits:        r.num("KDA_WAITS", 2, 0),
		connectDelay: r.dur("KDA_CONNECT_DELAY", 150*time.Millisecond),
		handshake:    r.flag("KDA_HANDSHAKE"),
		initialBreak: r.flag("KDA_INITIAL_BREAK"),
		initialDelay: r.dur("KDA_INITIAL_DELAY", 100*time.Millisecond),
		prompt:       r.str("KDA_PROMPT", "mp", "plain", "mp", "wide"),
		splitPrompt:  r.flag("KDA_SPLIT_PROMPT"),
		glue:         r.flag("KDA_GLUE"),
		crlf:         r.flag("KDA_CRLF"),
		echo:         r.flag("KDA_ECHO"),
		arch:         r.str("KDA_ARCH", "x64", "x64", "x86"),
		kb:           r.str("KDA_KB", "new", "new", "old"),
		hitInterval:  r.dur("KDA_HIT_INTERVAL", 20*time.Millisecond),
		dbgprint:     r.str("KDA_DBGPRINT", "", "0", "1", "nonl"),
		deferred:     r.flag("KDA_DEFERRED"),
		symerr:       r.flag("KDA_SYMERR"),
		breakDelay:   r.dur("KDA_BREAK_DELAY", 0),
		breakSymbols: r.dur("KDA_BREAK_SYMBOLS", 0),
		quiet:        r.flag("KDA_QUIET"),
		race:         r.str("KDA_RACE", "", "hit", "cancel"),
		selfHalt:     r.num("KDA_SELF_HALT", 0, 0),
		hitAfterG:    r.flag("KDA_HIT_AFTER_G"),

		exitAtStart:     r.num("KDA_EXIT_AT_START", 0, 0),
		exitAfterHits:   r.num("KDA_EXIT_AFTER_HITS", 0, 0),
		exitCode:        r.num("KDA_EXIT_CODE", 3, 0),
		signalAfterHits: r.num("KDA_SIGNAL_AFTER_HITS", 0, 0),
		faultTimes:      r.num("KDA_FAULT_TIMES", 0, 0),
		rebootAfterHits: r.num("KDA_REBOOT_AFTER_HITS", 0, 0),
		reboots:         r.num("KDA_REBOOTS", 1, 0),
		rebootDown:      r.dur("KDA_REBOOT_DOWN", time.Second),
		rebootOnBreak:   r.num("KDA_REBOOT_ON_BREAK", 0, 0),
		ignoreBreaks:    r.num("KDA_IGNORE_BREAKS", 0, -1),
		lostAfterHits:   r.num("KDA_LOST_AFTER_HITS", 0, 0),
		lostFor:         r.dur("KDA_LOST_FOR", time.Second),
		stallAfterHits:  r.num("KDA_STALL_AFTER_HITS", 0, 0),
		stallFor:        r.dur("KDA_STALL_FOR", time.Second),
		closeAfterHits:  r.num("KDA_CLOSE_AFTER_HITS", 0, 0),
		burst:           r.num("KDA_BURST", 0, 0),
		ignoreHup:       r.flag("KDA_IGNORE_HUP"),

		kernel:            r.str("KDA_KERNEL", "legacy", "legacy", "segment-heap"),
		symbols:           r.str("KDA_SYMBOLS", "full", "full", "export", "none"),
		bugcheck:          r.str("KDA_BUGCHECK", "", "waiting", "connected", "arming", "running", "stopping"),
		bugcheckAfterHits: r.num("KDA_BUGCHECK_AFTER_HITS", 3, 1),
		startFailure:      r.str("KDA_START_FAILURE", "", "access-denied", "no-pipe", "kdnet"),
		startFailureTimes: r.num("KDA_START_FAILURE_TIMES", 0, 0),
		personBreakAtHits: r.num("KDA_PERSON_BREAK_AFTER_HITS", 0, 0),
		freeEvery:         r.num("KDA_FREE_EVERY", 0, 0),
		startHalted:       r.flag("KDA_START_HALTED"),

		leaks:       r.flag("KDA_LEAKS"),
		cpus:        r.num("KDA_CPUS", 4, 1),
		leakThreads: r.num("KDA_LEAK_THREADS", 3, 1),
		leakAllocs:  r.num("KDA_LEAK_ALLOCS", 0, 0),
		prearmed:    r.num("KDA_PREARMED", 4, 0),
		leakerEvery: r.num("KDA_LEAKER_EVERY", 4, 0),
		loseReturn:  r.num("KDA_LOSE_RETURN", 0, 0),
		leakSeed:    r.num("KDA_LEAK_SEED", 1, 0),
	}
	c.state, _ = r.raw("KDA_STATE")
	if _, ok := r.raw("KDA_RESET_ON_CMD"); ok {
		c.resetOnCmd, _ = getenv("KDA_RESET_ON_CMD") // a prefix: its spaces count
	}
	c.bugcheckCode = 0xc4
	if v, ok := r.raw("KDA_BUGCHECK_CODE"); ok {
		n, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(v), "0x"), 16, 32)
		if err != nil || n == 0 {
			r.bad("KDA_BUGCHECK_CODE", v, "a hex bug check code such as 0xC4")
		}
		c.bugcheckCode = uint32(n)
	}
	if v, ok := r.raw("KDA_POOL_HIT_TAG"); ok {
		n, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(v), "0x"), 16, 32)
		if err != nil {
			r.bad("KDA_POOL_HIT_TAG", v, "a hex DWORD such as 0x206b6444")
		}
		c.poolHitTag = uint32(n)
	}
	if v, ok := r.raw("KDA_FAILED_INSERT"); ok {
		if v == "always" {
			c.failedInserts = -1
		} else if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			c.failedInserts = n
		} else {
			r.bad("KDA_FAILED_INSERT", v, `a whole number from 0 or "always"`)
		}
	}
	if v, ok := r.raw("KDA_CTRLB_DELAY"); ok && v == "never" {
		c.ctrlbDelay = -1
	} else {
		c.ctrlbDelay = r.dur("KDA_CTRLB_DELAY", 0)
	}
	var unknown []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "KDA_") && !r.seen[name] {
			unknown = append(unknown, name)
		}
	}
	sort.Strings(unknown)
	for _, name := range unknown {
		r.errs = append(r.errs, fmt.Sprintf("kdalike: unknown knob %s (see the Knobs list in package kdalike)", name))
	}
	if len(r.errs) > 0 {
		return c, fmt.Errorf("%s", strings.Join(r.errs, "\n"))
	}
	return c, nil
}
