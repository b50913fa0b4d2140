package outfile

import (
	"io/fs"
	"testing"
	"time"
)

type info fs.FileMode

func (i info) Name() string       { return "x" }
func (i info) Size() int64        { return 0 }
func (i info) Mode() fs.FileMode  { return fs.FileMode(i) }
func (i info) ModTime() time.Time { return time.Time{} }
func (i info) IsDir() bool        { return fs.FileMode(i).IsDir() }
func (i info) Sys() any           { return nil }

func TestKindOf(t *testing.T) {
	tests := []struct {
		fi   fs.FileInfo
		want Kind
	}{
		{nil, Missing},
		{info(0o644), Regular},
		{info(fs.ModeDir | 0o755), Folder},
		{info(fs.ModeDevice | fs.ModeCharDevice | 0o666), Special},
		{info(fs.ModeNamedPipe | 0o600), Special},
		{info(fs.ModeSocket | 0o600), Special},
	}
	for _, tt := range tests {
		if got := KindOf("out.txt", tt.fi); got != tt.want {
			t.Errorf("KindOf(%v) = %v, want %v", tt.fi, got, tt.want)
		}
	}
}
