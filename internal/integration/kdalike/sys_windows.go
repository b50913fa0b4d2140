package kdalike

import "os"

// The fault knobs that need Unix calls degrade to the nearest Windows
// behaviour; the fault tests run on Unix only.

func pollableStdin() *os.File { return os.Stdin }

func muteOutput() {
	if null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0); err == nil {
		os.Stdout, os.Stderr = null, null
	}
}

func killSelf() { os.Exit(137) }

func ignoreHangup() {}
