package statusline

import (
	"testing"
	"time"

	"github.com/kdlaunch/kdlaunch/launcher"
)

func TestText(t *testing.T) {
	tests := []struct {
		in   launcher.Snapshot
		want string
	}{
		{launcher.Snapshot{State: launcher.Waiting, InState: 1500 * time.Millisecond, Elapsed: 90 * time.Second},
			"[waiting 1s] hits 0, 0.0/s, elapsed 1m30s"},
		{launcher.Snapshot{State: launcher.Running, InState: 12 * time.Second, Hits: 40, MaxHits: 200, Rate: 3.33, Elapsed: 65 * time.Second},
			"[running 12s] hits 40/200, 3.3/s, elapsed 1m5s"},
		{launcher.Snapshot{State: launcher.Running, Lost: true, Hits: 7, Rate: 0.05},
			"[running, transport lost 0s] hits 7, 0.1/s, elapsed 0s"},
	}
	for _, tt := range tests {
		if got := Text(tt.in); got != tt.want {
			t.Errorf("Text(%+v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
