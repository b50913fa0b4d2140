package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/kdlaunch/kdlaunch/internal/genlog"
)

func runLeak(size string, allocs int, o genlog.LeakOptions, transcript bool, out, truth string) error {
	n, err := parseSize(size)
	if err != nil {
		return err
	}
	if allocs > 0 {
		n = 0
	}
	o.Size, o.Allocs = n, allocs
	if transcript {
		o.Start = time.Now().UTC().Truncate(time.Second)
	}
	var w io.Writer = os.Stdout
	var f *os.File
	if out != "-" {
		if f, err = os.Create(out); err != nil {
			return err
		}
		w = f
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	st, err := genlog.GenerateLeaks(bw, o)
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
	if truth != "" {
		b, err := json.MarshalIndent(st, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(truth, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "genlog: %d bytes, %d allocations, %d frees, %d unpaired, %d frees untracked\n", st.Bytes, st.Allocs, st.Frees, st.Unpaired, st.FreesUntracked)
	return nil
}
