package script

import (
	"regexp"
	"testing"

	"github.com/kdlaunch/kdlaunch/script/scripttest"
)

// The table shared with the log parser: prompts and hits.
func TestSharedLines(t *testing.T) {
	for _, l := range scripttest.Lines {
		if got := Prompts(l.Text) > 0; got != l.Prompt {
			t.Errorf("Prompts(%q) > 0 = %v, want %v", l.Text, got, l.Prompt)
		}
		if got := Classify(l.Text) == BreakpointHit; got != l.Hit {
			t.Errorf("Classify(%q) = %s, want hit=%v", l.Text, Classify(l.Text), l.Hit)
		}
		if got := AnyPromptLen(l.Text) > 0 || AnyPromptLen([]byte(l.Text)) > 0; got && !l.LogPrompt {
			t.Errorf("AnyPromptLen(%q) > 0, but it is no prompt", l.Text)
		}
	}
}

func TestPromptLen(t *testing.T) {
	for s, want := range map[string]int{"kd> ": 4, "0: kd> kb": 7, "12: kd>": 7, "kd>!kv": 3, "0: kd:x86> ": 11,
		"KDx86> ": 7, "lkd> ": 5, "0:000> ": 0, " kd> ": 0, "kd ": 0, "": 0} {
		if got := PromptLen(s); got != want {
			t.Errorf("PromptLen(%q) = %d, want %d", s, got, want)
		}
		if got := PromptLen([]byte(s)); got != want {
			t.Errorf("PromptLen([]byte(%q)) = %d, want %d", s, got, want)
		}
	}
	for s, want := range map[string]int{"0:000> ": 7, "0:000:x86> k": 11, "1:002>": 6, "0: kd> ": 0, "0:> ": 0, "0:000:> ": 0, "0:000": 0} {
		if got := UserPromptLen(s); got != want {
			t.Errorf("UserPromptLen(%q) = %d, want %d", s, got, want)
		}
	}
}

// Lines as real kd prints them (docs/kd-protocol.md, sections "Banners and connection
// lines", "Breakpoint hits", "Breaks", "Reboot and shutdown", "Transport lost and
// resync", "Bug checks" and "Remote server transports").
func TestClassify(t *testing.T) {
	tests := []struct {
		line string
		want Kind
	}{
		{"Waiting to reconnect...", Waiting},
		{"KD: waiting to connect...", Waiting},
		{"Connected to target 169.182.1.1 on port 50005 on local IP 169.182.1.2", Connected},
		{"Connected to target 169.254.10.2 on port 50000 on local IP 169.254.10.1.", Connected},
		{"Connected to Windows 10 16299 x64 target at (Wed Feb 28 17:16:23.051 2018 (UTC - 8:00)), ptr64 TRUE", Connected},
		{"Connected to Windows XP 2268 x86 compatible target, ptr64 FALSE", Connected},
		{"Kernel Debugger connection established.  (Initial Breakpoint requested)", Established},
		{"Kernel Debugger connection established.", Established},
		{"KD: Kernel Debugger connection established. (Initial Breakpoint requested)", Established},
		{"Kernel Debugger connection established.\r", Established},
		{"Break instruction exception - code 80000003 (first chance)", BreakException},
		{"*   You are seeing this message because you pressed either                    *", BreakBanner},
		{"Breakpoint 0 hit", BreakpointHit},
		{"Breakpoint 12 hit", BreakpointHit},
		{"0: kd> Breakpoint 0 hit", BreakpointHit}, // after g over pipes: on the prompt's line
		{"  Breakpoint 3 hit", BreakpointHit},
		{"Shutdown occurred at (Wed Nov 25 22:03:04.000 2026 (UTC + 0:00))...unloading all symbol tables.", Shutdown},
		{"The transport connection between host kernel debugger and target Windows seems lost.", TransportLost},
		{"KDTARGET: Refreshing KD connection", Resync},
		{"*** Fatal System Error: 0x000000c4", FatalError},
		{"Server started.  Client can connect with any of these command lines", ServerStarted},
		{"nt!MmAllocateSpecialPool:", Other},
		{"fffff801`1e2a3b40 4c8bdc          mov     r11,rsp", Other},
		{"Using NET for debugging", Other},
		{"Opened \\\\.\\com1", Other},
		{"", Other},
		{"my driver says Breakpoint 0 hit in a DbgPrint", Other},
		// A DbgPrint without its newline glues kd's next line to it.
		{"Ddkdrv: DdkDispatchCreate Breakpoint 0 hit", BreakpointHit},
		{"avscan: scanning x.tmpBreakpoint 12 hit\r", BreakpointHit},
		{"Ddkdrv: DdkDispatchCreate Break instruction exception - code 80000003 (first chance)", BreakException},
		{"Ddkdrv: no Breakpoint hit", Other},
		{"Ddkdrv: Breakpoint 0 hit twice", Other},
	}
	for _, tt := range tests {
		if got := Classify(tt.line); got != tt.want {
			t.Errorf("Classify(%q) = %s, want %s", tt.line, got, tt.want)
		}
	}
}

