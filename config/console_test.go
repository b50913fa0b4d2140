package config

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateConsole(t *testing.T) {
	for _, tt := range []struct {
		console string
		ok      bool
	}{{"", true}, {"auto", true}, {"pseudo", true}, {"pipes", true}, {"PIPES", true}, {"tty", false}, {"conpty ", false}} {
		c := Default()
		c.KD.Console = tt.console
		err := c.Validate()
		if tt.ok && err != nil {
			t.Errorf("kd.console %q: %v", tt.console, err)
		}
		if !tt.ok && (!errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "use auto")) {
			t.Errorf("kd.console %q: %v, want an invalid-configuration error naming the choices", tt.console, err)
		}
	}
}
