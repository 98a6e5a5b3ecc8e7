package partition

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/parquet-go/parquet-go"
	"golang.org/x/sys/unix"

	"github.com/abt-dev/abt/internal/failpoint"
)

// EditOptions configure EditHour.
type EditOptions struct {
	Root, Table, Sensor string
	Hour                Hour
	// Sorting, RowGroupRows and ZstdLevel are as for Writer.
	Sorting      []parquet.SortingColumn
	RowGroupRows int64
	ZstdLevel    int
	// StageDir is where the new hour directory is built before it is
	// swapped in; it must be on the archive's file system and outside the
	// tables (the archive uses <root>/_abt/compact). Each edit uses
	// stage-<random> under it, locked by stage-<random>.lock (flock) for as
	// long as it runs; a staging directory whose lock is free is a dead
	// edit's.
	StageDir string
	// Metadata is written into a merged file's footer; RunIDsKey names the
	// entry that lists the runs whose rows the file holds.
	Metadata  map[string]string
	RunIDsKey string
	// Expect are footer entries every part read must have (its table and
	// schema version): a part without them is reported, never read.
	Expect map[string]string
	// Merge merges every published part of the hour into one file
	// (compaction).
	Merge bool
	// MinParts is, with Merge, the fewest parts worth merging; default 2.
	// An edit that also shows or hides runs is done whatever the count.
	MinParts int
	// Show are runs whose uncommitted parts become published (see
	// UncommittedName): they are renamed to their final names.
	Show map[string]bool
	// Hide are runs whose rows are removed: their own parts are dropped,
	// and merged files holding some of their rows are rewritten without
	// them.
	Hide map[string]bool
}

// EditResult says what EditHour did.
type EditResult struct {
	Parts   int    // published parts the hour had (uncommitted ones shown included)
	Rows    int64  // rows written into merged files
	Dropped int64  // rows removed (of hidden runs)
	Path    string // the merged file ("" when none was written)
	Skipped string // why the hour was left alone, if it was
}

// EditHour changes one hour directory: it merges its parts (Merge),
// publishes the uncommitted parts of runs in Show and removes the rows of
// runs in Hide. It builds the new hour directory in StageDir, from hard
// links to the files it keeps and the merged files it writes, and exchanges
// it with the old one in one rename (Linux renameat2 RENAME_EXCHANGE): a
// reader listing the hour sees the old entries or the new ones, never a mix.
// Entries it does not own (uncommitted parts of other runs, files that are
// not parts) are carried over unchanged. An hour a writer is publishing
// into is skipped (its lock is held); the caller tries again later. The
// old entries' names are gone once it returns: the caller holds the retire
// lock (LockRetire), so that readers reading in place are not disturbed.
func EditHour[T any](o EditOptions, cmp func(a, b *T) int, runOf func(*T) string) (EditResult, error) {
	var res EditResult
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

	plan, err := planEdit(dir, o)
	if err != nil {
		return res, err
	}
	res.Parts = len(plan.keep) + len(plan.merge)
	res.Dropped = plan.droppedRows
	if o.Merge && len(plan.merge)+len(plan.keep) >= o.MinParts || plan.changed {
		if o.Merge {
			plan.merge = append(plan.merge, plan.keep...)
			plan.keep = nil
		}
	} else {
		res.Skipped = fmt.Sprintf("%d part(s)", res.Parts)
		return res, nil
	}
	if err := os.MkdirAll(o.StageDir, 0o755); err != nil {
		return res, fmt.Errorf("create staging directory: %w", err)
	}
	// The staging directory's lock comes first, so that recovery never
	// finds a staging directory without its lock (see StageDir).
	stageLock, err := os.CreateTemp(o.StageDir, "stage-*.lock")
	if err != nil {
		return res, fmt.Errorf("lock staging directory: %w", err)
	}
	stage := strings.TrimSuffix(stageLock.Name(), ".lock")
	if err := syscall.Flock(int(stageLock.Fd()), syscall.LOCK_EX); err != nil {
		return res, errors.Join(fmt.Errorf("lock staging directory: %w", err), stageLock.Close(), os.Remove(stageLock.Name()))
	}
	defer func() {
		_ = os.RemoveAll(stage)
		_ = os.Remove(stageLock.Name())
		_ = stageLock.Close()
	}()
	if err := os.Mkdir(stage, 0o755); err != nil {
		return res, fmt.Errorf("create staging directory: %w", err)
	}
	newDir := filepath.Join(stage, filepath.Base(dir))
	if err := os.MkdirAll(newDir, 0o755); err != nil {
		return res, fmt.Errorf("create staging directory: %w", err)
	}
	for _, k := range plan.keep {
		if err := os.Link(filepath.Join(dir, k.name), filepath.Join(newDir, k.as)); err != nil {
			return res, fmt.Errorf("edit %s: %w", dir, err)
		}
	}
	for _, name := range plan.carry {
		if err := os.Link(filepath.Join(dir, name), filepath.Join(newDir, name)); err != nil {
			return res, fmt.Errorf("edit %s: %w", dir, err)
		}
	}
	if len(plan.merge) > 0 {
		var paths []string
		for _, m := range plan.merge {
			paths = append(paths, filepath.Join(dir, m.name))
		}
		final := filepath.Join(newDir, mergedName(dir))
		keep := func(r *T) bool { return !o.Hide[runOf(r)] }
		rows, dropped, err := mergeParts(o, paths, final, cmp, keep, runOf)
		res.Rows, res.Dropped = rows, res.Dropped+dropped
		if err != nil {
			return res, err
		}
		if rows > 0 {
			res.Path = filepath.Join(dir, filepath.Base(final))
		}
	}
	if err := SyncDir(newDir); err != nil {
		return res, err
	}
	failpoint.Inject("edit-before-swap")
	if err := unix.Renameat2(unix.AT_FDCWD, newDir, unix.AT_FDCWD, dir, unix.RENAME_EXCHANGE); err != nil {
		return res, fmt.Errorf("swap in edited %s: %w", dir, err)
	}
	failpoint.Inject("edit-after-swap")
	if err := errors.Join(SyncDir(filepath.Dir(dir)), SyncDir(stage)); err != nil {
		return res, err
	}
	return res, nil
}

