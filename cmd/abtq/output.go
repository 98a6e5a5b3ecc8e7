package main

import (
	"database/sql"
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// writeRows writes a result set in the given format: table, tsv, csv or
// json (each value as value.go says).
func writeRows(w io.Writer, format string, rows *sql.Rows) error {
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	types, err := columnTypes(rows)
	if err != nil {
		return err
	}
	out := newRowWriter(w, format, cols, types)
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		if err := out.row(vals); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return out.close()
}

// newRowWriter returns the writer of format (table, tsv, csv or json) for
// columns cols of types types.
func newRowWriter(w io.Writer, format string, cols []string, types []*colType) rowWriter {
	switch format {
	case "json":
		return newJSONWriter(w, cols, types)
	case "csv":
		return newCSVWriter(w, cols, types)
	case "table":
		return newTableWriter(w, cols, types)
	}
	return newTSVWriter(w, cols, types)
}

// columnTypes returns the types of the result's columns.
func columnTypes(rows *sql.Rows) ([]*colType, error) {
	cts, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	types := make([]*colType, len(cts))
	for i, ct := range cts {
		t, err := parseType(ct.DatabaseTypeName())
		if err != nil {
			t = unknownType // printed by its Go type
		}
		types[i] = t
	}
	return types, nil
}

// rowWriter writes rows of one format; close flushes what it holds.
type rowWriter interface {
	row(vals []any) error
	close() error
}

// tsvWriter writes tab-separated values: a header line, then a line per
// row. A tab, newline or carriage return in a value (there is none in a
// nested value's JSON) is written as \t, \n or \r: a field holds no tab
// and a line ends only at its row's end.
type tsvWriter struct {
	w     io.Writer
	types []*colType
	line  []string
	err   error // the header's
}

func newTSVWriter(w io.Writer, cols []string, types []*colType) *tsvWriter {
	t := &tsvWriter{w: w, types: types, line: make([]string, len(cols))}
	for i, c := range cols {
		t.line[i] = escapeControls(c)
	}
	t.err = t.writeLine()
	return t
}

func (t *tsvWriter) writeLine() error {
	_, err := io.WriteString(t.w, strings.Join(t.line, "\t")+"\n")
	return err
}

func (t *tsvWriter) row(vals []any) error {
	if t.err != nil {
		return t.err
	}
	for i, v := range vals {
		t.line[i] = escapeControls(textFormat.text(v, t.types[i]))
	}
	return t.writeLine()
}

func (t *tsvWriter) close() error { return t.err }

// escapeControls writes tabs, newlines and carriage returns as \t, \n
// and \r.
var escapeControls = strings.NewReplacer("\t", `\t`, "\n", `\n`, "\r", `\r`).Replace

// csvWriter writes RFC 4180 CSV: a header record, then a record per row;
// values that need it are quoted.
type csvWriter struct {
	w     *csv.Writer
	types []*colType
	rec   []string
}

func newCSVWriter(w io.Writer, cols []string, types []*colType) *csvWriter {
	c := &csvWriter{w: csv.NewWriter(w), types: types, rec: make([]string, len(cols))}
	_ = c.w.Write(cols) // an error sticks: close reports it
	return c
}

func (c *csvWriter) row(vals []any) error {
	for i, v := range vals {
		c.rec[i] = textFormat.text(v, c.types[i])
	}
	return c.w.Write(c.rec)
}

func (c *csvWriter) close() error {
	c.w.Flush()
	return c.w.Error()
}

// jsonWriter writes JSON Lines: an object per row, its keys the column
// names in order (a repeated name gets a suffix, _1, _2, ..., as DuckDB
// gives one in a subquery).
type jsonWriter struct {
	w     io.Writer
	keys  [][]byte
	types []*colType
	buf   []byte
}

func newJSONWriter(w io.Writer, cols []string, types []*colType) *jsonWriter {
	j := &jsonWriter{w: w, types: types}
	seen := map[string]bool{}
	for _, c := range cols {
		name := c
		for n := 1; seen[name]; n++ {
			name = fmt.Sprintf("%s_%d", c, n)
		}
		seen[name] = true
		j.keys = append(j.keys, appendJSONString(nil, name))
	}
	return j
}

func (j *jsonWriter) row(vals []any) error {
	b := append(j.buf[:0], '{')
	for i, v := range vals {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, j.keys[i]...)
		b = append(b, ':')
		b = jsonFormat.appendJSON(b, v, j.types[i])
	}
	b = append(b, '}', '\n')
	j.buf = b
	_, err := j.w.Write(b)
	return err
}

func (j *jsonWriter) close() error { return nil }

// tableWriter writes an aligned table for a terminal: the values of the
// text formats (controls escaped as in TSV), columns two spaces apart,
// numbers right-aligned, no trailing blanks. It holds the rows until
// close, to know the widths.
type tableWriter struct {
	w     io.Writer
	types []*colType
	right []bool
	cells [][]string
}

func newTableWriter(w io.Writer, cols []string, types []*colType) *tableWriter {
	t := &tableWriter{w: w, types: types, right: make([]bool, len(cols))}
	head := make([]string, len(cols))
	for i, c := range cols {
		head[i] = escapeControls(c)
		t.right[i] = types[i].kind.numeric()
	}
	t.cells = append(t.cells, head)
	return t
}

func (t *tableWriter) row(vals []any) error {
	r := make([]string, len(vals))
	for i, v := range vals {
		r[i] = escapeControls(textFormat.text(v, t.types[i]))
	}
	t.cells = append(t.cells, r)
	return nil
}

func (t *tableWriter) close() error {
	width := make([]int, len(t.right))
	for _, r := range t.cells {
		for i, c := range r {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	var b strings.Builder
	for _, r := range t.cells {
		b.Reset()
		for i, c := range r {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			if i > 0 {
				b.WriteString("  ")
			}
			switch {
			case t.right[i]:
				b.WriteString(pad + c)
			case i < len(r)-1:
				b.WriteString(c + pad)
			default:
				b.WriteString(c)
			}
		}
		if _, err := io.WriteString(t.w, strings.TrimRight(b.String(), " ")+"\n"); err != nil {
			return err
		}
	}
	return nil
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
