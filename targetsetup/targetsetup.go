// Package targetsetup writes the script that prepares the target machine to
// match the host's configuration : boot debug settings for
// the same connection kd uses (bcdedit, or a boot.ini entry on old systems),
// the special-pool PoolTag for the tag, the reminders that matter (BitLocker,
// reboot) and a check section. It is pure: no I/O, no clock.
package targetsetup

import (
	"fmt"
	"net"
	"strings"
	"unicode/utf16"

	"github.com/kdlaunch/kdlaunch/pooltag"
	"github.com/kdlaunch/kdlaunch/script"
)

// Output formats.
const (
	FormatCmd        = "cmd"
	FormatPowerShell = "powershell"
	FormatBootIni    = "bootini"
)

// MemoryManagementKey is where PoolTag and PoolTagOverruns live ("Special
// pool and PoolTag" in docs/kd-protocol.md).
const MemoryManagementKey = `HKLM\SYSTEM\CurrentControlSet\Control\Session Manager\Memory Management`

// Options is the host configuration the target must match.
type Options struct {
	// Connection is kd's -k string: com:port=com1,baud=115200,
	// com:pipe,port=\\.\pipe\NAME, net:port=N,key=K or usb:targetname=T.
	Connection string
	// Key is the KDNET key when it is kept apart from Connection
	// (config [target] key). It is a secret.
	Key string
	// HostIP is the host's IPv4 address; required for net.
	HostIP string
	// Tag is the pool tag; "" sets no tag.
	Tag string
	// Strategy is script.StrategySpecialPool ("" is the same),
	// script.StrategyLeaks (which needs the same PoolTag) or
	// script.StrategyPoolHitTag.
	Strategy script.Strategy
	// Legacy asks for a boot.ini entry (Windows NT 4.0 to Server 2003)
	// instead of bcdedit.
	Legacy bool
	// Underruns sets PoolTagOverruns to 0 (catch underruns). The default,
	// false, writes 1: catch overruns, as Windows and GFlags do.
	Underruns bool
}

// plan is Options checked and resolved.
type plan struct {
	conn     Connection
	key      string
	hostIP   string
	tag      pooltag.Tag
	strategy script.Strategy
	overruns int
}

func (o Options) resolve() (plan, error) {
	var p plan
	c, err := ParseConnection(o.Connection)
	if err != nil {
		return p, err
	}
	p.conn = c
	if p.strategy, err = script.ParseStrategy(string(o.Strategy)); err != nil {
		return p, err
	}
	if o.Tag != "" {
		if err := pooltag.ValidateForKd(o.Tag); err != nil {
			return p, err
		}
		p.tag, _ = pooltag.Parse(o.Tag)
		if p.strategy == script.StrategyPoolHitTag && p.tag.Wildcard() {
			return p, fmt.Errorf("tag %s holds a wildcard, but strategy pool-hit-tag compares the tag exactly: give the exact tag, or use strategy special-pool for a mask", p.tag.Quoted())
		}
	}
	p.overruns = 1
	if o.Underruns {
		p.overruns = 0
	}
	if c.Kind != KindNet {
		return p, nil
	}
	key := strings.TrimSpace(o.Key)
	switch {
	case key != "" && c.Key != "" && key != c.Key:
		return p, fmt.Errorf("the KDNET key is given twice, in the connection string and as the key, and the two differ: give it once")
	case key != "" && !script.ValidNetKey(key):
		return p, fmt.Errorf("the KDNET key must be four dot-separated parts of letters and digits (w.x.y.z), as bcdedit generates it")
	case key == "":
		key = c.Key
	}
	p.key = key
	if strings.TrimSpace(o.HostIP) == "" {
		return p, fmt.Errorf("--host-ip (or target.host_ip) is required for a network (KDNET) connection: the target connects to this host")
	}
	ip := net.ParseIP(strings.TrimSpace(o.HostIP))
	if ip == nil || ip.To4() == nil {
		return p, fmt.Errorf("--host-ip (target.host_ip) %q: not an IPv4 address; bcdedit /dbgsettings net takes hostip:w.x.y.z", o.HostIP)
	}
	p.hostIP = ip.To4().String()
	return p, nil
}

// HoldsKey reports whether the script for o contains the KDNET key, so that
// a file holding it must be private (mode 0600).
func (o Options) HoldsKey() bool {
	p, err := o.resolve()
	return err == nil && p.key != ""
}

