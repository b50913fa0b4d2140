//go:build ignore

// timecmd runs a command and prints its wall time in seconds and its peak
// resident set size in KiB on one line: "1.234 15872". scripts/bench-report.sh
// builds it with `go build -o X cmd/genlog/timecmd.go`, so the benchmark
// needs neither GNU time nor bc.
//
//	timecmd [-out FILE] -- command args...
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

func main() {
	out := flag.String("out", "", "file for the command's standard output (default: inherit)")
	flag.Parse()
	args := flag.Args()
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: timecmd [-out FILE] -- command args...")
		os.Exit(2)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			fmt.Fprintln(os.Stderr, "timecmd:", err)
			os.Exit(2)
		}
		defer f.Close()
		cmd.Stdout = f
	}
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start)
	if err != nil {
		fmt.Fprintln(os.Stderr, "timecmd:", err)
		os.Exit(1)
	}
	var kb int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		kb = int64(ru.Maxrss) // KiB on Linux
	}
	fmt.Printf("%.3f %d\n", elapsed.Seconds(), kb)
}
