package fakekd

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestAnswerKnobValues(t *testing.T) {
	tests := []struct {
		env   map[string]string
		check func(c *Config) bool
	}{
		{map[string]string{}, func(c *Config) bool {
			return c.Kernel == "legacy" && c.Symbols == "full" && c.BugCheck == "" && c.BugCheckCode == 0xc4 &&
				c.BugCheckAfterHits == 3 && c.StartFailure == "" && c.FailedInserts == 0 && c.PersonBreakAfter == 0 && c.FreeEvery == 0
		}},
		{map[string]string{"FAKEKD_KERNEL": "segment-heap"}, func(c *Config) bool { return c.Kernel == "segment-heap" }},
		{map[string]string{"FAKEKD_SYMBOLS": "export"}, func(c *Config) bool { return c.Symbols == "export" }},
		{map[string]string{"FAKEKD_SYMBOLS": "none"}, func(c *Config) bool { return c.Symbols == "none" }},
		{map[string]string{"FAKEKD_BUGCHECK": "stopping", "FAKEKD_BUGCHECK_CODE": "0xC1", "FAKEKD_BUGCHECK_AFTER_HITS": "7"},
			func(c *Config) bool {
				return c.BugCheck == "stopping" && c.BugCheckCode == 0xc1 && c.BugCheckAfterHits == 7
			}},
		{map[string]string{"FAKEKD_BUGCHECK_CODE": "d5"}, func(c *Config) bool { return c.BugCheckCode == 0xd5 }},
		{map[string]string{"FAKEKD_START_FAILURE": "no-pipe", "FAKEKD_START_FAILURE_TIMES": "2"},
			func(c *Config) bool { return c.StartFailure == "no-pipe" && c.StartFailureTimes == 2 }},
		{map[string]string{"FAKEKD_FAILED_INSERT": "always"}, func(c *Config) bool { return c.FailedInserts < 0 }},
		{map[string]string{"FAKEKD_FAILED_INSERT": "4"}, func(c *Config) bool { return c.FailedInserts == 4 }},
		{map[string]string{"FAKEKD_PERSON_BREAK_AFTER_HITS": "5"}, func(c *Config) bool { return c.PersonBreakAfter == 5 }},
		{map[string]string{"FAKEKD_FREE_EVERY": "3"}, func(c *Config) bool { return c.FreeEvery == 3 }},
	}
	for _, tt := range tests {
		c, err := LoadConfig(mapEnv(tt.env))
		if err != nil || !tt.check(c) {
			t.Errorf("%v: %+v, %v", tt.env, c, err)
		}
	}
}

func TestAnswerKnobErrors(t *testing.T) {
	for k, v := range map[string]string{
		"FAKEKD_KERNEL":                  "win11",
		"FAKEKD_SYMBOLS":                 "some",
		"FAKEKD_BUGCHECK":                "later",
		"FAKEKD_BUGCHECK_CODE":           "0xzz",
		"FAKEKD_BUGCHECK_AFTER_HITS":     "0",
		"FAKEKD_START_FAILURE":           "denied",
		"FAKEKD_START_FAILURE_TIMES":     "-2",
		"FAKEKD_FAILED_INSERT":           "sometimes",
		"FAKEKD_PERSON_BREAK_AFTER_HITS": "x",
		"FAKEKD_FREE_EVERY":              "-1",
	} {
		_, err := LoadConfig(mapEnv(map[string]string{k: v}))
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: error %v", k, v, err)
		}
	}
}

func TestUnknownKnobs(t *testing.T) {
	got := UnknownKnobs([]string{"FAKEKD_KERNEL=legacy", "FAKEKD_BUGCHEK=running", "PATH=/bin", "FAKEKD_STATE=x", "FAKEKD_ZZ="})
	if !slices.Equal(got, []string{"FAKEKD_BUGCHEK", "FAKEKD_ZZ"}) {
		t.Errorf("unknown knobs %q", got)
	}
	var errb syncBuf
	code := Run(Env{Args: []string{"fakekd"}, Getenv: mapEnv(nil), Stdout: &syncBuf{}, Stderr: &errb,
		Environ: []string{"FAKEKD_BUGCHEK=running"}})
	if code != 2 || !strings.Contains(errb.String(), "FAKEKD_BUGCHEK") || strings.Count(errb.String(), "\n") != 1 {
		t.Errorf("exit %d, stderr %q", code, errb.String())
	}
}

