package outfile

import (
	"errors"
	"syscall"
)

// isNotDir is Stat's error for a path under a file on Unix; Windows says
// "path not found" instead, which classify already treats as missing.
func isNotDir(err error) bool { return errors.Is(err, syscall.ENOTDIR) }
