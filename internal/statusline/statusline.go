// Package statusline turns the session's snapshot into the one line shown
// under kd's output while kdlaunch runs.
package statusline

import (
	"fmt"
	"time"

	"github.com/kdlaunch/kdlaunch/launcher"
)

// Text is the status line for s, e.g.
// "[running 12s] hits 40/200, 3.3/s, elapsed 1m5s".
func Text(s launcher.Snapshot) string {
	st := s.State.String()
	if s.Lost {
		st += ", transport lost"
	}
	line := fmt.Sprintf("[%s %s] hits %d", st, short(s.InState), s.Hits)
	if s.MaxHits > 0 {
		line += fmt.Sprintf("/%d", s.MaxHits)
	}
	return line + fmt.Sprintf(", %.1f/s, elapsed %s", s.Rate, short(s.Elapsed))
}

func short(d time.Duration) string { return d.Truncate(time.Second).String() }