// TestAnswerSymbols: what x, bp, bu, dd and bl answer for each kernel and
// each kind of symbols.
func TestAnswerSymbols(t *testing.T) {
	tests := []struct {
		name            string
		env             map[string]string
		cmds            []string // all but the last: answers not checked
		want, wantNot   []string // in the last command's answer
		deferred, armed int      // breakpoints in the state file
	}{
		{"legacy x", nil, []string{"x nt!MmAllocateSpecialPool"},
			[]string{"fffff801`1e2a3b40 nt!MmAllocateSpecialPool"}, nil, 0, 0},
		{"segment heap: no MmAllocateSpecialPool", map[string]string{"FAKEKD_KERNEL": "segment-heap"},
			[]string{"x nt!MmAllocateSpecialPool"}, nil, []string{"MmAllocateSpecialPool"}, 0, 0},
		{"segment heap: its allocator", map[string]string{"FAKEKD_KERNEL": "segment-heap"},
			[]string{"x nt!ExAllocateHeapSpecialPool"}, []string{"nt!ExAllocateHeapSpecialPool"}, nil, 0, 0},
		{"segment heap: its free routine", map[string]string{"FAKEKD_KERNEL": "segment-heap"},
			[]string{"x nt!ExpFreeHeapSpecialPool"}, []string{"nt!ExpFreeHeapSpecialPool"}, nil, 0, 0},
		{"legacy: no segment heap routine", nil, []string{"x nt!ExAllocateHeapSpecialPool"}, nil, []string{"ExAllocateHeap"}, 0, 0},
		{"segment heap: bp deferred", map[string]string{"FAKEKD_KERNEL": "segment-heap"},
			[]string{`bp nt!MmAllocateSpecialPool ";kb;g"`},
			[]string{"Bp expression 'nt!MmAllocateSpecialPool' could not be resolved, adding deferred bp"}, nil, 1, 1},
		{"export symbols: bp deferred", map[string]string{"FAKEKD_SYMBOLS": "export"},
			[]string{`bp nt!MmAllocateSpecialPool ";kb;g"`},
			[]string{"Defaulted to export symbols for ntkrnlmp.exe", "Bp expression 'nt!MmAllocateSpecialPool' could not be resolved, adding deferred bp"}, nil, 1, 1},
		{"export symbols: an export resolves", map[string]string{"FAKEKD_SYMBOLS": "export"},
			[]string{"x nt!ExAllocatePoolWithTag"}, []string{"nt!ExAllocatePoolWithTag"}, nil, 0, 0},
		{"export symbols: no variables", map[string]string{"FAKEKD_SYMBOLS": "export"},
			[]string{"dd nt!MmSpecialPoolTag L1"}, []string{"Couldn't resolve error at 'nt!MmSpecialPoolTag L1'"}, nil, 0, 0},
		{"no symbols: nothing in nt", map[string]string{"FAKEKD_SYMBOLS": "none"},
			[]string{"x nt!ExAllocatePoolWithTag"}, []string{"symbols could not be loaded for ntkrnlmp.exe"}, []string{"fffff801"}, 0, 0},
		{"bu deferred silently", map[string]string{"FAKEKD_SYMBOLS": "none"},
			[]string{`bu nt!MmAllocateSpecialPool ";kb;g"`}, nil, []string{"could not be resolved"}, 1, 1},
		{"bl: resolved and deferred", map[string]string{"FAKEKD_KERNEL": "segment-heap"},
			[]string{`bp nt!ExAllocateHeapSpecialPool ";kb;g"`, `bp nt!MmAllocateSpecialPool ";kb;g"`, "bl"},
			[]string{` 0 e Disable Clear  fffff801` + "`" + `1e33e988     0001 (0001) nt!ExAllocateHeapSpecialPool ";kb;g"`,
				" 1 eu Disable Clear  " + strings.Repeat(" ", 17) + `     0001 (0001) (nt!MmAllocateSpecialPool) ";kb;g"`}, nil, 1, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := connectedSession(t, tt.env)
			s.breakIn()
			var answer string
			for _, c := range tt.cmds {
				s.send(c + "\r\n")
				answer = s.expect("kd> ")
			}
			for _, w := range tt.want {
				if !strings.Contains(answer, w) {
					t.Errorf("answer lacks %q:\n%s", w, answer)
				}
			}
			for _, w := range tt.wantNot {
				if strings.Contains(answer, w) {
					t.Errorf("answer has %q:\n%s", w, answer)
				}
			}
			st := s.state()
			deferred := 0
			for _, b := range st.Breakpoints {
				if b.Deferred {
					deferred++
				}
			}
			if len(st.Breakpoints) != tt.armed || deferred != tt.deferred || st.Kernel == "" || st.Symbols == "" {
				t.Errorf("state: %d breakpoints (%d deferred), kernel %q symbols %q; want %d (%d)",
					len(st.Breakpoints), deferred, st.Kernel, st.Symbols, tt.armed, tt.deferred)
			}
		})
	}
}

