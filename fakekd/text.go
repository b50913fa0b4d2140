package fakekd

// Fixed text kd prints. Each block names the kd-protocol.md section it was copied
// from; text marked "invented" has no public source and only needs to be
// plausible.

// kd-protocol.md "Banners and connection lines" (the version number is a current 10.0.x build).
const (
	bannerLine    = "Microsoft (R) Windows Debugger Version 10.0.26100.1 AMD64"
	copyrightLine = "Copyright (c) Microsoft Corporation. All rights reserved."
	waitingLine   = "Waiting to reconnect..."
)

// kd-protocol.md "Remote server transports".
const serverStartedLine = "Server started.  Client can connect with any of these command lines"

// kd-protocol.md "Banners and connection lines": transport lines.
const (
	netUsingLine   = "Using NET for debugging"
	netWinsockLine = "Opened WinSock 2.0"
	usbUsingLine   = "Using USB for debugging" // invented: no public USB transcript
)

// kd-protocol.md "Banners and connection lines": connection and the kernel preamble.
const (
	kdnetMACLine     = "You can get the target MAC address by running .kdtargetmac command."
	establishedLine  = "Kernel Debugger connection established."
	initialBreakNote = "  (Initial Breakpoint requested)" // two spaces, as kd prints it
	sessionTime      = "Wed Nov 25 22:01:02.051 2026 (UTC + 0:00)"
	execPathLine     = "Executable search path is: " // trailing space, as kd prints it
	productLine      = "Product: WinNt, suite: TerminalServer SingleUserTS"
	machineNameLine  = "Machine Name:"
	uptimeLine       = "System Uptime: 0 days 0:00:20.534"
)

// kd-protocol.md "Breaks": the break-in box of current kd, verbatim.
var breakInBox = []string{
	"Break instruction exception - code 80000003 (first chance)",
	"*******************************************************************************",
	"*                                                                             *",
	"*   You are seeing this message because you pressed either                    *",
	"*       CTRL+C (if you run console kernel debugger) or,                       *",
	"*       CTRL+BREAK (if you run GUI kernel debugger),                          *",
	"*   on your debugger machine's keyboard.                                      *",
	"*                                                                             *",
	"*                   THIS IS NOT A BUG OR A SYSTEM CRASH                       *",
	"*                                                                             *",
	"* If you did not intend to break into the debugger, press the \"g\" key, then   *",
	"* press the \"Enter\" key now.  This message might immediately reappear.  If it *",
	"* does, press \"g\" and \"Enter\" again.                                          *",
	"*                                                                             *",
	"*******************************************************************************",
}

// kd-protocol.md "PoolHitTag and the allocators": a PoolHitTag match is a hard-coded break, reported like any
// int 3 but without the CTRL+C box.
const breakException = "Break instruction exception - code 80000003 (first chance)"

// kd-protocol.md "Reboot and shutdown" says breakpoints are lost on reboot; the
// shutdown line is kd's (the timestamp is fixed for golden tests).
const shutdownLine = "Shutdown occurred at (Wed Nov 25 22:03:04.000 2026 (UTC + 0:00))...unloading all symbol tables."

// kd-protocol.md "Transport lost and resync": transport failure and the later refresh.
var transportLostLines = []string{
	"... Retry sending the same data packet for 64 times.",
	"The transport connection between host kernel debugger and target Windows seems lost.",
	"please try resync with target, recycle the host debugger, or reboot the target Windows.",
	"Unable to read debugger data block header",
}

const refreshLine = "KDTARGET: Refreshing KD connection"

// kd-protocol.md "Banners and connection lines", "Stack layouts": noise seen in real transcripts.
const (
	unwindWarning   = "WARNING: Stack unwind information not available. Following frames may be wrong."
	avscanSymbolErr = "*** ERROR: Module load completed but symbols could not be loaded for avscan.sys"
)

// Invented: kd-protocol.md "Control keys" only says CTRL+R "attempts to
// synchronize the host computer with the target"; a line shows it did.
const resyncLine = "Resynchronizing with the target..."

// Invented: what a crashing kd leaves behind varies; these lines only give a
// log reader something to show.
var crashLines = []string{
	"",
	"KD: internal error: access violation (c0000005) in dbgeng",
	"KD: the debugger will now exit",
}

// kd-protocol.md "Breakpoint answers" (deferred bp) and what kd answers a command
// it cannot parse.
const (
	deferredFmt     = "Bp expression '%s' could not be resolved, adding deferred bp"
	couldNotResolve = "Couldn't resolve error at '%s'"
	redefinedFmt    = "breakpoint %d redefined" // kd's text when bp targets an address that already has one
	quitLine        = "quit:"

	// Invented: kd's documentation gives the 32-breakpoint kernel limit
	// but not the words it answers a 33rd with.
	tooManyBreakpoints = "No more breakpoints available"
	// Invented, in the style of kd's other errors: bs with an ID that has
	// no breakpoint.
	noBreakpointFmt = "Breakpoint %d does not exist"
	syntaxErrorFmt  = "Syntax error at '%s'"
)
