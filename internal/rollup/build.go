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
// limited to the archive and the Builder's private directory, where each
// day's parts are pinned while they are read (catalog.Pin): a compaction
// running meanwhile does not disturb it.
type Builder struct {
	root string
	box  *duckbox.Box
	pins string // private directory of pinned parts (catalog.PinDir)
	conn *sql.Conn
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
	box, err := duckbox.Open(ctx, duckbox.Options{Dirs: []string{abs, pins}, Threads: threads, Init: Macros})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("rollup: %w", err), os.RemoveAll(pins))
	}
	return &Builder{root: abs, box: box, pins: pins, conn: box.Conn}, nil
}

// Close releases DuckDB and the private directory.
func (b *Builder) Close() error { return errors.Join(b.box.Close(), os.RemoveAll(b.pins)) }

// Build writes the rollup of day d from its current adus and connections
// parts, replacing any earlier one; a day without parts loses its rollup.
func (b *Builder) Build(ctx context.Context, d Day) error {
	_, err := b.update(ctx, d, true)
	return err
}

// update pins the day's parts and (re)builds its rollup unless it is
// current and force is false. It reports whether it built one, and whether
// the day has parts at all.
func (b *Builder) update(ctx context.Context, d Day, force bool) (dayResult, error) {
	p, err := Sources(b.root, b.pins, d)
	if err != nil {
		return dayEmpty, fmt.Errorf("rollup %s: %w", d, err)
	}
	// The parts are read until the rollup is written; they are released
	// before it replaces the old one, which takes the retire lock (see
	// partition.LockRetire): a reader in place would otherwise wait on
	// itself.
	defer p.Close()
	var files []catalog.File
	for _, t := range SourceTables {
		files = append(files, p.Files[t]...)
	}
	final := Path(b.root, d.Sensor, d.Date)
	if len(files) == 0 {
		_ = p.Close()
		return dayEmpty, b.retire(final, "")
	}
	fp := Fingerprint(files, p.Hidden())
	if !force {
		if f, err := os.Open(final); err == nil {
			ok := Current(f, fp)
			_ = f.Close()
			if ok {
				return dayCurrent, nil
			}
		}
	}
	tmp, err := b.build(ctx, d, p, files, fp)
	_ = p.Close()
	if err == nil {
		err = b.retire(final, tmp)
	}
	if err != nil {
		if tmp != "" {
			_ = os.Remove(tmp)
		}
		return dayBuilt, fmt.Errorf("rollup %s: %w", d, err)
	}
	return dayBuilt, nil
}

// retire replaces the rollup final with tmp (or removes it when tmp is
// ""), holding the retire lock: a reader reading the old one in place
// finishes first.
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

// dayResult is what update did with a day.
type dayResult int

const (
	dayEmpty   dayResult = iota // no parts
	dayCurrent                  // its rollup was current
	dayBuilt                    // its rollup was (re)built
)

// build writes the rollup of day d from its pinned parts, whose
// Fingerprint is fp, into a temporary file beside its place, and returns
// that file's path.
func (b *Builder) build(ctx context.Context, d Day, p *catalog.Pinned, files []catalog.File, fp string) (string, error) {
	final := Path(b.root, d.Sensor, d.Date)
	dir := filepath.Dir(final)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	tmp := filepath.Join(dir, fmt.Sprintf("%s%d-%s.parquet.tmp", tmpPrefix, os.Getpid(), hex.EncodeToString(rnd[:])))
	aduSrc, connSrc, err := SourceSQL(p, files)
	if err != nil {
		return "", err
	}
	stmt := "COPY (SELECT * FROM (" + HistSQL(aduSrc, connSrc) + ") ORDER BY kind, server_ip NULLS FIRST, server_port NULLS FIRST, bin) TO " +
		duckbox.Literal(tmp) + fmt.Sprintf(" (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE %d, KV_METADATA {%s: %s, %s: %s})",
		RowGroupRows, duckbox.Literal(MetaVersion), duckbox.Literal(Version), duckbox.Literal(MetaSources), duckbox.Literal(fp))
	if _, err := b.conn.ExecContext(ctx, stmt); err != nil {
		_ = os.Remove(tmp)
		return "", errors.New(p.Unpin(err.Error()))
	}
	return tmp, nil
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
// parts, and removes the temporary files of builders that died
// (RemoveDeadTemps). A day that fails to build is counted and its error
// joined into the one returned; the other days are still built.
func (b *Builder) Update(ctx context.Context, o UpdateOptions) (UpdateStats, error) {
	var (
		st   UpdateStats
		errs error
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
	if err := RemoveDeadTemps(b.root); err != nil {
		return st, err
	}
	for _, d := range have {
		if !seen[d] {
			path := Path(b.root, d.Sensor, d.Date)
			if _, err := os.Stat(path); err == nil && b.retire(path, "") == nil {
				st.Removed++
			}
		}
	}
	for _, d := range days {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		res, err := b.update(ctx, d, o.Force)
		if err != nil {
			if ctx.Err() != nil {
				return st, errors.Join(errs, err)
			}
			// One bad day (a corrupt part, say) does not hold up the others.
			st.Days++
			st.Failed++
			errs = errors.Join(errs, err)
			continue
		}
		switch res {
		case dayEmpty:
			continue
		case dayCurrent:
			st.Current++
		case dayBuilt:
			st.Built++
		}
		st.Days++
		if o.Progress != nil {
			o.Progress(d, res == dayBuilt)
		}
	}
	return st, errs
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
		entries, err := os.ReadDir(dir)
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
	}
	return nil
}

// processAlive reports whether a process with this id exists (on this
// host: an archive is written by one host's processes at a time).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
