package partition

import (
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"unsafe"
)

// Rows says how a Writer holds a table's rows until their file is written.
// The Writer keeps them as values of R, a compact type without pointers,
// strings or slices: the garbage collector never scans a part's buffered
// rows, and a sorted chunk spills to disk as its raw bytes. Each row
// becomes the table's row type T only once, as the file is written.
type Rows[R, T any] struct {
	// Ts is a row's partition time, µs since the epoch.
	Ts func(*R) int64
	// Cmp orders the rows within a file (the order Options.Sorting
	// declares). No two rows of a part may compare equal: the order of
	// equal rows would depend on how the part was spilled.
	Cmp func(a, b *R) int
	// Sort, if set, does what sorting perm by Cmp would do, faster: perm
	// has len(rows) elements, which it sets to the indexes of rows in Cmp
	// order. Nil: perm is sorted with Cmp.
	Sort func(rows []R, perm []int32)
	// SortScratch is the memory Sort uses while it sorts, in bytes per row
	// sorted: SortBytes counts it with the rows.
	SortScratch int
	// Convert sets dst, every field of it, to the row src stands for. dst
	// is reused from row to row.
	Convert func(dst *T, src *R)
}

// DefaultSortRows is the default Options.SortRows: how many rows one part
// sorts in memory before spilling them, unless SortBytes binds first (it
// does for the archive's tables, whose compact rows are 96 and 280 bytes).
const DefaultSortRows = 1 << 20

// SortBytes bounds the memory of the rows one part sorts in memory: the
// compact rows, their permutation (4 bytes a row) and the table's scratch
// for sorting them (Rows.SortScratch), about 226,000 adus rows or 101,000
// connections rows. A part's memory is that, one block of
// each spilled chunk when it is published (spillBlockBytes) and one batch
// of converted rows, so that an archive run holds about SortBytes per open
// part (usually one or two per table) whatever the rows' rate; spilling
// more often costs little, since the spilled chunks are merged in one pass
// when the part is published.
const SortBytes = 32 << 20

// spillBlockBytes is the unit in which sorted chunks are written to and
// read back from their spill files.
const spillBlockBytes = 256 << 10

// batchRows is the most rows converted to T and handed to the Parquet
// writer at once.
const batchRows = 8192

// pointerFree reports whether values of t hold no pointers (nor strings,
// slices, maps, interfaces, channels or functions), so that their bytes
// are the whole value.
func pointerFree(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return true
	case reflect.Array:
		return t.Len() == 0 || pointerFree(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if !pointerFree(t.Field(i).Type) {
				return false
			}
		}
		return true
	}
	return false
}

// rowBytes is the memory one buffered row of type R costs: the row, its
// index in the permutation that sorts it, and scratch bytes for sorting.
func rowBytes[R any](scratch int) int { return int(unsafe.Sizeof(*new(R))) + 4 + scratch }

// rawBytes is the memory of rows, as bytes. R must be pointer-free.
func rawBytes[R any](rows []R) []byte {
	if len(rows) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&rows[0])), len(rows)*int(unsafe.Sizeof(rows[0])))
}

// sorter sorts the rows of one part with bounded memory: rows are kept in
// their compact form, sorted in memory in chunks of at most max rows
// (SortRows, and no more than SortBytes of them), each full chunk spilled
// to a temporary file as raw bytes, and the chunks merged into the output
// when the part is published.
type sorter[R any] struct {
	cmp    func(a, b *R) int
	order  func(rows []R, perm []int32)
	max    int
	buf    []R
	perm   []int32 // indexes of buf, sorted
	spills []spillFile
	dir    string
	pat    string
}

// spillFile is a sorted chunk written to disk.
type spillFile struct {
	f    *os.File
	rows int
}

// newSorter returns a sorter of rows ordered by cmp (and sorted by order,
// which uses scratch bytes a row, when it is not nil), spilling to files
// in dir named by pattern (os.CreateTemp) past maxRows rows or SortBytes.
func newSorter[R any](cmp func(a, b *R) int, order func([]R, []int32), scratch, maxRows int, dir, pattern string) *sorter[R] {
	return &sorter[R]{cmp: cmp, order: order, max: max(1, min(maxRows, SortBytes/rowBytes[R](scratch))), dir: dir, pat: pattern}
}

// sortBuf sets perm to the order of the buffered rows. Row keys are
// unique, so an unstable sort is exact.
func (s *sorter[R]) sortBuf() {
	s.perm = slices.Grow(s.perm[:0], len(s.buf))[:len(s.buf)]
	if s.order != nil {
		s.order(s.buf, s.perm)
		return
	}
	for i := range s.perm {
		s.perm[i] = int32(i)
	}
	slices.SortFunc(s.perm, func(a, b int32) int { return s.cmp(&s.buf[a], &s.buf[b]) })
}

