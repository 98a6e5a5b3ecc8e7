package rollup

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/abt-dev/abt/internal/catalog"
	"github.com/abt-dev/abt/internal/duckbox"
	"github.com/abt-dev/abt/internal/partition"
)

// RowGroupRows is the row group size of rollup files: rows are sorted by
// server, so a question about one server reads one or two row groups of
// each day.
const RowGroupRows = 65536

// tmpPrefix starts the hidden name a rollup is written under; no
// "*.parquet" glob matches it.
const tmpPrefix = ".rollup-"

// Builder writes rollups with an embedded DuckDB whose file access is
// limited to the archive and the Builder's private directory, where the
// parts of the days it builds are pinned while it reads them
// (catalog.Pin): a compaction or replacement running meanwhile does not
// disturb it. (It pins rather than read in place because it replaces
// rollups, which takes the retire lock that readers in place hold.)
type Builder struct {
	root    string
	box     *duckbox.Box
	conn    *sql.Conn
	pins    string // private directory of pinned parts (catalog.PinDir)
	batches int    // batches built together, for tests
}

// NewBuilder opens a Builder for the archive at root. threads is DuckDB's
// worker count (0: all CPUs).
func NewBuilder(ctx context.Context, root string, threads int) (*Builder, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("rollup: %w", err)
	}
	pins, err := catalog.PinDir()
	if err != nil {
		return nil, fmt.Errorf("rollup: %w", err)
	}
	init := append(slices.Clip(Macros),
		// DuckDB keeps what it reads of external files in its buffer pool
		// (up to its memory limit, 80 % of RAM) in case they are read
		// again; a builder reads each part once, so over an archive of
		// thousands of parts the cache only grew: 1.5 GB for 20,000 days.
		"SET enable_external_file_cache = false")
	box, err := duckbox.Open(ctx, duckbox.Options{Dirs: []string{abs, pins}, Threads: threads, Init: init})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("rollup: %w", err), catalog.RemovePinDir(pins))
	}
	return &Builder{root: abs, box: box, conn: box.Conn, pins: pins}, nil
}

// Close releases DuckDB and the private directory.
func (b *Builder) Close() error { return errors.Join(b.box.Close(), catalog.RemovePinDir(b.pins)) }

// dayWork is a day to build: its pinned parts, their Fingerprint and total
// size.
type dayWork struct {
	day   Day
	pins  *catalog.Pinned
	dir   string // the pins' directory
	files []catalog.File
	fp    string
	bytes int64
}

// release unpins the day's parts.
func (p *dayWork) release() {
	if p.pins != nil {
		_ = p.pins.Close()
		_ = os.RemoveAll(p.dir)
		p.pins = nil
	}
}

// pinDay pins the adus and connections parts of day d that a reader sees.
func (b *Builder) pinDay(d Day) (dayWork, error) {
	dir, err := os.MkdirTemp(b.pins, "day-")
	if err != nil {
		return dayWork{}, fmt.Errorf("rollup %s: %w", d, err)
	}
	p, err := catalog.Pin(b.root, dir, catalog.Selection{Tables: SourceTables, Sensor: d.Sensor, From: d.Date, To: d.Date.Add(24 * time.Hour)})
	if err != nil {
		return dayWork{}, errors.Join(fmt.Errorf("rollup %s: %w", d, err), os.RemoveAll(dir))
	}
	w := dayWork{day: d, pins: p, dir: dir}
	for _, t := range SourceTables {
		w.files = append(w.files, p.Files[t]...)
	}
	for _, f := range w.files {
		w.bytes += f.Size
	}
	w.fp = Fingerprint(w.files, p.Hidden())
	return w, nil
}

// Build writes the rollup of day d from its current adus and connections
// parts, replacing any earlier one; a day without parts loses its rollup.
func (b *Builder) Build(ctx context.Context, d Day) error {
	p, err := b.pinDay(d)
	if err != nil {
		return err
	}
	defer p.release()
	if len(p.files) == 0 {
		p.release()
		return b.retire(Path(b.root, d.Sensor, d.Date), "")
	}
	return b.build(ctx, p)
}

