package export

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/abt-dev/abt/schema"
)

// csvTable writes one table as <table>.csv.gz: a header line of the
// table's columns (schema.Columns), then a record per row. Times are UTC,
// RFC 3339 with µs; a null is an empty field; a list or struct (the runs'
// inputs, say) is JSON, its times as text too.
type csvTable struct {
	name string // relative to the data set
	out  *gzFile
	w    *csv.Writer
	cols []schema.Column
	rec  []string
}

// csvFile is the name of a table's CSV file.
func csvFile(table string) string { return table + ".csv.gz" }

func newCSVTable(dir, table string) (*csvTable, error) {
	cols, err := schema.Columns(table)
	if err != nil {
		return nil, err
	}
	out, err := createGz(dir, csvFile(table))
	if err != nil {
		return nil, err
	}
	t := &csvTable{name: csvFile(table), out: out, cols: cols, rec: make([]string, len(cols))}
	t.w = csv.NewWriter(out)
	for i, c := range cols {
		t.rec[i] = c.Name
	}
	if err := t.w.Write(t.rec); err != nil {
		return nil, t.fail(err)
	}
	return t, nil
}

func (t *csvTable) fail(err error) error {
	t.out.abort()
	return fmt.Errorf("export: %s: %w", t.name, err)
}

// write writes rows, a slice of the table's row type.
func (t *csvTable) write(rows any) error {
	v := reflect.ValueOf(rows)
	for i := range v.Len() {
		row := v.Index(i)
		j := 0
		for k := range row.NumField() {
			if tag, ok := row.Type().Field(k).Tag.Lookup("parquet"); !ok || tag == "-" {
				continue
			}
			t.rec[j] = csvValue(row.Field(k), t.cols[j].Type)
			j++
		}
		if err := t.w.Write(t.rec); err != nil {
			return t.fail(err)
		}
	}
	return nil
}

// close flushes and syncs the file and returns its size.
func (t *csvTable) close() (int64, error) {
	t.w.Flush()
	if err := t.w.Error(); err != nil {
		return 0, t.fail(err)
	}
	return t.out.close()
}

// usText is a µs timestamp as CSV and JSON write it.
func usText(us int64) string {
	return time.UnixMicro(us).UTC().Format("2006-01-02T15:04:05.000000Z")
}

// csvValue is the field's text.
func csvValue(v reflect.Value, t schema.Type) string {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return ""
		}
		v = v.Elem()
	}
	switch t.Kind {
	case "timestamp":
		return usText(v.Int())
	case "bigint", "int":
		return strconv.FormatInt(v.Int(), 10)
	case "boolean":
		return strconv.FormatBool(v.Bool())
	case "string":
		return v.String()
	}
	b, err := json.Marshal(jsonValue(v, t))
	if err != nil {
		panic(err) // strings, numbers, booleans, lists and maps of them
	}
	return string(b)
}

// jsonValue is a nested field as JSON values, its times as text.
func jsonValue(v reflect.Value, t schema.Type) any {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	switch t.Kind {
	case "array":
		out := make([]any, v.Len())
		for i := range out {
			out[i] = jsonValue(v.Index(i), *t.Elem)
		}
		return out
	case "struct":
		out := map[string]any{}
		j := 0
		for k := range v.NumField() {
			if tag, ok := v.Type().Field(k).Tag.Lookup("parquet"); !ok || tag == "-" {
				continue
			}
			out[t.Fields[j].Name] = jsonValue(v.Field(k), t.Fields[j].Type)
			j++
		}
		return out
	case "timestamp":
		return usText(v.Int())
	case "bigint", "int":
		return v.Int()
	case "boolean":
		return v.Bool()
	}
	return strings.Clone(v.String())
}
