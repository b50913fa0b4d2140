// Command kdlaunch drives kd.exe to find who allocates a leaking Windows
// kernel pool tag: it starts kd, arms the breakpoint, supervises the hunt,
// leaves the target running, and turns the debug log into the answer.
package main

import (
	"os"

	"github.com/kdlaunch/kdlaunch/internal/cli"
)

// version is stamped by the build (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	os.Exit(cli.Main(os.Args[1:], version))
}
