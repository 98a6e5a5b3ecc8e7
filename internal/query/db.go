// Package query opens an abt archive in an embedded DuckDB, read-only and
// sandboxed, with a view for each table (and derived views) over exactly
// the files a time range needs, pinned for the life of the DB, and runs SQL
// on it with bound parameters.
package query

import (
	"context"
	"database/sql"
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
	box        *duckbox.Box
	conn       *sql.Conn
	pins       *catalog.Pinned
	copies     int             // Copy's result files so far, to name the next one
	tables     map[string]bool // views that have files
	rollups    RollupStats
	dayAligned bool // the range is whole UTC days
}

// Open opens the archive read-only in an in-memory DuckDB. The files of r
// that a reader sees (package catalog: committed runs only, replaced runs
// left out) are checked (footers) and held for as long as the DB is
// (catalog.Open: read in place, with writers that would retire files
// waiting, or pinned when one is at work), so writers that compact or
// replace meanwhile never fail its queries. DuckDB may access only the
// archive, the directory of pinned links if any, and its own private
// temporary directory (duckbox.Box.TempDir, where it spills and where
// Copy's result waits before it is moved into place); extensions cannot be installed or loaded, and
// the configuration is locked before any caller SQL runs. The views adus,
// connections, runs (with derived columns), response_times, vectors and
// rollup_hist read exactly those files, and only their rows in r (see
// views).
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
	// DuckDB resolves links before it checks a path against its allowed
	// directories: the archive must be among them for the pinned links
	// to work (Check, not the directory list, keeps it read-only).
	pins, err := catalog.Open(abs, catalog.Selection{Sensor: r.Sensor, From: r.From, To: r.To}, "")
	if err != nil {
		return nil, err
	}
	dirs := []string{abs}
	if pins.Dir != "" {
		dirs = append(dirs, pins.Dir)
	}
	box, err := duckbox.Open(ctx, duckbox.Options{Dirs: dirs, Threads: o.Threads, MemoryLimit: o.MemoryLimit, Init: rollup.Macros})
	if err != nil {
		return nil, errors.Join(err, pins.Close())
	}
	q := &DB{box: box, conn: box.Conn, pins: pins, tables: map[string]bool{}, dayAligned: dayAligned(r)}
	fail := func(err error) (*DB, error) { return nil, errors.Join(err, q.Close()) }
	files := map[string][]string{}
	for _, t := range schema.Tables {
		files[t] = q.pins.Paths(t)
	}
	var hist []view
	if o.Rollups && q.dayAligned && len(files[schema.TableADUs])+len(files[schema.TableConnections]) > 0 {
		v, st, err := rollupView(abs, q.pins, r)
		if err != nil {
			return fail(err)
		}
		hist, q.rollups = []view{v}, st
	}
	for _, v := range append(views(files, q.pins.Hidden(), r), hist...) {
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

// Held says whether the files are safe from writers for the DB's life:
// false only when a writer was at work and the range has more files than
// the process may hold open (see catalog.Pinned).
func (q *DB) Held() bool { return q.pins.InPlace || q.pins.Held }

// Close releases DuckDB, then the files (catalog.Pinned.Close).
func (q *DB) Close() error {
	var err error
	if q.box != nil {
		err = q.box.Close()
	}
	if q.pins != nil {
		err = errors.Join(err, q.pins.Close())
	}
	return err
}

// Has reports whether the view exists (its table has files in the range).
func (q *DB) Has(view string) bool { return q.tables[view] }

// Rollups says how the view rollup_hist was made (zero without it).
func (q *DB) Rollups() RollupStats { return q.rollups }

// Query checks stmt (see Check) and runs it with bound parameters.
func (q *DB) Query(ctx context.Context, stmt string, args ...any) (*sql.Rows, error) {
	if err := q.Check(ctx, stmt); err != nil {
		return nil, q.mapErr(err)
	}
	// The text Check saw: DuckDB parses it into the same one statement.
	rows, err := q.conn.QueryContext(ctx, stmt, args...)
	if err != nil {
		return nil, q.mapErr(err)
	}
	return rows, nil
}

// Explain checks stmt (see Check) and returns DuckDB's plan for it: with
// analyze, EXPLAIN ANALYZE, which runs it and reports each operator's rows
// and time. EXPLAIN is offered only this way because EXPLAIN ANALYZE runs
// whatever statement it is given, a COPY as well as a SELECT.
func (q *DB) Explain(ctx context.Context, stmt string, analyze bool, args ...any) (*sql.Rows, error) {
	if err := q.Check(ctx, stmt); err != nil {
		return nil, q.mapErr(err)
	}
	// The newline ends a comment or token; stmt's terminator may stay.
	x := "EXPLAIN\n" + stmt
	if analyze {
		x = "EXPLAIN ANALYZE\n" + stmt
	}
	if err := q.expectType(x, duckdb.STATEMENT_TYPE_EXPLAIN); err != nil {
		return nil, q.mapErr(err)
	}
	rows, err := q.conn.QueryContext(ctx, x, args...)
	if err != nil {
		return nil, q.mapErr(err)
	}
	return rows, nil
}

// Copy checks stmt (see Check) and writes its result to the Parquet file
// path (zstd). DuckDB writes the file in its private temporary directory,
// the only one it may write to; Copy then moves it to path atomically
// (see publishFile): on error path is untouched.
func (q *DB) Copy(ctx context.Context, stmt, path string, args ...any) error {
	if err := q.Check(ctx, stmt); err != nil {
		return q.mapErr(err)
	}
	// COPY (...) takes the statement without its terminator; what is left
	// must still be the one SELECT Check allowed.
	body := stripTerminator(stmt)
	if body != stmt {
		if err := q.Check(ctx, body); err != nil {
			return q.mapErr(err)
		}
	}
	q.copies++
	tmp := filepath.Join(q.box.TempDir, fmt.Sprintf("copy-%d.parquet", q.copies))
	x := "COPY (\n" + body + "\n) TO " + duckbox.Literal(tmp) + " (FORMAT parquet, COMPRESSION zstd)"
	if err := q.expectType(x, duckdb.STATEMENT_TYPE_COPY); err != nil {
		return q.mapErr(err)
	}
	if _, err := q.conn.ExecContext(ctx, x, args...); err != nil {
		return errors.Join(q.mapErr(err), removeIfExists(tmp))
	}
	if err := publishFile(tmp, path); err != nil {
		return errors.Join(err, removeIfExists(tmp))
	}
	return nil
}

// expectType refuses x, a checked statement behind a prefix or inside a
// wrapper of ours, unless DuckDB parses it as one statement of type t.
// It cannot fail for a statement Check allowed; it guards the reasoning
// that says so.
func (q *DB) expectType(x string, t duckdb.StmtType) error {
	got, err := q.statementType(x)
	if err != nil {
		return err
	}
	if got != t {
		return fmt.Errorf("query: wrapped statement is of type %d, not %d", got, t)
	}
	return nil
}

// mapErr turns "table does not exist" errors about a view without files
// into ErrEmptyRange.
func (q *DB) mapErr(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if q.pins != nil && strings.Contains(msg, q.pins.Dir) {
		err = &renamedError{msg: q.pins.Unpin(msg), err: err}
		msg = err.Error()
	}
	if !q.tables["rollup_hist"] && strings.Contains(msg, "Table with name rollup_hist does not exist") {
		if !q.dayAligned {
			return errors.New("query: rollup_hist covers whole UTC days only: give --from/--to as dates (or neither)")
		}
		return fmt.Errorf("%w (table adus)", ErrEmptyRange)
	}
	for _, t := range []string{"adus", "connections", "runs", "response_times", "vectors"} {
		if !q.tables[t] && strings.Contains(msg, "Table with name "+t+" does not exist") {
			return fmt.Errorf("%w (table %s)", ErrEmptyRange, t)
		}
	}
	return err
}

// renamedError is an error whose message names archive files where the
// original named their pinned links.
type renamedError struct {
	msg string
	err error
}

func (e *renamedError) Error() string { return e.msg }
func (e *renamedError) Unwrap() error { return e.err }
