package leaks_test

import (
	"bytes"
	"testing"

	"github.com/kdlaunch/kdlaunch/internal/genlog"
	"github.com/kdlaunch/kdlaunch/leaks"
)

// BenchmarkScan reads a generated 64 MB x64 leak log; MB/s is what counts
// (make bench compares the binary with grep on 1 GB).
func BenchmarkScan(b *testing.B) {
	var log bytes.Buffer
	genlog.GenerateLeaks(&log, genlog.LeakOptions{Size: 64 << 20, Seed: 1, EarlyFrees: 10})
	b.SetBytes(int64(log.Len()))
	for b.Loop() {
		tr := leaks.NewTracker()
		if _, err := leaks.Scan(bytes.NewReader(log.Bytes()), tr); err != nil {
			b.Fatal(err)
		}
		tr.Result()
	}
}
