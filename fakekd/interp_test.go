package fakekd

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// haltedMachine is a connected machine at a break-in prompt, writing to a
// buffer (cleared after the break-in text).
func haltedMachine(t *testing.T, env map[string]string) (*machine, *bytes.Buffer) {
	t.Helper()
	cfg, err := LoadConfig(mapEnv(env))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	m := newMachine(cfg, CmdLine{}, Env{Getenv: mapEnv(env), Stdout: &buf, Args: []string{"fakekd"}})
	m.connected = true
	m.st.Target = targetRunning
	m.breakIn()
	buf.Reset()
	return m, &buf
}

func TestInterpreter(t *testing.T) {
	const (
		specialPool = "nt!MmAllocateSpecialPool"
		bl0         = " 0 e Disable Clear  fffff801`1e2a3b40     0001 (0001) nt!MmAllocateSpecialPool" // kd-protocol.md "Breakpoint answers" layout
	)
	tests := []struct {
		name  string
		env   map[string]string
		setup []string
		line  string
		want  string // exact output; {P} is the prompt
		check func(t *testing.T, m *machine)
	}{
		{name: "bp is silent", line: `bp nt!MmAllocateSpecialPool ";kb;g"`, want: "{P}",
			check: func(t *testing.T, m *machine) {
				b := m.bps.get(0)
				if b == nil || !b.resolved || b.command != ";kb;g" || !b.hits() {
					t.Errorf("bp = %+v", b)
				}
			}},
		{name: "bl", setup: []string{"bp " + specialPool}, line: "bl", want: bl0 + "\n{P}"},
		{name: "bl with command", setup: []string{`bp nt!MmAllocateSpecialPool ";kb;g"`}, line: "bl", want: bl0 + ` ";kb;g"` + "\n{P}"},
		{name: "symbols are case-insensitive", setup: []string{"bp NT!mmallocatespecialpool"}, line: "bl", want: bl0 + "\n{P}"},
		{name: "bl disabled", setup: []string{"bp " + specialPool, "bd 0"}, line: "bl",
			want: " 0 d Enable Clear  fffff801`1e2a3b40     0001 (0001) nt!MmAllocateSpecialPool\n{P}"},
		{name: "bl empty", line: "bl", want: "{P}"},
		{name: "missing symbol is deferred", env: map[string]string{"FAKEKD_MISSING_SYMBOLS": specialPool},
			line: "bp " + specialPool, want: "Bp expression 'nt!MmAllocateSpecialPool' could not be resolved, adding deferred bp\n{P}",
			check: func(t *testing.T, m *machine) {
				if b := m.bps.get(0); b == nil || b.resolved || b.hits() {
					t.Errorf("deferred bp = %+v", b)
				}
			}},
		{name: "bl deferred", env: map[string]string{"FAKEKD_MISSING_SYMBOLS": specialPool}, setup: []string{"bp " + specialPool},
			line: "bl", want: " 0 eu Disable Clear  " + strings.Repeat(" ", 17) + "     0001 (0001) (nt!MmAllocateSpecialPool)\n{P}"},
		{name: "unknown module is deferred", line: "bp nosuch!Fn", want: "Bp expression 'nosuch!Fn' could not be resolved, adding deferred bp\n{P}"},
		{name: "bu is deferred silently", line: "bu nosuch!Fn", want: "{P}"},
		{name: "same address redefines", setup: []string{"bp " + specialPool}, line: `bp nt!MmAllocateSpecialPool "kb"`,
			want: "breakpoint 0 redefined\n{P}",
			check: func(t *testing.T, m *machine) {
				if len(m.bps.list) != 1 || m.bps.get(0).command != "kb" {
					t.Errorf("bps %+v", m.bps.list)
				}
			}},
		{name: "lowest free id", setup: []string{"bp nt!ExAllocatePoolWithTag", "bp nt!ExAllocatePool2", "bc 0"}, line: "bp " + specialPool, want: "{P}",
			check: func(t *testing.T, m *machine) {
				if b := m.bps.get(0); b == nil || b.sym != specialPool {
					t.Errorf("id 0 = %+v", b)
				}
			}},
		{name: "bc star", setup: []string{"bp nt!ExAllocatePoolWithTag", "bp nt!ExAllocatePool2"}, line: "bc *", want: "{P}",
			check: func(t *testing.T, m *machine) {
				if len(m.bps.list) != 0 || len(m.st.Breakpoints) != 0 {
					t.Errorf("left %+v", m.bps.list)
				}
			}},
		{name: "bc range", setup: []string{"bp nt!ExAllocatePoolWithTag", "bp nt!ExAllocatePool2", "bp " + specialPool}, line: "bc 0-1", want: "{P}",
			check: func(t *testing.T, m *machine) {
				if len(m.bps.list) != 1 || m.bps.list[0].id != 2 {
					t.Errorf("left %+v", m.bps.list)
				}
			}},
		{name: "bd then be list", setup: []string{"bp nt!ExAllocatePoolWithTag", "bp nt!ExAllocatePool2", "bd *"}, line: "be 0,1", want: "{P}",
			check: func(t *testing.T, m *machine) {
				if !m.bps.get(0).enabled || !m.bps.get(1).enabled {
					t.Errorf("not enabled %+v", m.bps.list)
				}
			}},
		{name: "bc bad id", line: "bc x", want: "Couldn't resolve error at 'bc x'\n{P}"},
		{name: "echo strips quotes", line: `.echo "hello; world"`, want: "hello; world\n{P}"},
		{name: "echo plain", line: ".echo SPHIT", want: "SPHIT\n{P}"},
		{name: "command list", setup: []string{"bp " + specialPool}, line: "bl; .echo X", want: bl0 + "\nX\n{P}"},
		{name: "dd special pool tag", line: "dd nt!MmSpecialPoolTag L1", want: "fffff801`1e5c3a10  206b6444\n{P}"},
		{name: "dd tag from knob", env: map[string]string{"FAKEKD_SPECIAL_POOL_TAG": "0x2a"}, line: "dd nt!MmSpecialPoolTag L1", want: "fffff801`1e5c3a10  0000002a\n{P}"},
		{name: "dd four", line: "dd nt!MmSpecialPoolTag L4", want: "fffff801`1e5c3a10  206b6444 00000001 00000001 00000000\n{P}"},
		{name: "dd x86", env: map[string]string{"FAKEKD_ARCH": "x86"}, line: "dd nt!MmSpecialPoolTag L1", want: "8055a5c0  206b6444\n{P}"},
		{name: "dd missing symbol", env: map[string]string{"FAKEKD_MISSING_SYMBOLS": "nt!MmSpecialPoolTag"},
			line: "dd nt!MmSpecialPoolTag L1", want: "Couldn't resolve error at 'nt!MmSpecialPoolTag L1'\n{P}"},
		{name: "x function", line: "x nt!MmAllocateSpecialPool", want: "fffff801`1e2a3b40 nt!MmAllocateSpecialPool (void)\n{P}"},
		{name: "x missing prints nothing", env: map[string]string{"FAKEKD_MISSING_SYMBOLS": specialPool}, line: "x nt!MmAllocateSpecialPool", want: "{P}"},
		{name: "x wildcard", line: "x nt!*SpecialPool*", want: "fffff801`1e2a3b40 nt!MmAllocateSpecialPool (void)\n" +
			"fffff801`1e2a5f10 nt!MmFreeSpecialPool (void)\n" +
			"fffff801`1e5c3a10 nt!MmSpecialPoolTag = <no type information>\n" +
			"fffff801`1e5c3a14 nt!MmSpecialPoolCatchOverruns = <no type information>\n" +
			"fffff801`1e5c3a18 nt!MiSpecialPoolEnabled = <no type information>\n{P}"},
		{name: "ed poolhittag lower case", line: "ed nt!poolhittag 3261654c", want: "{P}",
			check: func(t *testing.T, m *machine) {
				if m.poolHitTag() != 0x3261654c || m.st.PoolHitTag != 0x3261654c || !m.poolHitActive() {
					t.Errorf("pool hit tag %#x", m.poolHitTag())
				}
			}},
		{name: "ed char constant then dd", setup: []string{"ed nt!poolhittag ' cbA'"}, line: "dd nt!PoolHitTag L1", want: "fffff801`1e5c4b2c  20636241\n{P}"},
		{name: "ed 0 clears", setup: []string{"ed nt!PoolHitTag 3261654c"}, line: "ed nt!PoolHitTag 0", want: "{P}",
			check: func(t *testing.T, m *machine) {
				if m.poolHitActive() {
					t.Error("still active")
				}
			}},
		{name: "ed bad value", line: "ed nt!PoolHitTag zz", want: "Couldn't resolve error at 'zz'\n{P}"},
		{name: "unknown command", line: "frobnicate 1 2", want: "Couldn't resolve error at 'frobnicate 1 2'\n{P}"},
		{name: "empty line repeats", setup: []string{".echo again"}, line: "", want: "again\n{P}",
			check: func(t *testing.T, m *machine) {
				if got := m.st.Commands; len(got) != 2 || got[1] != ".echo again" {
					t.Errorf("commands %q", got)
				}
			}},
		{name: "empty line with nothing to repeat", line: "", want: "{P}"},
		{name: "r register", line: "r rcx, rip", want: "rcx=0000000000000000 rip=fffff801d1efb1b0\n{P}"},
		{name: "r bad register", line: "r zax", want: "Bad register error at 'zax'\n{P}"},
		{name: "r dump ends with the instruction", line: "r", check: func(t *testing.T, m *machine) {}},
		{name: "k limit", line: "kn 2", check: func(t *testing.T, m *machine) {}},
		{name: "g resumes without output", line: "g", want: "",
			check: func(t *testing.T, m *machine) {
				if m.st.Target != targetRunning {
					t.Errorf("target %s", m.st.Target)
				}
			}},
		{name: "g ends a list", line: "g; .echo never", want: ""},
		{name: "q locks", line: "q", want: "quit:\n",
			check: func(t *testing.T, m *machine) {
				if !m.exiting || m.exitCode != 0 || m.st.Target != targetLocked || m.st.ExitReason != "quit" {
					t.Errorf("q: exiting %v code %d target %s", m.exiting, m.exitCode, m.st.Target)
				}
			}},
		{name: "qq too", line: "qq", want: "quit:\n"},
		{name: "reboot loses breakpoints", setup: []string{"bp " + specialPool, "ed nt!PoolHitTag 1"}, line: ".reboot",
			want: shutdownLine + "\n" + waitingLine + "\n",
			check: func(t *testing.T, m *machine) {
				if len(m.bps.list) != 0 || m.connected || m.st.Target != targetWaiting || m.st.Reboots != 1 || m.poolHitTag() != 0 {
					t.Errorf("after reboot: %+v", m.st)
				}
			}},
		{name: "plain prompt", env: map[string]string{"FAKEKD_PROMPT": "plain"}, line: ".echo x", want: "x\nkd> "},
		{name: "crlf", env: map[string]string{"FAKEKD_CRLF": "1"}, line: "bl; .echo a; .echo b", want: "a\r\nb\r\n{P}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, buf := haltedMachine(t, tt.env)
			for _, l := range tt.setup {
				m.typedLine(l)
			}
			buf.Reset()
			m.typedLine(tt.line)
			prompt := fmt.Sprintf("%d: kd> ", m.cpu)
			if tt.want != "" || tt.check == nil {
				if want := strings.ReplaceAll(tt.want, "{P}", prompt); buf.String() != want {
					t.Errorf("output\ngot  %q\nwant %q", buf.String(), want)
				}
			}
			if tt.check != nil {
				tt.check(t, m)
			}
		})
	}
}

