package schema

import (
	"fmt"
	"reflect"
	"strings"
)

// Engine names a query engine whose table definitions DDL writes: engines
// that need the archive's tables declared before they read them.
type Engine string

// The engines DDL knows.
const (
	// Trino is Trino (or Presto) with its Hive connector.
	Trino Engine = "trino"
	// Spark is Spark SQL (3.4 or later, for TIMESTAMP_NTZ).
	Spark Engine = "spark"
	// Hive is Hive (3 or later) and engines that read its metastore.
	Hive Engine = "hive"
)

// Engines lists the engines DDL knows, in a fixed order.
var Engines = []Engine{Trino, Spark, Hive}

// rowTypes are the Go types of the tables' rows: their fields and parquet
// tags are the one source of the columns.
var rowTypes = map[string]reflect.Type{
	TableADUs:        reflect.TypeFor[ADU](),
	TableConnections: reflect.TypeFor[Connection](),
	TableRuns:        reflect.TypeFor[Run](),
}

// Partition columns: the directories' names, last in every table. hour is
// declared an integer (the directories say 00 to 23).
var partitions = []struct{ name, kind string }{{"sensor", "string"}, {"date", "date"}, {"hour", "int"}}

// isPartition reports whether a column is also a partition column.
func isPartition(name string) bool {
	for _, p := range partitions {
		if p.name == name {
			return true
		}
	}
	return false
}

// DDL returns the statement that declares table for engine over the
// table's directory location (the archive's directory and the table's
// name: s3://bucket/archive/adus). The columns are the table's Parquet
// columns, in order, then the partition columns sensor, date and hour (a
// column of the files named as one, the runs table's sensor, is the
// partition's: the engines allow a name once, and the values are the
// same).
func DDL(engine Engine, table, location string) (string, error) {
	t, ok := rowTypes[table]
	if !ok {
		return "", fmt.Errorf("no table %q", table)
	}
	var cols []string
	for _, f := range fields(t) {
		if !isPartition(f.name) { // runs' sensor: the directory says it too
			cols = append(cols, column(engine, f.name, f.typ))
		}
	}
	var parts []string
	for _, p := range partitions {
		parts = append(parts, column(engine, p.name, p.kind))
	}
	lit := "'" + strings.ReplaceAll(location, "'", "''") + "'"
	switch engine {
	case Trino:
		return fmt.Sprintf("CREATE TABLE hive.abt.%s (\n  %s,\n  %s\n)\nWITH (external_location = %s, format = 'PARQUET',\n  partitioned_by = ARRAY['sensor', 'date', 'hour'])",
			table, strings.Join(cols, ",\n  "), strings.Join(parts, ",\n  "), lit), nil
	case Spark:
		return fmt.Sprintf("CREATE TABLE abt.%s (\n  %s,\n  %s\n)\nUSING parquet\nPARTITIONED BY (sensor, date, hour)\nLOCATION %s",
			table, strings.Join(cols, ",\n  "), strings.Join(parts, ",\n  "), lit), nil
	case Hive:
		return fmt.Sprintf("CREATE EXTERNAL TABLE abt.%s (\n  %s\n)\nPARTITIONED BY (%s)\nSTORED AS PARQUET\nLOCATION %s",
			table, strings.Join(cols, ",\n  "), strings.Join(parts, ", "), lit), nil
	}
	return "", fmt.Errorf("no engine %q (trino, spark or hive)", engine)
}

// field is a Parquet column: its name and its type, engine-neutral:
// "bigint", "int", "boolean", "string", "timestamp", "array<T>" or
// "struct<name:T,...>".
type field struct{ name, typ string }

// fields are the Parquet columns of the struct type t.
func fields(t reflect.Type) []field {
	var out []field
	for i := range t.NumField() {
		f := t.Field(i)
		tag, ok := f.Tag.Lookup("parquet")
		if !ok || tag == "-" {
			continue
		}
		opts := strings.Split(tag, ",")
		out = append(out, field{opts[0], neutral(f.Type, opts[1:])})
	}
	return out
}

// neutral is the engine-neutral type of a Go field with parquet options.
func neutral(t reflect.Type, opts []string) string {
	for _, o := range opts {
		if strings.HasPrefix(o, "timestamp") {
			return "timestamp"
		}
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int64:
		return "bigint"
	case reflect.Int32:
		return "int"
	case reflect.Bool:
		return "boolean"
	case reflect.String:
		return "string"
	case reflect.Slice:
		return "array<" + neutral(t.Elem(), nil) + ">"
	case reflect.Struct:
		var members []string
		for _, f := range fields(t) {
			members = append(members, f.name+":"+f.typ)
		}
		return "struct<" + strings.Join(members, ",") + ">"
	}
	panic(fmt.Sprintf("schema: no column type for Go type %s", t))
}

// column declares a column of the engine-neutral type typ for engine.
func column(engine Engine, name, typ string) string {
	if engine == Hive && (name == "date" || name == "hour") {
		name = "`" + name + "`" // reserved in Hive
	}
	return name + " " + typeName(engine, typ)
}

// typeName is the engine's name of an engine-neutral type.
func typeName(engine Engine, typ string) string {
	switch {
	case strings.HasPrefix(typ, "array<"):
		inner := typeName(engine, typ[len("array<"):len(typ)-1])
		if engine == Trino {
			return "array(" + inner + ")"
		}
		return "ARRAY<" + inner + ">"
	case strings.HasPrefix(typ, "struct<"):
		var members []string
		for _, m := range splitTop(typ[len("struct<") : len(typ)-1]) {
			name, t, _ := strings.Cut(m, ":")
			if engine == Trino {
				members = append(members, name+" "+typeName(engine, t))
			} else {
				members = append(members, name+": "+typeName(engine, t))
			}
		}
		if engine == Trino {
			return "row(" + strings.Join(members, ", ") + ")"
		}
		return "STRUCT<" + strings.Join(members, ", ") + ">"
	}
	names := map[Engine]map[string]string{
		Trino: {"bigint": "bigint", "int": "integer", "boolean": "boolean", "string": "varchar", "timestamp": "timestamp(6)", "date": "date"},
		Spark: {"bigint": "BIGINT", "int": "INT", "boolean": "BOOLEAN", "string": "STRING", "timestamp": "TIMESTAMP_NTZ", "date": "DATE"},
		Hive:  {"bigint": "BIGINT", "int": "INT", "boolean": "BOOLEAN", "string": "STRING", "timestamp": "TIMESTAMP", "date": "DATE"},
	}
	return names[engine][typ]
}

// splitTop splits a struct's members at the commas outside brackets.
func splitTop(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case '<':
			depth++
		case '>':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}
