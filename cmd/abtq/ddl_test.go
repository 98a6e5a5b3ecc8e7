package main

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/schema"
)

// TestDDL: abtq ddl prints each table's statement for the engine over the
// location given, and docs/scaling.md shows what it prints for Trino (the
// documented DDL is the generated one, not a copy that drifts); an unknown
// engine is a usage error.
func TestDDL(t *testing.T) {
	for _, e := range schema.Engines {
		code, out, stderr := runCmd(t, "ddl", string(e), "--location", "s3://bucket/archive/")
		require.Equal(t, 0, code, stderr)
		for _, table := range schema.Tables {
			want, err := schema.DDL(e, table, "s3://bucket/archive/"+table)
			require.NoError(t, err)
			require.Contains(t, out, want+";\n")
		}
		require.Equal(t, len(schema.Tables), strings.Count(out, ";\n"))
	}
	doc, err := os.ReadFile("../../docs/scaling.md")
	require.NoError(t, err)
	want, err := schema.DDL(schema.Trino, schema.TableADUs, "s3://bucket/archive/adus")
	require.NoError(t, err)
	require.Contains(t, string(doc), "```sql\n"+want+";\n")

	code, _, stderr := runCmd(t, "ddl", "duckdb")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, `no engine "duckdb"`)
}
