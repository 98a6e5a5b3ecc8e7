package main

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// oracle answers stmt with a DuckDB of its own reading the committed
// archive's Parquet files directly (no views, no catalog): {adus},
// {connections} and {runs} in stmt stand for read_parquet of every file of
// that table. It returns the single row as TSV fields.
func oracle(t *testing.T, stmt string) []string {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	require.NoError(t, err)
	defer db.Close()
	for _, table := range []string{"adus", "connections", "runs"} {
		glob, err := filepath.Abs(filepath.Join(testArchive, table, "**", "*.parquet"))
		require.NoError(t, err)
		stmt = strings.ReplaceAll(stmt, "{"+table+"}", fmt.Sprintf("read_parquet('%s', hive_partitioning = true)", glob))
	}
	rows, err := db.Query(stmt)
	require.NoError(t, err)
	defer rows.Close()
	cols, err := rows.Columns()
	require.NoError(t, err)
	require.True(t, rows.Next(), "no row")
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	require.NoError(t, rows.Scan(ptrs...))
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = text(v)
	}
	require.False(t, rows.Next(), "one row")
	return out
}

// TestRangeFiltersRows: --from/--to keep, in every view of ad-hoc SQL, only
// the rows whose ts is in the range, not every row of the files of the
// hours it touches (issue 9: a one-minute range returned the whole hour).
// The oracle reads the Parquet files with the same condition on ts.
func TestRangeFiltersRows(t *testing.T) {
	// Nine seconds of the bro.org capture (run1, hour 17 of 2014-01-14:
	// 62 ADUs, 13 connections and its run row in that hour).
	const from, to = "2014-01-14T17:04:02Z", "2014-01-14T17:04:11Z"
	in := "ts >= TIMESTAMP '2014-01-14 17:04:02' AND ts < TIMESTAMP '2014-01-14 17:04:11'"
	tests := []struct {
		name, query, oracle string
		want                []string // counted by hand, see below
	}{
		{"adus", "SELECT count(*), sum(size) FROM adus",
			"SELECT count(*), sum(size) FROM {adus} WHERE " + in, []string{"58", "439413"}},
		{"connections", "SELECT count(*) FROM connections",
			"SELECT count(*) FROM {connections} WHERE " + in, []string{"6"}},
		{"runs", "SELECT count(*) FROM runs", "SELECT count(*) FROM {runs} WHERE " + in, []string{"0"}},
		{"response_times", "SELECT count(*), sum(response_time_us) FROM response_times",
			"SELECT count(*), sum(think_us) FROM {adus} WHERE direction = 'c2s' AND think_to_peer AND NOT concurrent AND think_us IS NOT NULL AND " + in,
			[]string{"29", "2390530"}},
		{"vectors", "SELECT count(*), sum(len(adus)) FROM vectors",
			"SELECT count(DISTINCT (run_id, conn_id)), count(*) FROM {adus} WHERE " + in, []string{"7", "58"}},
	}
	// The hand counts are from adu2parquet --format jsonl on the capture
	// (testdata/pcaps/zeek_http_bro.org.pcap), another output of the same
	// inference: the ADU records whose first_ns (the ADU's start, its ts
	// in the archive) is in the range, their sizes and the think_ns of the
	// c2s ones with think_to_peer; the SYN records in the range (6 of 13:
	// five at 17:04:02.004–.008, one at 17:04:10.349); the run began at
	// 17:04:01.819644, before it.
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := runCmd(t, "--archive", testArchive, "--format", "tsv", "--from", from, "--to", to, "sql", tc.query)
			require.Equal(t, 0, code, stderr)
			got := tsvRows(t, out)
			require.Len(t, got, 2)
			require.Equal(t, tc.want, got[1])
			require.Equal(t, tc.want, oracle(t, tc.oracle))
		})
	}
}

// TestRangeWholeDays: rollup_hist, defined for whole UTC days, holds the
// days of the range only, and the canned queries answer for the range from
// the rows of the range.
func TestRangeWholeDays(t *testing.T) {
	code, out, stderr := runCmd(t, "--archive", testArchive, "--format", "tsv", "--from", "2014-01-14", "--to", "2014-01-15",
		"sql", "SELECT min(ts), max(ts), sum(n) FILTER (WHERE kind = 'conns' AND server_ip IS NULL) FROM rollup_hist")
	require.Equal(t, 0, code, stderr)
	require.Equal(t, []string{"2014-01-14T00:00:00Z", "2014-01-14T00:00:00Z", "13"}, tsvRows(t, out)[1])
}

// TestRangeBounds: a bound finer than DuckDB's µs keeps exactly the rows
// of [from, to). 17:04:05.026096 is when an ADU of run1 starts (its
// first_ns in adu2parquet --format jsonl); 50 ADUs start from 17:04:00
// until then, 6 from then until 17:04:10.
func TestRangeBounds(t *testing.T) {
	for _, tc := range []struct {
		from, to, want string
	}{
		{"2014-01-14T17:04:05.026096Z", "2014-01-14T17:04:10Z", "6"},
		{"2014-01-14T17:04:05.0260955Z", "2014-01-14T17:04:10Z", "6"},
		{"2014-01-14T17:04:05.0260961Z", "2014-01-14T17:04:10Z", "5"},
		{"2014-01-14T17:04:00Z", "2014-01-14T17:04:05.026096Z", "50"},
		{"2014-01-14T17:04:00Z", "2014-01-14T17:04:05.0260961Z", "51"},
	} {
		code, out, stderr := runCmd(t, "--archive", testArchive, "--format", "tsv", "--from", tc.from, "--to", tc.to,
			"sql", "SELECT count(*) FROM adus")
		require.Equal(t, 0, code, stderr)
		require.Equal(t, tc.want, tsvRows(t, out)[1][0], "%s to %s", tc.from, tc.to)
	}
}

// TestRangeInScan: the range reaches DuckDB's Parquet scan as a filter on
// ts, which is what lets it skip row groups by their ts statistics (the
// canned queries' speed on a sub-range rests on it). The range cuts the
// hour's adus and connections files (their rows start at 17:04:01); DuckDB
// drops the filter where the statistics say every row passes, and reads
// nothing where they say none does.
func TestRangeInScan(t *testing.T) {
	for _, view := range []string{"adus", "connections"} {
		code, out, stderr := runCmd(t, "--archive", testArchive, "--from", "2014-01-14T17:04:05Z", "--to", "2014-01-14T18:00:00Z",
			"sql", "--explain", "SELECT * FROM "+view)
		require.Equal(t, 0, code, stderr)
		flat := strings.NewReplacer("│", "", " ", "", "\n", "").Replace(out)
		scan := strings.Index(flat, "READ_PARQUET")
		require.GreaterOrEqual(t, scan, 0, out)
		require.Contains(t, flat[scan:], "ts>='2014-01-1417:04:05'::TIMESTAMPANDts<'2014-01-1418:00:00'::TIMESTAMP", out)
	}
	code, out, stderr := runCmd(t, "--archive", testArchive, "--from", "2014-01-14T17:04:05Z", "--to", "2014-01-14T18:00:00Z",
		"sql", "--explain", "SELECT * FROM runs")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "EMPTY_RESULT", "the run began at 17:04:01.819644")
}
