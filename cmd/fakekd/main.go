// Command fakekd is a kd.exe look-alike for kdlaunch's tests and demo.
// See package github.com/kdlaunch/kdlaunch/fakekd for its behaviour and
// knobs.
package main

import (
	"os"

	"github.com/kdlaunch/kdlaunch/fakekd"
)

func main() { os.Exit(fakekd.Main()) }
