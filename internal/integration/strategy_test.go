//go:build !windows

package integration

import (
	"strings"
	"testing"
	"time"
)

// --strategy pool-hit-tag: ed nt!PoolHitTag, every hit halts the target,
// kdlaunch takes the stack with kb and resumes; the stop clears the tag.
func TestRunPoolHitTag(t *testing.T) {
	short(t)
	r := start(t, nil, "--tag", "Ddk", "--strategy", "pool-hit-tag", "--max-hits", "10")
	if code := r.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, r.stdout.String(), r.stderr.String())
	}
	s := r.fake(t)
	assertSafe(t, s)
	if s.PoolHitTag != 0 {
		t.Errorf("PoolHitTag left at %#x, want 0", s.PoolHitTag)
	}
	cmds := withoutMarkers(s.Commands)
	if !hasSubsequence(cmds, []string{"ed nt!PoolHitTag 206b6444", "g", "kb", "g", "kb", "g", "bc *", "ed nt!PoolHitTag 0", "g"}) {
		t.Errorf("commands %q", cmds)
	}
	if got := r.summaryHits(t); got != s.Hits || got < 10 {
		t.Errorf("summary %d hits, fake %d, want >= 10 and equal", got, s.Hits)
	}
	if n := strings.Count(r.read(t, r.log), "Break instruction exception"); n < s.Hits {
		t.Errorf("log holds %d breaks for %d hits", n, s.Hits)
	}
}

// Commands from --command run after the breakpoint; --replace-script
// types only them.
func TestRunUserCommands(t *testing.T) {
	short(t)
	r := start(t, nil, "--tag", "Ddk", "--command", "bl", "--command", `bp nt!ExAllocatePool2 ".echo hit2;kb;g"`, "--max-hits", "6")
	if code := r.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("exit %d\n%s", code, r.stderr.String())
	}
	s := r.fake(t)
	assertSafe(t, s)
	if !hasSubsequence(withoutMarkers(s.Commands), []string{`bp nt!MmAllocateSpecialPool ";kb;g"`, "bl", `bp nt!ExAllocatePool2 ".echo hit2;kb;g"`, "g"}) {
		t.Errorf("commands %q", withoutMarkers(s.Commands))
	}
	r = start(t, nil, "--tag", "Ddk", "--replace-script", "--command", `bp nt!ExAllocatePoolWithTag "kb;g"`, "--max-hits", "3")
	if code := r.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("exit %d\n%s", code, r.stderr.String())
	}
	s = r.fake(t)
	assertSafe(t, s)
	for _, c := range s.Commands {
		if strings.Contains(c, "MmAllocateSpecialPool ") && strings.HasPrefix(c, "bp") {
			t.Errorf("--replace-script still armed the strategy's breakpoint")
		}
	}
}