func TestRegisterDumpAndStack(t *testing.T) {
	m, buf := haltedMachine(t, nil)
	m.typedLine("r")
	lines := strings.Split(buf.String(), "\n")
	if !strings.HasPrefix(lines[0], "rax=0000000000000000 rbx=") || !strings.HasPrefix(lines[3], " r8=") ||
		lines[len(lines)-3] != "nt!DbgBreakPointWithStatus:" || lines[len(lines)-2] != "fffff801`d1efb1b0 cc              int     3" {
		t.Errorf("r output:\n%s", buf.String())
	}
	buf.Reset()
	m.typedLine("kn 2")
	lines = strings.Split(buf.String(), "\n")
	if len(lines) != 4 || lines[0] != hdrKn || !strings.HasSuffix(lines[1], "     nt!DbgBreakPointWithStatus") {
		t.Errorf("kn 2 output:\n%s", buf.String())
	}

	x86, buf := haltedMachine(t, map[string]string{"FAKEKD_ARCH": "x86"})
	x86.typedLine("r")
	lines = strings.Split(buf.String(), "\n")
	if !strings.HasPrefix(lines[0], "eax=00000001 ebx=00000000") || !strings.HasPrefix(lines[1], "eip=8053c5f8 ") ||
		!strings.HasSuffix(lines[1], " iopl=0         nv up ei pl zr na pe nc") || lines[3] != "nt!RtlpBreakWithStatusInstruction:" {
		t.Errorf("x86 r output:\n%s", buf.String())
	}
}
