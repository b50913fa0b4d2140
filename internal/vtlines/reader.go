package vtlines

import (
	"io"
	"sync/atomic"
)

// Reader reads a pseudo console's output from an underlying reader and
// returns it rendered into lines. It reads only when its caller does, so the
// reading goroutine stays the caller's.
type Reader struct {
	r   io.Reader
	vt  *Renderer
	buf []byte
	out []byte
	err error

	win32 atomic.Bool
}

// Win32InputMode is Renderer.Win32InputMode as of the last Read; safe to call
// from any goroutine.
func (rd *Reader) Win32InputMode() bool { return rd.win32.Load() }

// NewReader renders what r returns, for a console of width by height.
func NewReader(r io.Reader, width, height int) *Reader {
	return &Reader{r: r, vt: New(width, height), buf: make([]byte, 32<<10)}
}

// Read returns rendered text. A frame that carries no text (the cursor
// hidden and shown again) makes it read on rather than return nothing. The
// underlying reader's error comes after all text rendered before it.
func (rd *Reader) Read(p []byte) (int, error) {
	for len(rd.out) == 0 {
		if rd.err != nil {
			return 0, rd.err
		}
		n, err := rd.r.Read(rd.buf)
		rd.out = rd.vt.Render(rd.out[:0], rd.buf[:n])
		rd.win32.Store(rd.vt.Win32InputMode())
		if err != nil {
			rd.out = rd.vt.Flush(rd.out)
			rd.err = err
		}
	}
	n := copy(p, rd.out)
	rd.out = rd.out[n:]
	return n, nil
}
