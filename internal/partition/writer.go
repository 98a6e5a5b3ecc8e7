package partition

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"
)

// Options configure a Writer. Zero values take the documented defaults.
type Options struct {
	// Root is the archive directory.
	Root string
	// Table is the table's directory name under Root.
	Table string
	// Sensor names the monitor; it is a path component (sensor=<name>).
	Sensor string
	// RunID names the run; published parts are part-<RunID>-<seq>.parquet.
	RunID string
	// Grace is how long, in the rows' own time, an hour stays open after it
	// ends before it is published; rows for it arriving later go to a new
	// part of that hour, published Grace after it was opened. Default 5 min.
	Grace time.Duration
	// RowGroupRows is the number of rows per row group. Default
	// DefaultRowGroupRows.
	RowGroupRows int64
	// SortRows is how many rows are sorted in memory before being spilled
	// to SpillDir for the final merge, at most (see also SortBytes).
	// Default DefaultSortRows.
	SortRows int64
	// Sorting orders the rows within a file.
	Sorting []parquet.SortingColumn
	// SpillDir holds the sorted runs of parts being written; default Root.
	SpillDir string
	// Metadata is written into every file's footer.
	Metadata map[string]string
	// MaxOpenParts bounds the parts open at once (memory); beyond it the
	// oldest is published early. Default 16.
	MaxOpenParts int
	// ZstdLevel is the zstd level (1 fastest .. 4 best). Default
	// DefaultZstdLevel.
	ZstdLevel int
	// Uncommitted publishes parts under their uncommitted names (see
	// UncommittedName): no reader sees them until the run commits.
	Uncommitted bool
	// PageBytes is the target size of a data page before compression. Pages
	// are the unit zstd compresses: large pages let it find the repetition
	// across many rows of a column. Default DefaultPageBytes.
	PageBytes int
	// Background publishes parts on a goroutine of the Writer's own: Write,
	// Advance and Close hand a due part over (at most publishQueue wait)
	// and go on while it is merged, encoded, compressed and synced. The
	// files are the same as without; an error of a background publication
	// comes back from a later call. Default: publish in the caller.
	Background bool
	// PageMemoryBytes bounds the memory, in bytes, that holds the
	// compressed pages of the row group being written until it is
	// complete; pages beyond it wait in temporary files in SpillDir. A part
	// of a few rows creates no file. Default 32 MiB.
	PageMemoryBytes int64
}

// DefaultRowGroupRows is the row group size of every file the archive
// writes (parts, compacted files) unless an option says otherwise: 256 Ki
// rows. 1 Mi-row groups are 3 % smaller on a dense capture
// (docs/archive-size.md), but a file's row group is held in memory, column
// by column, while it is written: about 120 MiB for 256 Ki connections
// rows, four times that for 1 Mi, which would break the ingest's memory
// bound under a flood.
const DefaultRowGroupRows = 256 << 10

// DefaultZstdLevel is the zstd level of every file the archive writes
// unless an option says otherwise: klauspost/compress's "better"
// compression (docs/archive-size.md: level 4 saves 5–8 % for 2–3 times the
// compression time).
const DefaultZstdLevel = 3

// defaultPageMemoryBytes is Options.PageMemoryBytes' default.
const defaultPageMemoryBytes = 32 << 20

// DefaultPageBytes is the target size of a data page before compression:
// 1 MiB (docs/archive-size.md).
const DefaultPageBytes = 1 << 20

func (o *Options) defaults() {
	if o.Grace == 0 {
		o.Grace = 5 * time.Minute
	}
	if o.RowGroupRows == 0 {
		o.RowGroupRows = DefaultRowGroupRows
	}
	if o.SortRows == 0 {
		o.SortRows = DefaultSortRows
	}
	if o.SpillDir == "" {
		o.SpillDir = o.Root
	}
	if o.MaxOpenParts == 0 {
		o.MaxOpenParts = 16
	}
	if o.ZstdLevel == 0 {
		o.ZstdLevel = DefaultZstdLevel
	}
	if o.PageBytes == 0 {
		o.PageBytes = DefaultPageBytes
	}
	if o.PageMemoryBytes == 0 {
		o.PageMemoryBytes = defaultPageMemoryBytes
	}
}

// Published describes one published file.
type Published struct {
	Path  string
	Hour  Hour
	Rows  int64
	Bytes int64
}

