package plural

import "testing"

func TestPlural(t *testing.T) {
	tests := []struct{ got, want string }{
		{S(0, "stack"), "0 stacks"}, {S(1, "stack"), "1 stack"}, {S(2, "stack"), "2 stacks"}, {S(-1, "hit"), "-1 hit"},
		{N(1, "breakpoint hit", "breakpoint hits"), "1 breakpoint hit"}, {N(3, "more frame", "more frames"), "3 more frames"},
		{Times(0), "0 times"}, {Times(1), "once"}, {Times(2), "2 times"}, {Times(7), "7 times"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
