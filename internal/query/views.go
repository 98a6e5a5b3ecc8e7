package query

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"github.com/abt-dev/abt/internal/catalog"
	"github.com/abt-dev/abt/internal/duckbox"
	"github.com/abt-dev/abt/internal/rollup"
	"github.com/abt-dev/abt/schema"
)

// Range selects rows by their ts column: [From, To) in UTC; a zero From or
// To is unbounded. Only the files of the hours the range touches are read,
// and every view keeps only the rows whose ts lies in it. Sensor, when set,
// selects one monitor.
type Range struct {
	From, To time.Time
	Sensor   string
}

type view struct{ name, sql string }

// runsAddedColumns are the columns added to the runs table after its
// schema froze (schema.Run), typed, for the runs view over files written
// before them.
const runsAddedColumns = "NULL::STRUCT(hour TIMESTAMP, packets BIGINT, drops BIGINT, interface_drops BIGINT)[] AS hours"

// views defines the archive's views over the selected files (their pinned
// links), leaving out the rows of hidden runs (replaced runs whose rows a
// merged file still holds; see package catalog) and the rows whose ts is
// outside r. A table with no file in the range gets no view (queries on it
// fail with ErrEmptyRange); the derived views need their base tables.
//
// The range is a condition on ts in each view, with the bounds as
// literals: DuckDB pushes it into the Parquet scan and skips the row groups
// whose ts statistics lie outside it, as it did when the canned queries
// bound it as parameters; and ad-hoc SQL gets the same rows as the canned
// queries. There is no unfiltered view: the files read are those of the
// hours the range touches, so the rows beyond its ends would be a partial
// hour, not a table.
func views(files map[string][]string, hidden []string, r Range) []view {
	src := func(table string) string {
		opts := ""
		if table == schema.TableRuns {
			// Columns added to the runs table after its schema froze
			// (hours) are missing from the files written before: read
			// them as null. (Its files are one small row each.)
			opts = ", union_by_name = true"
		}
		read := fmt.Sprintf("read_parquet(%s, hive_partitioning = true, hive_types = {'date': DATE, 'hour': INTEGER}%s)", duckbox.LiteralList(files[table]), opts)
		if table == schema.TableRuns {
			// and when no file has them, the view still has them, null.
			read = "(SELECT * FROM " + read + " UNION ALL BY NAME SELECT " + runsAddedColumns + " WHERE false)"
		}
		if len(hidden) == 0 {
			return read
		}
		return "(SELECT * FROM " + read + " WHERE run_id NOT IN (SELECT unnest(" + duckbox.LiteralList(hidden) + ")))"
	}
	where := ""
	if f := tsFilter(r); f != "" {
		where = "\nWHERE " + f
	}
	var out []view
	if len(files["adus"]) > 0 {
		out = append(out, view{"adus", `CREATE VIEW adus AS
SELECT *,
  CASE WHEN duration_us IS NOT NULL THEN ts END AS start_time,
  CASE WHEN duration_us IS NOT NULL THEN ts + to_microseconds(duration_us)
       WHEN think_us IS NOT NULL THEN ts + to_microseconds(decided_lag_us) END AS end_time,
  ts + to_microseconds(coalesce(duration_us, 0) + coalesce(think_us, 0) + decided_lag_us) AS decided_time
FROM ` + src("adus") + where})
		// One row per response time measured: a request of a sequential
		// connection whose think time the server's data ended (the rows the
		// response-time queries count), with the response that ended it.
		// The request is in the range; its response is looked up in every
		// file read, since it may begin after the range ends (and is NULL
		// when it lies in an hour after the range's last).
		// (The response side is a CTE: in the join itself DuckDB would
		// bind read_parquet's hive_types DATE to the request's column date.)
		out = append(out, view{"response_times", `CREATE VIEW response_times AS
WITH response AS (SELECT * FROM ` + src("adus") + `)
SELECT q.sensor, q.run_id, q.conn_id, q.server_ip, q.server_port, q.client_ip, q.client_port,
  q.ordinal, q.ts AS request_time, q.size AS request_bytes, q.think_us AS response_time_us,
  r.size AS response_bytes, r.think_us AS client_think_us
FROM adus q LEFT JOIN response r
  -- The server is the connection's; saying so lets a server filter prune
  -- both sides of the join.
  ON r.sensor = q.sensor AND r.run_id = q.run_id AND r.conn_id = q.conn_id AND r.ordinal = q.ordinal + 1
  AND r.server_ip = q.server_ip AND r.server_port = q.server_port AND r.direction = 's2c'
WHERE q.direction = 'c2s' AND q.think_to_peer AND NOT q.concurrent AND q.think_us IS NOT NULL`})
		// Each connection's ADUs in the range, in order: its a-b-t connection
		// vector (a connection that crosses an end of the range has only
		// the ADUs inside it).
		out = append(out, view{"vectors", `CREATE VIEW vectors AS
SELECT sensor, run_id, conn_id, server_ip, server_port, client_ip, client_port, min(ts) AS ts,
  bool_or(concurrent) AS concurrent,
  list(struct_pack(ordinal, direction, size, think_us) ORDER BY ordinal) AS adus
FROM adus GROUP BY sensor, run_id, conn_id, server_ip, server_port, client_ip, client_port`})
	}
	if len(files["connections"]) > 0 {
		out = append(out, view{"connections", `CREATE VIEW connections AS
SELECT *,
  ts + to_microseconds(syn_us) AS syn_time,
  ts + to_microseconds(established_us) AS established_time,
  ts + to_microseconds(last_us) AS last_time,
  ts + to_microseconds(end_us) AS end_time,
  ` + seconds("end_us") + ` AS duration_s
FROM ` + src("connections") + where})
	}
	if len(files["runs"]) > 0 {
		out = append(out, view{"runs", runsView(src("runs") + where)})
	}
	return out
}

