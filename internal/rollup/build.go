package rollup

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
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

	"github.com/duckdb/duckdb-go/v2"
)

// RowGroupRows is the row group size of rollup files: rows are sorted by
// server, so a question about one server reads one or two row groups of
// each day.
const RowGroupRows = 65536

// tmpPrefix starts the hidden name a rollup is written under; no
// "*.parquet" glob matches it.
const tmpPrefix = ".rollup-"

// Builder writes rollups with an embedded DuckDB whose file access is
// limited to the archive.
type Builder struct {
	root string
	db   *sql.DB
	conn *sql.Conn
}

// NewBuilder opens a Builder for the archive at root. threads is DuckDB's
// worker count (0: all CPUs).
func NewBuilder(ctx context.Context, root string, threads int) (*Builder, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("rollup: %w", err)
	}
	connector, err := duckdb.NewConnector("", func(ex driver.ExecerContext) error {
		stmts := []string{
			"SET autoinstall_known_extensions = false",
			"SET autoload_known_extensions = false",
			"SET allowed_directories = [" + literal(abs) + "]",
			"SET enable_external_access = false",
		}
		if threads > 0 {
			stmts = append(stmts, fmt.Sprintf("SET threads = %d", threads))
		}
		stmts = append(stmts, Macros...)
		for _, s := range stmts {
			if _, err := ex.ExecContext(ctx, s, nil); err != nil {
				return fmt.Errorf("configure duckdb (%s): %w", s, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("rollup: open duckdb: %w", err)
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("rollup: open duckdb: %w", err), db.Close())
	}
	return &Builder{root: abs, db: db, conn: conn}, nil
}

// Close releases DuckDB.
func (b *Builder) Close() error { return errors.Join(b.conn.Close(), b.db.Close()) }

// Build writes the rollup of day d from its current adus and connections
// parts, replacing
// any earlier one; a day without parts loses its rollup.
func (b *Builder) Build(ctx context.Context, d Day) error {
	files, err := Sources(b.root, d)
	if err != nil {
		return err
	}
	final := Path(b.root, d.Sensor, d.Date)
	if len(files) == 0 {
		if err := os.Remove(final); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("rollup %s: %w", d, err)
		}
		return nil
	}
	fp, err := Fingerprint(b.root, files)
	if err != nil {
		return err
	}
	dir := filepath.Dir(final)
	if err := mkdirAllSync(dir); err != nil {
		return fmt.Errorf("rollup %s: %w", d, err)
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	tmp := filepath.Join(dir, fmt.Sprintf("%s%d-%s.parquet.tmp", tmpPrefix, os.Getpid(), hex.EncodeToString(rnd[:])))
	aduSrc, connSrc, err := SourceSQL(b.root, files)
	if err != nil {
		return err
	}
	stmt := "COPY (SELECT * FROM (" + HistSQL(aduSrc, connSrc) + ") ORDER BY kind, server_ip NULLS FIRST, server_port NULLS FIRST, bin) TO " +
		literal(tmp) + fmt.Sprintf(" (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE %d, KV_METADATA {%s: %s, %s: %s})",
		RowGroupRows, literal(MetaVersion), literal(Version), literal(MetaSources), literal(fp))
	if _, err := b.conn.ExecContext(ctx, stmt); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("rollup %s: %w", d, err)
	}
	if err := publish(tmp, final); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("rollup %s: %w", d, err)
	}
	return nil
}

// publish syncs tmp, renames it to final and syncs the directory.
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
	return syncDir(filepath.Dir(final))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}

// mkdirAllSync creates dir and its missing parents, syncing each parent
// whose entries changed.
func mkdirAllSync(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	parent := filepath.Dir(dir)
	if err := mkdirAllSync(parent); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return syncDir(parent)
}

// literal quotes s as a SQL string literal. It is used for paths listed
// from the archive and for values this package makes, never for user input.
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

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
			if err := os.Remove(Path(b.root, d.Sensor, d.Date)); err == nil {
				st.Removed++
			}
		}
	}
	for _, d := range days {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		files, err := Sources(b.root, d)
		if err != nil {
			return st, err
		}
		if len(files) == 0 {
			continue
		}
		st.Days++
		if !o.Force {
			ok, err := Current(b.root, d, files)
			if err != nil {
				return st, err
			}
			if ok {
				st.Current++
				if o.Progress != nil {
					o.Progress(d, false)
				}
				continue
			}
		}
		if err := b.Build(ctx, d); err != nil {
			if ctx.Err() != nil {
				return st, errors.Join(errs, err)
			}
			// One bad day (a corrupt part, say) does not hold up the others.
			st.Failed++
			errs = errors.Join(errs, err)
			continue
		}
		st.Built++
		if o.Progress != nil {
			o.Progress(d, true)
		}
	}
	return st, errs
}

// listDays lists the sensor=/date= directories of a table in the selection.
func listDays(root, table string, o UpdateOptions) ([]Day, error) {
	top := filepath.Join(root, table)
	sensors, err := os.ReadDir(top)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("rollup: %w", err)
	}
	var out []Day
	for _, s := range sensors {
		name, ok := strings.CutPrefix(s.Name(), "sensor=")
		if !ok || !s.IsDir() || (o.Sensor != "" && name != o.Sensor) {
			continue
		}
		dates, err := os.ReadDir(filepath.Join(top, s.Name()))
		if err != nil {
			return nil, fmt.Errorf("rollup: %w", err)
		}
		for _, e := range dates {
			ds, ok := strings.CutPrefix(e.Name(), "date=")
			if !ok || !e.IsDir() {
				continue
			}
			day, err := time.Parse("2006-01-02", ds)
			if err != nil {
				continue
			}
			if (!o.From.IsZero() && !day.Add(24*time.Hour).After(o.From)) || (!o.To.IsZero() && !day.Before(o.To)) {
				continue
			}
			out = append(out, Day{Sensor: name, Date: day})
		}
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