// editEntry is a part EditHour keeps: name in the hour, as its new name.
type editEntry struct{ name, as string }

// editPlan is what EditHour does with each entry of an hour.
type editPlan struct {
	keep        []editEntry // linked into the new directory
	merge       []editEntry // read into the merged file
	carry       []string    // entries that are not its to change, linked unchanged
	droppedRows int64       // rows of dropped parts
	changed     bool        // something is shown, hidden or rewritten
}

// planEdit sorts the entries of an hour directory.
func planEdit(dir string, o EditOptions) (editPlan, error) {
	var plan editPlan
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return plan, nil
	}
	if err != nil {
		return plan, fmt.Errorf("read %s: %w", dir, err)
	}
	for _, e := range ents {
		name := e.Name()
		if _, isTmp := IsTemp(name); isTmp {
			// The hour is locked exclusively: no live writer owns it; it
			// is left behind with the old directory.
			continue
		}
		if run, final, ok := IsUncommitted(name); ok && o.Show[run] {
			plan.changed = true
			name := editEntry{name, final}
			if o.Hide[run] {
				continue
			}
			plan.keep = append(plan.keep, name)
			continue
		}
		run, ok := PartRun(name)
		if !ok {
			plan.carry = append(plan.carry, name)
			continue
		}
		path := filepath.Join(dir, name)
		if o.Hide[run] {
			ft, err := readFooterOf(path)
			if err != nil {
				return plan, err
			}
			plan.droppedRows += ft.Rows
			plan.changed = true
			continue
		}
		if run == CompactRun && len(o.Hide) > 0 {
			ft, err := readFooterOf(path)
			if err != nil {
				return plan, err
			}
			if slices.ContainsFunc(strings.Split(ft.KV[o.RunIDsKey], ","), func(r string) bool { return o.Hide[r] }) {
				plan.merge = append(plan.merge, editEntry{name, name})
				plan.changed = true
				continue
			}
		}
		plan.keep = append(plan.keep, editEntry{name, name})
	}
	return plan, nil
}

func readFooterOf(path string) (Footer, error) {
	f, err := os.Open(path)
	if err != nil {
		return Footer{}, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	return ReadFooter(f, path)
}

// mergedName names a new merged file of an hour directory: its creation
// time in microseconds, made unique in the directory.
func mergedName(dir string) string {
	for t := time.Now().UnixMicro(); ; t++ {
		name := fmt.Sprintf("part-%s-c%d.parquet", CompactRun, t)
		if _, err := os.Lstat(filepath.Join(dir, name)); errors.Is(err, os.ErrNotExist) {
			return name
		}
	}
}

// mergeParts streams the kept rows of every part into one sorted file.
func mergeParts[T any](o EditOptions, parts []string, final string, cmp func(a, b *T) int, keep func(*T) bool, runOf func(*T) string) (rows, dropped int64, err error) {
	runs := map[string]bool{}
	pf, err := CreatePending(final)
	if err != nil {
		return 0, 0, err
	}
	defer func() { err = errors.Join(err, pf.Cleanup()) }()
	if o.RowGroupRows == 0 {
		o.RowGroupRows = DefaultRowGroupRows
	}
	if o.ZstdLevel == 0 {
		o.ZstdLevel = DefaultZstdLevel
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
	opts := mergedOptions(writerOptions(parquet.SchemaOf(zero), o.ZstdLevel, o.RowGroupRows, DefaultPageBytes, o.Sorting,
		newPagePool(filepath.Dir(filepath.Dir(final)), ".spill-compact-*", defaultPageMemoryBytes)),
		o.Metadata, o.RunIDsKey, ids, o.Hour)
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
// metaHour is the footer key of a file's hour (schema.MetaHour).
const metaHour = "abt.hour"

// mergedOptions adds a merged file's footer to opts: meta, the runs its
// rows come from (under runIDsKey) and its hour.
func mergedOptions(opts []parquet.WriterOption, meta map[string]string, runIDsKey string, runIDs []string, h Hour) []parquet.WriterOption {
	return append(withMetadata(opts, meta), parquet.KeyValueMetadata(runIDsKey, strings.Join(runIDs, ",")),
		parquet.KeyValueMetadata(metaHour, h.String()))
}

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
