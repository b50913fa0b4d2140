package fakekd

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// State is what fakekd reports about itself in FAKEKD_STATE, for tests of
// kdlaunch to assert on: whether a clean stop left the target running with
// no breakpoints, and which driver mistakes were made on the way.
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
	// running): kd queues those until the next halt ("Break-in and the break box" in docs/kd-protocol.md), which
	// is a driver bug.
	Commands             []string `json:"commands"`
	CommandsWhileRunning []string `json:"commands_while_running"`
	EmptyLines           int      `json:"empty_lines"`
	CtrlBIgnored         int      `json:"ctrl_b_ignored"` // FAKEKD_HANG_ON_CTRLB

	ExitReason string `json:"exit_reason"` // "" while alive; ctrl-b | quit | crash | eof | signal
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
