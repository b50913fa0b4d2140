package fakekd

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// State is what fakekd reports about itself in FAKEKD_STATE, for tests of
// kdlaunch to assert on: whether a clean stop left the target running with
// no breakpoints, and which driver mistakes were made on the way. This is
// the one declaration of the file; tests import it.
type State struct {
	Pid          int               `json:"pid"`
	Argv         []string          `json:"argv"`
	Env          map[string]string `json:"env"`
	Incarnations int               `json:"incarnations"` // 1 for the first process that wrote this file

	Arch       string `json:"arch"`
	Server     string `json:"server"`     // -server transport as given ("" without -server)
	Connection string `json:"connection"` // -k string as given
	Transport  string `json:"transport"`  // com | pipe | net | usb

	Connected     bool   `json:"connected"`
	TransportLost bool   `json:"transport_lost"`
	Target        string `json:"target"` // waiting | running | halted | locked

	Breakpoints []BreakpointState `json:"breakpoints"`
	PoolHitTag  uint32            `json:"pool_hit_tag"`
	Hits        int               `json:"hits"`
	Reboots     int               `json:"reboots"`

	BreaksReceived      int `json:"breaks_received"`
	BreaksBeforeConnect int `json:"breaks_before_connect"`
	BreaksWhileHalted   int `json:"breaks_while_halted"`
	IgnoredBreaks       int `json:"ignored_breaks"` // FAKEKD_IGNORE_BREAKS and transport loss

	// Commands are the lines executed at the prompt, in order (an empty
	// line appears as the command it repeated). CommandsWhileRunning are the
	// lines that arrived while no prompt was showing (target waiting or
	// running): kd queues those until the next halt (kd-protocol.md "Break-in and the break box"), which
	// is a driver bug.
	Commands             []string `json:"commands"`
	CommandsWhileRunning []string `json:"commands_while_running"`
	EmptyLines           int      `json:"empty_lines"`
	CtrlBIgnored         int      `json:"ctrl_b_ignored"` // FAKEKD_HANG_ON_CTRLB

	ExitReason string `json:"exit_reason"` // "" while alive; ctrl-b | quit | crash | eof | signal | start failed

	// kd's answers (the knobs of the same names). The JSON names are the
	// same in kdalike's state file.
	Kernel  string `json:"kernel"`  // legacy | segment-heap
	Symbols string `json:"symbols"` // full | export | none

	// A bug check: its code (0: none happened), parameters and stage;
	// every command typed at the prompt after it; whether a g continued
	// it (the target then writes its dump and reboots).
	BugCheckCode          uint32   `json:"bugcheck_code"`
	BugCheckParams        []uint64 `json:"bugcheck_params"`
	BugCheckStage         string   `json:"bugcheck_stage"`
	CommandsAfterBugCheck []string `json:"commands_after_bugcheck"`
	GIntoBugCheck         bool     `json:"g_into_bugcheck"`

	StartFailure  string `json:"start_failure"` // the cause kd printed before it exited
	GTyped        int    `json:"g_typed"`       // every g (gh, gn, gc) kd ran, typed or in a command string
	FailedInserts int    `json:"failed_inserts"`

	// A person's break: how many, whether a g ended it and how long after
	// the box that came, and what was typed meanwhile.
	PersonBreaks          int      `json:"person_breaks"`
	PersonBreakResumed    bool     `json:"person_break_resumed"`
	PersonBreakResumedMs  int64    `json:"person_break_resumed_after_ms"`
	CommandsAtPersonBreak []string `json:"commands_at_person_break"`

	// PoolHitTag breaks, allocations and frees apart (Hits counts both).
	PoolHitAllocs int `json:"pool_hit_allocs"`
	PoolHitFrees  int `json:"pool_hit_frees"`

	// Leak is the simulated target's truth with FAKEKD_LEAKS (nil without).
	Leak *LeakState `json:"leak,omitempty"`
}

