package partition

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
)

// pagePool is the parquet.BufferPool of a Writer's column page buffers: the
// compressed pages of a row group wait in them until the row group is
// written out. Buffers live in memory while the pool's memory stays within
// budget; a buffer that would take it past the budget moves to a temporary
// file in dir (named by pattern, so recovery removes a dead run's) and
// stays there until it is released.
//
// Why not parquet-go's pools: NewFileBufferPool creates and removes one
// temporary file per column per file written (some 40 for a connections
// part), which made a part of one row cost tens of file creations and
// unlinks, most of the run's time for a capture of scattered connections;
// NewBufferPool keeps everything in memory, so a dense hour's row group
// of a million rows would hold all its compressed pages on the heap.
//
// Memory held by the pool (buffers in use plus the free list kept for
// reuse) never exceeds budget. It is safe for concurrent use; a single
// buffer is used by one goroutine at a time (parquet-go's contract).
type pagePool struct {
	dir, pattern string
	budget       int64

	mu   sync.Mutex
	used int64    // bytes of memory held: buffers' capacity plus free
	free [][]byte // released memory kept for reuse, counted in used

	files atomic.Int64 // temporary files created, ever
}

// minPageBuffer is the first capacity of a buffer: a small part's column
// pages are tens of bytes.
const minPageBuffer = 4 << 10

// maxFreeBuffers bounds the free list's length (its bytes are bounded by
// the budget).
const maxFreeBuffers = 256

func newPagePool(dir, pattern string, budget int64) *pagePool {
	return &pagePool{dir: dir, pattern: pattern, budget: budget}
}

// GetBuffer returns an empty buffer.
func (p *pagePool) GetBuffer() io.ReadWriteSeeker {
	return &pageBuffer{pool: p}
}

// PutBuffer releases a buffer: its memory returns to the free list, its
// file (if it spilled) is closed and removed.
func (p *pagePool) PutBuffer(rw io.ReadWriteSeeker) {
	b, ok := rw.(*pageBuffer)
	if !ok {
		return
	}
	if b.f != nil {
		_ = b.f.Close()
		_ = os.Remove(b.f.Name())
		b.f = nil
	}
	if b.mem != nil {
		p.release(b.mem[:0], true)
		b.mem = nil
	}
	b.off = 0
}

// FilesCreated returns the number of temporary files the pool has created.
func (p *pagePool) FilesCreated() int64 { return p.files.Load() }

// grow returns a slice of capacity at least n holding a copy of old, or
// ok false when the budget does not allow it (old is then unchanged).
func (p *pagePool) grow(old []byte, n int) (buf []byte, ok bool) {
	size := max(n, 2*cap(old), minPageBuffer)
	p.mu.Lock()
	// The smallest free slice large enough, else make room for a new one
	// by dropping free slices (they are only a cache).
	best := -1
	for i, f := range p.free {
		if cap(f) >= n && (best < 0 || cap(f) < cap(p.free[best])) {
			best = i
		}
	}
	if best >= 0 {
		f := p.free[best]
		p.free[best] = p.free[len(p.free)-1]
		p.free = p.free[:len(p.free)-1]
		p.mu.Unlock()
		buf = append(f[:0], old...)
		p.release(old, false)
		return buf, true
	}
	for p.used+int64(size) > p.budget && len(p.free) > 0 {
		last := p.free[len(p.free)-1]
		p.free = p.free[:len(p.free)-1]
		p.used -= int64(cap(last))
	}
	if p.used+int64(size) > p.budget {
		p.mu.Unlock()
		return nil, false
	}
	p.used += int64(size)
	p.mu.Unlock()
	buf = append(make([]byte, 0, size), old...)
	p.release(old, false)
	return buf, true
}

// release gives back the memory of buf: to the free list when keep is set
// and there is room, else to the garbage collector.
func (p *pagePool) release(buf []byte, keep bool) {
	if cap(buf) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if keep && len(p.free) < maxFreeBuffers {
		p.free = append(p.free, buf[:0])
		return
	}
	p.used -= int64(cap(buf))
}

// pageBuffer is a page buffer of a pagePool: a byte slice, or a temporary
// file once it spilled.
type pageBuffer struct {
	pool *pagePool
	mem  []byte   // the contents while in memory (len is the size)
	off  int      // read/write offset while in memory
	f    *os.File // the contents once spilled
}

// Write writes at the current offset, growing the buffer; past the pool's
// budget the buffer moves to a temporary file.
func (b *pageBuffer) Write(d []byte) (int, error) {
	if b.f == nil {
		end := b.off + len(d)
		if end > cap(b.mem) {
			grown, ok := b.pool.grow(b.mem, end)
			if !ok {
				if err := b.spill(); err != nil {
					return 0, err
				}
				return b.f.Write(d)
			}
			b.mem = grown
		}
		if n := len(b.mem); end > n {
			b.mem = b.mem[:end]
			if b.off > n {
				clear(b.mem[n:b.off]) // a write past the end: zeros between
			}
		}
		copy(b.mem[b.off:], d)
		b.off = end
		return len(d), nil
	}
	return b.f.Write(d)
}

// spill moves the contents to a new temporary file, at the same offset.
func (b *pageBuffer) spill() error {
	f, err := os.CreateTemp(b.pool.dir, b.pool.pattern)
	if err != nil {
		return fmt.Errorf("create page spill file: %w", err)
	}
	b.pool.files.Add(1)
	_, err = f.Write(b.mem)
	if err == nil {
		_, err = f.Seek(int64(b.off), io.SeekStart)
	}
	if err != nil {
		err = errors.Join(fmt.Errorf("write page spill file: %w", err), f.Close(), os.Remove(f.Name()))
		return err
	}
	b.pool.release(b.mem, false)
	b.f, b.mem, b.off = f, nil, 0
	return nil
}

// Read reads from the current offset.
func (b *pageBuffer) Read(d []byte) (int, error) {
	if b.f != nil {
		return b.f.Read(d)
	}
	if b.off >= len(b.mem) {
		return 0, io.EOF
	}
	n := copy(d, b.mem[b.off:])
	b.off += n
	return n, nil
}

// WriteTo writes the contents from the current offset to w: parquet-go
// copies a row group's pages out with io.Copy, which then needs no
// intermediate buffer.
func (b *pageBuffer) WriteTo(w io.Writer) (int64, error) {
	if b.f != nil {
		return io.Copy(w, onlyReader{b.f})
	}
	if b.off >= len(b.mem) {
		return 0, nil
	}
	n, err := w.Write(b.mem[b.off:])
	b.off += n
	return int64(n), err
}

// onlyReader hides a file's WriteTo, which would hand io.Copy back to us.
type onlyReader struct{ io.Reader }

// Seek sets the offset; in memory, an offset past the end reads as EOF and
// a write there fills the gap with zeros.
func (b *pageBuffer) Seek(offset int64, whence int) (int64, error) {
	if b.f != nil {
		return b.f.Seek(offset, whence)
	}
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = int64(b.off) + offset
	case io.SeekEnd:
		abs = int64(len(b.mem)) + offset
	default:
		return 0, errors.New("partition: page buffer seek: bad whence")
	}
	if abs < 0 {
		return 0, errors.New("partition: page buffer seek: negative offset")
	}
	b.off = int(abs)
	return abs, nil
}
