package partition

import (
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"
)

// DefaultSortRows is the default Options.SortRows: how many rows one part
// sorts in memory before spilling them, unless SortBytes binds first.
const DefaultSortRows = 256 << 10

// SortBytes bounds the memory of the rows one part sorts in memory, by the
// estimate of rowBytes: 32 MiB is about 56,000 connections rows or 140,000
// adus rows. A part's memory is that, one batch of output rows and the
// buffers of a spill file's row group (spillRowGroupRows rows), so that an
// archive run holds about SortBytes per open part (usually one or two per
// table) whatever the rows' rate; spilling more often costs little, since
// the spilled chunks are merged in one pass when the part is published.
const SortBytes = 32 << 20

// spillRowGroupRows is the row group size of spill files. parquet-go buffers
// a row group's columns in memory until the group is complete, so a spill
// written as one group would hold its whole chunk a second time.
const spillRowGroupRows = 8192

// spillCodec compresses every spill file. One codec for all keeps one pool
// of encoders (each holds megabytes of history) instead of making one per
// spill file.
var spillCodec = zstd.Codec{Level: zstd.SpeedFastest}

// rowBytes estimates the memory of one row of type T: the struct, and 16
// bytes (the smallest allocation of a short string or a pointer's target)
// for each string and pointer field it refers to.
func rowBytes[T any]() int {
	t := reflect.TypeFor[T]()
	n := int(t.Size())
	if t.Kind() != reflect.Struct {
		return n
	}
	for i := range t.NumField() {
		switch t.Field(i).Type.Kind() {
		case reflect.String, reflect.Pointer, reflect.Slice, reflect.Map:
			n += 16
		}
	}
	return n
}

// sorter sorts the rows of one part with bounded memory: rows are kept as
// typed values, sorted in memory in chunks of at most max rows (maxRows, and
// no more than SortBytes of them), each full chunk spilled to a temporary
// Parquet file, and the chunks merged into the output when the part is
// published. It works on typed rows throughout (parquet-go's SortingWriter
// deconstructs every row into generic values, several times slower and
// hungrier).
type sorter[T any] struct {
	cmp    func(a, b *T) int
	max    int
	buf    []T
	idx    []int32 // permutation of buf, sorted
	out    []T     // a batch of rows in sorted order
	spills []*os.File
	dir    string
	pat    string
}

func newSorter[T any](cmp func(a, b *T) int, maxRows int, dir, pattern string) *sorter[T] {
	return &sorter[T]{cmp: cmp, max: max(1, min(maxRows, SortBytes/rowBytes[T]())), dir: dir, pat: pattern}
}

// sortBuf sorts the buffered rows: a permutation of them, since moving the
// rows themselves (a couple of hundred bytes each) would cost more than
// comparing them. Row keys are unique, so an unstable sort is exact.
func (s *sorter[T]) sortBuf() {
	s.idx = s.idx[:0]
	for i := range s.buf {
		s.idx = append(s.idx, int32(i))
	}
	slices.SortFunc(s.idx, func(a, b int32) int { return s.cmp(&s.buf[a], &s.buf[b]) })
}

// writeSorted writes the buffered rows in sorted order.
func (s *sorter[T]) writeSorted(w *parquet.GenericWriter[T]) error {
	s.sortBuf()
	if s.out == nil {
		s.out = make([]T, 0, min(8192, len(s.idx))) // a small part needs a small batch
	}
	for i, j := range s.idx {
		s.out = append(s.out, s.buf[j])
		if len(s.out) == cap(s.out) || i == len(s.idx)-1 {
			if _, err := w.Write(s.out); err != nil {
				return err
			}
			clear(s.out)
			s.out = s.out[:0]
		}
	}
	return nil
}

