// Package query opens an abt archive in an embedded DuckDB, read-only and
// sandboxed, with a view for each table (and derived views) over exactly
// the files a time range needs, pinned for the life of the DB, and runs SQL
// on it with bound parameters.
package query

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/abt-dev/abt/internal/catalog"
	"github.com/abt-dev/abt/internal/duckbox"
	"github.com/abt-dev/abt/internal/rollup"
	"github.com/abt-dev/abt/schema"
)

// ErrEmptyRange is returned when a query needs a table that has no file
// in the selected range.
var ErrEmptyRange = errors.New("query: no archive files in the selected range")

// Options tune the embedded DuckDB.
type Options struct {
	// Threads is DuckDB's worker count; 0 means the number of CPUs.
	Threads int
	// MemoryLimit caps DuckDB's memory, e.g. "4GB"; empty means DuckDB's
	// default (80 % of RAM).
	MemoryLimit string
	// WriteDir, when set, is a directory DuckDB may also write to (the
	// directory of an explicit output file). The archive itself is never
	// writable through SQL: statements other than queries are refused.
	WriteDir string
	// Rollups defines the view rollup_hist (see package rollup) when the
	// range is whole UTC days: current rollups for the days that have one,
	// the same rows computed from the ADU rows for the others.
	Rollups bool
}

// RollupStats says how rollup_hist was made.
type RollupStats struct {
	Days    int // sensor-days in the range with adus or connections parts
	Current int // of which read from a current rollup; the rest from ADU rows
}

// DB is an archive opened for querying.
type DB struct {
	db         *sql.DB
	conn       *sql.Conn
	pins       *catalog.Pinned
	private    string          // the private directory holding pins
	tables     map[string]bool // views that have files
	rollups    RollupStats
	dayAligned bool // the range is whole UTC days
}

// Open opens the archive read-only in an in-memory DuckDB. The files of r
// that a reader sees (package catalog: committed runs only, replaced runs
// left out) are checked (footers) and pinned open for as long as the DB is
// (catalog.Pin), so writers that compact or replace meanwhile never fail
// its queries; DuckDB reads them through links in a private directory, and
// may access only that directory and the archive. Extensions cannot be installed or loaded, and the configuration is
// locked before any caller SQL runs. The views adus, connections, runs
// (with derived columns) and exchanges read exactly those files.
func Open(ctx context.Context, archive string, r Range, o Options) (*DB, error) {
	abs, err := filepath.Abs(archive)
	if err != nil {
		return nil, fmt.Errorf("archive %s: %w", archive, err)
	}
	if st, err := os.Stat(abs); err != nil || !st.IsDir() {
		if err == nil {
			err = errors.New("not a directory")
		}
		return nil, fmt.Errorf("archive %s: %w", archive, err)
	}
	private, err := os.MkdirTemp("", "abtq-")
	if err != nil {
		return nil, fmt.Errorf("query: private directory: %w", err)
	}
	q := &DB{private: private, tables: map[string]bool{}, dayAligned: dayAligned(r)}
	fail := func(err error) (*DB, error) { return nil, errors.Join(err, q.Close()) }
	pins := filepath.Join(private, "archive")
	if err := os.Mkdir(pins, 0o700); err != nil {
		return fail(fmt.Errorf("query: private directory: %w", err))
	}
	if q.pins, err = catalog.Pin(abs, pins, catalog.Selection{Sensor: r.Sensor, From: r.From, To: r.To}); err != nil {
		return fail(err)
	}
	files := map[string][]string{}
	for _, t := range schema.Tables {
		files[t] = q.pins.Paths(t)
	}
	var hist []view
	if o.Rollups && q.dayAligned && len(files[schema.TableADUs])+len(files[schema.TableConnections]) > 0 {
		v, st, err := rollupView(abs, q.pins)
		if err != nil {
			return fail(err)
		}
		hist, q.rollups = []view{v}, st
	}
	// DuckDB resolves links before it checks a path against its allowed
	// directories: the archive must be among them for the links to work
	// (the statement check, not the directory list, keeps it read-only).
	dirs := []string{private, abs}
	if o.WriteDir != "" {
		wd, err := filepath.Abs(o.WriteDir)
		if err != nil {
			return fail(fmt.Errorf("output directory: %w", err))
		}
		dirs = append(dirs, wd)
	}
	if q.db, q.conn, err = duckbox.Open(ctx, duckbox.Options{Dirs: dirs, Threads: o.Threads, MemoryLimit: o.MemoryLimit, Init: rollup.Macros}); err != nil {
		return fail(err)
	}
	for _, v := range append(views(files, q.pins.Hidden()), hist...) {
		if _, err := q.conn.ExecContext(ctx, v.sql); err != nil {
			return fail(fmt.Errorf("define view %s: %s", v.name, q.pins.Unpin(err.Error())))
		}
		q.tables[v.name] = true
	}
	if _, err := q.conn.ExecContext(ctx, "SET lock_configuration = true"); err != nil {
		return fail(fmt.Errorf("lock duckdb configuration: %w", err))
	}
	return q, nil
}

