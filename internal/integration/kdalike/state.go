package kdalike

// This file is the one declaration of kdalike's state file; the
// integration tests import it.

// Received is one command as kdalike got it.
type Received struct {
	Text  string `json:"text"`
	State string `json:"state"` // the target's state when it arrived
}

// State is what the tests read.
type State struct {
	PID                 int        `json:"pid"`
	Target              string     `json:"target"` // waiting, connected, running, halted
	Connected           bool       `json:"connected"`
	Breakpoints         []string   `json:"breakpoints"`
	Hits                int        `json:"hits"`
	Breaks              []string   `json:"breaks"` // the target's state when each break arrived
	BreaksBeforeConnect int        `json:"breaks_before_connect"`
	BreaksWhileHalted   int        `json:"breaks_while_halted"`
	Commands            []Received `json:"commands"`
	CommandsWhileBusy   []string   `json:"commands_while_busy"`
	EmptyLines          int        `json:"empty_lines"`
	Quit                bool       `json:"quit"`
	ExitReason          string     `json:"exit_reason"`
	LogEnv              string     `json:"log_env"`
	Failures            []string   `json:"failures"`

	Incarnation   int      `json:"incarnation"`    // 1 for the first kd started with this KDA_STATE
	EverConnected bool     `json:"ever_connected"` // a connection clears what an earlier kd left armed
	Reboots       int      `json:"reboots"`
	Resets        int      `json:"resets"`
	IgnoredBreaks int      `json:"ignored_breaks"`
	LostBreaks    int      `json:"lost_breaks"`    // breaks that met a reboot
	RaceBreaks    int      `json:"race_breaks"`    // breaks that arrived right after the target went away (sent before kd said so)
	TypeaheadLost []string `json:"typeahead_lost"` // markers typed ahead of a command the reset swallowed
	CtrlB         bool     `json:"ctrl_b"`
	ExitCode      int      `json:"exit_code"`
	Closed        bool     `json:"closed"` // console closed, kd still running

	// kd's answers (see the knobs of the same names).
	Kernel  string `json:"kernel"`  // legacy | segment-heap
	Symbols string `json:"symbols"` // full | export | none
	// Deferred are the expressions of the unresolved breakpoints (bl's "u").
	Deferred []string `json:"deferred"`

	// A bug check: its code (0 while none happened), the stage it came at,
	// every command typed at the prompt after it (kd's own record: nothing
	// should be typed but kb, !analyze -v and the like), and whether a g
	// was typed into it (it continues the crash: the dump, then a reboot).
	BugCheckCode          uint32   `json:"bugcheck_code"`
	BugCheckParams        []uint64 `json:"bugcheck_params"`
	BugCheckStage         string   `json:"bugcheck_stage"`
	CommandsAfterBugCheck []string `json:"commands_after_bugcheck"`
	GIntoBugCheck         bool     `json:"g_into_bugcheck"`
	StartFailure          string   `json:"start_failure"` // the cause kd printed before exiting
	GTyped                int      `json:"g_typed"`       // every g kd read at a prompt
	FailedInserts         int      `json:"failed_inserts"`
	PersonBreaks          int      `json:"person_breaks"` // halts with the break box nobody sent
	PersonBreakResumed    bool     `json:"person_break_resumed"`
	PersonBreakResumedMs  int64    `json:"person_break_resumed_after_ms"` // from the box to the g
	CommandsAtPersonBreak []string `json:"commands_at_person_break"`
	PoolHitTag            uint32   `json:"pool_hit_tag"`
	PoolHitAllocs         int      `json:"pool_hit_allocs"`
	PoolHitFrees          int      `json:"pool_hit_frees"`

	// Leak is the leak workload's truth (KDA_LEAKS; nil without).
	Leak *LeakState `json:"leak,omitempty"`
}

// Safe reports what a clean stop must leave, one line per violation: the
// target running, no breakpoint, nothing typed while it ran, no q, and no
// g typed into a bug check.
func (s *State) Safe() []string {
	var bad []string
	if s.Target != "running" {
		bad = append(bad, "target "+s.Target+" at the end, want running")
	}
	if len(s.Breakpoints) != 0 {
		bad = append(bad, "breakpoints left armed")
	}
	if len(s.CommandsWhileBusy) != 0 {
		bad = append(bad, "commands typed while the target ran")
	}
	if s.Quit {
		bad = append(bad, "q typed: it leaves the target locked")
	}
	if s.GIntoBugCheck {
		bad = append(bad, "g typed into a bug check")
	}
	return bad
}