// A segment-heap kernel's hits come through ExAllocateHeapSpecialPool,
// with ExAllocateHeapPool below it; a deferred bp never hits.
func TestAnswerSegmentHeapHits(t *testing.T) {
	s := connectedSession(t, map[string]string{"FAKEKD_KERNEL": "segment-heap"})
	s.breakIn()
	s.send("bp nt!MmAllocateSpecialPool \";kb;g\"\r\n")
	s.expectPrompt()
	s.send("bp nt!ExAllocateHeapSpecialPool \";kb;g\"\r\n")
	s.expectPrompt()
	s.send("g\r\n")
	hit := s.expect("nt!ExAllocatePoolWithTag+0x95")
	if !strings.Contains(hit, "Breakpoint 1 hit\nnt!ExAllocateHeapSpecialPool:\n") || !strings.Contains(hit, "nt!ExAllocateHeapPool+0x20e") {
		t.Errorf("hit:\n%s", hit)
	}
	if strings.Contains(s.out.String(), "Breakpoint 0 hit") {
		t.Error("the deferred breakpoint hit")
	}
}

// A bug check at each stage: kd's text, then a prompt; kb and !analyze -v
// answered; the state records the code, the stage, every command typed
// after it and a g typed into it.
func TestAnswerBugCheck(t *testing.T) {
	arm := func(s *session) {
		s.breakIn()
		s.send("bp nt!MmAllocateSpecialPool \";kb;g\"\r\n")
		s.expectPrompt()
		s.send("g\r\n")
	}
	tests := []struct {
		stage string
		drive func(s *session)
	}{
		{"waiting", func(s *session) {}},
		{"connected", func(s *session) { s.brk() }},
		{"arming", arm},
		{"running", arm},
		{"stopping", func(s *session) { arm(s); s.expect("Breakpoint 0 hit"); s.brk() }},
	}
	for _, tt := range tests {
		t.Run(tt.stage, func(t *testing.T) {
			s := startSession(t, map[string]string{"FAKEKD_BUGCHECK": tt.stage})
			s.expect(establishedLine)
			s.expect(uptimeLine)
			tt.drive(s)
			got := s.expect("For analysis of this file, run !analyze -v\n")
			for _, w := range []string{"*** Fatal System Error: 0x000000c4\n",
				"(0x0000000000000062,0xFFFFB30E4C1D2A10,0xFFFFB30E4B0C1E30,0x0000000000000001)",
				breakException, "A fatal system error has occurred.", "Debugger entered on first try; Bugcheck callbacks have not been invoked."} {
				if !strings.Contains(got, w) {
					t.Errorf("bug check text lacks %q:\n%s", w, got)
				}
			}
			if strings.Contains(got, "THIS IS NOT A BUG OR A SYSTEM CRASH") {
				t.Error("the bug check shows the break-in box")
			}
			s.expectPrompt()
			s.send("kb\r\n")
			if kb := s.expect("kd> "); !strings.Contains(kb, "nt!KeBugCheckEx+0x107") || !strings.Contains(kb, "leakydrv!LeakyUnload+0x3c") {
				t.Errorf("kb:\n%s", kb)
			}
			s.send("!analyze -v\r\n")
			an := s.expect("kd> ")
			for _, w := range []string{"DRIVER_VERIFIER_DETECTED_VIOLATION (c4)", "BugCheck C4, {62, ffffb30e4c1d2a10, ffffb30e4b0c1e30, 1}", "STACK_TEXT:", "nt!KeBugCheckEx+0x107"} {
				if !strings.Contains(an, w) {
					t.Errorf("!analyze -v lacks %q:\n%s", w, an)
				}
			}
			st := s.state()
			if st.BugCheckCode != 0xc4 || st.BugCheckStage != tt.stage || st.Target != targetHalted ||
				!slices.Equal(st.CommandsAfterBugCheck, []string{"kb", "!analyze -v"}) || st.GIntoBugCheck || len(st.BugCheckParams) != 4 {
				t.Errorf("state %+v", st)
			}
			s.send("g\r\n")
			st = s.waitState("g into the bug check", func(st State) bool { return st.GIntoBugCheck })
			if st.Reboots != 1 || len(st.Safe()) == 0 {
				t.Errorf("after g: %d reboots, Safe() = %q", st.Reboots, st.Safe())
			}
		})
	}
}

