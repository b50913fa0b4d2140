package cli

import (
	"fmt"
	"io"
	"io/fs"

	"github.com/kdlaunch/kdlaunch/outfile"
)

// writeOutput writes one of kdlaunch's output files (report -o,
// target-setup -o, tag --reg-file): a regular file is replaced atomically,
// a device, FIFO or symlink's target is written as Unix tools do, and a
// missing folder is created with a line on stderr (the README's folder
// rule). Errors name what is wrong and what to do.
func writeOutput(stderr io.Writer, path string, perm fs.FileMode, write func(io.Writer) error) error {
	return outfile.Write(path, outfile.Options{Perm: perm, Created: createdFolder(stderr)}, write)
}

// createdFolder is the one line every command prints when it creates a
// folder, so a typo in a path is seen at once.
func createdFolder(stderr io.Writer) func(string) {
	return func(dir string) { fmt.Fprintf(stderr, "kdlaunch: created folder %s\n", dir) }
}
