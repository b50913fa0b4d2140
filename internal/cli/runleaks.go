package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/kdlaunch/kdlaunch/launcher"
	"github.com/kdlaunch/kdlaunch/leaks"
	"github.com/kdlaunch/kdlaunch/plural"
	"github.com/kdlaunch/kdlaunch/report"
	"github.com/kdlaunch/kdlaunch/script"
)

// leakRun is what the summary of a leak run says, read from the run's part
// of kd's log (the log is the source of truth, as for the report).
type leakRun struct {
	Report *report.LeakReport
	// LiveCount and LiveBytes are outstanding at the target's current
	// boot: what !poolused counts too.
	LiveCount, LiveBytes int64
}

// scanLeakRun reads the leak records of path from offset; ok is false for
// a part of the log with none.
func scanLeakRun(path string, offset int64) (lr leakRun, ok bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return leakRun{}, false, err
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return leakRun{}, false, err
	}
	t := leaks.NewTracker()
	st, err := leaks.Scan(f, t)
	if err != nil {
		return leakRun{}, false, fmt.Errorf("reading the leak records of %s: %w", path, err)
	}
	if st.Records == 0 {
		return leakRun{}, false, nil
	}
	lr.Report = report.NewLeakReport(t.Result(), nil)
	lr.LiveCount, lr.LiveBytes = t.Live()
	return lr, true, nil
}

// leakSummaryLines are the summary's lines for a leak run: the top leaker
// by outstanding bytes (and, for contrast, the top allocator by count), the
// totals, the halts per tracked allocation and per free as kd announced
// them, and kd's own count of the tag beside kdlaunch's.
func leakSummaryLines(lr leakRun, halts launcher.LeakHalts, poolUsed, tag string) []string {
	r := lr.Report
	var out []string
	if len(r.Stacks) > 0 {
		top := r.Stacks[0]
		if top.OutstandingBytes > 0 {
			out = append(out, fmt.Sprintf("  leaker:   %s (module %s): %s outstanding (%s) of %s (%s)", top.Culprit, report.Module(top.Culprit),
				plural.S(top.OutstandingCount, "allocation"), report.Bytes(top.OutstandingBytes), plural.S(r.OutstandingCount, "allocation"), report.Bytes(r.OutstandingBytes)))
		} else {
			out = append(out, "  leaker:   none: every tracked allocation was freed")
		}
		busy := top
		for _, s := range r.Stacks[1:] {
			if s.AllocCount > busy.AllocCount {
				busy = s
			}
		}
		out = append(out, fmt.Sprintf("  by count: %s allocates most: %d of %s (%.0f%%), %d outstanding",
			busy.Culprit, busy.AllocCount, plural.S(r.AllocCount, "allocation"), busy.Percent, busy.OutstandingCount))
	}
	line := fmt.Sprintf("  totals:   %d allocated (%s) = %d freed + %d outstanding + %d unpaired", r.AllocCount, report.Bytes(r.AllocBytes), r.FreeCount, r.OutstandingCount, r.UnpairedAllocs)
	if !r.Reconciled {
		line += " DOES NOT RECONCILE (a bug: please report it)"
	}
	if r.FreesUntracked > 0 {
		line += fmt.Sprintf("; %s of allocations made before tracking", plural.S(r.FreesUntracked, "free"))
	}
	out = append(out, line)
	if h := halts; h.Entry > 0 || h.Free > 0 {
		line := "  halts:    "
		if h.Entry > 0 {
			line += fmt.Sprintf("%.2f per tracked allocation (%d at the allocator, %d at its return sites)", float64(h.Entry+h.Return)/float64(h.Entry), h.Entry, h.Return)
		}
		if frees := r.FreeCount + r.FreesUntracked; frees > 0 {
			if h.Entry > 0 {
				line += ", "
			}
			line += fmt.Sprintf("%.2f per free (%d halts, %s)", float64(h.Free)/float64(frees), h.Free, plural.S(frees, "free"))
		}
		out = append(out, line)
	}
	if poolUsed != "" {
		out = append(out, "  kd:       "+crossCheckLine(lr, poolUsed, tag))
	}
	return out
}

// crossCheckLine sets kd's !poolused figure for the tag beside kdlaunch's
// outstanding allocations of the current boot, and says why they may
// legitimately differ.
func crossCheckLine(lr leakRun, poolUsed, tag string) string {
	u, err := script.ParsePoolUsed(poolUsed, tag)
	if err != nil {
		return fmt.Sprintf("no cross-check: %v; kdlaunch tracked %d outstanding (%s)", err, lr.LiveCount, report.Bytes(lr.LiveBytes))
	}
	s := fmt.Sprintf("!poolused %s: %d outstanding (%s); kdlaunch tracked %d (%s) this boot", tag, u.Allocs(), report.Bytes(u.Used()), lr.LiveCount, report.Bytes(lr.LiveBytes))
	dc, db := u.Allocs()-lr.LiveCount, u.Used()-lr.LiveBytes
	switch {
	case dc == 0 && db == 0:
		return s + ": the same"
	case dc >= 0:
		why := "allocations made before tracking began or while nothing was armed (a reboot, a kd restart)"
		if n := lr.Report.UnpairedAllocs; n > 0 {
			why += fmt.Sprintf(", %s whose return was lost", plural.S(n, "unpaired allocation"))
		}
		why += ", and the tag's allocations outside special pool (larger than a page, or once special pool is full) count in kd's figure only"
		return s + fmt.Sprintf(": kd counts %d more (%s): %s", dc, report.Bytes(db), why)
	default:
		return s + fmt.Sprintf(": kdlaunch counts %d more (%s): frees kd made while nothing was armed, or a free record lost, leave an allocation outstanding in kdlaunch's count only", -dc, report.Bytes(-db))
	}
}
