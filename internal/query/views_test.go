package query

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2" // the driver, for the runs view's SQL
	"github.com/stretchr/testify/require"
)

func TestTSFilter(t *testing.T) {
	at := func(s string) time.Time {
		tt, err := time.Parse(time.RFC3339Nano, s)
		require.NoError(t, err)
		return tt
	}
	tests := []struct {
		name string
		r    Range
		want string
	}{
		{"unbounded", Range{}, ""},
		{"from", Range{From: at("2014-01-14T17:04:05Z")}, "ts >= TIMESTAMP '2014-01-14 17:04:05.000000'"},
		{"to", Range{To: at("2014-01-14T18:00:00Z")}, "ts < TIMESTAMP '2014-01-14 18:00:00.000000'"},
		// ts is whole µs: ts >= 05.0000001 keeps what ts >= 05.000001 keeps,
		// and ts < 10.0000001 what ts < 10.000001 keeps.
		{"ns rounded up", Range{From: at("2014-01-14T17:04:05.0000001Z"), To: at("2014-01-14T17:04:10.0000001Z")},
			"ts >= TIMESTAMP '2014-01-14 17:04:05.000001' AND ts < TIMESTAMP '2014-01-14 17:04:10.000001'"},
		{"other zone", Range{From: at("2014-01-14T18:04:05+01:00")}, "ts >= TIMESTAMP '2014-01-14 17:04:05.000000'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, tsFilter(tc.r))
		})
	}
}

// run is a row of the runs table, as much of it as the runs view reads.
type run struct {
	sensor, id  string
	first, last string // "" for NULL (a run that read no TCP segment)
}

// TestRunsCollections: the collection and the outage before each run, on
// hand-made run logs whose answers are worked out in the comments.
func TestRunsCollections(t *testing.T) {
	db, err := sql.Open("duckdb", "")
	require.NoError(t, err)
	defer db.Close()
	tests := []struct {
		name string
		runs []run
		want []string // per run in the order given: "collection outage_s"
	}{
		{"one after another",
			// b begins 30 min after a ends, c 1 h after b ends.
			[]run{{"s", "a", "10:00", "11:00"}, {"s", "b", "11:30", "12:00"}, {"s", "c", "13:00", "13:10"}},
			[]string{"1 NULL", "1 1800", "1 3600"}},
		{"touching",
			// b begins at a's last packet: consecutive, no outage.
			[]run{{"s", "a", "10:00", "11:00"}, {"s", "b", "11:00", "12:00"}},
			[]string{"1 NULL", "1 0"}},
		{"made out of order",
			// c fills the gap between a and b (a late conversion, or a
			// replacement of a run that failed): packet time decides.
			[]run{{"s", "a", "10:00", "11:00"}, {"s", "b", "12:00", "13:00"}, {"s", "c", "11:10", "11:50"}},
			[]string{"1 NULL", "1 600", "1 600"}},
		{"overlap",
			// b begins before a ends: a new collection, no outage (never
			// negative); c begins after every earlier run ended (b at
			// 12:30), 30 min later, and continues b's collection.
			[]run{{"s", "a", "10:00", "11:00"}, {"s", "b", "10:59", "12:30"}, {"s", "c", "13:00", "13:05"}},
			[]string{"1 NULL", "2 NULL", "2 1800"}},
		{"a capture spanning the others",
			// The committed archive's case: a's packets span years (the
			// SMTP capture, 2009 and 2015); b and c lie within it.
			[]run{{"s", "a", "2009-10-05 06:06", "2015-07-25 13:43"}, {"s", "b", "2013-05-02 20:20", "2013-05-02 20:21"},
				{"s", "c", "2014-01-14 17:04", "2014-01-14 17:05"}},
			[]string{"1 NULL", "2 NULL", "3 NULL"}},
		{"sensors apart, a run without packets",
			// Each sensor has its own collections; n read no TCP segment
			// and belongs to none, leaving b consecutive to a.
			[]run{{"s", "a", "10:00", "11:00"}, {"t", "x", "10:30", "11:30"}, {"s", "n", "", ""}, {"s", "b", "11:05", "11:10"}},
			[]string{"1 NULL", "1 NULL", "NULL NULL", "1 300"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := collections(t, db, tc.runs)
			require.Equal(t, tc.want, got)
		})
	}
}

// collections runs the runs view over runs and returns "collection outage_s"
// for each, in the order given.
func collections(t *testing.T, db *sql.DB, runs []run) []string {
	t.Helper()
	ts := func(s string) string {
		switch {
		case s == "":
			return "NULL::TIMESTAMP"
		case len(s) == len("10:00"):
			return "TIMESTAMP '2020-01-01 " + s + ":00'"
		}
		return "TIMESTAMP '" + s + ":00'"
	}
	var vals []string
	for i, r := range runs {
		vals = append(vals, fmt.Sprintf("(%d, '%s', '%s', %s, %s, coalesce(%s, TIMESTAMP '2020-01-01'))",
			i, r.sensor, r.id, ts(r.first), ts(r.last), ts(r.first)))
	}
	from := "(SELECT * FROM (VALUES " + strings.Join(vals, ", ") + ") AS v(i, sensor, run_id, first_packet, last_packet, ts))"
	ctx := t.Context()
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	// The runs view of queries/archive/views.sql, over these rows.
	stmts := []string{"CREATE OR REPLACE VIEW abt_runs_files AS SELECT * FROM " + from,
		"CREATE OR REPLACE MACRO abt_in_range(ts) AS true"}
	for _, v := range archiveViews {
		if name := viewName(v); name == "abt_runs_all" || name == "runs" {
			stmts = append(stmts, v)
		}
	}
	require.Len(t, stmts, 4)
	for _, st := range stmts {
		_, err = conn.ExecContext(ctx, st)
		require.NoError(t, err)
	}
	rows, err := conn.QueryContext(ctx, "SELECT coalesce(collection::VARCHAR, 'NULL') || ' ' || coalesce(outage_s::DOUBLE::VARCHAR, 'NULL') FROM runs ORDER BY i")
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		out = append(out, strings.ReplaceAll(s, ".0", ""))
	}
	require.NoError(t, rows.Err())
	return out
}

// TestRunsSQL: the runs view's query over another relation reads it and
// nothing of the archive's.
func TestRunsSQL(t *testing.T) {
	q := RunsSQL("(SELECT 1)")
	require.Contains(t, q, "FROM (SELECT 1)")
	require.NotContains(t, q, "abt_")
	require.Contains(t, q, "SELECT * EXCLUDE (prior_end)")
}
