package fakekd

import (
	"strings"
	"testing"
	"time"
)

func mapEnv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestConfigDefaults(t *testing.T) {
	c, err := LoadConfig(mapEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.ConnectDelay != 300*time.Millisecond || c.HitInterval != 50*time.Millisecond ||
		c.RebootDelay != 500*time.Millisecond || c.LossFor != 2*time.Second ||
		c.SpecialPoolTag != 0x206b6444 || c.Seed != 1 || c.Arch != "x64" ||
		c.StackFormat != "kb-new" || c.CrashCode != defaultCrashCode || c.PlainPrompt || c.CRLF ||
		len(c.Stacks) != 4 {
		t.Errorf("defaults: %+v", c)
	}
	c, _ = LoadConfig(mapEnv(map[string]string{"FAKEKD_ARCH": "x86"}))
	if c.StackFormat != "kb" {
		t.Errorf("x86 default format %q", c.StackFormat)
	}
}

func TestConfigValues(t *testing.T) {
	c, err := LoadConfig(mapEnv(map[string]string{
		"FAKEKD_CONNECT_DELAY":    "25",
		"FAKEKD_HIT_INTERVAL":     "2ms",
		"FAKEKD_SPECIAL_POOL_TAG": "Ddk ",
		"FAKEKD_MISSING_SYMBOLS":  "nt!MmAllocateSpecialPool, nt!MmSpecialPoolTag",
		"FAKEKD_CRASH_CODE":       "0xC0000005",
		"FAKEKD_PROMPT":           "plain",
		"FAKEKD_SEED":             "0",
		"FAKEKD_STACK_FORMAT":     "kn",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.ConnectDelay != 25*time.Millisecond || c.HitInterval != 2*time.Millisecond ||
		c.SpecialPoolTag != 0x206b6444 || !c.MissingSymbols["nt!mmallocatespecialpool"] ||
		!c.MissingSymbols["nt!mmspecialpooltag"] || c.CrashCode != 0xC0000005 || !c.PlainPrompt ||
		c.Seed != 0 || c.StackFormat != "kn" {
		t.Errorf("values: %+v", c)
	}
	for _, v := range []string{"0x2a", "2a", "0000002A"} {
		c, err := LoadConfig(mapEnv(map[string]string{"FAKEKD_SPECIAL_POOL_TAG": v}))
		if err != nil || c.SpecialPoolTag != 0x2a {
			t.Errorf("tag %q = %#x, %v", v, c.SpecialPoolTag, err)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for k, v := range map[string]string{
		"FAKEKD_CONNECT_DELAY":     "soon",
		"FAKEKD_FLOOD":             "maybe",
		"FAKEKD_CRASH_AFTER_HITS":  "-1",
		"FAKEKD_ARCH":              "arm64",
		"FAKEKD_STACK_FORMAT":      "kb",
		"FAKEKD_PROMPT":            "fancy",
		"FAKEKD_SPECIAL_POOL_TAG":  "0xnothex",
		"FAKEKD_DRIVERS":           "nonsense",
		"FAKEKD_REBOOT_AFTER_HITS": "two",
	} {
		_, err := LoadConfig(mapEnv(map[string]string{k: v}))
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: error %v", k, v, err)
		}
	}
}

// What an earlier session left: PoolHitTag, a halted target, kd's own
// breakpoints.
func TestConfigLeftOver(t *testing.T) {
	c, err := LoadConfig(mapEnv(map[string]string{
		"FAKEKD_POOL_HIT_TAG": "0x206b6444",
		"FAKEKD_START_HALTED": "1",
		"FAKEKD_BREAKPOINTS":  `bp nt!MmAllocateSpecialPool ";kb;g" | bu mydrv!Alloc`,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.PoolHitTag != 0x206b6444 || !c.StartHalted || len(c.Breakpoints) != 2 || c.Breakpoints[1] != "bu mydrv!Alloc" {
		t.Errorf("left over: %+v", c)
	}
	for k, v := range map[string]string{"FAKEKD_POOL_HIT_TAG": "tagtoolong", "FAKEKD_START_HALTED": "maybe", "FAKEKD_BREAKPOINTS": "bc *"} {
		if _, err := LoadConfig(mapEnv(map[string]string{k: v})); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: error %v", k, v, err)
		}
	}
}
