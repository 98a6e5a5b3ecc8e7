package query

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/require"
)

const testArchive = "../../queries/testdata/archive"

func openTest(t *testing.T) *DB {
	t.Helper()
	t.Setenv("TMPDIR", t.TempDir())
	db, err := Open(context.Background(), testArchive, Range{}, Options{Threads: 1})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	return db
}

// TestCheckAllows: one SELECT in its many spellings, with a terminator,
// comments and strings holding ';'.
func TestCheckAllows(t *testing.T) {
	db := openTest(t)
	for _, stmt := range []string{
		"SELECT 1",
		"SELECT ';'",
		"SELECT 1; -- x",
		"SELECT 1 /* ; DROP VIEW adus */",
		"SELECT $$;$$ ;",
		"WITH a AS (SELECT 1 AS x) SELECT x FROM a",
		"FROM range(3)",
		"VALUES (1), (2)",
		"(SELECT 1) UNION (SELECT 2)",
		"DESCRIBE adus",
		"SUMMARIZE SELECT 1 AS x",
		"SHOW TABLES",
		"FROM pragma_version()",
		"PIVOT adus ON direction IN ('c2s', 's2c') USING count(*)",
		"SELECT count(*) FROM read_parquet('" + testArchive + "/adus/*/*/*/*.parquet')",
		"SELECT * FROM duckdb_settings() WHERE name = 'threads'",
	} {
		t.Run(stmt, func(t *testing.T) {
			require.NoError(t, db.Check(context.Background(), stmt))
		})
	}
}

// TestCheckRefuses: anything but one SELECT that only reads is refused
// before it runs, with a reason; SQL DuckDB cannot parse is DuckDB's error.
func TestCheckRefuses(t *testing.T) {
	db := openTest(t)
	tests := []struct{ stmt, reason string }{
		{"COPY (SELECT 42 AS x) TO 'x.csv'; SELECT 1", "2 statements"},
		{"SELECT 1; COPY (SELECT 42 AS x) TO 'x.csv'", "2 statements"},
		{"SELECT 1; SELECT 2", "2 statements"},
		{"SELECT ';'; DROP VIEW adus", "2 statements"},
		{"ATTACH 'x.duckdb'", "ATTACH statement"},
		{"DROP VIEW adus", "DROP statement"},
		{"CREATE OR REPLACE VIEW adus AS SELECT 1", "CREATE statement"},
		{"COPY adus TO 'x.parquet'", "COPY statement"},
		{"SET lock_configuration = false", "SET statement"},
		{"PRAGMA enable_profiling", "PRAGMA statement"},
		{"PRAGMA version", "PRAGMA statement"},
		{"CALL checkpoint()", "CALL statement"},
		{"INSTALL httpfs", "INSTALL statement"},
		{"LOAD httpfs", "LOAD statement"},
		{"EXPORT DATABASE 'x'", "EXPORT statement"},
		{"IMPORT DATABASE 'x'", "IMPORT statement"},
		{"CHECKPOINT", "CHECKPOINT statement"},
		{"EXPLAIN SELECT 1", "EXPLAIN statement"},
		{"EXPLAIN ANALYZE COPY (SELECT 1) TO 'x.csv'", "EXPLAIN statement"},
		{"WITH a AS (SELECT 1) DELETE FROM adus", "statement other than SELECT"},
		{"PIVOT adus ON direction USING count(*)", "PIVOT without an IN list"},
		{"SELECT * FROM enable_profiling(format = 'json', save_location = 'p.json')", "table function enable_profiling"},
		{"FROM enable_logging(storage = 'file', storage_path = 'logs')", "table function enable_logging"},
		{"SELECT (FROM system.main.checkpoint())", "table function checkpoint"},
		{"SELECT * FROM query('SELECT * FROM enable_profiling()')", "table function query"},
		{"FROM json_execute_serialized_sql(json_serialize_sql('SELECT 1'))", "table function json_execute_serialized_sql"},
		{"SELECT enable_profiling()", "table function enable_profiling"},
		{"FROM no_such_function()", "table function no_such_function"},
		{"-- nothing", "without a statement"},
	}
	for _, tc := range tests {
		t.Run(tc.stmt, func(t *testing.T) {
			err := db.Check(context.Background(), tc.stmt)
			require.ErrorIs(t, err, ErrRefused)
			require.ErrorContains(t, err, tc.reason)
			require.NotContains(t, err.Error(), "\n")
		})
	}
	err := db.Check(context.Background(), "SELEKT 1")
	require.ErrorContains(t, err, "syntax error")
	require.NotErrorIs(t, err, ErrRefused)
}

// TestTableFunctionsClassified: every table function of the pinned DuckDB
// is listed as allowed or refused, so a DuckDB upgrade that adds one fails
// here until someone decides.
func TestTableFunctionsClassified(t *testing.T) {
	db := openTest(t)
	rows, err := db.conn.QueryContext(context.Background(),
		"SELECT DISTINCT function_name FROM duckdb_functions() WHERE function_type IN ('table', 'table_macro') AND NOT internal IS NULL ORDER BY 1")
	require.NoError(t, err)
	defer rows.Close()
	var missing []string
	n := 0
	for rows.Next() {
		var name string
		require.NoError(t, rows.Scan(&name))
		n++
		if _, ok := tableFunctions[strings.ToLower(name)]; !ok {
			missing = append(missing, name)
		}
	}
	require.NoError(t, rows.Err())
	require.Greater(t, n, 50)
	require.Empty(t, missing, "classify these in tablefuncs.go")
}

// TestCopy: Copy takes a statement with its terminator and comments,
// writes the file in place and leaves nothing in DuckDB's temporary
// directory; a failing or refused query leaves an existing file as it was.
func TestCopy(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	dir := t.TempDir()
	out := filepath.Join(dir, "out.parquet")
	require.NoError(t, os.WriteFile(out, []byte("old"), 0o644))

	require.ErrorIs(t, db.Copy(ctx, "SELECT 1; COPY adus TO 'x.parquet'", out), ErrRefused)
	require.Error(t, db.Copy(ctx, "SELECT * FROM read_csv('/etc/passwd')", out))
	require.Error(t, db.Copy(ctx, "SELECT CASE WHEN i < 5000 THEN i ELSE error('boom') END FROM range(10000) t(i)", out))
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Equal(t, "old", string(b))

	require.NoError(t, db.Copy(ctx, "SELECT count(*) AS n FROM adus; -- all of them", out))
	es, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, es, 1, "no temporary file left beside the output")
	es, err = os.ReadDir(db.box.TempDir)
	require.NoError(t, err)
	for _, e := range es {
		require.Equal(t, "archive", e.Name(), "only the pinned links remain in DuckDB's temporary directory")
	}

	got, err := parquet.ReadFile[struct {
		N int64 `parquet:"n"`
	}](out)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, int64(789), got[0].N, "the ADUs of TestSQL in cmd/abtq")
}