// build writes the rollup of one day from its parts.
func (b *Builder) build(ctx context.Context, p dayWork) error {
	aduSrc, connSrc, err := SourceSQL(p.pins, p.files)
	if err != nil {
		return err
	}
	return b.write(ctx, p, HistSQL(aduSrc, connSrc), p.pins)
}

// rowOrder is the order of a rollup file's rows.
const rowOrder = "kind, server_ip NULLS FIRST, server_port NULLS FIRST, bin"

// write runs rows, a query giving the rollup rows of day p.day, into the
// day's rollup file under a temporary name, and publishes it (retire).
// Error messages name the parts as in the archive (pins.Unpin).
func (b *Builder) write(ctx context.Context, p dayWork, rows string, pins *catalog.Pinned) error {
	d := p.day
	final := Path(b.root, d.Sensor, d.Date)
	dir := filepath.Dir(final)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("rollup %s: %w", d, err)
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	tmp := filepath.Join(dir, fmt.Sprintf("%s%d-%s.parquet.tmp", tmpPrefix, os.Getpid(), hex.EncodeToString(rnd[:])))
	stmt := "COPY (SELECT * FROM (" + rows + ") ORDER BY " + rowOrder + ") TO " +
		duckbox.Literal(tmp) + fmt.Sprintf(" (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE %d, KV_METADATA {%s: %s, %s: %s})",
		RowGroupRows, duckbox.Literal(MetaVersion), duckbox.Literal(Version), duckbox.Literal(MetaSources), duckbox.Literal(p.fp))
	if _, err := b.conn.ExecContext(ctx, stmt); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("rollup %s: %s", d, pins.Unpin(err.Error()))
	}
	if err := b.retire(final, tmp); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("rollup %s: %w", d, err)
	}
	return nil
}

// retire replaces the rollup final with tmp (or removes it when tmp is
// ""), holding the retire lock (partition.LockRetire): a reader reading
// the old one in place finishes first.
func (b *Builder) retire(final, tmp string) error {
	lock, err := partition.LockRetire(filepath.Join(b.root, catalog.MetaDir))
	if err != nil {
		return err
	}
	defer lock.Unlock()
	if tmp == "" {
		if err := os.Remove(final); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	return publish(tmp, final)
}

// Batches. Building a day alone is one DuckDB statement over its parts,
// and for a day of a few small parts the statement's fixed cost (parsing,
// planning, optimising the histogram query, writing a file) was most of
// the time: 15-30 ms a day, whatever the day held. Consecutive small days
// are therefore built together: one statement aggregates all their parts
// into a temporary table sorted by day, and a plain COPY per day writes
// the day's rows from it (zone maps on the sorted table make each day's
// scan read only its rows). A batch is bounded by its parts' bytes, their
// number (DuckDB holds each file's metadata for the scan: 512 parts of
// 7 KB took 50 MB less than 2,300; and each is held open, pinned) and its
// days, so memory does not depend on how many days an update covers; a
// day with large parts is built alone, streamed from its parts as before.
const (
	batchBytes = 16 << 20 // source bytes of a batch
	batchDays  = 256      // days of a batch
	batchFiles = 512      // parts of a batch
	aloneBytes = 4 << 20  // a day with at least these source bytes is built alone
	batchTable = "abt_rollup_batch"
)

// buildBatch builds the rollups of several days of one sensor, calling
// done after each (in order). If the batch's aggregation fails (a corrupt
// part, say), or its days were pinned under different states of the
// archive, each day is built alone, so a failure is that one day's.
func (b *Builder) buildBatch(ctx context.Context, days []dayWork, done func(dayWork, error) bool) {
	var adus, conns []string
	hidden := days[0].pins.Hidden()
	same := true
	for _, p := range days {
		same = same && slices.Equal(hidden, p.pins.Hidden())
		for _, f := range p.files {
			if f.Table == SourceTables[0] {
				adus = append(adus, p.pins.Path(f))
			} else {
				conns = append(conns, p.pins.Path(f))
			}
		}
	}
	var err error
	if same {
		aduSrc, connSrc := sourceSQL(adus, conns, hidden)
		_, err = b.conn.ExecContext(ctx, "CREATE OR REPLACE TEMP TABLE "+batchTable+" AS SELECT * FROM ("+
			HistSQL(aduSrc, connSrc)+") ORDER BY ts, "+rowOrder)
	}
	if !same || err != nil {
		if ctx.Err() != nil {
			done(days[0], err) // cancelled
			return
		}
		for _, p := range days {
			if !done(p, b.build(ctx, p)) {
				break
			}
		}
		return
	}
	b.batches++
	defer func() {
		// A table left behind is replaced by the next batch.
		_, _ = b.conn.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+batchTable)
	}()
	for _, p := range days {
		day := duckbox.Literal(p.day.Date.Format("2006-01-02"))
		if !done(p, b.write(ctx, p, "SELECT * FROM "+batchTable+" WHERE ts = "+day+"::TIMESTAMP", p.pins)) {
			return
		}
	}
}

