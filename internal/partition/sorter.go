package partition

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"
)

// sorter sorts the rows of one part with bounded memory: rows are kept as
// typed values, sorted in memory in chunks of at most max rows, each full
// chunk spilled to a temporary Parquet file, and the chunks merged into the
// output when the part is published. It works on typed rows throughout
// (parquet-go's SortingWriter deconstructs every row into generic values,
// several times slower and hungrier).
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

func newSorter[T any](cmp func(a, b *T) int, max int, dir, pattern string) *sorter[T] {
	return &sorter[T]{cmp: cmp, max: max, dir: dir, pat: pattern}
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
	w := parquet.NewGenericWriter[T](f, parquet.Compression(&zstd.Codec{Level: zstd.SpeedFastest}),
		parquet.MaxRowsPerRowGroup(int64(s.max)))
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