// part is one file being written.
type part[R any] struct {
	hour   Hour
	late   bool
	opened int64 // row time (µs) when it was opened
	pf     *PendingFile
	sort   *sorter[R]
	rows   int64
	lock   *hourLock // shared lock on the hour while the part is unpublished
}

// Writer writes rows of one table into hourly part files: it takes rows in
// their compact form R and writes them as the table's rows T (see Rows).
// It is not safe for concurrent use (but see Options.Background).
type Writer[R, T any] struct {
	opts   Options
	rows   Rows[R, T]
	wopts  []parquet.WriterOption
	pages  *pagePool // the publisher's
	open   map[Hour]*part[R]
	seq    map[Hour]int
	done   map[Hour]bool // hours whose main part is published, or handed over
	last   *part[R]
	clock  int64
	schema *parquet.Schema
	batch  []T // rows converted for the Parquet writer (the publisher's)
	err    error

	// With Options.Background: the parts handed over, and the publisher's
	// end.
	pubq    chan *part[R]
	pubDone chan struct{}
	aborted atomic.Bool

	mu   sync.Mutex // guards out and perr (the publisher's results)
	out  []Published
	perr error
}

// publishQueue is how many parts handed over may wait for the background
// publisher (Options.Background): each holds up to SortBytes of rows in
// memory, so the wait of the caller, not memory, takes up a slow disk.
const publishQueue = 2

// NewWriter returns a Writer of the table whose rows are T, held as R
// until they are written (see Rows; R must be pointer-free). rows.Cmp
// must be the order opts.Sorting declares, which is recorded in the footer.
func NewWriter[R, T any](opts Options, rows Rows[R, T]) (*Writer[R, T], error) {
	opts.defaults()
	if err := ValidSensor(opts.Sensor); err != nil {
		return nil, err
	}
	if opts.Root == "" || opts.Table == "" || opts.RunID == "" {
		return nil, errors.New("partition: root, table and run id are required")
	}
	if rows.Ts == nil || rows.Cmp == nil || rows.Convert == nil {
		return nil, errors.New("partition: rows need Ts, Cmp and Convert")
	}
	if t := reflect.TypeFor[R](); !pointerFree(t) {
		return nil, fmt.Errorf("partition: row type %s holds pointers", t)
	}
	if err := os.MkdirAll(opts.SpillDir, 0o755); err != nil {
		return nil, fmt.Errorf("create spill directory: %w", err)
	}
	var zero T
	schema := parquet.SchemaOf(zero)
	pages := newPagePool(opts.SpillDir, SpillPattern(opts.RunID), opts.PageMemoryBytes)
	wopts := withMetadata(writerOptions(schema, opts.ZstdLevel, opts.RowGroupRows, opts.PageBytes, opts.Sorting, pages),
		opts.Metadata)
	w := &Writer[R, T]{opts: opts, rows: rows, wopts: wopts, pages: pages, open: map[Hour]*part[R]{}, seq: map[Hour]int{},
		done: map[Hour]bool{}, schema: schema}
	if opts.Background {
		w.pubq, w.pubDone = make(chan *part[R], publishQueue), make(chan struct{})
		go w.publisher()
	}
	return w, nil
}

// failed returns the Writer's error: its own, or its publisher's.
func (w *Writer[R, T]) failed() error {
	if w.err == nil && w.pubq != nil {
		w.mu.Lock()
		w.err = w.perr
		w.mu.Unlock()
	}
	return w.err
}

// Write adds rows. Each goes to the open part of its hour, which is created
// on first use (as a late part if the hour's main part is published).
func (w *Writer[R, T]) Write(rows ...R) error {
	if err := w.failed(); err != nil {
		return err
	}
	for i := range rows {
		t := w.rows.Ts(&rows[i])
		h := HourOf(t)
		p := w.last
		if p == nil || p.hour != h {
			var err error
			if p, err = w.partFor(h, t); err != nil {
				w.err = err
				return err
			}
			w.last = p
		}
		if err := p.sort.add(rows[i : i+1]); err != nil {
			w.err = fmt.Errorf("write %s: %w", p.pf.Final(), err)
			return w.err
		}
		p.rows++
		if t > w.clock {
			w.clock = t
		}
	}
	return nil
}

