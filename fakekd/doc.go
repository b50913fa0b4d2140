// Package fakekd is a kd.exe look-alike used by kdlaunch's tests and demo.
//
// It prints what the real kernel debugger prints (the strings and their
// public sources are in the repository's docs/kd-protocol.md, cited by
// section title), accepts the few commands kdlaunch sends, and simulates a target that
// allocates special pool so breakpoints on nt!MmAllocateSpecialPool hit.
// Everything it is asked to do, and every mistake a driver makes (commands
// typed while the target runs, stray empty lines, breaks sent to a halted
// target), is recorded in a JSON state file that tests read afterwards.
//
// With FAKEKD_LEAKS the target runs the leak workload instead (leak.go):
// threads on several CPUs allocate through the special-pool allocator of
// FAKEKD_KERNEL from a few call sites and free through its free routine,
// and kd runs the leak recipe's breakpoint commands as real kd would:
// MASM expressions (expr.go), .printf (printf.go), .if, j, bp at an
// address with /1 and /t, bs, bl, the 32-breakpoint kernel limit,
// redefinition at one address, !poolused. The truth (every outstanding
// allocation with its address, size, thread, call site and stack, and the
// halts it cost) is the state file's Leak.
//
// Behaviour is tuned with FAKEKD_* environment variables ("knobs"); see
// Config for the full list and defaults. The program itself is
// cmd/fakekd; Main wires it to the operating system, Run is the testable
// core.
package fakekd
