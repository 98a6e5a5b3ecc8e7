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

// Partitions are the partition columns, in order: the directories' names.
func Partitions() []Column {
	var out []Column
	for _, p := range partitions {
		out = append(out, Column{p.name, Type{Kind: p.kind}})
	}
	return out
}

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
		if !isPartition(f.Name) { // runs' sensor: the directory says it too
			cols = append(cols, column(engine, f.Name, f.Type))
		}
	}
	var parts []string
	for _, p := range Partitions() {
		parts = append(parts, column(engine, p.Name, p.Type))
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

// Column is a column of a table's Parquet files.
type Column struct {
	Name string
	Type Type
}

// Type is a column's type, engine-neutral: Kind is "bigint", "int",
// "boolean", "string", "timestamp" (µs, UTC, not marked adjusted: see
// docs/schema.md) or "date"; "array" with Elem; or "struct" with Fields.
type Type struct {
	Kind   string
	Elem   *Type
	Fields []Column
}

// Columns are the Parquet columns of table's files, in order: the one
// schema DDL declares and the portability test checks other engines
// against.
func Columns(table string) ([]Column, error) {
	t, ok := rowTypes[table]
	if !ok {
		return nil, fmt.Errorf("no table %q", table)
	}
	return fields(t), nil
}

// fields are the Parquet columns of the struct type t.
func fields(t reflect.Type) []Column {
	var out []Column
	for i := range t.NumField() {
		f := t.Field(i)
		tag, ok := f.Tag.Lookup("parquet")
		if !ok || tag == "-" {
			continue
		}
		opts := strings.Split(tag, ",")
		out = append(out, Column{opts[0], neutral(f.Type, opts[1:])})
	}
	return out
}

// neutral is the engine-neutral type of a Go field with parquet options.
func neutral(t reflect.Type, opts []string) Type {
	for _, o := range opts {
		if strings.HasPrefix(o, "timestamp") {
			return Type{Kind: "timestamp"}
		}
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int64:
		return Type{Kind: "bigint"}
	case reflect.Int32:
		return Type{Kind: "int"}
	case reflect.Bool:
		return Type{Kind: "boolean"}
	case reflect.String:
		return Type{Kind: "string"}
	case reflect.Slice:
		e := neutral(t.Elem(), nil)
		return Type{Kind: "array", Elem: &e}
	case reflect.Struct:
		return Type{Kind: "struct", Fields: fields(t)}
	}
	panic(fmt.Sprintf("schema: no column type for Go type %s", t))
}

// column declares a column of type typ for engine.
func column(engine Engine, name string, typ Type) string {
	if engine == Hive && (name == "date" || name == "hour") {
		name = "`" + name + "`" // reserved in Hive
	}
	return name + " " + typeName(engine, typ)
}

// typeName is the engine's name of a type.
func typeName(engine Engine, typ Type) string {
	switch typ.Kind {
	case "array":
		inner := typeName(engine, *typ.Elem)
		if engine == Trino {
			return "array(" + inner + ")"
		}
		return "ARRAY<" + inner + ">"
	case "struct":
		var members []string
		for _, f := range typ.Fields {
			if engine == Trino {
				members = append(members, f.Name+" "+typeName(engine, f.Type))
			} else {
				members = append(members, f.Name+": "+typeName(engine, f.Type))
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
	return names[engine][typ.Kind]
}