// Pinned says whether the files are held open (see catalog.Pinned.Held):
// false only when the range has more files than the process may open.
func (q *DB) Pinned() bool { return q.pins.Held }

// Close releases DuckDB and the pinned files, and removes the private
// directory.
func (q *DB) Close() error {
	var err error
	if q.conn != nil {
		err = errors.Join(err, q.conn.Close())
	}
	if q.db != nil {
		err = errors.Join(err, q.db.Close())
	}
	if q.pins != nil {
		err = errors.Join(err, q.pins.Close())
	}
	return errors.Join(err, os.RemoveAll(q.private))
}

// Has reports whether the view exists (its table has files in the range).
func (q *DB) Has(view string) bool { return q.tables[view] }

// Rollups says how the view rollup_hist was made (zero without it).
func (q *DB) Rollups() RollupStats { return q.rollups }

// Check refuses a statement that is not a query: ad-hoc SQL may read the
// archive but never write, attach, load, copy or reconfigure.
func (q *DB) Check(ctx context.Context, stmt string) error {
	return q.conn.Raw(func(dc any) error {
		p, ok := dc.(driver.ConnPrepareContext)
		if !ok {
			return errors.New("query: driver cannot prepare statements")
		}
		st, err := p.PrepareContext(ctx, stmt)
		if err != nil {
			return err
		}
		defer st.Close()
		ds, ok := st.(*duckdb.Stmt)
		if !ok {
			return errors.New("query: unexpected statement type")
		}
		t, err := ds.StatementType()
		if err != nil {
			return err
		}
		switch t {
		case duckdb.STATEMENT_TYPE_SELECT, duckdb.STATEMENT_TYPE_EXPLAIN:
			return nil
		}
		return fmt.Errorf("only queries (SELECT, WITH ... SELECT, EXPLAIN) may run on the archive")
	})
}

// Query runs a checked statement with bound parameters.
func (q *DB) Query(ctx context.Context, stmt string, args ...any) (*sql.Rows, error) {
	if err := q.Check(ctx, stmt); err != nil {
		return nil, q.explain(err)
	}
	rows, err := q.conn.QueryContext(ctx, stmt, args...)
	if err != nil {
		return nil, q.explain(err)
	}
	return rows, nil
}

// explain turns "table does not exist" errors about a view without files
// into ErrEmptyRange.
func (q *DB) explain(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if q.pins != nil && strings.Contains(msg, q.pins.Dir) {
		err = errors.New(q.pins.Unpin(msg))
		msg = err.Error()
	}
	if !q.tables["rollup_hist"] && strings.Contains(msg, "Table with name rollup_hist does not exist") {
		if !q.dayAligned {
			return errors.New("query: rollup_hist covers whole UTC days only: give --from/--to as dates (or neither)")
		}
		return fmt.Errorf("%w (table adus)", ErrEmptyRange)
	}
	for _, t := range []string{"adus", "connections", "runs", "exchanges"} {
		if !q.tables[t] && strings.Contains(msg, "Table with name "+t+" does not exist") {
			return fmt.Errorf("%w (table %s)", ErrEmptyRange, t)
		}
	}
	return err
}

// Copy writes a checked query's result to a Parquet file.
func (q *DB) Copy(ctx context.Context, stmt, path string, args ...any) error {
	if err := q.Check(ctx, stmt); err != nil {
		return q.explain(err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	_, err = q.conn.ExecContext(ctx, "COPY ("+stmt+") TO "+duckbox.Literal(abs)+" (FORMAT parquet, COMPRESSION zstd)", args...)
	return q.explain(err)
}
