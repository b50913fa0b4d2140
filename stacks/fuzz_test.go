package stacks

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzParse: on any input the parsers never panic and always finish, agree
// with one another, and yield frames that are non-empty, trimmed, one line,
// and free of the annotations kd appends.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.log"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("ChildEBP RetAddr\n0 0 a!b(\n)+0x1 [x\n"))
	f.Add([]byte("STACK_TEXT:\n\n00000000 00000000 : 1 : a!b (FPO: [\n"))
	f.Add([]byte("\xff\xfe\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var seq [][]string
		p := newParser(bytes.NewReader(data))
		for {
			s, err := p.Next()
			if err != nil {
				if err != io.EOF && !isBinary(err) {
					t.Fatalf("unexpected error %v", err)
				}
				break
			}
			checkFrames(t, s.Frames)
			seq = append(seq, s.Frames)
		}
		var par [][]string
		_, err := ScanWorkers(bytes.NewReader(data), 2, func(s Stack) { par = append(par, s.Frames) })
		if err != nil && !isBinary(err) {
			t.Fatalf("Scan: %v", err)
		}
		if !reflect.DeepEqual(seq, par) {
			t.Fatalf("Scan %q != Parser %q", par, seq)
		}
	})
}

func isBinary(err error) bool {
	_, ok := err.(*BinaryError)
	return ok
}

// kd separates every annotation from the call site with a space. (A " ("
// alone may be part of a C++ name: Foo<void (__cdecl*)(int)>.)
var annotations = []string{" [", " (FPO:", " (CONV:", " (TrapFrame", " (Inline", "  ", "\t", "\n"}

func checkFrames(t *testing.T, frames []string) {
	t.Helper()
	if len(frames) == 0 || len(frames) > maxFrames {
		t.Fatalf("%d frames", len(frames))
	}
	for _, f := range frames {
		if f == "" || strings.Trim(f, " \t\r\v\f") != f {
			t.Fatalf("frame %q is empty or not trimmed", f)
		}
		for _, a := range annotations {
			if strings.Contains(f, a) {
				t.Fatalf("frame %q contains %q", f, a)
			}
		}
	}
}

// FuzzTail: the incremental parser, fed in pieces of any size, never panics
// and, on plain text, finds what Parser finds.
func FuzzTail(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.log"))
	for i, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(i*7+1))
	}
	f.Fuzz(func(t *testing.T, data []byte, step uint8) {
		var got [][]string
		tl := NewTail(func(s Stack) { checkFrames(t, s.Frames); got = append(got, s.Frames) })
		n := int(step%64) + 1
		var werr error
		for i := 0; i < len(data) && werr == nil; i += n {
			_, werr = tl.Write(data[i:min(i+n, len(data))])
		}
		if werr != nil {
			if !isBinary(werr) {
				t.Fatalf("Tail: %v", werr)
			}
			return
		}
		tl.Flush()
		if bytes.IndexByte(data, 0) >= 0 || len(data) > 0 && data[0] >= 0x80 || bytes.IndexByte(data, '\n') < 0 {
			return // encoding sniffed from a different sample
		}
		var want [][]string
		p := newParser(bytes.NewReader(data))
		for {
			s, err := p.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return // binary by Parser's larger sample
			}
			want = append(want, s.Frames)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Tail %q != Parser %q", got, want)
		}
	})
}