// Script returns the target-side script in format (FormatCmd, "" is the
// same; FormatPowerShell; FormatBootIni). Legacy turns FormatCmd into
// FormatBootIni. Lines end in "\n"; CRLF converts for a file Windows runs.
func (o Options) Script(format string) (string, error) {
	if format == "" {
		format = FormatCmd
	}
	if o.Legacy {
		switch format {
		case FormatCmd, FormatBootIni:
			format = FormatBootIni
		default:
			return "", fmt.Errorf("--legacy gives a boot.ini entry for systems without PowerShell (Windows NT 4.0 to Server 2003): drop --format %s or --legacy", format)
		}
	}
	switch format {
	case FormatCmd, FormatPowerShell, FormatBootIni:
	default:
		return "", fmt.Errorf("format %q: use cmd, powershell or (with --legacy) bootini", format)
	}
	p, err := o.resolve()
	if err != nil {
		return "", err
	}
	var w writer
	switch format {
	case FormatCmd:
		w.comment = "REM"
		w.escape = func(s string) string { return strings.ReplaceAll(s, "%", "%%") }
		cmdScript(&w, p)
	case FormatPowerShell:
		w.comment = "#"
		powershellScript(&w, p)
	case FormatBootIni:
		if p.conn.Kind != KindSerial {
			return "", fmt.Errorf("--legacy: boot.ini debugging is serial only (/debugport=COMn /baudrate=RATE), and connection %q is %s", p.conn.Redacted("***"), p.conn.Kind)
		}
		w.comment = ";"
		bootIni(&w, p)
	}
	return w.String(), nil
}

// CRLF converts "\n" line ends to "\r\n" (existing "\r\n" stay as they are),
// for files cmd.exe, PowerShell and boot.ini read.
func CRLF(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
}

// writer collects lines; c() writes comments, l() commands.
type writer struct {
	b       strings.Builder
	comment string
	escape  func(string) string
}

func (w *writer) l(format string, a ...any) {
	fmt.Fprintf(&w.b, format, a...)
	w.b.WriteByte('\n')
}

func (w *writer) c(format string, a ...any) {
	s := fmt.Sprintf(format, a...)
	if w.escape != nil {
		s = w.escape(s)
	}
	if s == "" {
		w.b.WriteString(w.comment + "\n")
		return
	}
	w.b.WriteString(w.comment + " " + s + "\n")
}

func (w *writer) blank() { w.b.WriteByte('\n') }

func (w *writer) String() string { return w.b.String() }

// connectionTitle says in words what the connection is.
func connectionTitle(p plan) string {
	c := p.conn
	switch {
	case c.Kind == KindSerial && c.Pipe != "":
		return fmt.Sprintf("over the virtual machine's COM1, which the host reaches through the pipe %s", c.Pipe)
	case c.Kind == KindSerial:
		return fmt.Sprintf("over serial port COM%d at %d baud (the same rate as the host's)", c.COMPort, c.Baud)
	case c.Kind == KindNet:
		return fmt.Sprintf("over the network (KDNET) to the host %s, port %d", p.hostIP, c.NetPort)
	default:
		return fmt.Sprintf("over a USB debug cable, target name %s", c.TargetName)
	}
}

// dbgsettings is the bcdedit /dbgsettings command for the connection.
func dbgsettings(p plan) string {
	c := p.conn
	switch c.Kind {
	case KindSerial:
		return fmt.Sprintf("bcdedit /dbgsettings serial debugport:%d baudrate:%d", c.COMPort, c.Baud)
	case KindNet:
		s := fmt.Sprintf("bcdedit /dbgsettings net hostip:%s port:%d", p.hostIP, c.NetPort)
		if p.key != "" {
			s += " key:" + p.key
		}
		return s
	default:
		return "bcdedit /dbgsettings usb targetname:" + c.TargetName
	}
}

// expectDbgsettings is what bcdedit /dbgsettings should show afterwards.
func expectDbgsettings(p plan) string {
	c := p.conn
	switch c.Kind {
	case KindSerial:
		return fmt.Sprintf("debugtype Serial, debugport %d, baudrate %d", c.COMPort, c.Baud)
	case KindNet:
		return fmt.Sprintf("debugtype NET, hostip %s, port %d, and the key", p.hostIP, c.NetPort)
	default:
		return "debugtype USB, targetname " + c.TargetName
	}
}

// header is the common opening: what, where, for which host.
func header(w *writer, p plan, shell string) {
	w.c("kdlaunch target-setup: prepares the TARGET machine for kernel debugging from the host.")
	w.c("Run it on the target in %s.", shell)
	w.c("Host side: kd -k %s", p.conn.Redacted("<the key below>"))
	if p.key != "" {
		w.c("WARNING: this file holds the KDNET key. Anyone who has it can debug this machine over the")
		w.c("network: keep the file private and delete it once the target is set up.")
	}
}