// add buffers rows, spilling a sorted chunk when the buffer is full.
func (s *sorter[R]) add(rows []R) error {
	for len(rows) > 0 {
		n := min(len(rows), s.max-len(s.buf))
		if len(s.buf)+n > cap(s.buf) {
			// Grow by doubling from a few rows (an hour of scattered
			// connections is a part of one row), but never past the chunk
			// size: append's own growth would leave up to a quarter of the
			// chunk unused.
			grown := make([]R, len(s.buf), max(len(s.buf)+n, min(s.max, max(2*cap(s.buf), 16))))
			copy(grown, s.buf)
			s.buf = grown
		}
		s.buf = append(s.buf, rows[:n]...)
		rows = rows[n:]
		if len(s.buf) >= s.max {
			if err := s.spill(); err != nil {
				return err
			}
		}
	}
	return nil
}

// spill writes the buffer, sorted, to a temporary file, block by block.
func (s *sorter[R]) spill() error {
	f, err := os.CreateTemp(s.dir, s.pat)
	if err != nil {
		return fmt.Errorf("create spill file: %w", err)
	}
	s.spills = append(s.spills, spillFile{f: f, rows: len(s.buf)})
	s.sortBuf()
	block := make([]R, 0, blockRows[R]())
	for i, j := range s.perm {
		block = append(block, s.buf[j])
		if len(block) == cap(block) || i == len(s.perm)-1 {
			if _, err := f.Write(rawBytes(block)); err != nil {
				return fmt.Errorf("write spill file: %w", err)
			}
			block = block[:0]
		}
	}
	s.buf = s.buf[:0]
	return nil
}

// blockRows is how many rows of type R make a spill block.
func blockRows[R any]() int { return max(1, spillBlockBytes/int(unsafe.Sizeof(*new(R)))) }

// each calls fn with every row, in order: the buffered rows sorted, merged
// with the spilled chunks. fn must not keep the pointer.
func (s *sorter[R]) each(fn func(*R) error) error {
	s.sortBuf()
	if len(s.spills) == 0 {
		for _, j := range s.perm {
			if err := fn(&s.buf[j]); err != nil {
				return err
			}
		}
		return nil
	}
	srcs := make([]*chunkSource[R], 0, len(s.spills)+1)
	if len(s.buf) > 0 {
		srcs = append(srcs, &chunkSource[R]{rows: s.buf, perm: s.perm})
	}
	for _, sp := range s.spills {
		srcs = append(srcs, &chunkSource[R]{f: sp.f, left: sp.rows, block: make([]R, min(sp.rows, blockRows[R]()))})
	}
	for _, src := range srcs {
		if err := src.fill(); err != nil {
			return err
		}
	}
	return mergeChunks(srcs, s.cmp, fn)
}

// close removes the spill files and drops the rows.
func (s *sorter[R]) close() {
	for _, sp := range s.spills {
		_ = sp.f.Close()
		_ = os.Remove(sp.f.Name())
	}
	s.spills = nil
	s.buf, s.perm = nil, nil
}

// chunkSource yields the rows of one sorted chunk: the sorted buffer
// (rows in perm order), or a spill file read block by block.
type chunkSource[R any] struct {
	// in memory
	rows []R
	perm []int32
	// on disk
	f     *os.File
	off   int64
	left  int // rows not read yet
	block []R

	i, n int // next row, rows available
	head *R
}

// fill makes head the source's next row, nil at its end.
func (c *chunkSource[R]) fill() error {
	if c.perm != nil {
		c.head = nil
		if c.i < len(c.perm) {
			c.head = &c.rows[c.perm[c.i]]
			c.i++
		}
		return nil
	}
	if c.i == c.n {
		c.head = nil
		if c.left == 0 {
			return nil
		}
		n := min(c.left, len(c.block))
		b := rawBytes(c.block[:n])
		if _, err := c.f.ReadAt(b, c.off); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("read spill file: %w", err)
		}
		c.off += int64(len(b))
		c.left -= n
		c.i, c.n = 0, n
	}
	c.head = &c.block[c.i]
	c.i++
	return nil
}

// mergeChunks merges sorted sources, each with its first row in head,
// into fn: a binary heap of the sources by their heads.
func mergeChunks[R any](srcs []*chunkSource[R], cmp func(a, b *R) int, fn func(*R) error) error {
	h := srcs[:0]
	for _, s := range srcs {
		if s.head != nil {
			h = append(h, s)
		}
	}
	less := func(i, j int) bool { return cmp(h[i].head, h[j].head) < 0 }
	down := func(i int) {
		for {
			l := 2*i + 1
			if l >= len(h) {
				return
			}
			m := l
			if r := l + 1; r < len(h) && less(r, l) {
				m = r
			}
			if !less(m, i) {
				return
			}
			h[i], h[m] = h[m], h[i]
			i = m
		}
	}
	for i := len(h)/2 - 1; i >= 0; i-- {
		down(i)
	}
	for len(h) > 0 {
		if err := fn(h[0].head); err != nil {
			return err
		}
		if err := h[0].fill(); err != nil {
			return err
		}
		if h[0].head == nil {
			h[0] = h[len(h)-1]
			h = h[:len(h)-1]
		}
		down(0)
	}
	return nil
}
