// Package wintest holds kdlaunch's Windows integration tests: kdlaunch.exe
// driving fakekd.exe through the real Windows process layer (pipes, process
// groups, console control events, Job Objects). They run on Windows and,
// via scripts/test-windows.sh, under Wine on Linux; the helpers here also
// serve launcher's own Windows tests.
//
// The tests find the binaries through KDLAUNCH_WINTEST_KDLAUNCH and
// KDLAUNCH_WINTEST_FAKEKD (absolute Windows paths); when those are unset and
// a Go toolchain is on PATH (a Windows developer machine), they build them.
package wintest
