package stacks

import (
	"bytes"
	"io"
	"sync"
	"testing"

	"github.com/kdlaunch/kdlaunch/internal/genlog"
)

var (
	benchOnce sync.Once
	benchLogs = map[string][]byte{}
)

// benchLog returns a generated 32 MB log for arch.
func benchLog(b *testing.B, arch string) []byte {
	benchOnce.Do(func() {
		for _, a := range []string{"x64", "x86"} {
			var buf bytes.Buffer
			if _, err := genlog.Generate(&buf, genlog.Options{Size: 32 << 20, Arch: a, Seed: 1, Stacks: 50}); err != nil {
				panic(err)
			}
			benchLogs[a] = buf.Bytes()
		}
	})
	return benchLogs[arch]
}

func benchScan(b *testing.B, arch string, workers int) {
	log := benchLog(b, arch)
	b.SetBytes(int64(len(log)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n := 0
		if _, err := ScanWorkers(bytes.NewReader(log), workers, func(Stack) { n++ }); err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			b.Fatal("no stacks")
		}
	}
}

func BenchmarkScanX64Workers1(b *testing.B) { benchScan(b, "x64", 1) }
func BenchmarkScanX64Workers2(b *testing.B) { benchScan(b, "x64", 2) }
func BenchmarkScanX86Workers2(b *testing.B) { benchScan(b, "x86", 2) }

// BenchmarkParser is the single-goroutine Parser.Next API.
func BenchmarkParser(b *testing.B) {
	log := benchLog(b, "x64")
	b.SetBytes(int64(len(log)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		p := newParser(bytes.NewReader(log))
		for {
			if _, err := p.Next(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkMachine is the line state machine alone, without reading.
func BenchmarkMachine(b *testing.B) {
	log := benchLog(b, "x64")
	b.SetBytes(int64(len(log)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		m := newMachine(func(*unique) {})
		m.feed(log, true)
		m.end()
	}
}

// BenchmarkMachineX86 is the state machine alone on x86 kb output.
func BenchmarkMachineX86(b *testing.B) {
	log := benchLog(b, "x86")
	b.SetBytes(int64(len(log)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		m := newMachine(func(*unique) {})
		m.feed(log, true)
		m.end()
	}
}