// publish syncs tmp, renames it to final (replacing an older rollup) and
// syncs the directory.
func publish(tmp, final string) error {
	f, err := os.Open(tmp)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	return partition.SyncDir(filepath.Dir(final))
}

// UpdateOptions select what Update does.
type UpdateOptions struct {
	// Sensor limits the update to one sensor ("" for all).
	Sensor string
	// From and To limit it to the days overlapping [From, To) (zero: no
	// limit).
	From, To time.Time
	// Force rebuilds rollups that are current.
	Force bool
	// Progress, when set, is called after each day.
	Progress func(d Day, built bool)
}

// UpdateStats says what Update did.
type UpdateStats struct {
	Days    int // days with adus or connections parts in the selection
	Built   int // rollups (re)built
	Current int // rollups already current
	Removed int // rollups of days without parts, removed
	Failed  int // days whose rollup could not be built (see the error)
}

// Update brings the rollups of the selected days up to date: it builds the
// missing and stale ones, removes those of days that no longer have adus
// parts, and removes the temporary files that builders that died left in
// the selected days (RemoveDeadTemps). A day that fails to build (a
// corrupt part, say) is counted and its error joined into the one
// returned; the other days are still built. Its memory does not grow with
// the number of days (see batchBytes).
func (b *Builder) Update(ctx context.Context, o UpdateOptions) (UpdateStats, error) {
	var (
		st   UpdateStats
		days []Day
	)
	seen := map[Day]bool{}
	for _, table := range SourceTables {
		ds, err := listDays(b.root, table, o)
		if err != nil {
			return st, err
		}
		for _, d := range ds {
			if !seen[d] {
				seen[d] = true
				days = append(days, d)
			}
		}
	}
	have, err := listDays(b.root, Table, o)
	if err != nil {
		return st, err
	}
	for _, d := range have {
		if err := removeDeadTemps(filepath.Dir(Path(b.root, d.Sensor, d.Date))); err != nil {
			return st, err
		}
		if !seen[d] {
			path := Path(b.root, d.Sensor, d.Date)
			if _, err := os.Stat(path); err == nil && b.retire(path, "") == nil {
				st.Removed++
			}
		}
	}
	u := &updater{b: b, ctx: ctx, o: o, st: &st}
	defer u.releaseAll()
	for _, d := range days {
		if err := ctx.Err(); err != nil {
			return st, errors.Join(u.errs, err)
		}
		p, err := b.pinDay(d)
		if err != nil {
			var ce *partition.CorruptError
			if !errors.As(err, &ce) {
				return st, errors.Join(u.errs, err)
			}
			// One bad day does not hold up the others.
			st.Days++
			st.Failed++
			u.errs = errors.Join(u.errs, err)
			continue
		}
		if len(p.files) == 0 {
			p.release()
			continue
		}
		st.Days++
		if !o.Force {
			got, ok, err := builtFrom(b.root, d)
			if err != nil {
				p.release()
				return st, errors.Join(u.errs, err)
			}
			if ok && got == p.fp {
				p.release()
				st.Current++
				if o.Progress != nil {
					o.Progress(d, false)
				}
				continue
			}
		}
		u.add(p)
		if u.stop {
			return st, u.errs
		}
	}
	u.flush()
	return st, u.errs
}

