package partition

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/parquet-go/parquet-go"
	"golang.org/x/sys/unix"
)

// CompactOptions configure CompactHour.
type CompactOptions struct {
	Root, Table, Sensor string
	Hour                Hour
	// Sorting, RowGroupRows, SortRows and ZstdLevel are as for Writer.
	Sorting      []parquet.SortingColumn
	RowGroupRows int64
	SortRows     int64
	ZstdLevel    int
	// StageDir is where the new hour directory is built before it is
	// swapped in; it must be on the archive's file system and outside the
	// tables (the archive uses <root>/_abt/compact).
	StageDir string
	// Metadata is written into the merged file's footer; RunIDsKey names the
	// entry that lists the runs whose rows the file holds.
	Metadata  map[string]string
	RunIDsKey string
	// Expect are footer entries every input part must have (its table and
	// schema version): a part without them is reported, never read.
	Expect map[string]string
	// MinParts is the fewest parts worth merging; default 2. Ignored when
	// rows are being dropped.
	MinParts int
}

// CompactResult says what CompactHour did.
type CompactResult struct {
	Parts   int    // input parts
	Rows    int64  // rows written
	Dropped int64  // rows dropped by keep
	Path    string // the merged file ("" when nothing was written)
	Skipped string // why the hour was left alone, if it was
}

// CompactHour merges every part of one hour into a single file sorted by
// cmp (each part is already sorted so), dropping the rows keep rejects
// (keep nil keeps all), and swaps it in
// atomically: the new hour directory is built in StageDir and exchanged
// with the old one in one rename (Linux renameat2 RENAME_EXCHANGE), so a
// reader sees either the old parts or the merged file, never both or
// neither. An hour a writer is publishing into is skipped (its lock is
// held); other hours can be compacted while ingest goes on.
func CompactHour[T any](o CompactOptions, cmp func(a, b *T) int, keep func(*T) bool, runOf func(*T) string) (CompactResult, error) {
	var res CompactResult
	if o.MinParts == 0 {
		o.MinParts = 2
	}
	dir := Dir(o.Root, o.Table, o.Sensor, o.Hour)
	lock, err := lockHour(dir, true, false)
	if errors.Is(err, errBusy) {
		res.Skipped = "a writer is publishing into it"
		return res, nil
	}
	if err != nil {
		return res, err
	}
	defer lock.unlock()

	parts, err := hourParts(dir)
	if err != nil {
		return res, err
	}
	res.Parts = len(parts)
	if len(parts) == 0 || (keep == nil && len(parts) < o.MinParts) {
		res.Skipped = fmt.Sprintf("%d part(s)", len(parts))
		return res, nil
	}
	if err := os.MkdirAll(o.StageDir, 0o755); err != nil {
		return res, fmt.Errorf("create staging directory: %w", err)
	}
	stage, err := os.MkdirTemp(o.StageDir, "stage-")
	if err != nil {
		return res, fmt.Errorf("create staging directory: %w", err)
	}
	stageLock, err := os.OpenFile(stage+".lock", os.O_RDWR|os.O_CREATE, 0o644)
	if err == nil {
		err = syscall.Flock(int(stageLock.Fd()), syscall.LOCK_EX)
	}
	if err != nil {
		return res, errors.Join(fmt.Errorf("lock staging directory: %w", err), os.RemoveAll(stage))
	}
	defer func() {
		_ = os.RemoveAll(stage)
		_ = os.Remove(stage + ".lock")
		_ = stageLock.Close()
	}()
	newDir := filepath.Join(stage, filepath.Base(dir))
	final := filepath.Join(newDir, fmt.Sprintf("part-compact-c%d.parquet", time.Now().UnixMicro()))
	rows, dropped, err := mergeParts(o, parts, final, cmp, keep, runOf)
	res.Rows, res.Dropped = rows, dropped
	if err != nil {
		return res, err
	}
	if rows == 0 {
		if err := os.MkdirAll(newDir, 0o755); err != nil {
			return res, fmt.Errorf("create staging directory: %w", err)
		}
	} else {
		res.Path = filepath.Join(dir, filepath.Base(final))
	}
	if err := unix.Renameat2(unix.AT_FDCWD, newDir, unix.AT_FDCWD, dir, unix.RENAME_EXCHANGE); err != nil {
		return res, fmt.Errorf("swap in compacted %s: %w", dir, err)
	}
	if err := errors.Join(SyncDir(filepath.Dir(dir)), SyncDir(stage)); err != nil {
		return res, err
	}
	return res, nil
}

// hourParts lists the published parts of an hour directory. Anything else
// in it (other than temporary files of dead writers, which it removes)
// is an error: compaction would drop it.
func hourParts(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	var parts []string
	for _, e := range ents {
		name := e.Name()
		switch _, isTmp := IsTemp(name); {
		case isTmp:
			// The hour is locked exclusively: no live writer owns it.
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				return nil, fmt.Errorf("remove leftover %s: %w", name, err)
			}
		case partRE.MatchString(name):
			parts = append(parts, filepath.Join(dir, name))
		default:
			return nil, fmt.Errorf("compact %s: unexpected entry %q (not an archive part)", dir, name)
		}
	}
	sort.Strings(parts)
	return parts, nil
}

