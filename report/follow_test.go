package report

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lastFrame returns the output after the last redraw separator.
func (b *syncBuffer) lastFrame() string {
	s := b.String()
	if i := strings.LastIndex(s, "---- "); i >= 0 {
		return s[i:]
	}
	return s
}

func waitFor(t *testing.T, out *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(out.lastFrame(), want) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no redraw with %q; last:\n%s", want, out.lastFrame())
}

func hitBlocks(t *testing.T) []string {
	b, err := os.ReadFile(filepath.Join("..", "stacks", "testdata", "hits_x64.log"))
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(string(b), "Breakpoint 0 hit\n")
	for i := 1; i < len(parts); i++ {
		parts[i] = "Breakpoint 0 hit\n" + parts[i]
	}
	return parts // preamble, then 4 hit blocks
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func TestFollow(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "debug.log")
	parts := hitBlocks(t)
	out := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	no := false
	done := make(chan error, 1)
	go func() {
		done <- Follow(ctx, path, 40*time.Millisecond, out, FollowOptions{Top: 3, Poll: 10 * time.Millisecond, Clear: &no})
	}()

	waitFor(t, out, " to appear (Ctrl+C stops)")
	waitFor(t, out, "---- ") // a second frame while waiting
	if s := out.String(); strings.Contains(s, "No stacks found") || strings.Contains(s, "0 stacks") {
		t.Errorf("an empty table while the log does not exist:\n%s", s)
	}

	// The file appears with the preamble and two hits, the second one cut
	// in the middle of a line.
	second := parts[2]
	cut := strings.Index(second, "avscan!ScanFile")
	appendFile(t, path, parts[0]+parts[1]+second[:cut])
	// The first stack is complete; the second is shown as far as it goes.
	waitFor(t, out, "2 stacks, 2 unique, 2 breakpoint hits")
	appendFile(t, path, second[cut:]+parts[3]+parts[4])
	waitFor(t, out, "4 stacks, 2 unique, 4 breakpoint hits")
	if !strings.Contains(out.lastFrame(), "hit rate: ") || !strings.Contains(out.lastFrame(), "culprit avscan!ScanFile+0x1b2") {
		t.Errorf("redraw:\n%s", out.lastFrame())
	}

	// kd starts a new log: the file is truncated and rewritten.
	if err := os.WriteFile(path, []byte(parts[1]), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, out, "1 stack, 1 unique, 1 breakpoint hit")

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Follow did not stop")
	}
	for _, l := range strings.Split(out.String(), "\n") {
		if len([]rune(l)) > 80 {
			t.Errorf("line wider than 80: %q", l)
		}
	}
}

func TestFollowReplaced(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "debug.log")
	parts := hitBlocks(t)
	appendFile(t, path, parts[0]+parts[1]+parts[2]+parts[3])
	out := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	yes := true
	done := make(chan error, 1)
	go func() {
		done <- Follow(ctx, path, 30*time.Millisecond, out, FollowOptions{Poll: 10 * time.Millisecond, Clear: &yes})
	}()
	waitForAny(t, out, "3 stacks, 2 unique, 3 breakpoint hits")
	// rotation: a new file replaces the old one
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, parts[4])
	waitForAny(t, out, "was replaced")
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "\x1b[H\x1b[2J") {
		t.Error("no screen clear with Clear=true")
	}
	if s := out.String(); !strings.Contains(s[strings.LastIndex(s, "\x1b[H"):], "1 stack, 1 unique, 1 breakpoint hit") {
		t.Errorf("after replacement:\n%s", s[strings.LastIndex(s, "\x1b[H"):])
	}
}

func waitForAny(t *testing.T, out *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(out.String(), want) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no output with %q:\n%s", want, out.String())
}

func TestFollowErrors(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "x.bin")
	os.WriteFile(bin, append([]byte("\x7fELF\x02\x01\x01"), make([]byte, 600)...), 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := Follow(ctx, bin, 20*time.Millisecond, &syncBuffer{}, FollowOptions{})
	if err == nil || !strings.Contains(err.Error(), "looks binary") {
		t.Errorf("binary: %v", err)
	}
	err = Follow(ctx, dir, 20*time.Millisecond, &syncBuffer{}, FollowOptions{})
	if err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("directory: %v", err)
	}
}

// A writer (kdlaunch run) that holds the log and lets go: Follow says the
// counts are final and returns by itself.
func TestFollowWriterFinished(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "debug.log")
	parts := hitBlocks(t)
	appendFile(t, path, parts[0]+parts[1])
	var mu sync.Mutex
	writing, probed := true, 0
	probe := func(p string) (bool, error) {
		mu.Lock()
		defer mu.Unlock()
		if p != path {
			t.Errorf("probed %q, want %q", p, path)
		}
		probed++
		return writing, nil
	}
	out := &syncBuffer{}
	no := false
	done := make(chan error, 1)
	go func() {
		done <- Follow(context.Background(), path, 40*time.Millisecond, out, FollowOptions{Poll: 10 * time.Millisecond, Clear: &no, Writing: probe})
	}()
	waitFor(t, out, "1 stack, 1 unique, 1 breakpoint hit")
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		mu.Lock()
		n := probed
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the writer probe was never called")
		}
	}
	// The run's last hit, then its lock is released.
	appendFile(t, path, parts[2])
	mu.Lock()
	writing = false
	mu.Unlock()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Follow did not notice the writer finished")
	}
	last := out.lastFrame()
	if !strings.Contains(last, "2 stacks, 1 unique, 2 breakpoint hits") || !strings.Contains(last, "has finished writing") {
		t.Errorf("final frame:\n%s", last)
	}
}

// A log nobody holds (an old one, before run starts) is followed until
// Ctrl+C: only a writer seen and gone ends following.
func TestFollowNoWriterYet(t *testing.T) {
	path := filepath.Join(t.TempDir(), "debug.log")
	appendFile(t, path, hitBlocks(t)[1])
	out := &syncBuffer{}
	no := false
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Follow(ctx, path, 20*time.Millisecond, out, FollowOptions{Poll: 5 * time.Millisecond, Clear: &no, Writing: func(string) (bool, error) { return false, nil }})
	}()
	waitFor(t, out, "1 stack,")
	waitFor(t, out, "hit rate: 0.0/min")
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "has finished") {
		t.Error("finished without a writer")
	}
}