// connectionNotes are the comments that go with the connection commands.
func connectionNotes(w *writer, p plan) {
	c := p.conn
	switch {
	case c.Kind == KindSerial && c.Pipe != "":
		w.c("On the VM host, connect the VM's COM1 to that pipe, e.g. Hyper-V:")
		w.c("  Set-VMComPort -VMName NAME -Number 1 -Path %s", localPipe(c.Pipe))
		w.c("Over a VM pipe the baud rate hardly matters, but bcdedit needs one.")
	case c.Kind == KindNet:
		if c.NetPort < 49152 {
			w.c("Note: KDNET documentation asks for a port from 49152 through 65535; %d is outside.", c.NetPort)
		}
		w.c("With several network adapters, choose the one to debug over with")
		w.c("  bcdedit /set \"{dbgsettings}\" busparams BUS.DEVICE.FUNCTION")
	case c.Kind == KindUSB:
		w.c("The USB debug cable goes into a debug-capable port of the target.")
	}
}

// tagTitle is "pool tag "Ddk " = 0x206b6444".
func tagTitle(t pooltag.Tag) string { return fmt.Sprintf("pool tag %s = %s", t.Quoted(), t.Hex()) }

// GFlagsArg is the tag as one argument of gflags /r|/k +spp, quoted as shell
// (FormatCmd or FormatPowerShell) needs; ok=false when cmd cannot carry it
// safely (it holds '%' or '"', which no quoting passes through intact), so
// only the reg add lines should be offered.
func GFlagsArg(t pooltag.Tag, shell string) (arg string, ok bool) {
	s := t.String()
	if strings.Contains(s, `"`) {
		return "", false
	}
	if shell == FormatPowerShell {
		return "'" + strings.ReplaceAll(s, "'", "''") + "'", true
	}
	if strings.Contains(s, "%") {
		return "", false
	}
	if strings.ContainsAny(s, " ^&|<>(),=") {
		return `"` + s + `"`, true
	}
	return s, true
}

// RegAddLines are the cmd lines that set PoolTag to value and
// PoolTagOverruns to 1 (0 with underruns).
func RegAddLines(value uint32, underruns bool) []string {
	o := 1
	if underruns {
		o = 0
	}
	return []string{
		fmt.Sprintf(`reg add "%s" /v PoolTag /t REG_DWORD /d %s /f`, MemoryManagementKey, pooltag.Hex(value)),
		fmt.Sprintf(`reg add "%s" /v PoolTagOverruns /t REG_DWORD /d %d /f`, MemoryManagementKey, o),
	}
}

// RegFile is a .reg file that sets PoolTag to value and PoolTagOverruns;
// what says what the value is (e.g. `pool tag "Ddk "`). Lines end in "\n":
// regedit expects the file in UTF-16LE with a BOM and CRLF, which the
// caller applies when writing it.
func RegFile(value uint32, underruns bool, what string) string {
	o := 1
	if underruns {
		o = 0
	}
	var b strings.Builder
	b.WriteString("Windows Registry Editor Version 5.00\n\n")
	fmt.Fprintf(&b, "; kdlaunch: special pool for %s, PoolTag %s, PoolTagOverruns %d.\n", what, pooltag.Hex(value), o)
	b.WriteString("; Import it on the target (reg import FILE, or double-click it), then reboot the target.\n\n")
	fmt.Fprintf(&b, "[HKEY_LOCAL_MACHINE%s]\n", strings.TrimPrefix(MemoryManagementKey, "HKLM"))
	fmt.Fprintf(&b, "\"PoolTag\"=dword:%08x\n", value)
	fmt.Fprintf(&b, "\"PoolTagOverruns\"=dword:%08x\n", o)
	return b.String()
}

