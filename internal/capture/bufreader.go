package capture

import (
	"errors"
	"io"
)

// initialBufSize is the starting size of a reader's buffer. It holds a
// maximum-size Ethernet jumbo frame many times over, so typical captures
// never grow it.
const initialBufSize = 64 << 10

// maxEmptyReads bounds how many (0, nil) reads in a row we tolerate from a
// misbehaving io.Reader before giving up, as bufio does.
const maxEmptyReads = 100

// bufReader is a minimal buffered reader that knows its position in the
// stream and hands out whole records as slices of its buffer, so that format
// readers can alias packet data without copying and report exact offsets.
//
// Unlike bufio.Reader it grows its buffer on demand (peek(n) always returns n
// bytes when the stream has them), which is what lets a record of any legal
// size be returned as one slice.
type bufReader struct {
	r     io.Reader
	buf   []byte
	start int   // first unconsumed byte in buf
	end   int   // end of valid data in buf
	off   int64 // stream offset of buf[start]
	err   error // sticky error from r, reported once the buffer drains
}

func newBufReader(r io.Reader) *bufReader {
	return &bufReader{r: r, buf: make([]byte, initialBufSize)}
}

// buffered returns the number of unconsumed bytes in the buffer.
func (b *bufReader) buffered() int { return b.end - b.start }

// fill makes at least n bytes available. It returns nil when they are, io.EOF
// when the stream ended with no unconsumed bytes at all, io.ErrUnexpectedEOF
// when it ended with fewer than n, or the underlying reader's error.
func (b *bufReader) fill(n int) error {
	if b.buffered() >= n {
		return nil
	}
	if n > len(b.buf) {
		nb := make([]byte, max(n, 2*len(b.buf)))
		b.end = copy(nb, b.buf[b.start:b.end])
		b.start = 0
		b.buf = nb
	} else if b.start+n > len(b.buf) {
		b.end = copy(b.buf, b.buf[b.start:b.end])
		b.start = 0
	}
	empty := 0
	for b.buffered() < n && b.err == nil {
		m, err := b.r.Read(b.buf[b.end:])
		if m < 0 || m > len(b.buf)-b.end {
			err = errors.New("capture: reader returned invalid count")
			m = 0
		}
		b.end += m
		b.err = err
		if m == 0 && err == nil {
			if empty++; empty >= maxEmptyReads {
				b.err = io.ErrNoProgress
			}
		}
	}
	if b.buffered() >= n {
		return nil
	}
	if errors.Is(b.err, io.EOF) {
		if b.buffered() == 0 {
			return io.EOF
		}
		return io.ErrUnexpectedEOF
	}
	return b.err
}

// peek returns the next n bytes without consuming them. The slice is valid
// until the next call to any method of b.
func (b *bufReader) peek(n int) ([]byte, error) {
	if err := b.fill(n); err != nil {
		return nil, err
	}
	return b.buf[b.start : b.start+n], nil
}

// peekUpTo returns up to n bytes without consuming them; fewer only at the
// end of the stream or on a read error (which it then also returns).
func (b *bufReader) peekUpTo(n int) ([]byte, error) {
	err := b.fill(n)
	// Only fill's own end-of-stream values mean a short stream: a
	// decompressor's io.ErrUnexpectedEOF, wrapped, is a truncated input.
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		err = nil
	}
	m := min(n, b.buffered())
	return b.buf[b.start : b.start+m], err
}

// consume advances past n bytes, which must be buffered.
func (b *bufReader) consume(n int) {
	b.start += n
	b.off += int64(n)
}

// skip discards n bytes, buffered or not, without growing the buffer. It
// returns io.ErrUnexpectedEOF if the stream ends first.
func (b *bufReader) skip(n int64) error {
	for n > 0 {
		if b.buffered() == 0 {
			b.start, b.end = 0, 0
			if err := b.fill(1); err != nil {
				if errors.Is(err, io.EOF) {
					return io.ErrUnexpectedEOF
				}
				return err
			}
		}
		m := int(min(n, int64(b.buffered())))
		b.consume(m)
		n -= int64(m)
	}
	return nil
}

// Read implements io.Reader so that a decompressor can sit on top of the
// raw stream after format detection has peeked at it.
func (b *bufReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if b.buffered() == 0 {
		if b.err != nil {
			return 0, b.err
		}
		if len(p) >= len(b.buf) {
			// Large read: bypass the buffer.
			n, err := b.r.Read(p)
			b.off += int64(n)
			if err != nil {
				b.err = err
			}
			return n, err
		}
		b.start, b.end = 0, 0
		if err := b.fill(1); err != nil {
			return 0, b.err
		}
	}
	n := copy(p, b.buf[b.start:b.end])
	b.consume(n)
	return n, nil
}

// ReadByte implements io.ByteReader, which keeps compress/flate from wrapping
// b in yet another bufio.Reader.
func (b *bufReader) ReadByte() (byte, error) {
	if err := b.fill(1); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = io.EOF
		}
		return 0, err
	}
	c := b.buf[b.start]
	b.consume(1)
	return c, nil
}
