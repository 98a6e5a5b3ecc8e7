package main

import (
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/duckdb/duckdb-go/v2"
)

// writeRows writes a result set in the given format.
func writeRows(w io.Writer, format string, rows *sql.Rows) error {
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var emit func([]string, []any) error
	var done func() error
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		emit = func(_ []string, v []any) error {
			m := make(map[string]any, len(cols))
			for i, c := range cols {
				m[c] = jsonValue(v[i])
			}
			return enc.Encode(m)
		}
		done = func() error { return nil }
	case "csv":
		cw := csv.NewWriter(w)
		if err := cw.Write(cols); err != nil {
			return err
		}
		emit = func(s []string, _ []any) error { return cw.Write(s) }
		done = func() error { cw.Flush(); return cw.Error() }
	case "table":
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(cols, "\t"))
		emit = func(s []string, _ []any) error { _, err := fmt.Fprintln(tw, strings.Join(s, "\t")); return err }
		done = tw.Flush
	default: // tsv
		if _, err := fmt.Fprintln(w, strings.Join(cols, "\t")); err != nil {
			return err
		}
		emit = func(s []string, _ []any) error { _, err := fmt.Fprintln(w, strings.Join(s, "\t")); return err }
		done = func() error { return nil }
	}
	strs := make([]string, len(cols))
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		for i, v := range vals {
			strs[i] = text(v)
		}
		if err := emit(strs, vals); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return done()
}

// writePlan writes the plans of an EXPLAIN result (its last column, box
// drawings over several lines) as they are.
func writePlan(w io.Writer, rows *sql.Rows) error {
	cols, err := rows.Columns()
	if err != nil || len(cols) == 0 {
		return err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		if _, err := fmt.Fprintln(w, strings.TrimRight(text(vals[len(vals)-1]), "\n")); err != nil {
			return err
		}
	}
	return rows.Err()
}

// text formats a value: times as RFC 3339 (UTC), NULL as empty.
func text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case time.Time:
		return x.UTC().Format("2006-01-02T15:04:05.999999Z07:00")
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case []byte:
		return string(x)
	case string:
		return x
	case duckdb.Interval:
		return intervalText(x)
	}
	return fmt.Sprint(v)
}

// intervalText formats a DuckDB interval as a Go duration (with days and
// months spelled out when present).
func intervalText(iv duckdb.Interval) string {
	d := time.Duration(iv.Micros) * time.Microsecond
	var b strings.Builder
	if iv.Months != 0 {
		fmt.Fprintf(&b, "%dmo", iv.Months)
	}
	if iv.Days != 0 {
		fmt.Fprintf(&b, "%dd", iv.Days)
	}
	if d != 0 || b.Len() == 0 {
		b.WriteString(d.String())
	}
	return b.String()
}

func jsonValue(v any) any {
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case time.Duration:
		return x.String()
	case duckdb.Interval:
		return intervalText(x)
	}
	return v
}
