package main

import (
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestForgedPartNotRead: a Parquet file written into an hour directory
// under a part's name by something other than adu2parquet (here DuckDB,
// with the same columns and thirty thousand times the rows) is reported
// with its path, and no query reads it.
func TestForgedPartNotRead(t *testing.T) {
	arch := copyArchive(t)
	code, want, stderr := runCmd(t, "--archive", arch, "--format", "tsv", "sql", "SELECT sum(size) FROM adus")
	require.Equal(t, 0, code, stderr)

	parts, err := filepath.Glob(filepath.Join(arch, "adus", "sensor=golden", "date=2015-07-25", "hour=*", "part-*.parquet"))
	require.NoError(t, err)
	require.NotEmpty(t, parts)
	forged := filepath.Join(filepath.Dir(parts[0]), "part-forged-0001.parquet")
	db, err := sql.Open("duckdb", "")
	require.NoError(t, err)
	defer db.Close()
	_, err = db.Exec(`COPY (SELECT a.* FROM read_parquet(?) a, range(30000)) TO '`+forged+`' (FORMAT parquet)`, parts[0])
	require.NoError(t, err)

	for _, args := range [][]string{
		{"sql", "SELECT sum(size) FROM adus"},
		{"response-times"},
		{"--from", "2015-07-25", "--to", "2015-07-26", "adu-sizes"},
	} {
		code, got, stderr := runCmd(t, append([]string{"--archive", arch, "--format", "tsv"}, args...)...)
		require.Equal(t, 1, code, "%v: %s", args, got)
		require.Empty(t, got)
		require.Contains(t, stderr, "corrupt or foreign file in the archive: "+forged)
	}
	// A range that does not touch its hour is not disturbed.
	code, _, stderr = runCmd(t, "--archive", arch, "--from", "2014-01-14", "--to", "2014-01-15", "sql", "SELECT count(*) FROM adus")
	require.Equal(t, 0, code, stderr)

	require.NoError(t, os.Remove(forged))
	code, got, stderr := runCmd(t, "--archive", arch, "--format", "tsv", "sql", "SELECT sum(size) FROM adus")
	require.Equal(t, 0, code, stderr)
	require.Equal(t, want, got)
}
