package query

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/abt-dev/abt/internal/catalog"
	"github.com/abt-dev/abt/internal/duckbox"
	"github.com/abt-dev/abt/internal/rollup"
	"github.com/abt-dev/abt/queries"
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

// views defines the archive's views over the selected files (their pinned
// links), leaving out the rows of hidden runs (replaced runs whose rows a
// merged file still holds; see package catalog) and the rows whose ts is
// outside r. A table with no file in the range gets no view (queries on it
// fail with ErrEmptyRange); the derived views need their base tables.
//
// The views are queries/archive/views.sql, which any DuckDB client can run
// (over files.sql's relations): here they read abt_adus_files,
// abt_connections_files and abt_runs_files, the pinned files, and the
// macro abt_in_range is the range, a condition on ts with the bounds as
// literals: DuckDB pushes it into the Parquet scan and skips the row
// groups whose ts statistics lie outside it, as it did when the canned
// queries bound it as parameters; and ad-hoc SQL gets the same rows as the
// canned queries. There is no unfiltered view: the files read are those of
// the hours the range touches, so the rows beyond its ends would be a
// partial hour, not a table.
func views(files map[string][]string, hidden []string, r Range) []view {
	var out []view
	have := map[string]bool{}
	for _, table := range schema.Tables {
		if len(files[table]) == 0 {
			continue
		}
		opts := ""
		if table == schema.TableRuns {
			// Columns added to the runs table after its schema froze
			// (hours) are missing from the files written before: read
			// them as null. (Its files are one small row each.)
			opts = ", union_by_name = true"
		}
		read := fmt.Sprintf("read_parquet(%s, hive_partitioning = true, hive_types = {'date': DATE, 'hour': INTEGER}%s)",
			duckbox.LiteralList(files[table]), opts)
		if len(hidden) > 0 {
			read += " WHERE run_id NOT IN (SELECT unnest(" + duckbox.LiteralList(hidden) + "))"
		}
		name := "abt_" + table + "_files"
		have[name] = true
		out = append(out, view{name, "CREATE VIEW " + name + " AS SELECT * FROM " + read})
	}
	cond := tsFilter(r)
	if cond == "" {
		cond = "true"
	}
	out = append(out, view{"abt_in_range", "CREATE MACRO abt_in_range(ts) AS " + cond})
	for _, stmt := range ViewStatements(slices.Collect(maps.Keys(have))...) {
		out = append(out, view{viewName(stmt), stmt})
	}
	return out
}

// ViewStatements returns the statements of queries/archive/views.sql whose
// relations are among have (the base relations abt_adus_files,
// abt_connections_files, abt_runs_files that exist) or are views defined
// before them from those: the views a table's files allow. The caller
// defines have and the macro abt_in_range first.
func ViewStatements(have ...string) []string {
	ok := map[string]bool{}
	for _, h := range have {
		ok[h] = true
	}
	var out []string
	for _, stmt := range archiveViews {
		if !slices.ContainsFunc(relationsIn(stmt), func(r string) bool { return !ok[r] }) {
			ok[viewName(stmt)] = true
			out = append(out, stmt)
		}
	}
	return out
}

// archiveViews are the statements of queries/archive/views.sql.
var archiveViews = queries.MustStatements("views")

// runsFrom is where the runs view reads the runs files' rows in the range.
var runsFrom = regexp.MustCompile(`FROM abt_runs_all\s+WHERE abt_in_range\(ts\)`)

// RunsSQL is the query of the runs view (queries/archive/views.sql) over
// from, a relation with the runs table's columns, all of its rows.
func RunsSQL(from string) string {
	for _, v := range archiveViews {
		if viewName(v) == "runs" {
			body := strings.TrimSpace(viewNameRE.ReplaceAllString(v, ""))
			if loc := runsFrom.FindStringIndex(body); loc != nil {
				return body[:loc[0]] + "FROM " + from + body[loc[1]:]
			}
		}
	}
	panic("queries/archive/views.sql: no runs view reading abt_runs_all in range")
}

var (
	viewNameRE = regexp.MustCompile(`(?m)^CREATE OR REPLACE VIEW (\w+) AS`)
	relationRE = regexp.MustCompile(`\bFROM\s+(\w+)`)
	joinRE     = regexp.MustCompile(`\bJOIN\s+(\w+)`)
	localRE    = regexp.MustCompile(`\b(?:WITH|,)\s+(\w+)\s+AS\s*\(`)
)

// viewName is the name of the view stmt creates.
func viewName(stmt string) string {
	if m := viewNameRE.FindStringSubmatch(stmt); m != nil {
		return m[1]
	}
	return ""
}

// relationsIn lists the relations stmt reads (after FROM or JOIN), but the
// ones it defines itself (WITH name AS) and table functions.
func relationsIn(stmt string) []string {
	local := map[string]bool{}
	for _, m := range localRE.FindAllStringSubmatch(stmt, -1) {
		local[m[1]] = true
	}
	var out []string
	for _, re := range []*regexp.Regexp{relationRE, joinRE} {
		for _, m := range re.FindAllStringSubmatch(stmt, -1) {
			if !local[m[1]] {
				out = append(out, m[1])
			}
		}
	}
	return out
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
