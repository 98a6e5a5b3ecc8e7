package main

import (
	"database/sql"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2" // DuckDB infers the hour's type, unaided
	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/archive"
	"github.com/abt-dev/abt/internal/partition"
	"github.com/abt-dev/abt/schema"
)

// copyCommitted copies the committed archive (written before the layout
// and encodings changed) to a writable directory.
func copyCommitted(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "archive")
	require.NoError(t, os.CopyFS(out, os.DirFS("../../queries/testdata/archive")))
	require.NoError(t, filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err == nil {
			err = os.Chmod(p, 0o755) // published parts are read-only; the copy's directories must be writable
		}
		return err
	}))
	return out
}

// requireRewrittenSame checks an archive rewritten in place (migrated,
// reencoded): every table holds the rows it held before, and verify finds
// no problem.
func requireRewrittenSame(t *testing.T, out string, before tables) {
	t.Helper()
	after := readTables(t, out)
	require.ElementsMatch(t, before.adus, after.adus)
	require.ElementsMatch(t, before.conns, after.conns)
	require.ElementsMatch(t, before.runs, after.runs)
	code, stdout, stderr := runCmd(t, nil, "verify", "--out", out)
	require.Equal(t, 0, code, "%s%s", stdout, stderr)
}

// hourTypes is the type DuckDB infers, with Hive partitioning and no other
// option, for each table's hour column.
func hourTypes(t *testing.T, root string) []string {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	require.NoError(t, err)
	defer db.Close()
	var out []string
	for _, table := range schema.Tables {
		var typ string
		require.NoError(t, db.QueryRow("SELECT typeof(hour) FROM read_parquet(?, hive_partitioning = true) LIMIT 1",
			filepath.Join(root, table, "*/*/*/*.parquet")).Scan(&typ))
		out = append(out, typ)
	}
	return out
}

// TestMigrate migrates a copy of the committed archive: --dry-run lists
// its hour=06 directories and its legacy parts and changes nothing; then
// migrate renames the directories and rewrites the parts; DuckDB, which
// read hour as VARCHAR, reads it as BIGINT; every table holds the same
// rows; verify passes; migrating again finds nothing to do. While a run
// is writing, migrate refuses.
func TestMigrate(t *testing.T) {
	out := copyCommitted(t)
	before := readTables(t, out)
	require.Equal(t, []string{"VARCHAR", "VARCHAR", "VARCHAR"}, hourTypes(t, out), "hour=06 beside hour=13 ...")

	code, stdout, stderr := runCmd(t, nil, "migrate", "--out", out, "--dry-run")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "hour directories to rename (hour=0H to hour=H): 3\n")
	require.Contains(t, stdout, "parts to rewrite (version 2 pages or DELTA encodings): 11,")
	old, err := partition.OldHourDirs(out, schema.Tables)
	require.NoError(t, err)
	require.Len(t, old, 3, "a dry run changes nothing")

	code, _, stderr = runCmd(t, nil, "migrate", "--out", out, "--rollup=false")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stderr, "migrated: 3 hour directories renamed, 11 hours rewritten")
	old, err = partition.OldHourDirs(out, schema.Tables)
	require.NoError(t, err)
	require.Empty(t, old)
	require.Empty(t, legacyFiles(t, out))
	require.Equal(t, []string{"BIGINT", "BIGINT", "BIGINT"}, hourTypes(t, out))
	requireRewrittenSame(t, out, before)

	code, stdout, stderr = runCmd(t, nil, "migrate", "--out", out, "--dry-run")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "to rename (hour=0H to hour=H): 0\n")

	// A run writing: refused, nothing renamed.
	busy := copyCommitted(t)
	a, err := archive.Open(archive.Options{Root: busy, Sensor: "live", Producer: "migrate-test"},
		[]archive.Input{{Name: "live:a1", Link: true}})
	require.NoError(t, err)
	defer a.Abort()
	code, _, stderr = runCmd(t, nil, "migrate", "--out", busy)
	require.Equal(t, 1, code)
	require.True(t, strings.Contains(stderr, "is writing into the archive: stop it before migrating"), stderr)
	old, err = partition.OldHourDirs(busy, schema.Tables)
	require.NoError(t, err)
	require.Len(t, old, 3)
}