// mergeParts streams the kept rows of every part into one sorted file.
func mergeParts[T any](o CompactOptions, parts []string, final string, cmp func(a, b *T) int, keep func(*T) bool, runOf func(*T) string) (rows, dropped int64, err error) {
	runs := map[string]bool{}
	pf, err := CreatePending(final)
	if err != nil {
		return 0, 0, err
	}
	defer func() { err = errors.Join(err, pf.Cleanup()) }()
	if o.RowGroupRows == 0 {
		o.RowGroupRows = 1 << 20
	}
	if o.SortRows == 0 {
		o.SortRows = 256 << 10
	}
	if o.ZstdLevel == 0 {
		o.ZstdLevel = 3
	}
	buf := make([]T, 1024)
	// First pass: count the rows and collect the runs they come from, which
	// the footer lists (SortingWriter takes its options up front).
	for _, path := range parts {
		n, d, err := readPart(path, o.Expect, buf, func(batch []T) error {
			for i := range batch {
				if keep == nil || keep(&batch[i]) {
					runs[runOf(&batch[i])] = true
				}
			}
			return nil
		}, keep)
		rows += n
		dropped += d
		if err != nil {
			return rows, dropped, err
		}
	}
	if rows == 0 {
		return 0, dropped, nil
	}
	// Second pass: merge the parts, each already sorted, into one file.
	ids := make([]string, 0, len(runs))
	for r := range runs {
		ids = append(ids, r)
	}
	sort.Strings(ids)
	var zero T
	opts := writerOptions(parquet.SchemaOf(zero), o.ZstdLevel, o.RowGroupRows, 1<<20, o.Sorting,
		parquet.NewFileBufferPool(filepath.Dir(filepath.Dir(final)), ".spill-compact-*"))
	opts = withMetadata(opts, o.Metadata)
	opts = append(opts, parquet.KeyValueMetadata(o.RunIDsKey, strings.Join(ids, ",")),
		parquet.KeyValueMetadata("abt.hour", o.Hour.String()))
	var srcs []rowSource[T]
	for _, path := range parts {
		f, pf, err := OpenPart(path, o.Expect)
		if err != nil {
			return rows, dropped, err
		}
		defer f.Close()
		r := parquet.NewGenericReader[T](pf)
		defer r.Close()
		srcs = append(srcs, newReaderSource(r))
	}
	if keep == nil {
		keep = func(*T) bool { return true }
	}
	out := parquet.NewGenericWriter[T](pf, opts...)
	if err := mergeSources(srcs, cmp, keep, out); err != nil {
		out.Reset(io.Discard)
		return rows, dropped, fmt.Errorf("merge into %s: %w", final, err)
	}
	if err := out.Close(); err != nil {
		out.Reset(io.Discard)
		return rows, dropped, fmt.Errorf("write %s: %w", final, err)
	}
	return rows, dropped, pf.Publish()
}

// CorruptError reports a file in the archive that is not a readable part
// of the table it sits in.
type CorruptError struct {
	Path string
	Err  error
}

// Error names the file and what is wrong with it.
func (e *CorruptError) Error() string {
	return fmt.Sprintf("corrupt or foreign file in the archive: %s: %v", e.Path, e.Err)
}

// Unwrap returns the cause.
func (e *CorruptError) Unwrap() error { return e.Err }

// OpenPart opens a published part and checks that its footer has the
// expected entries (its table, its schema version): a file that is not a
// Parquet file, or not one of the table's, is a *CorruptError naming it.
func OpenPart(path string, expect map[string]string) (*os.File, *parquet.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		return nil, nil, errors.Join(fmt.Errorf("stat %s: %w", path, err), f.Close())
	}
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		return nil, nil, errors.Join(&CorruptError{Path: path, Err: err}, f.Close())
	}
	keys := make([]string, 0, len(expect))
	for k := range expect {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if got, _ := pf.Lookup(k); got != expect[k] {
			return nil, nil, errors.Join(&CorruptError{Path: path, Err: fmt.Errorf("footer %s = %q, want %q", k, got, expect[k])}, f.Close())
		}
	}
	return f, pf, nil
}

// withMetadata appends key/value footer entries to opts in key order.
func withMetadata(opts []parquet.WriterOption, meta map[string]string) []parquet.WriterOption {
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		opts = append(opts, parquet.KeyValueMetadata(k, meta[k]))
	}
	return opts
}

// readPart streams a part's rows in batches to fn, after checking its footer.
// With count set it returns the rows kept and dropped by count.
func readPart[T any](path string, expect map[string]string, buf []T, fn func([]T) error, count func(*T) bool) (kept, dropped int64, err error) {
	f, pf, err := OpenPart(path, expect)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	r := parquet.NewGenericReader[T](pf)
	defer r.Close()
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			for i := 0; i < n; i++ {
				if count == nil || count(&buf[i]) {
					kept++
				} else {
					dropped++
				}
			}
			if err := fn(buf[:n]); err != nil {
				return kept, dropped, fmt.Errorf("merge %s: %w", path, err)
			}
		}
		if errors.Is(rerr, io.EOF) {
			return kept, dropped, nil
		}
		if rerr != nil {
			return kept, dropped, fmt.Errorf("corrupt or foreign file in the archive: %s: %w", path, rerr)
		}
	}
}
