//go:build windows

package wintest

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TempDir is t.TempDir for tests that also run under Wine, whose name has a
// space in it (paths with spaces are part of what these tests prove).
//
// Go 1.26's os.RemoveAll (and so t.TempDir's cleanup) deletes with POSIX
// semantics (FILE_DISPOSITION_INFORMATION_EX), which Wine 8.0 does not
// implement ("Invalid function"); os.Remove (DeleteFile, RemoveDirectory)
// works. Cleanup failures are logged, not fatal.
func TempDir(t testing.TB) string {
	t.Helper()
	pattern := strings.NewReplacer("/", "_", `\`, "_").Replace(t.Name()) + " *"
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := removeTree(dir); err != nil {
			t.Logf("cleanup of %s: %v", dir, err)
		}
	})
	return dir
}

func removeTree(dir string) error {
	if err := os.RemoveAll(dir); err == nil {
		return nil
	}
	var paths []string
	_ = filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err == nil {
			paths = append(paths, p)
		}
		return nil
	})
	// Deepest first: files before the directories holding them.
	sort.Slice(paths, func(i, j int) bool { return len(paths[i]) > len(paths[j]) })
	var first error
	for _, p := range paths {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) && first == nil {
			first = err
		}
	}
	return first
}
