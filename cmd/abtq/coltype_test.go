package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// describe renders a colType as a compact string for comparison.
func describe(t *colType) string {
	switch t.kind {
	case kindList:
		return describe(t.child()) + "[]"
	case kindMap:
		return "map(" + describe(t.key) + "," + describe(t.child()) + ")"
	case kindStruct, kindUnion:
		s := t.kind.String() + "("
		for i, f := range t.fields {
			if i > 0 {
				s += ","
			}
			s += f.name + ":" + describe(f.t)
		}
		return s + ")"
	}
	return t.kind.String()
}

// TestParseType: the type names duckdb-go reports
// (sql.ColumnType.DatabaseTypeName), nested ones included.
func TestParseType(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"integer", "BIGINT", "int"},
		{"hugeint", "HUGEINT", "int"},
		{"decimal", "DECIMAL(18,6)", "decimal"},
		{"timestamp_ns", "TIMESTAMP_NS", "timestamp_ns"},
		{"timestamptz", "TIMESTAMPTZ", "timestamp"},
		{"list", "INTEGER[]", "int[]"},
		{"array of lists", "VARCHAR[][3]", "text[][]"},
		{"struct", `STRUCT("ordinal" INTEGER, "direction" VARCHAR, "size" BIGINT, "think_us" BIGINT)[]`,
			"struct(ordinal:int,direction:text,size:int,think_us:int)[]"},
		{"quoted names", `STRUCT("a ""b"", c" DATE, "x" DECIMAL(3,1))`, `struct(a "b", c:date,x:decimal)`},
		{"map", "MAP(VARCHAR, TIMESTAMP[])", "map(text,timestamp[])"},
		{"union", `UNION("n" INTEGER, "s" VARCHAR)`, "union(n:int,s:text)"},
		{"json", "JSON", "json"},
		{"unknown", "VARIANT", "unknown"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseType(tc.in)
			require.NoError(t, err)
			require.Equal(t, tc.want, describe(got))
		})
	}
	for _, bad := range []string{"", "STRUCT(", `STRUCT("a" INTEGER`, "MAP(VARCHAR)", "INTEGER[", "DECIMAL(18", "BIGINT junk"} {
		_, err := parseType(bad)
		require.Error(t, err, "%q", bad)
	}
}
