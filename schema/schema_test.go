package schema_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/schema"
)

var update = flag.Bool("update", false, "rewrite the golden schema files")

// TestSchemaFrozen renders each table's Parquet schema and compares it with
// schema/testdata/v<Version>.<table>.golden: any column change fails until
// the golden file is deliberately updated (and Version bumped if needed).
func TestSchemaFrozen(t *testing.T) {
	for _, tc := range []struct {
		table string
		row   any
	}{
		{schema.TableADUs, schema.ADU{}},
		{schema.TableConnections, schema.Connection{}},
		{schema.TableRuns, schema.Run{}},
	} {
		t.Run(tc.table, func(t *testing.T) {
			got := parquet.SchemaOf(tc.row).String() + "\n"
			golden := filepath.Join("testdata", "v1."+tc.table+".golden")
			if *update {
				require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err)
			require.Equal(t, string(want), got)
		})
	}
}
