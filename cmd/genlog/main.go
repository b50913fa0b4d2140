// Command genlog writes a synthetic kd debug log of breakpoint hits with kb
// stacks, for benchmarks and tests of `kdlaunch report`.
//
//	genlog -size 1GB -arch x64 -o /tmp/kd.log
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/kdlaunch/kdlaunch/internal/genlog"
)

func main() {
	size := flag.String("size", "100MB", "approximate log size (B, KB, MB, GB; powers of 1024)")
	hits := flag.Int("hits", 0, "stop after this many breakpoint hits instead (0: use -size)")
	arch := flag.String("arch", "x64", "target architecture: x64 or x86")
	out := flag.String("o", "-", "output file ('-' for standard output)")
	seed := flag.Uint64("seed", 1, "random seed")
	stacks := flag.Int("stacks", 12, "distinct stacks (leak logs: 6 is a good number)")
	crlf := flag.Bool("crlf", false, "end lines with CRLF")
	leak := flag.Bool("leak", false, "write a leak log (allocation, return and free records; see docs/leaks.md)")
	family := flag.String("family", "mm-special-pool", "leak log: allocator family, mm-special-pool or heap-special-pool")
	allocs := flag.Int("allocs", 0, "leak log: stop after this many allocations instead (0: use -size)")
	threads := flag.Int("threads", 4, "leak log: threads allocating at once")
	lost := flag.Int("lost", 0, "leak log: returns lost per thousand allocations")
	early := flag.Int("early-frees", 0, "leak log: frees of addresses allocated before tracking began")
	burst := flag.Bool("burst", false, "leak log: the leaker leaks in one burst instead of steadily")
	transcript := flag.Bool("transcript", false, "leak log: write a kdlaunch transcript (timestamped lines) instead of a kd log")
	truth := flag.String("truth", "", "leak log: write what the log holds (per stack outstanding count and bytes) as JSON to this file")
	flag.Parse()
	var err error
	if *leak {
		err = runLeak(*size, *allocs, genlog.LeakOptions{
			Arch: *arch, Family: *family, Seed: *seed, Stacks: *stacks, CRLF: *crlf,
			Threads: *threads, LostPerMille: *lost, EarlyFrees: *early, Burst: *burst,
		}, *transcript, *out, *truth)
	} else {
		err = run(*size, *hits, *arch, *out, *seed, *stacks, *crlf)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "genlog:", err)
		os.Exit(1)
	}
}

func run(size string, hits int, arch, out string, seed uint64, stacks int, crlf bool) error {
	n, err := parseSize(size)
	if err != nil {
		return err
	}
	if hits > 0 {
		n = 0
	}
	var w io.Writer = os.Stdout
	var f *os.File
	if out != "-" {
		f, err = os.Create(out)
		if err != nil {
			return err
		}
		w = f
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	st, err := genlog.Generate(bw, genlog.Options{Size: n, Hits: hits, Arch: arch, Seed: seed, Stacks: stacks, CRLF: crlf})
	if err == nil {
		err = bw.Flush()
	}
	if f != nil {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "genlog: %d bytes, %d hits, %d distinct stacks\n", st.Bytes, st.Hits, len(st.Stacks))
	return nil
}

// parseSize reads "1GB", "512MB", "100KB", "1234".
func parseSize(s string) (int64, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, suf := range []struct {
		s string
		m int64
	}{{"GIB", 1 << 30}, {"MIB", 1 << 20}, {"KIB", 1 << 10}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(u, suf.s) {
			u, mult = strings.TrimSpace(strings.TrimSuffix(u, suf.s)), suf.m
			break
		}
	}
	v, err := strconv.ParseFloat(u, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("bad size %q (want e.g. 1GB, 512MB, 100KB)", s)
	}
	return int64(v * float64(mult)), nil
}
