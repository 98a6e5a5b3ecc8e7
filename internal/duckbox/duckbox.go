// Package duckbox opens the embedded DuckDB that abt's programs run SQL in:
// in memory, with file access limited to given directories, extension
// installing and loading off, and a private temporary directory for
// spilling, so that DuckDB writes nothing outside the directories it is
// given. It is the one place these safety settings are made.
//
// It does not lock the configuration: the caller defines its views first
// and then runs SET lock_configuration = true.
package duckbox

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"

	"github.com/duckdb/duckdb-go/v2"
)

// Options configure Open.
type Options struct {
	// Dirs are the only directories DuckDB may read or write (absolute),
	// besides Box.TempDir.
	Dirs []string
	// Threads is DuckDB's worker count; 0 means the number of CPUs.
	Threads int
	// MemoryLimit caps DuckDB's memory, e.g. "4GB"; empty means DuckDB's
	// default (80 % of RAM). Above it DuckDB spills to Box.TempDir.
	MemoryLimit string
	// TempRoot is the directory in which Open creates the private
	// temporary directory; empty means os.TempDir() ($TMPDIR or /tmp).
	TempRoot string
	// Init are statements run after the settings (macros, say).
	Init []string
}

// Box is an open in-memory DuckDB: the database, its one connection, on
// which statements run, and its private temporary directory.
type Box struct {
	DB   *sql.DB
	Conn *sql.Conn
	// TempDir is a directory only this process uses (mode 0700): DuckDB's
	// temp_directory, where it spills what does not fit in MemoryLimit, and
	// the one place outside Dirs it may write (a COPY's result, say, which
	// the caller then moves into place). Close removes it.
	TempDir string
}

// Open returns an in-memory DuckDB restricted to o.Dirs and Box.TempDir.
// Close the Box to release it; on error nothing is left behind.
func Open(ctx context.Context, o Options) (*Box, error) {
	threads := o.Threads
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	// DuckDB's default temp_directory is ".tmp" under the current
	// directory: a spill would fail in a read-only directory and litter
	// any other. A directory of our own, removed on Close, does neither.
	tmp, err := os.MkdirTemp(o.TempRoot, "abt-duckdb-")
	if err != nil {
		return nil, fmt.Errorf("create duckdb temporary directory: %w", err)
	}
	b := &Box{TempDir: tmp}
	connector, err := duckdb.NewConnector("", func(ex driver.ExecerContext) error {
		stmts := []string{
			fmt.Sprintf("SET threads = %d", threads),
			"SET autoinstall_known_extensions = false",
			"SET autoload_known_extensions = false",
			"SET allow_persistent_secrets = false",
			// temp_directory, like allowed_directories, can only be set
			// while external access is on. DuckDB lets itself use its
			// temp_directory anyway; listing it says so.
			"SET temp_directory = " + Literal(tmp),
			// allowed_directories must be set before external access is
			// turned off, and only takes effect once it is.
			"SET allowed_directories = " + LiteralList(append(append([]string(nil), o.Dirs...), tmp)),
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
		return nil, errors.Join(fmt.Errorf("open duckdb: %w", err), b.Close())
	}
	b.DB = sql.OpenDB(connector)
	b.DB.SetMaxOpenConns(1)
	if b.Conn, err = b.DB.Conn(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("open duckdb: %w", err), b.Close())
	}
	return b, nil
}

// Close closes the connection and the database, then removes TempDir.
func (b *Box) Close() error {
	var err error
	if b.Conn != nil {
		err = errors.Join(err, b.Conn.Close())
	}
	if b.DB != nil {
		err = errors.Join(err, b.DB.Close())
	}
	if rerr := os.RemoveAll(b.TempDir); rerr != nil {
		err = errors.Join(err, fmt.Errorf("remove duckdb temporary directory: %w", rerr))
	}
	return err
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
