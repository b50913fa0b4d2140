package report

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/kdlaunch/kdlaunch/internal/genlog"
	"github.com/kdlaunch/kdlaunch/stacks"
)

// BenchmarkReport is the whole of `kdlaunch report --format json` on a
// generated 32 MB x64 log: parse on all CPUs, aggregate, write.
func BenchmarkReport(b *testing.B) {
	var log bytes.Buffer
	if _, err := genlog.Generate(&log, genlog.Options{Size: 32 << 20, Seed: 1, Stacks: 50}); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(log.Len()))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		agg := NewAggregator()
		st, err := stacks.Scan(bytes.NewReader(log.Bytes()), agg.Add)
		if err != nil {
			b.Fatal(err)
		}
		agg.AddHits(st.Hits)
		if err := WriteJSON(io.Discard, agg.Report(nil)); err != nil {
			b.Fatal(err)
		}
	}
}

// manyStacks is a report with n distinct stacks of 20 frames.
func manyStacks(n int) *Report {
	a := NewAggregator()
	for i := 0; i < n; i++ {
		frames := []string{"nt!MmAllocateSpecialPool", "nt!ExAllocatePoolWithTag+0x4e"}
		for j := 0; j < 18; j++ {
			frames = append(frames, fmt.Sprintf("drv%d!Function%d+0x%x", i%7, j, i))
		}
		for k := 0; k <= i%5; k++ {
			a.Add(stacks.Stack{Frames: frames})
		}
	}
	return a.Report(nil)
}

func BenchmarkWriters(b *testing.B) {
	r := manyStacks(1000)
	for _, f := range Formats {
		b.Run(f, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if err := Write(io.Discard, r, f, WriteOptions{Top: 10}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