func TestAnswerStartFailure(t *testing.T) {
	tests := []struct {
		cause, conn, want string
	}{
		{"access-denied", "com:port=com1,baud=115200",
			"Could not start kernel debugging using com:port=com1,baud=115200 parameters, Win32 error 0n5\n    \"Access is denied.\"\n"},
		{"no-pipe", `com:pipe,port=\\.\pipe\com_1,resets=0`,
			`Could not start kernel debugging using com:pipe,port=\\.\pipe\com_1,resets=0 parameters, Win32 error 0n2` + "\n    \"The system cannot find the file specified.\"\n"},
		{"kdnet", "net:port=50000,key=1.2.3.4",
			"Could not start kernel debugging using net:port=50000,key=1.2.3.4 parameters, Win32 error 0n10048\n"},
	}
	for _, tt := range tests {
		t.Run(tt.cause, func(t *testing.T) {
			s := startSession(t, map[string]string{"FAKEKD_START_FAILURE": tt.cause}, "-k", tt.conn)
			if code := s.wait(); code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			out := s.out.String()
			if !strings.Contains(out, tt.want) || strings.Contains(out, waitingLine) || strings.Contains(out, establishedLine) {
				t.Errorf("output:\n%s", out)
			}
			st := s.state()
			if st.StartFailure != tt.cause || st.ExitReason != "start failed" || st.Connected {
				t.Errorf("state %+v", st)
			}
		})
	}
	// FAKEKD_START_FAILURE_TIMES: the next kd with the same state file starts.
	state := filepath.Join(t.TempDir(), "state.json")
	env := map[string]string{"FAKEKD_START_FAILURE": "access-denied", "FAKEKD_START_FAILURE_TIMES": "1", "FAKEKD_STATE": state}
	if code := startSession(t, env).wait(); code != 1 {
		t.Errorf("first kd: exit %d", code)
	}
	s := startSession(t, env)
	s.expect(establishedLine)
	if st := s.state(); st.StartFailure != "" || st.Incarnations != 2 {
		t.Errorf("second kd: %+v", st)
	}
}

// A g kd cannot carry out: the error, kd stays at the prompt; the state
// counts every g and every failure.
func TestAnswerFailedInsert(t *testing.T) {
	s := connectedSession(t, map[string]string{"FAKEKD_FAILED_INSERT": "2"})
	s.breakIn()
	s.send("bp nt!MmAllocateSpecialPool \";kb;g\"\r\n")
	s.expectPrompt()
	for range 2 {
		s.send("g\r\n")
		got := s.expect("kd> ")
		if !strings.Contains(got, "Unable to insert breakpoint 0 at fffff801`1e2a3b40, Win32 error 0n299\n") ||
			!strings.Contains(got, "bp0 at fffff801`1e2a3b40 failed\n") {
			t.Errorf("answer to g:\n%s", got)
		}
	}
	st := s.state()
	if st.Target != targetHalted || st.GTyped != 2 || st.FailedInserts != 2 {
		t.Errorf("after two failed g's: %+v", st)
	}
	s.send("g\r\n")
	s.expect("Breakpoint 0 hit")
	st = s.waitState("three g's", func(st State) bool { return st.GTyped >= 3 })
	if st.FailedInserts != 2 {
		t.Errorf("failed inserts %d, want 2", st.FailedInserts)
	}
}