// LeakState is the truth of the leak workload (FAKEKD_LEAKS): what the
// target really allocated and freed, whatever kd saw of it, and what it
// cost in halts. The names are the same in kdalike's state file.
type LeakState struct {
	Arch   string `json:"arch"`
	Family string `json:"family"` // mm-special-pool | heap-special-pool
	CPUs   int    `json:"cpus"`

	// Boots counts the workload's boots (a reboot starts it afresh: the
	// target's memory is gone). BeforeReboot keeps what was outstanding at
	// each reboot: never freed, so a report over the whole log still counts
	// it (docs/leaks.md, the reboot record). Every counter below runs over
	// all boots; Outstanding is this boot's.
	Boots        int         `json:"boots"`
	BeforeReboot []LeakAlloc `json:"outstanding_before_reboot"`

	// Outstanding is every allocation of this boot not freed, in address
	// order: the preallocated ones (made before any breakpoint) included.
	Outstanding      []LeakAlloc `json:"outstanding"`
	OutstandingCount int         `json:"outstanding_count"`
	OutstandingBytes uint64      `json:"outstanding_bytes"`

	Allocs      int    `json:"allocs"` // allocations that returned, since boot (preallocated not included)
	AllocBytes  uint64 `json:"alloc_bytes"`
	Frees       int    `json:"frees"`
	FreeBytes   uint64 `json:"free_bytes"`
	Prearmed    int    `json:"prearmed"`       // allocations outstanding at boot
	PreFreed    int    `json:"prearmed_freed"` // of those, freed since
	Reused      int    `json:"reused"`         // allocations that got an address freed before
	InFlight    int    `json:"in_flight"`      // threads between the allocator's entry and its return now
	MaxInFlight int    `json:"max_in_flight"`  // the most that ever were at once
	Done        bool   `json:"done"`           // FAKEKD_LEAK_ALLOCS reached and every pending free done

	// Tracked allocations halted at the allocator's entry breakpoint;
	// Returned ones also halted at a return-site breakpoint (their address
	// is in the log). LostReturns were tracked returns that FAKEKD_LOSE_RETURN
	// kept from halting.
	Tracked     int `json:"tracked"`
	Returned    int `json:"returned"`
	LostReturns int `json:"lost_returns"`
	FreesSeen   int `json:"frees_seen"` // frees that halted at the free breakpoint

	// Halts by where they stopped: every one stops all CPUs. Filtered are
	// halts at a thread-bound breakpoint (bp /t) by another thread, which
	// kd resumes without a word; they cost the target all the same.
	HaltsEntry    int `json:"halts_entry"`
	HaltsReturn   int `json:"halts_return"`
	HaltsFree     int `json:"halts_free"`
	HaltsFiltered int `json:"halts_filtered"`
	// HaltsPerTracked is (entry + return + filtered halts) per tracked
	// allocation; HaltsPerFree is free halts per free seen.
	HaltsPerTracked float64 `json:"halts_per_tracked_alloc"`
	HaltsPerFree    float64 `json:"halts_per_free"`
	// NewSiteWaits are entry halts that stayed halted for the driver
	// (the recipe's new-return-site branch, or any halt left at a prompt).
	NewSiteWaits int `json:"new_site_waits"`
}

// LeakAlloc is one outstanding allocation.
type LeakAlloc struct {
	Addr     uint64 `json:"addr"`
	Size     uint64 `json:"size"`
	Thread   uint64 `json:"thread"`
	Site     uint64 `json:"site"`     // the allocator's return address (its call site)
	Stack    string `json:"stack"`    // the allocating driver's innermost frame as kb prints it
	Prearmed bool   `json:"prearmed"` // allocated at boot, before any breakpoint
	Tracked  bool   `json:"tracked"`  // its entry halted at the allocator's breakpoint
	Returned bool   `json:"returned"` // its return halted at a return-site breakpoint
}

// Safe lists, one line each, what a clean stop must not leave: a target
// that is not running, an armed breakpoint or PoolHitTag, a command typed
// while the target ran, a q, a g typed into a bug check. Empty: safe.
func (s *State) Safe() []string {
	var bad []string
	if s.Target != targetRunning {
		bad = append(bad, "target "+s.Target+" at the end, want running")
	}
	if len(s.Breakpoints) != 0 {
		bad = append(bad, fmt.Sprintf("%d breakpoints left armed", len(s.Breakpoints)))
	}
	if s.PoolHitTag != 0 && s.PoolHitTag != 0xffffff0f {
		bad = append(bad, fmt.Sprintf("PoolHitTag left at %#x", s.PoolHitTag))
	}
	if len(s.CommandsWhileRunning) != 0 {
		bad = append(bad, fmt.Sprintf("commands typed while the target ran: %q", s.CommandsWhileRunning))
	}
	for _, c := range s.Commands {
		if w := strings.TrimSpace(c); w == "q" || w == "qq" {
			bad = append(bad, "q typed: it leaves the target locked")
			break
		}
	}
	if s.GIntoBugCheck {
		bad = append(bad, "g typed into a bug check")
	}
	return bad
}

// BreakpointState is one breakpoint as the state file shows it.
type BreakpointState struct {
	ID       int    `json:"id"`
	Address  string `json:"address"`
	Command  string `json:"command"`
	Enabled  bool   `json:"enabled"`
	Deferred bool   `json:"deferred"`
}

// previousIncarnations reads the counter a former process left in the
// state file, so crash/restart tests can tell incarnations apart.
func previousIncarnations(path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	var old struct {
		Incarnations int `json:"incarnations"`
	}
	if json.Unmarshal(data, &old) != nil {
		return 0
	}
	return old.Incarnations
}

// writeState replaces path atomically: readers never see a half-written
// file, only the old or the new one.
func writeState(path string, s *State) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp"+strconv.Itoa(os.Getpid()))
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return err
	}
	// On Windows a reader holding the file open makes the rename fail for
	// a moment; retry briefly rather than lose the update.
	for i := 0; ; i++ {
		err = os.Rename(tmp, path)
		if err == nil || i == 20 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
