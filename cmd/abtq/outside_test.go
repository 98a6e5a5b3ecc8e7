package main

import (
	"bytes"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/duckbox"
	"github.com/abt-dev/abt/queries"
)

// TestArchiveSQLWithoutAbtq: a DuckDB client other than abtq, given the
// archive's directory, runs queries/archive/files.sql, macros.sql and
// views.sql and then the canned queries (their parameters bound as abtq
// binds them), and gets abtq's answers over the committed archive, value
// for value in abtq's TSV: the macros and views are not abtq's alone.
func TestArchiveSQLWithoutAbtq(t *testing.T) {
	arch, err := filepath.Abs(testArchive)
	require.NoError(t, err)
	db, err := sql.Open("duckdb", "")
	require.NoError(t, err)
	defer db.Close()
	db.SetMaxOpenConns(1) // one connection: the variable and the views are its
	_, err = db.Exec("SET VARIABLE abt_archive = " + duckbox.Literal(arch))
	require.NoError(t, err)
	for _, file := range []string{"files", "macros", "views"} {
		for _, st := range queries.MustStatements(file) {
			_, err := db.Exec(st)
			require.NoError(t, err, "%s.sql: %s", file, st)
		}
	}

	params := func(kv map[string]any) []any {
		var out []any
		for _, name := range []string{"server", "port", "direction", "limit", "period", "by", "bucket_size", "buckets", "bucket", "min_bytes"} {
			out = append(out, sql.Named(name, kv[name]))
		}
		return out
	}
	for _, tc := range []struct {
		args []string // abtq's, after the query's name
		bind map[string]any
	}{
		{[]string{"runs"}, nil},
		{[]string{"collections"}, nil},
		{[]string{"loss"}, nil},
		{[]string{"top-servers", "--exact", "--limit", "10"}, map[string]any{"limit": 10}},
		{[]string{"response-times", "--exact", "--limit", "5"}, map[string]any{"limit": 5}},
		{[]string{"adu-sizes", "--exact", "--server", "74.53.140.153", "--port", "25", "--direction", "s2c"},
			map[string]any{"server": "74.53.140.153", "port": 25, "direction": "s2c"}},
		{[]string{"exchanges"}, nil},
		{[]string{"response-time-cdf", "--exact", "--server", "192.150.187.43", "--port", "80", "--period", "hour"},
			map[string]any{"server": "192.150.187.43", "port": 80, "period": "hour"}},
		{[]string{"conn-buckets", "--by", "bytes_out", "--bucket-size", "100000", "--buckets", "5", "--min-bytes", "0"},
			map[string]any{"by": "bytes_out", "bucket_size": 100000.0, "buckets": 5, "min_bytes": int64(0)}},
		{[]string{"conn-list", "--by", "bytes_out", "--bucket-size", "100000", "--buckets", "5", "--bucket", "3", "--limit", "100", "--min-bytes", "0"},
			map[string]any{"by": "bytes_out", "bucket_size": 100000.0, "buckets": 5, "bucket": 3, "limit": 100, "min_bytes": int64(0)}},
		{[]string{"syn-attempts"}, nil},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, want, stderr := runCmd(t, append([]string{"--archive", testArchive, "--format", "tsv"}, tc.args...)...)
			require.Equal(t, 0, code, stderr)
			stmt, err := queries.Get(tc.args[0])
			require.NoError(t, err)
			rows, err := db.Query(stmt, params(tc.bind)...)
			require.NoError(t, err)
			defer rows.Close()
			var got bytes.Buffer
			require.NoError(t, writeRows(&got, "tsv", rows))
			require.Equal(t, want, got.String())
			if tc.args[0] != "loss" {
				require.Greater(t, strings.Count(want, "\n"), 1, "a case with results")
			}
		})
	}
}
