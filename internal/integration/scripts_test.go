//go:build !windows

package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/kdlaunch/kdlaunch/fakekd"
)

// TestScripts runs the scenarios in testdata/script, one .txtar file each:
// kdlaunch and the stand-ins as commands, kd's own record checked with
// kdstate (see scriptCmds). They are the fast end-to-end cases that also
// run under -short.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "script"),
		RequireExplicitExec: true,
		Setup:               scriptSetup,
		Cmds:                scriptCmds,
	})
}

// scriptSetup gives every script an isolated HOME and config folders (as
// isolated does), kdlaunch on PATH, the stand-ins' paths as $FAKEKD and
// $KDALIKE, and fast stand-in timings with a state file in $WORK.
func scriptSetup(e *testscript.Env) error {
	home := filepath.Join(e.WorkDir, "home")
	e.Setenv("HOME", home)
	e.Setenv("XDG_CONFIG_HOME", filepath.Join(home, "config"))
	e.Setenv("APPDATA", filepath.Join(home, "AppData", "Roaming"))
	e.Setenv("LOCALAPPDATA", filepath.Join(home, "AppData", "Local"))
	e.Setenv("PATH", filepath.Dir(kdlaunch)+string(os.PathListSeparator)+e.Getenv("PATH"))
	e.Setenv("FAKEKD", fakekdCmd)
	e.Setenv("KDALIKE", kdalikeCmd)
	e.Setenv("FAKEKD_STATE", filepath.Join(e.WorkDir, "state.json"))
	e.Setenv("FAKEKD_CONNECT_DELAY", "200ms")
	e.Setenv("FAKEKD_HIT_INTERVAL", "10ms")
	e.Setenv("KDA_STATE", filepath.Join(e.WorkDir, "kda.json"))
	return nil
}

// scriptCmds are the commands the scenarios use beyond testscript's own.
//
//	kdstate fakekd|kdalike [-wait DURATION] FILE CONDITION...
//
// checks a stand-in's state file (with -wait, polls it until every
// condition holds). A condition is
//
//	safe                 what a clean stop leaves: the target running, no
//	                     breakpoint (nor PoolHitTag) armed, nothing typed
//	                     while the target ran, no q, no g into a bug check
//	NAME OP VALUE        a field of the state file by its JSON name; OP is
//	                     = != >= <= > <; a list compares by its length
//	typed[PREFIX] OP N   how many commands typed at the prompt start with
//	                     PREFIX (kdlaunch's .echo markers not counted)
//
// With ! before kdstate, at least one condition must fail.
//
//	hitsagree fakekd|kdalike FILE LOG
//
// checks that the hits in kdlaunch's summary (the last stdout), the
// breakpoint hits in LOG and the stand-in's own count are the same number.
var scriptCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"kdstate":   cmdKdstate,
	"hitsagree": cmdHitsAgree,
}

var reCond = regexp.MustCompile(`^([a-z_]+|typed\[[^\]]*\])(=|!=|>=|<=|>|<)(.*)$`)

func cmdKdstate(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 3 {
		ts.Fatalf("usage: kdstate fakekd|kdalike [-wait DURATION] FILE CONDITION...")
	}
	who := args[0]
	args = args[1:]
	var wait time.Duration
	if args[0] == "-wait" && len(args) > 2 {
		d, err := time.ParseDuration(args[1])
		if err != nil {
			ts.Fatalf("kdstate: bad -wait %q", args[1])
		}
		wait, args = d, args[2:]
	}
	file, conds := ts.MkAbs(args[0]), args[1:]
	deadline := time.Now().Add(wait)
	for {
		failed, err := checkState(who, file, conds)
		if err != nil {
			ts.Fatalf("kdstate: %v", err)
		}
		switch {
		case neg && len(failed) > 0, !neg && len(failed) == 0:
			return
		case time.Now().Before(deadline):
			time.Sleep(20 * time.Millisecond)
			continue
		case neg:
			ts.Fatalf("kdstate: every condition holds: %q", conds)
		}
		b, _ := os.ReadFile(file)
		ts.Logf("%s state:\n%s", who, b)
		ts.Fatalf("kdstate: %s", strings.Join(failed, "; "))
	}
}

// checkState returns the conditions that do not hold, one line each. A
// state file not there yet (or half written by a stand-in on Windows)
// fails every condition rather than the script.
func checkState(who, file string, conds []string) ([]string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return []string{fmt.Sprintf("no state file yet: %v", err)}, nil
	}
	var fields map[string]any
	if json.Unmarshal(b, &fields) != nil {
		return []string{"state file not readable yet"}, nil
	}
	var safe []string
	var typed []string
	switch who {
	case "fakekd":
		var s fakeState
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, err
		}
		safe, typed = s.Safe(), withoutMarkers(s.Commands)
	case "kdalike":
		var s kdaState
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, err
		}
		safe = s.Safe()
		for _, c := range s.Commands {
			if c.State == "halted" {
				typed = append(typed, c.Text)
			}
		}
		typed = withoutMarkers(typed)
	default:
		return nil, fmt.Errorf("unknown stand-in %q, want fakekd or kdalike", who)
	}
	var failed []string
	for _, c := range conds {
		if c == "safe" {
			failed = append(failed, safe...)
			continue
		}
		m := reCond.FindStringSubmatch(c)
		if m == nil {
			return nil, fmt.Errorf("bad condition %q (want safe, NAME OP VALUE or typed[PREFIX] OP N)", c)
		}
		name, op, want := m[1], m[2], m[3]
		var got any
		if p, ok := strings.CutPrefix(name, "typed["); ok {
			p = strings.TrimSuffix(p, "]")
			n := 0
			for _, t := range typed {
				if strings.HasPrefix(t, p) {
					n++
				}
			}
			got = float64(n)
		} else {
			v, ok := fields[name]
			if !ok {
				return nil, fmt.Errorf("%s state has no field %q", who, name)
			}
			got = v
		}
		ok, err := compare(got, op, want)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c, err)
		}
		if !ok {
			failed = append(failed, fmt.Sprintf("%s: got %v", c, got))
		}
	}
	return failed, nil
}