// partFor returns the open part of hour h, creating it.
func (w *Writer[R, T]) partFor(h Hour, t int64) (*part[R], error) {
	if p := w.open[h]; p != nil {
		return p, nil
	}
	if len(w.open) >= w.opts.MaxOpenParts {
		// Publish the part opened longest ago.
		var oldest *part[R]
		for _, q := range w.open {
			if oldest == nil || q.opened < oldest.opened || (q.opened == oldest.opened && q.hour < oldest.hour) {
				oldest = q
			}
		}
		if err := w.publish(oldest); err != nil {
			return nil, err
		}
	}
	w.seq[h]++
	dir := Dir(w.opts.Root, w.opts.Table, w.opts.Sensor, h)
	lock, err := lockHour(dir, false, true)
	if err != nil {
		return nil, err
	}
	name := PartName(w.opts.RunID, w.seq[h])
	if w.opts.Uncommitted {
		name = UncommittedName(name)
	}
	pf, err := CreatePending(filepath.Join(dir, name))
	if err != nil {
		lock.unlock()
		return nil, err
	}
	p := &part[R]{hour: h, late: w.done[h], opened: max(t, w.clock), pf: pf, lock: lock,
		sort: newSorter(w.rows.Cmp, w.rows.Sort, w.rows.SortScratch, int(w.opts.SortRows), w.opts.SpillDir, SpillPattern(w.opts.RunID))}
	w.open[h] = p
	return p, nil
}

// Advance publishes the parts that are due at time now (µs, the rows' clock):
// an hour's main part once now is Grace past the hour's end, a late part
// Grace after it was opened.
func (w *Writer[R, T]) Advance(now int64) error {
	if err := w.failed(); err != nil {
		return err
	}
	if now > w.clock {
		w.clock = now
	}
	grace := int64(w.opts.Grace / time.Microsecond)
	for _, h := range w.hours() {
		p := w.open[h]
		due := p.hour.End()+grace <= w.clock
		if p.late {
			due = p.opened+grace <= w.clock
		}
		if due {
			if err := w.publish(p); err != nil {
				return err
			}
		}
	}
	return nil
}

// hours lists the open hours in order, so publication order is deterministic.
func (w *Writer[R, T]) hours() []Hour {
	hs := make([]Hour, 0, len(w.open))
	for h := range w.open {
		hs = append(hs, h)
	}
	sort.Slice(hs, func(i, j int) bool { return hs[i] < hs[j] })
	return hs
}

// publish takes a part out of the open ones and finishes it, or with
// Options.Background hands it to the publisher.
func (w *Writer[R, T]) publish(p *part[R]) error {
	delete(w.open, p.hour)
	if w.last == p {
		w.last = nil
	}
	// Rows of the hour that come later go to a late part, as they would
	// once the part is published.
	w.done[p.hour] = true
	if w.pubq == nil {
		return w.finish(p)
	}
	if err := w.failed(); err != nil {
		w.discard(p)
		return err
	}
	w.pubq <- p
	return nil
}

// publisher is the goroutine of Options.Background: it finishes the parts
// handed over, in order, until the first error; after it, and after Abort,
// it discards them.
func (w *Writer[R, T]) publisher() {
	defer close(w.pubDone)
	for p := range w.pubq {
		w.mu.Lock()
		failed := w.perr != nil
		w.mu.Unlock()
		if failed || w.aborted.Load() {
			w.discard(p)
			continue
		}
		_ = w.finish(p)
	}
}

// stopPublisher waits for the parts handed over to be finished, and ends
// the publisher.
func (w *Writer[R, T]) stopPublisher() {
	if w.pubq == nil {
		return
	}
	close(w.pubq)
	<-w.pubDone
	w.pubq = nil
	w.mu.Lock()
	if w.err == nil {
		w.err = w.perr
	}
	w.mu.Unlock()
}

// discard removes a part that will not be published.
func (w *Writer[R, T]) discard(p *part[R]) {
	p.sort.close()
	_ = p.pf.Cleanup()
	p.lock.unlock()
}

// finish publishes a part taken out of the open ones: sort-merge,
// conversion, footer, sync, rename.
func (w *Writer[R, T]) finish(p *part[R]) error {
	defer p.lock.unlock()
	defer p.sort.close()
	// A new parquet writer per part: parquet-go v0.32.0's Writer.Reset
	// clears path_in_schema and the sorting columns of every file after the
	// first (parquet-go issue #602; TestWriterPages would catch it).
	opts := append(append([]parquet.WriterOption{}, w.wopts...),
		parquet.PageBufferSize(pageBufferSize(p.rows, w.opts.PageBytes)),
		parquet.KeyValueMetadata(metaHour, p.hour.String()))
	pw := parquet.NewGenericWriter[T](p.pf, opts...)
	err := w.writeRows(p, pw)
	if err == nil {
		err = pw.Close()
	}
	if err == nil {
		err = p.pf.Publish()
	}
	if err != nil {
		pw.Reset(io.Discard) // releases its page buffers (and their files)
		err = fmt.Errorf("publish %s: %w", p.pf.Final(), errors.Join(err, p.pf.Cleanup()))
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.pubq != nil {
			w.perr = err
		} else {
			w.err = err
		}
		return err
	}
	w.mu.Lock()
	w.out = append(w.out, Published{Path: p.pf.Final(), Hour: p.hour, Rows: p.rows, Bytes: p.pf.Size()})
	w.mu.Unlock()
	return nil
}