// add buffers rows, spilling a sorted chunk when the buffer is full.
func (s *sorter[T]) add(rows []T) error {
	for len(rows) > 0 {
		n := min(len(rows), s.max-len(s.buf))
		if len(s.buf)+n > cap(s.buf) {
			// Grow by doubling, but never past the chunk size: append's own
			// growth would leave up to a quarter of the chunk unused.
			grown := make([]T, len(s.buf), max(len(s.buf)+n, min(s.max, max(2*cap(s.buf), 1024))))
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

// spill writes the buffer, sorted, to a temporary file.
func (s *sorter[T]) spill() error {
	f, err := os.CreateTemp(s.dir, s.pat)
	if err != nil {
		return fmt.Errorf("create spill file: %w", err)
	}
	s.spills = append(s.spills, f)
	w := parquet.NewGenericWriter[T](f, parquet.Compression(&spillCodec), parquet.MaxRowsPerRowGroup(spillRowGroupRows))
	if err := s.writeSorted(w); err != nil {
		w.Reset(io.Discard)
		return fmt.Errorf("write spill file: %w", err)
	}
	if err := w.Close(); err != nil {
		w.Reset(io.Discard)
		return fmt.Errorf("write spill file: %w", err)
	}
	clear(s.buf)
	s.buf = s.buf[:0]
	return nil
}

// writeTo writes every row, in order, to w.
func (s *sorter[T]) writeTo(w *parquet.GenericWriter[T]) error {
	if len(s.spills) == 0 {
		return s.writeSorted(w)
	}
	if len(s.buf) > 0 {
		if err := s.spill(); err != nil {
			return err
		}
	}
	var srcs []rowSource[T]
	for _, f := range s.spills {
		st, err := f.Stat()
		if err != nil {
			return fmt.Errorf("read spill file: %w", err)
		}
		pf, err := parquet.OpenFile(f, st.Size())
		if err != nil {
			return fmt.Errorf("read spill file: %w", err)
		}
		r := parquet.NewGenericReader[T](pf)
		defer r.Close()
		srcs = append(srcs, newReaderSource(r))
	}
	return mergeSources(srcs, s.cmp, func(*T) bool { return true }, w)
}

// close removes the spill files.
func (s *sorter[T]) close() {
	for _, f := range s.spills {
		_ = f.Close()
		_ = os.Remove(f.Name())
	}
	s.spills = nil
	clear(s.buf)
	s.buf = nil
}

// rowSource yields sorted rows in batches.
type rowSource[T any] struct {
	next func([]T) (int, error)
	buf  []T
	i, n int
	done bool
}

func newReaderSource[T any](r *parquet.GenericReader[T]) rowSource[T] {
	return rowSource[T]{next: r.Read, buf: make([]T, 1024)}
}

// head returns the source's current row, refilling as needed; nil at the end.
func (s *rowSource[T]) head() (*T, error) {
	for s.i == s.n {
		if s.done {
			return nil, nil
		}
		n, err := s.next(s.buf)
		s.i, s.n = 0, n
		if errors.Is(err, io.EOF) {
			s.done = true
		} else if err != nil {
			return nil, err
		}
		if n == 0 && s.done {
			return nil, nil
		}
	}
	return &s.buf[s.i], nil
}

// mergeSources merges sorted sources into w, keeping the rows keep accepts.
func mergeSources[T any](srcs []rowSource[T], cmp func(a, b *T) int, keep func(*T) bool, w *parquet.GenericWriter[T]) error {
	out := make([]T, 0, 4096)
	flush := func() error {
		if len(out) == 0 {
			return nil
		}
		_, err := w.Write(out)
		clear(out)
		out = out[:0]
		return err
	}
	for {
		best := -1
		var bestRow *T
		for i := range srcs {
			r, err := srcs[i].head()
			if err != nil {
				return err
			}
			if r != nil && (bestRow == nil || cmp(r, bestRow) < 0) {
				best, bestRow = i, r
			}
		}
		if best < 0 {
			return flush()
		}
		if keep(bestRow) {
			out = append(out, *bestRow)
			if len(out) == cap(out) {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		srcs[best].i++
	}
}