// compare applies op to a JSON value and the text of a condition.
func compare(got any, op, want string) (bool, error) {
	if l, ok := got.([]any); ok {
		got = float64(len(l))
	}
	if got == nil {
		got = float64(0) // an empty list written as null
	}
	switch g := got.(type) {
	case float64:
		w, err := strconv.ParseFloat(want, 64)
		if err != nil {
			return false, fmt.Errorf("want a number, not %q", want)
		}
		switch op {
		case "=":
			return g == w, nil
		case "!=":
			return g != w, nil
		case ">=":
			return g >= w, nil
		case "<=":
			return g <= w, nil
		case ">":
			return g > w, nil
		case "<":
			return g < w, nil
		}
	case bool:
		w, err := strconv.ParseBool(want)
		if err != nil || (op != "=" && op != "!=") {
			return false, fmt.Errorf("a true/false field takes = or != and true or false")
		}
		return (g == w) == (op == "="), nil
	case string:
		if op != "=" && op != "!=" {
			return false, fmt.Errorf("a text field takes = or !=")
		}
		return (g == want) == (op == "="), nil
	}
	return false, fmt.Errorf("cannot compare %T", got)
}

func cmdHitsAgree(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: hitsagree fakekd|kdalike FILE LOG")
	}
	b, err := os.ReadFile(ts.MkAbs(args[1]))
	ts.Check(err)
	var own struct{ Hits int }
	switch args[0] {
	case "fakekd":
		var s fakeState
		ts.Check(json.Unmarshal(b, &s))
		own.Hits = s.Hits
	case "kdalike":
		var s kdaState
		ts.Check(json.Unmarshal(b, &s))
		own.Hits = s.Hits
	default:
		ts.Fatalf("hitsagree: unknown stand-in %q, want fakekd or kdalike", args[0])
	}
	m := reSummaryHits.FindStringSubmatch(ts.ReadFile("stdout"))
	if m == nil {
		ts.Fatalf("hitsagree: no hits in kdlaunch's summary")
	}
	summary, _ := strconv.Atoi(m[1])
	logged := strings.Count(ts.ReadFile(args[2]), "Breakpoint 0 hit")
	if summary != own.Hits || logged != own.Hits {
		ts.Fatalf("hitsagree: summary %d, log %d, %s %d", summary, logged, args[0], own.Hits)
	}
}

// The conditions kdstate checks, on a state file whose values are known:
// each must hold exactly when it should.
func TestKdstateConditions(t *testing.T) {
	file := filepath.Join(t.TempDir(), "state.json")
	s := fakeState{Target: "running", Hits: 12, ExitReason: "ctrl-b", Breakpoints: []fakekd.BreakpointState{},
		Commands: []string{"dd nt!MmSpecialPoolTag L1", ".echo KDLAUNCH_DONE_ab_1", `bp nt!MmAllocateSpecialPool ";kb;g"`, "g", "bc *", "g"}}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		cond string
		ok   bool
	}{
		{"safe", true}, {"hits>=12", true}, {"hits>12", false}, {"hits<=11", false}, {"hits=12", true},
		{"hits!=12", false}, {"exit_reason=ctrl-b", true}, {"exit_reason!=ctrl-b", false}, {"breakpoints=0", true},
		{"connected=false", true}, {"connected=true", false}, {"typed[bp ]=1", true}, {"typed[g]=2", true},
		{"typed[.echo]=0", true}, {"commands=6", true}, {"target=halted", false},
	}
	for _, tt := range tests {
		failed, err := checkState("fakekd", file, []string{tt.cond})
		if err != nil || (len(failed) == 0) != tt.ok {
			t.Errorf("%s: failed %q, err %v; want holds=%v", tt.cond, failed, err, tt.ok)
		}
	}
	for _, bad := range []string{"nosuchfield=1", "hits~3", "hits>=many", "exit_reason>=a"} {
		if _, err := checkState("fakekd", file, []string{bad}); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
	s.Target, s.Commands = "halted", append(s.Commands, "q")
	b, _ = json.Marshal(s)
	_ = os.WriteFile(file, b, 0o600)
	if failed, _ := checkState("fakekd", file, []string{"safe"}); len(failed) != 2 {
		t.Errorf("halted target and a q: safe failed with %q, want two lines", failed)
	}
}