// writeRows converts a part's rows, in order, and writes them to pw.
func (w *Writer[R, T]) writeRows(p *part[R], pw *parquet.GenericWriter[T]) error {
	if want := int(min(batchRows, p.rows)); len(w.batch) < want {
		w.batch = make([]T, want) // a small part needs a small batch
	}
	n := 0
	flush := func() error {
		_, err := pw.Write(w.batch[:n])
		n = 0
		return err
	}
	err := p.sort.each(func(r *R) error {
		w.rows.Convert(&w.batch[n], r)
		n++
		if n == len(w.batch) {
			return flush()
		}
		return nil
	})
	if err == nil && n > 0 {
		err = flush()
	}
	return err
}

// Close publishes every open part (and waits for the background
// publisher).
func (w *Writer[R, T]) Close() error {
	if err := w.failed(); err != nil {
		w.Abort()
		return err
	}
	for _, h := range w.hours() {
		if err := w.publish(w.open[h]); err != nil {
			w.Abort()
			return err
		}
	}
	w.stopPublisher()
	if w.err != nil {
		w.Abort()
		return w.err
	}
	return nil
}

// Abort removes every unpublished part and its spill files (published
// parts stay); parts handed to the background publisher and not yet
// published are removed too.
func (w *Writer[R, T]) Abort() {
	w.aborted.Store(true)
	w.stopPublisher()
	for h, p := range w.open {
		p.sort.close()
		_ = p.pf.Cleanup()
		p.lock.unlock()
		delete(w.open, h)
	}
	w.last = nil
	removeSpill(w.opts.SpillDir, w.opts.RunID)
}

// Published returns the files published so far.
func (w *Writer[R, T]) Published() []Published {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.out)
}

// Schema returns the table's Parquet schema.
func (w *Writer[R, T]) Schema() *parquet.Schema { return w.schema }

// maxRowBytes bounds the bytes a row adds to any one column's page buffer
// in the adus and connections tables (the widest values are IPv6 addresses
// and run ids, under 64 bytes). A runs row's lists can be longer: their
// pages may then be cut earlier, which changes only the page count.
const maxRowBytes = 256

// pageBufferSize is the page buffer size for a file of rows rows: pageBytes,
// or less when the whole file fits in less. parquet-go allocates column
// buffers of this size up front (for a dictionary column, 4 bytes per byte
// of it: 4 MiB for 1 MiB pages), which for a part of a few rows cost more
// than writing it. Pages are cut at the same rows as with pageBytes, since
// no column of rows rows reaches either size.
func pageBufferSize(rows int64, pageBytes int) int {
	return int(min(int64(pageBytes), max(rows*maxRowBytes, 16<<10)))
}

// writerOptions are the Parquet options of every file the archive writes.
func writerOptions(schema *parquet.Schema, zstdLevel int, rowGroupRows int64, pageBytes int,
	sorting []parquet.SortingColumn, pages parquet.BufferPool) []parquet.WriterOption {
	return []parquet.WriterOption{
		schema,
		parquet.Compression(zstdCodecOf(zstd.Level(zstdLevel))),
		parquet.MaxRowsPerRowGroup(rowGroupRows),
		parquet.PageBufferSize(pageBytes),
		// Where pages wait until their row group is written: in memory up
		// to a budget, on disk beyond it (see pagePool).
		parquet.ColumnPageBuffers(pages),
		parquet.DataPageStatistics(true),
		// Version 1 data pages and PLAIN (or, where a column says so,
		// dictionary) values, which every engine reads; version 2 pages and
		// the library's DELTA_LENGTH_BYTE_ARRAY for text measured no
		// smaller (docs/archive-size.md).
		parquet.DataPageVersion(1),
		parquet.DefaultEncoding(&parquet.Plain),
		// Records the order in the row groups' metadata.
		parquet.SortingWriterConfig(parquet.SortingColumns(sorting...)),
	}
}
