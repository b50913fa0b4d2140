// Package leaks turns the records of kdlaunch's leak recipe (package
// records) into outstanding allocations by stack: it streams a kd log,
// pairs each allocation with its return by thread and return address and
// with its free by pool address, and keeps the growth of the outstanding
// set. Memory is bounded by the outstanding set, never by the log.
// docs/leaks.md gives the reasoning.
package leaks