// updater collects the days Update builds into batches.
type updater struct {
	b     *Builder
	ctx   context.Context
	o     UpdateOptions
	st    *UpdateStats
	batch []dayWork
	bytes int64 // source bytes of batch
	files int   // source files of batch
	errs  error
	stop  bool // cancelled
}

// add queues a day, building the queued batch when it is full or holds
// another sensor's days: a batch's rows are told apart by their day only
// (buildBatch), so two sensors' rollups of one day would each get both.
func (u *updater) add(p dayWork) {
	if p.bytes >= aloneBytes {
		u.done(p, u.b.build(u.ctx, p))
		return
	}
	if len(u.batch) > 0 && (u.batch[0].day.Sensor != p.day.Sensor ||
		u.bytes+p.bytes > batchBytes || u.files+len(p.files) > batchFiles || len(u.batch) >= batchDays) {
		u.flush()
	}
	u.batch = append(u.batch, p)
	u.bytes += p.bytes
	u.files += len(p.files)
}

// flush builds the queued days.
func (u *updater) flush() {
	batch := u.batch
	u.batch, u.bytes, u.files = nil, 0, 0
	switch {
	case len(batch) == 0:
	case u.stop:
		for i := range batch {
			batch[i].release()
		}
	case len(batch) == 1:
		u.done(batch[0], u.b.build(u.ctx, batch[0]))
	default:
		u.b.buildBatch(u.ctx, batch, u.done)
		for i := range batch {
			batch[i].release()
		}
	}
}

// releaseAll unpins the days still queued (Update returning early).
func (u *updater) releaseAll() {
	for i := range u.batch {
		u.batch[i].release()
	}
	u.batch = nil
}

// done counts a day's build and unpins its parts; it returns false once
// the update is cancelled.
func (u *updater) done(p dayWork, err error) bool {
	p.release()
	if u.stop {
		return false
	}
	if err != nil {
		u.errs = errors.Join(u.errs, err)
		if u.ctx.Err() != nil {
			u.stop = true
			return false
		}
		// One bad day (a corrupt part, say) does not hold up the others.
		u.st.Failed++
		return true
	}
	u.st.Built++
	if u.o.Progress != nil {
		u.o.Progress(p.day, true)
	}
	return true
}

// listDays lists the days of a table in the selection.
func listDays(root, table string, o UpdateOptions) ([]Day, error) {
	dirs, err := partition.Days(root, table, o.Sensor)
	if err != nil {
		return nil, fmt.Errorf("rollup: %w", err)
	}
	var out []Day
	for _, d := range dirs {
		if (!o.From.IsZero() && !d.Date.Add(24*time.Hour).After(o.From)) || (!o.To.IsZero() && !d.Date.Before(o.To)) {
			continue
		}
		out = append(out, Day{Sensor: d.Sensor, Date: d.Date})
	}
	return out, nil
}

// RemoveDeadTemps removes the rollup temporary files left by builders that
// are no longer running (a crash, a kill): their names carry the builder's
// process id, and a file of a live process is left alone.
func RemoveDeadTemps(root string) error {
	days, err := filepath.Glob(filepath.Join(root, Table, "sensor=*", "date=*"))
	if err != nil {
		return fmt.Errorf("rollup: %w", err)
	}
	for _, dir := range days {
		if err := removeDeadTemps(dir); err != nil {
			return err
		}
	}
	return nil
}

// removeDeadTemps removes the dead builders' temporary files in one day
// directory.
func removeDeadTemps(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("rollup: %w", err)
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), tmpPrefix)
		if !ok || !strings.HasSuffix(rest, ".parquet.tmp") {
			continue
		}
		pidStr, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid <= 0 || processAlive(pid) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("rollup: %w", err)
		}
	}
	return nil
}

// processAlive reports whether a process with this id exists (on this
// host: an archive is written by one host's processes at a time).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
