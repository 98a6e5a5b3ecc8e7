// Package duckbox opens the embedded DuckDB that abt's programs run SQL in:
// in memory, with file access limited to given directories and extension
// installing and loading off. It is the one place these safety settings
// are made.
package duckbox

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/duckdb/duckdb-go/v2"
)

// Options configure Open.
type Options struct {
	// Dirs are the only directories DuckDB may read or write (absolute).
	Dirs []string
	// Threads is DuckDB's worker count; 0 means the number of CPUs.
	Threads int
	// MemoryLimit caps DuckDB's memory, e.g. "4GB"; empty means DuckDB's
	// default (80 % of RAM).
	MemoryLimit string
	// Init are statements run after the settings (macros, say).
	Init []string
}

// Open returns an in-memory DuckDB and its one connection. Statements run
// on the connection; close the connection, then the database.
func Open(ctx context.Context, o Options) (*sql.DB, *sql.Conn, error) {
	threads := o.Threads
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	connector, err := duckdb.NewConnector("", func(ex driver.ExecerContext) error {
		stmts := []string{
			fmt.Sprintf("SET threads = %d", threads),
			"SET autoinstall_known_extensions = false",
			"SET autoload_known_extensions = false",
			// allowed_directories must be set before external access is
			// turned off, and only takes effect once it is.
			"SET allowed_directories = " + LiteralList(o.Dirs),
			"SET enable_external_access = false",
		}
		if o.MemoryLimit != "" {
			stmts = append(stmts, "SET memory_limit = "+Literal(o.MemoryLimit))
		}
		for _, s := range append(stmts, o.Init...) {
			if _, err := ex.ExecContext(ctx, s, nil); err != nil {
				return fmt.Errorf("configure duckdb (%s): %w", s, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("open duckdb: %w", err)
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, nil, errors.Join(fmt.Errorf("open duckdb: %w", err), db.Close())
	}
	return db, conn, nil
}

// Literal quotes s as a SQL string literal. It is for values the program
// controls (paths listed from the archive, settings), never for a user's
// filter values, which are bound parameters.
func Literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// LiteralList quotes ss as a SQL list of string literals.
func LiteralList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = Literal(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
