// Package outfile writes a command's output file the way Unix tools do: a
// regular file is replaced atomically (a failed write never truncates it),
// but a device, a FIFO or a symlink's target is written, never replaced.
package outfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Options say how a file is written.
type Options struct {
	// Perm is a new file's mode. A regular file written over keeps its mode,
	// except that a private Perm (no group or other bits) is always applied:
	// a file that holds a secret never stays readable by others.
	Perm fs.FileMode
	// Created, if set, is told about each folder Write creates.
	Created func(dir string)
}

// InputError is an output path that names one of the command's inputs.
type InputError struct {
	Output, Input string
}

func (e *InputError) Error() string {
	if e.Output == e.Input {
		return fmt.Sprintf("%s is also an input: refusing to overwrite it; choose another file", e.Output)
	}
	return fmt.Sprintf("%s is the input %s: refusing to overwrite it; choose another file", e.Output, e.Input)
}

// ErrIsFolder is returned for an output path that is a folder.
var ErrIsFolder = errors.New("is a folder: give a file name")

// CheckInputs refuses an output that is one of inputs: the same name, or
// the same file through a symlink or a hard link. "-" (standard input) is
// never a file.
func CheckInputs(out string, inputs []string) error {
	oi, oerr := os.Stat(out)
	for _, in := range inputs {
		if in == "-" {
			continue
		}
		same := filepath.Clean(in) == filepath.Clean(out)
		if !same && oerr == nil {
			if ii, err := os.Stat(in); err == nil {
				same = os.SameFile(oi, ii)
			}
		}
		if same {
			return &InputError{Output: out, Input: in}
		}
	}
	return nil
}

// Check refuses, before any work is done, an output path that Write would
// refuse: a folder, or a file under something that is not a folder.
func Check(path string) error {
	target, kind, err := classify(path)
	if err != nil {
		return err
	}
	switch kind {
	case Folder:
		return ErrIsFolder
	case Special:
		return nil
	}
	for dir := filepath.Dir(target); ; dir = filepath.Dir(dir) {
		di, err := os.Stat(dir)
		if err == nil {
			if !di.IsDir() {
				return fmt.Errorf("%s is not a folder: choose another file", dir)
			}
			return nil
		}
		if !errors.Is(err, fs.ErrNotExist) || filepath.Dir(dir) == dir {
			return fmt.Errorf("folder %s: %w", dir, unwrapPath(err))
		}
	}
}

// classify says how path is written and, for a regular or missing file,
// which file a rename must replace. The kernel follows the symlinks for a
// path that exists (also /dev/stdout's magic links); only a dangling
// symlink is followed here, to the file it names.
func classify(path string) (target string, kind Kind, err error) {
	fi, err := os.Stat(path)
	switch {
	case err == nil:
		kind = KindOf(path, fi)
		if kind != Regular {
			return path, kind, nil
		}
		target, err = filepath.EvalSymlinks(path)
		if err != nil {
			return "", kind, unwrapPath(err)
		}
		return target, kind, nil
	case errors.Is(err, fs.ErrNotExist):
		if isDeviceName(path) {
			return path, Special, nil
		}
		target, err = Resolve(path)
		return target, Missing, err
	case isNotDir(err):
		// Under a file: Check's walk up names it.
		return path, Missing, nil
	}
	return "", Missing, unwrapPath(err)
}

// maxLinks bounds symlink chains, as the kernel's ELOOP does.
const maxLinks = 40

// Resolve follows symlinks from path to the file they finally name, which
// need not exist (a dangling symlink names the file to create).
func Resolve(path string) (string, error) {
	p := path
	for range maxLinks {
		fi, err := os.Lstat(p)
		if err != nil {
			// Missing, or under something that is not a folder: the
			// caller's Stat reports it.
			return p, nil
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return p, nil
		}
		link, err := os.Readlink(p)
		if err != nil {
			return "", unwrapPath(err)
		}
		if !filepath.IsAbs(link) {
			link = filepath.Join(filepath.Dir(p), link)
		}
		p = link
	}
	return "", fmt.Errorf("too many levels of symbolic links")
}

// Kind is what an output path names, which decides how it is written.
type Kind int

const (
	Missing Kind = iota // created, through a temporary file and a rename
	Regular             // replaced, through a temporary file and a rename
	Special             // a device, FIFO or socket: written in place
	Folder              // refused
)

// KindOf classifies a file's mode (nil: it does not exist), with Windows'
// reserved device names (NUL, CON, ...) as devices whatever Stat says.
//
// What Stat says about a regular file or folder wins over the name: newer
// Windows builds no longer treat "nul.txt" as NUL, and a regular file
// written in place instead of replaced would keep its old tail.
func KindOf(name string, fi fs.FileInfo) Kind {
	switch {
	case fi != nil && fi.IsDir():
		return Folder
	case fi != nil && fi.Mode().IsRegular():
		return Regular
	case isDeviceName(name):
		return Special
	case fi == nil:
		return Missing
	}
	return Special
}

// Write writes path with write. A regular or missing file is written to a
// temporary file next to it (next to a symlink's target, so the link
// stays) and renamed over it once complete; anything else is opened and
// written in place. Missing folders are created and reported to
// o.Created. Errors say what is wrong and never name the temporary file.
func Write(path string, o Options, write func(io.Writer) error) error {
	if err := Check(path); err != nil {
		return err
	}
	target, kind, err := classify(path)
	if err != nil {
		return err
	}
	switch kind {
	case Folder:
		return ErrIsFolder
	case Special:
		return writeInPlace(target, write)
	}
	if err := mkdirs(filepath.Dir(target), 0o755, o.Created); err != nil {
		return fmt.Errorf("%w: choose another file", err)
	}
	perm := o.Perm
	if fi, err := os.Stat(target); err == nil && o.Perm&0o077 != 0 {
		perm = fi.Mode().Perm()
	}
	return writeAtomic(target, perm, write)
}

func writeInPlace(path string, write func(io.Writer) error) error {
	// No O_TRUNC: a device or FIFO has nothing to truncate, and Windows'
	// NUL refuses it.
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return unwrapPath(err)
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return unwrapPath(f.Close())
}

func writeAtomic(path string, perm fs.FileMode, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("cannot create a file in %s: %w: choose another file", dir, unwrapPath(err))
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(perm); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return unwrapPath(err)
	}
	if err = write(tmp); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return unwrapPath(err)
	}
	if err = tmp.Close(); err != nil {
		return unwrapPath(err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		var le *os.LinkError
		if errors.As(err, &le) {
			return le.Err
		}
		return err
	}
	return nil
}

// MkdirAll creates dir and its missing parents with mode perm, telling
// created (if set) about dir when it made any folder.
func MkdirAll(dir string, perm fs.FileMode, created func(string)) error {
	return mkdirs(dir, perm, created)
}

func mkdirs(dir string, perm fs.FileMode, created func(string)) error {
	top := ""
	for d := dir; ; d = filepath.Dir(d) {
		_, err := os.Stat(d)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("folder %s: %w", d, unwrapPath(err))
		}
		top = d
		if filepath.Dir(d) == d {
			break
		}
	}
	if top == "" {
		return nil
	}
	if err := os.MkdirAll(dir, perm); err != nil {
		return fmt.Errorf("cannot create folder %s: %w", dir, unwrapPath(err))
	}
	if created != nil {
		created(dir)
	}
	return nil
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