// runsView defines the runs view over from (a relation with the runs
// table's columns, filtered), with each run's collection, duration and the
// outage before it.
//
// A collection is a series of one sensor's runs that follow each other in
// packet time: in the order of their first packets, a run continues the
// collection of the run before it when it begins at or after the last
// packet of every earlier run, and the time between is an outage (zero
// when it begins at that very packet). A run that begins before an earlier
// run ended (one that overlaps it, such as a capture converted into the
// sensor's archive whose packets span the others') begins a new collection
// and has no outage: an outage is never negative. Runs that read no TCP
// segment (no first packet) belong to no collection. Collections are
// numbered per sensor from 1, over the runs in the range.
func runsView(from string) string {
	return "CREATE VIEW runs AS\n" + RunsSQL(from)
}

// RunsSQL is the query of the runs view (see runsView) over from, a
// relation with the runs table's columns.
func RunsSQL(from string) string {
	return `SELECT * EXCLUDE (prior_end),
  CASE WHEN first_packet IS NOT NULL THEN
    sum(CASE WHEN first_packet >= prior_end THEN 0 ELSE 1 END) OVER (
      PARTITION BY sensor, first_packet IS NULL ORDER BY first_packet, last_packet, run_id
      ROWS UNBOUNDED PRECEDING)::INTEGER END AS collection,
  ` + seconds("epoch_us(last_packet) - epoch_us(first_packet)") + ` AS duration_s,
  CASE WHEN first_packet >= prior_end THEN ` + seconds("epoch_us(first_packet) - epoch_us(prior_end)") + ` END AS outage_s
FROM (
  SELECT *,
    -- the end of the sensor's packet time so far: the last packet of every
    -- run that began before this one
    max(last_packet) OVER (
      PARTITION BY sensor, first_packet IS NULL ORDER BY first_packet, last_packet, run_id
      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prior_end
  FROM ` + from + `
)`
}

// seconds converts µs (a BIGINT expression) to seconds as DECIMAL(18,6):
// exact, so that they print as the µs they are. (Through a DOUBLE: exact
// for the ±2^53 µs, 285 years, a timestamp difference can be.)
func seconds(us string) string {
	return "((" + us + ") / 1e6)::DECIMAL(18,6)"
}

// tsFilter returns the condition that keeps the rows of r by their ts
// column, "" when r is unbounded. DuckDB's timestamps are whole µs: a bound
// with a finer part is rounded up, which keeps exactly the rows of [From,
// To).
func tsFilter(r Range) string {
	var c []string
	if !r.From.IsZero() {
		c = append(c, "ts >= "+timestampLiteral(r.From))
	}
	if !r.To.IsZero() {
		c = append(c, "ts < "+timestampLiteral(r.To))
	}
	return strings.Join(c, " AND ")
}

// timestampLiteral returns t, rounded up to the µs, as a DuckDB TIMESTAMP
// literal (UTC).
func timestampLiteral(t time.Time) string {
	t = t.UTC()
	if r := t.Truncate(time.Microsecond); !r.Equal(t) {
		t = r.Add(time.Microsecond)
	}
	return "TIMESTAMP '" + t.Format("2006-01-02 15:04:05.000000") + "'"
}

// dayAligned reports whether the range is made of whole UTC days, which a
// day's rollup can answer.
func dayAligned(r Range) bool {
	midnight := func(t time.Time) bool { return t.IsZero() || t.Equal(t.UTC().Truncate(24*time.Hour)) }
	return midnight(r.From) && midnight(r.To)
}

// rollupView defines rollup_hist over the days of the pinned adus and
// connections files: each day's rollup when it is current (pinned too),
// else the same rows computed from the day's files; only the days in r
// (whole days, see dayAligned: the files are those of its days already).
func rollupView(root string, p *catalog.Pinned, r Range) (view, RollupStats, error) {
	var (
		st      RollupStats
		current []string
		raw     []catalog.File
	)
	byDay, days := rollup.DayFiles(p.Snapshot)
	hidden := p.Hidden()
	for _, d := range days {
		st.Days++
		path := rollup.Path(root, d.Sensor, d.Date)
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return view{}, st, fmt.Errorf("rollup %s: %w", d, err)
		}
		link, f, err := p.Add(path, rel)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return view{}, st, fmt.Errorf("rollup %s: %w", d, err)
		case rollup.Current(f, rollup.Fingerprint(byDay[d], hidden)):
			st.Current++
			current = append(current, link)
			continue
		}
		raw = append(raw, byDay[d]...)
	}
	var sel []string
	if len(current) > 0 {
		sel = append(sel, "SELECT ts, server_ip, server_port, kind, bin, n FROM read_parquet("+duckbox.LiteralList(current)+", hive_partitioning = false)")
	}
	if len(raw) > 0 {
		aduSrc, connSrc, err := rollup.SourceSQL(p, raw)
		if err != nil {
			return view{}, st, err
		}
		sel = append(sel, "SELECT ts, server_ip, server_port, kind, bin, n FROM ("+rollup.HistSQL(aduSrc, connSrc)+")")
	}
	body := strings.Join(sel, "\nUNION ALL\n")
	if f := tsFilter(r); f != "" {
		body = "SELECT * FROM (\n" + body + "\n)\nWHERE " + f
	}
	return view{"rollup_hist", "CREATE VIEW rollup_hist AS\n" + body}, st, nil
}
