//go:build !windows

package launcher

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/kdlaunch/kdlaunch/redact"
	"github.com/kdlaunch/kdlaunch/script"
	"github.com/kdlaunch/kdlaunch/transcript"
)

var (
	fakeOnce sync.Once
	fakePath string
	fakeErr  error
)

func buildFake(b *testing.B) string {
	fakeOnce.Do(func() {
		dir, err := os.MkdirTemp("", "kdlaunch-bench")
		if err != nil {
			fakeErr = err
			return
		}
		fakePath = filepath.Join(dir, "fakekd")
		cmd := exec.Command("go", "build", "-o", fakePath, "github.com/kdlaunch/kdlaunch/cmd/fakekd")
		if out, err := cmd.CombinedOutput(); err != nil {
			fakeErr = fmt.Errorf("build fakekd: %v: %s", err, out)
		}
	})
	if fakeErr != nil {
		b.Fatal(fakeErr)
	}
	return fakePath
}

const benchHits = 20000

// floodKD starts the fake kd halted at its initial breakpoint with the
// breakpoint typed ahead, so that it floods benchHits hits as fast as it can
// write them.
func floodKD(b *testing.B) Proc {
	env := append(os.Environ(), "FAKEKD_CONNECT_DELAY=0s", "FAKEKD_INITIAL_BREAK=1", "FAKEKD_FLOOD=1",
		fmt.Sprintf("FAKEKD_FLOOD_HITS=%d", benchHits))
	p, err := Start(Spec{Path: buildFake(b), Args: []string{"-k", "com:port=com1,baud=115200"}, Env: env}, hclog.NewNullLogger())
	if err != nil {
		b.Fatal(err)
	}
	if _, err := p.Write([]byte(`bp nt!MmAllocateSpecialPool ";kb;g"` + p.Newline() + "g" + p.Newline())); err != nil {
		b.Fatal(err)
	}
	return p
}

func leave(p Proc) {
	_, _ = p.Write([]byte(script.CtrlB + p.Newline()))
}

// catRead is the baseline: read kd's stream and throw it away, as cat
// does, counting hits only to know when the flood is over.
func catRead(b *testing.B, p Proc) int64 {
	buf := make([]byte, 64<<10)
	var total int64
	hits := 0
	marker := []byte("Breakpoint ")
	var carry []byte
	for {
		n, err := p.Output().Read(buf)
		total += int64(n)
		chunk := append(carry, buf[:n]...)
		hits += bytes.Count(chunk, marker)
		if len(chunk) > len(marker) {
			carry = append(carry[:0], chunk[len(chunk)-len(marker)+1:]...)
		} else {
			carry = append(carry[:0], chunk...)
		}
		if hits >= benchHits {
			leave(p)
			hits = -1 << 30
		}
		if err != nil {
			return total
		}
	}
}

// pumpRead runs kd's stream through Pump with every sink a real run has:
// console, transcript, redaction, classification.
func pumpRead(b *testing.B, p Proc) int64 {
	tr, err := transcript.Open(filepath.Join(b.TempDir(), "transcript.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	out := make(chan Output, 64)
	go Pump(p.Output(), out, Sinks{Console: NewConsole(io.Discard, nil), Transcript: tr, Log: hclog.NewNullLogger(), Redact: redact.New("s3cretpassw0rd")})
	var total int64
	hits := 0
	for o := range out {
		for _, l := range o.Lines {
			total += int64(len(l.Text)) + 1
			if l.Class == script.BreakpointHit {
				hits++
			}
		}
		total += int64(len(o.Prompt))
		if hits >= benchHits {
			leave(p)
			hits = -1 << 30
		}
	}
	return total
}

// BenchmarkPumpVsCat measures how fast the pump drains a fake kd flooding
// hits over a pty, as a ratio to a plain reader (cat) on the same stream.
// A ratio near 1 means kdlaunch never makes kd wait.
func BenchmarkPumpVsCat(b *testing.B) {
	var catNs, pumpNs, catBytes, pumpBytes float64
	for i := 0; i < b.N; i++ {
		p := floodKD(b)
		t0 := time.Now()
		catBytes += float64(catRead(b, p))
		catNs += float64(time.Since(t0))
		p.Wait()
		_ = p.Close()

		p = floodKD(b)
		t0 = time.Now()
		pumpBytes += float64(pumpRead(b, p))
		pumpNs += float64(time.Since(t0))
		p.Wait()
		_ = p.Close()
	}
	catRate := catBytes / (catNs / 1e9) / 1e6
	pumpRate := pumpBytes / (pumpNs / 1e9) / 1e6
	b.ReportMetric(catRate, "cat-MB/s")
	b.ReportMetric(pumpRate, "pump-MB/s")
	b.ReportMetric(pumpRate/catRate, "ratio")
}

// BenchmarkPumpLines is the pump alone on an in-memory kd log, to see its
// own cost per byte without the fake kd's.
func BenchmarkPumpLines(b *testing.B) {
	var buf bytes.Buffer
	for buf.Len() < 8<<20 {
		buf.WriteString("Breakpoint 0 hit\nnt!MmAllocateSpecialPool:\nfffff801`1e2a3b40 4c8bdc          mov     r11,rsp\n # RetAddr           : Args to Child                                                           : Call Site\n")
		for i := 0; i < 8; i++ {
			buf.WriteString("00 fffff801`1e3b13b1 : 00000000`00000101 00000000`00000000 00000000`000001b0 00000000`00000057 : leakydrv!LeakyAllocateBuffer+0x2c [d:\\src\\leaky\\alloc.c @ 120]\n")
		}
	}
	data := buf.Bytes()
	tr, err := transcript.Open(filepath.Join(b.TempDir(), "t.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out := make(chan Output, 64)
		go Pump(bytes.NewReader(data), out, Sinks{Console: NewConsole(io.Discard, nil), Transcript: tr, Redact: redact.New("s3cret")})
		for range out {
		}
	}
}