func TestStripPrompt(t *testing.T) {
	tests := []struct{ in, want string }{
		{"0: kd> Breakpoint 0 hit", "Breakpoint 0 hit"},
		{"kd> KDLAUNCH_DONE_ab_1", "KDLAUNCH_DONE_ab_1"},
		{"Breakpoint 0 hit", "Breakpoint 0 hit"},
		{"fffff801`1e2a3b40 4c8bdc mov r11,rsp", "fffff801`1e2a3b40 4c8bdc mov r11,rsp"},
		{"a > b", "a > b"},
	}
	for _, tt := range tests {
		if got := StripPrompt(tt.in); got != tt.want {
			t.Errorf("StripPrompt(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestInitialBreakRequested(t *testing.T) {
	for line, want := range map[string]bool{
		"Kernel Debugger connection established.  (Initial Breakpoint requested)":    true,
		"KD: Kernel Debugger connection established. (Initial Breakpoint requested)": true,
		"Kernel Debugger connection established.  (Initial Breakpoint requested)\r":  true,
		"Kernel Debugger connection established.":                                    false,
		"Connected to Windows 10 19041 x64 target at (...), ptr64 TRUE":              false,
		"Ddkdrv: (Initial Breakpoint requested)":                                     false,
	} {
		if got := InitialBreakRequested(line); got != want {
			t.Errorf("InitialBreakRequested(%q) = %v, want %v", line, got, want)
		}
	}
}

func TestMarkers(t *testing.T) {
	m := Marker("ab12", 3)
	if !IsMarker(m, m) || !IsMarker("0: kd> "+m, m) || !IsMarker(m+"\r", m) {
		t.Errorf("marker %q not recognised", m)
	}
	if IsMarker(MarkerCommand("ab12", 3), m) || IsMarker("0: kd> "+MarkerCommand("ab12", 3), m) {
		t.Errorf("the echoed .echo command must not count as its marker")
	}
	if IsMarker(Marker("ab12", 4), m) || IsMarker(Marker("ff00", 3), m) {
		t.Errorf("another command's or run's marker must not count")
	}
}

func TestResumes(t *testing.T) {
	for cmd, want := range map[string]bool{"g": true, " G ": true, "gh": true, "p": true, "t": true, ".reboot": true,
		"bp nt!MmAllocateSpecialPool \";kb;g\"": false, "bc *": false, "kb": false, "gflags": false, "": false, ".echo g": false} {
		if got := Resumes(cmd); got != want {
			t.Errorf("Resumes(%q) = %v, want %v", cmd, got, want)
		}
	}
}

func TestValidateCommand(t *testing.T) {
	tests := []struct {
		cmd string
		ok  bool
	}{
		{`bp nt!MmAllocateSpecialPool ";kb;g"`, true},
		{"bl", true},
		{"q", false},
		{"k;qq", false},
		{`bp nt!Foo "kb;q"`, false},
		{".echo q", true},
		{"qux", true},
		{"", false},
		{"   ", false},
		{"bl\ng", false},
		{"bl\rg", false},
		{"\x02", false},
		{"\x03", false},
		{".echo " + MarkerPrefix + "x", false},
	}
	for _, tt := range tests {
		if err := ValidateCommand(tt.cmd); (err == nil) != tt.ok {
			t.Errorf("ValidateCommand(%q) = %v, want ok=%v", tt.cmd, err, tt.ok)
		}
	}
}

// reHitWords is what every hit line holds, whatever surrounds it.
var reHitWords = regexp.MustCompile(`Breakpoint [0-9]+ hit`)

func FuzzClassify(f *testing.F) {
	for _, s := range []string{"Breakpoint 0 hit", "0: kd> ", "Waiting to reconnect...", "Kernel Debugger connection established.",
		"avscan: scanning x.tmpBreakpoint 0 hit", "0: kd> Breakpoint 3 hit\r", "Ddkdrv: Breakpoint 0 hit twice", "\x00\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k := Classify(s)
		// kd's prompt in front changes nothing: output lands on the
		// prompt's line over pipes.
		if p := Classify("0: kd> " + s); p != k {
			t.Fatalf("Classify(%q) = %s, but after a prompt %s", s, k, p)
		}
		if k == BreakpointHit && !reHitWords.MatchString(s) {
			t.Fatalf("%q classified as a hit without \"Breakpoint N hit\" in it", s)
		}
		// Glued hits are hits by design: kd's hit line after a DbgPrint
		// that lacked its newline.
		if k == Other {
			if g := Classify(s + "Breakpoint 0 hit"); g != BreakpointHit {
				t.Fatalf("Classify(%q + hit line) = %s, want %s", s, g, BreakpointHit)
			}
		}
		if n := Prompts(s); n > 0 && StripPrompt(s) == s {
			t.Fatalf("%q: %d prompts, but StripPrompt removed none", s, n)
		}
	})
}