// A person's break: the break box though no break was sent; the state
// records it, what was typed during it, and the g that ended it.
func TestAnswerPersonBreak(t *testing.T) {
	s := connectedSession(t, map[string]string{"FAKEKD_PERSON_BREAK_AFTER_HITS": "2"})
	s.breakIn()
	s.send("bp nt!MmAllocateSpecialPool \";kb;g\"\r\n")
	s.expectPrompt()
	s.send("g\r\n")
	s.expect("THIS IS NOT A BUG OR A SYSTEM CRASH")
	s.expectPrompt()
	st := s.state()
	if st.PersonBreaks != 1 || st.BreaksReceived != 1 || st.Target != targetHalted || st.PersonBreakResumed || st.Hits != 2 {
		t.Errorf("at the person's break: %+v", st)
	}
	s.send("r rdx\r\n")
	s.expectPrompt()
	s.send("g\r\n")
	st = s.waitState("resumed", func(st State) bool { return st.PersonBreakResumed })
	if !slices.Equal(st.CommandsAtPersonBreak, []string{"r rdx", "g"}) || st.PersonBreakResumedMs < 0 {
		t.Errorf("after the g: %+v", st)
	}
}

// PoolHitTag breaks on frees too: the free routine on top of a free's
// stack, the allocator on an allocation's; both counted.
func TestAnswerPoolHitFrees(t *testing.T) {
	for _, kernel := range []string{"legacy", "segment-heap"} {
		t.Run(kernel, func(t *testing.T) {
			s := connectedSession(t, map[string]string{"FAKEKD_FREE_EVERY": "2", "FAKEKD_KERNEL": kernel})
			s.breakIn()
			s.send("ed nt!PoolHitTag 206b6444\r\n")
			s.expectPrompt()
			alloc := "nt!ExpAllocateBigPool+0x1e3"
			if kernel == "segment-heap" {
				alloc = "nt!ExAllocateHeapPool+0x1a4"
			}
			for _, top := range []string{alloc, "nt!ExFreePoolWithTag+0x5f2", alloc, "nt!ExFreePoolWithTag+0x5f2"} {
				s.send("g\r\n")
				s.expect(breakException + "\n" + top + ":\n")
				s.expectPrompt()
				s.send("kb\r\n")
				kb := s.expect("kd> ")
				lines := strings.Split(kb, "\n")
				if len(lines) < 3 || !strings.HasSuffix(lines[1], " "+top) {
					t.Errorf("kb at %s:\n%s", top, kb)
				}
				if free := strings.Contains(top, "Free"); free != strings.Contains(kb, "!ReleaseBuffer+0x1c") {
					t.Errorf("kb at %s: free routine and driver frame disagree:\n%s", top, kb)
				}
			}
			st := s.state()
			if st.PoolHitAllocs != 2 || st.PoolHitFrees != 2 || st.Hits != 4 {
				t.Errorf("state: %d allocs, %d frees, %d hits", st.PoolHitAllocs, st.PoolHitFrees, st.Hits)
			}
		})
	}
}

// FuzzLoadConfig: any value of any knob either loads or is refused with an
// error that names a knob; a loaded config keeps every documented range.
func FuzzLoadConfig(f *testing.F) {
	for _, s := range []string{"", "0", "1", "always", "-1", "0xC4", "segment-heap", "export", "running", "300ms", "Ddk ", "x86"} {
		f.Add("FAKEKD_BUGCHECK_CODE", s)
		f.Add("FAKEKD_FAILED_INSERT", s)
		f.Add("FAKEKD_KERNEL", s)
	}
	f.Fuzz(func(t *testing.T, name, val string) {
		c, err := LoadConfig(mapEnv(map[string]string{name: val}))
		if err != nil {
			if !strings.Contains(err.Error(), "FAKEKD_") {
				t.Fatalf("error names no knob: %v", err)
			}
			return
		}
		if c.BugCheckCode == 0 || c.BugCheckAfterHits < 1 || c.FailedInserts < -1 || c.FreeEvery < 0 ||
			c.PersonBreakAfter < 0 || c.StartFailureTimes < 0 || c.ConnectDelay < 0 || c.HitInterval < 0 ||
			!slices.Contains([]string{"legacy", "segment-heap"}, c.Kernel) ||
			!slices.Contains([]string{"full", "export", "none"}, c.Symbols) {
			t.Fatalf("%s=%q loaded out of range: %+v", name, val, c)
		}
	})
}