// upperFirst capitalises the first letter of a sentence.
func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// localPipe is a pipe path as the VM host names it: \\.\pipe\NAME.
func localPipe(p string) string {
	if i := strings.Index(strings.ToLower(p), `\pipe\`); i >= 0 {
		return `\\.` + p[i:]
	}
	return p
}

func overrunsWord(n int) string {
	if n == 1 {
		return "1: catch overruns"
	}
	return "0: catch underruns"
}

func cmdScript(w *writer, p plan) {
	w.l("@echo off")
	header(w, p, "an elevated Command Prompt (Run as administrator)")
	w.c("")
	w.c("Before changing boot settings, suspend BitLocker (and Secure Boot if it blocks bcdedit),")
	w.c("or the next boot asks for the recovery key:")
	w.c("  manage-bde -protectors -disable C: -RebootCount 1")
	w.l("fltmc >nul 2>&1 || (echo This script needs an elevated Command Prompt: right-click it, Run as administrator. & exit /b 1)")
	w.blank()
	w.c("--- 1. Kernel debugging %s", connectionTitle(p))
	connectionNotes(w, p)
	w.l("bcdedit /debug on || exit /b 1")
	w.l("%s || exit /b 1", dbgsettings(p))
	generatedKeyNote(w, p)
	w.blank()
	tagSection(w, p, FormatCmd)
	w.blank()
	w.c("--- 3. Check")
	w.l("bcdedit /dbgsettings")
	w.c("  expect %s", expectDbgsettings(p))
	if !p.tag.IsZero() && p.strategy.SpecialPool() {
		w.l(`reg query "%s" /v PoolTag`, MemoryManagementKey)
		w.l(`reg query "%s" /v PoolTagOverruns`, MemoryManagementKey)
		w.c("  expect PoolTag REG_DWORD %s and PoolTagOverruns REG_DWORD 0x%d", p.tag.Hex(), p.overruns)
	}
	w.blank()
	restart(w, p, "shutdown /r /t 0")
}

func tagSection(w *writer, p plan, shell string) {
	t := p.tag
	switch {
	case t.IsZero():
		w.c("--- 2. No pool tag given (--tag, or [target] tag in the config): special pool is not set here.")
	case p.strategy == script.StrategyPoolHitTag:
		w.c("--- 2. %s, strategy pool-hit-tag: nothing to set on the target.", upperFirst(tagTitle(t)))
		w.c("kdlaunch run sets it from the debugger (ed nt!PoolHitTag %s) and clears it on stop", t.Debugger())
		w.c("(ed nt!PoolHitTag 0): no registry value and no reboot for the tag. If PoolTag is left over")
		w.c("from an earlier special-pool hunt, remove it, as every such allocation costs a page:")
		if shell == FormatPowerShell {
			w.c("  Remove-ItemProperty -Path $mm -Name PoolTag")
		} else {
			w.c(`  reg delete "%s" /v PoolTag /f`, MemoryManagementKey)
		}
	default:
		w.c("--- 2. Special pool for %s (takes effect at the next boot)", tagTitle(t))
		w.c("PoolTagOverruns %s.", overrunsWord(p.overruns))
		if shell == FormatPowerShell {
			w.l("New-ItemProperty -Path $mm -Name PoolTag -PropertyType DWord -Value %s -Force | Out-Null", t.Hex())
			w.l("New-ItemProperty -Path $mm -Name PoolTagOverruns -PropertyType DWord -Value %d -Force | Out-Null", p.overruns)
		} else {
			for _, line := range RegAddLines(t.DWORD(), p.overruns == 0) {
				w.l("%s || exit /b 1", line)
			}
		}
		if arg, ok := GFlagsArg(t, shell); ok {
			w.c("The same with GFlags (Debugging Tools for Windows), taking effect at the next boot:")
			w.c("  gflags /r +spp %s", arg)
			w.c("or for the running kernel only, at once and lost at the next boot (Vista and later):")
			w.c("  gflags /k +spp %s", arg)
		}
	}
}

func restart(w *writer, p plan, cmd string) {
	switch {
	case !p.tag.IsZero() && p.strategy.SpecialPool():
		w.c("--- 4. Restart: the debug settings and PoolTag take effect at the next boot.")
	default:
		w.c("--- 4. Restart: the debug settings take effect at the next boot.")
	}
	w.c("Start kdlaunch run on the host first, then restart the target (BitLocker suspended, see above):")
	w.c("%s", cmd)
}

func powershellScript(w *writer, p plan) {
	header(w, p, "an elevated PowerShell (Run as administrator)")
	w.blank()
	w.l("#Requires -RunAsAdministrator")
	w.l("$ErrorActionPreference = 'Stop'")
	w.blank()
	w.c("Before changing boot settings, suspend BitLocker (and Secure Boot if it blocks bcdedit),")
	w.c("or the next boot asks for the recovery key:")
	w.c("  Suspend-BitLocker -MountPoint 'C:' -RebootCount 1")
	w.c("  (cmd: manage-bde -protectors -disable C: -RebootCount 1)")
	w.blank()
	w.l("$mm = 'HKLM:%s'", strings.TrimPrefix(MemoryManagementKey, "HKLM"))
	w.blank()
	w.c("--- 1. Kernel debugging %s", connectionTitle(p))
	connectionNotes(w, p)
	w.l("bcdedit /debug on")
	w.l("if ($LASTEXITCODE -ne 0) { throw \"bcdedit /debug on failed with exit code $LASTEXITCODE\" }")
	w.l("%s", dbgsettings(p))
	w.l("if ($LASTEXITCODE -ne 0) { throw \"bcdedit /dbgsettings %s failed with exit code $LASTEXITCODE\" }", p.conn.Kind)
	generatedKeyNote(w, p)
	w.blank()
	tagSection(w, p, FormatPowerShell)
	w.blank()
	w.c("--- 3. Check")
	w.l("bcdedit /dbgsettings")
	w.c("  expect %s", expectDbgsettings(p))
	if !p.tag.IsZero() && p.strategy.SpecialPool() {
		w.l("$v = Get-ItemProperty -Path $mm")
		w.l("'PoolTag         = 0x{0:x8} (expect %s)' -f $v.PoolTag", p.tag.Hex())
		w.l("'PoolTagOverruns = {0} (expect %d)' -f $v.PoolTagOverruns", p.overruns)
	}
	w.blank()
	restart(w, p, "Restart-Computer")
}

func bootIni(w *writer, p plan) {
	c := p.conn
	port := fmt.Sprintf("com%d", c.COMPort)
	w.c("kdlaunch target-setup --legacy: boot.ini for Windows NT 4.0, 2000, XP and Server 2003.")
	w.c("Host side: kd -k %s", c.Redacted("<key>"))
	if c.Pipe != "" {
		w.c("The VM's COM1 must be connected to the pipe %s on the VM host.", c.Pipe)
	}
	w.c("")
	w.c("1. Make C:\\boot.ini writable: attrib -s -h -r C:\\boot.ini")
	w.c("2. Under [operating systems], copy the line that boots this Windows and add the debug")
	w.c("   switches to the copy, keeping that line's own ARC path (the one below is the usual one):")
	w.l(`multi(0)disk(0)rdisk(0)partition(1)\WINDOWS="Windows Server 2003" /fastdetect /debug /debugport=%s /baudrate=%d`, port, c.Baud)
	w.c("   On XP and Server 2003, bootcfg can add them to entry 1 instead:")
	w.c("   bootcfg /debug on /port %s /baud %d /id 1", strings.ToUpper(port), c.Baud)
	t := p.tag
	switch {
	case t.IsZero():
		w.c("3. No pool tag given (--tag, or [target] tag in the config): special pool is not set here.")
	case p.strategy == script.StrategyPoolHitTag:
		w.c("3. %s, strategy pool-hit-tag: nothing to set on the target; kdlaunch run", upperFirst(tagTitle(t)))
		w.c("   sets it from the debugger (ed nt!PoolHitTag %s) and clears it on stop.", t.Debugger())
	default:
		w.c("3. Special pool for %s (PoolTagOverruns %s), in a Command Prompt", tagTitle(t), overrunsWord(p.overruns))
		w.c("   (reg.exe is built in from XP on; on NT 4.0 and 2000 it comes with the Resource Kit/Support Tools):")
		for _, line := range RegAddLines(t.DWORD(), p.overruns == 0) {
			w.c("   %s", line)
		}
	}
	w.c("4. Check: type C:\\boot.ini")
	if !t.IsZero() && p.strategy.SpecialPool() {
		w.c(`   reg query "%s" /v PoolTag`, MemoryManagementKey)
	}
	w.c("5. Start kdlaunch run on the host, then restart the target and choose the entry with the")
	w.c("   debug switches at the boot menu.")
}

// EncodeRegFile turns RegFile's text into the bytes regedit writes and reads:
// UTF-16LE with a byte-order mark, CRLF line ends.
func EncodeRegFile(s string) []byte {
	u := utf16.Encode([]rune(CRLF(s)))
	b := make([]byte, 2, 2+2*len(u))
	b[0], b[1] = 0xff, 0xfe
	for _, c := range u {
		b = append(b, byte(c), byte(c>>8))
	}
	return b
}

// generatedKeyNote tells where the KDNET key bcdedit generates must go.
func generatedKeyNote(w *writer, p plan) {
	if p.conn.Kind == KindNet && p.key == "" {
		w.c("bcdedit prints the key it generated (Key=...): give it to the host, as [target] key in")
		w.c("the config or kd -k net:port=%d,key=KEY. It is a secret.", p.conn.NetPort)
	}
}
