//go:build !unix && !windows

package lock

import (
	"errors"
	"os"
)

func tryLock(*os.File, bool) (bool, error) {
	return false, errors.New("file locks are not supported on this system")
}

func unlock(*os.File) error { return nil }
