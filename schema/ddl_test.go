package schema_test

import (
	"database/sql"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2" // DuckDB reads the files the DDL declares
	"github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/schema"
)

// rows are a zero row of each table, for its Parquet schema.
var rows = map[string]any{schema.TableADUs: schema.ADU{}, schema.TableConnections: schema.Connection{}, schema.TableRuns: schema.Run{}}

// ddlColumns parses the column names of a DDL statement.
func ddlColumns(ddl string) []string {
	var out []string
	for _, m := range regexp.MustCompile("(?m)^  `?([a-z_0-9]+)`? [^=]").FindAllStringSubmatch(ddl, -1) {
		out = append(out, m[1])
	}
	// Hive's partition columns are on the PARTITIONED BY line.
	if m := regexp.MustCompile(`PARTITIONED BY \(([^)]*)\)`).FindStringSubmatch(ddl); m != nil {
		for _, c := range strings.Split(m[1], ", ") {
			if f := strings.Fields(c); len(f) == 2 { // declared there, with its type
				out = append(out, strings.Trim(f[0], "`"))
			}
		}
	}
	return out
}

// TestDDLColumns: every engine's DDL of every table declares the columns
// the writer's Parquet schema has, in its order (but the runs files' sensor,
// which is the partition's), then sensor, date and hour.
func TestDDLColumns(t *testing.T) {
	for _, table := range schema.Tables {
		var want []string
		for _, f := range parquet.SchemaOf(rows[table]).Fields() {
			if f.Name() != "sensor" {
				want = append(want, f.Name())
			}
		}
		want = append(want, "sensor", "date", "hour")
		for _, e := range schema.Engines {
			ddl, err := schema.DDL(e, table, "/data/abt/"+table)
			require.NoError(t, err)
			require.Equal(t, want, ddlColumns(ddl), "%s %s", e, table)
		}
	}
	_, err := schema.DDL("duck", schema.TableADUs, "x")
	require.Error(t, err)
	_, err = schema.DDL(schema.Trino, "flows", "x")
	require.Error(t, err)
}

// TestDDLTypesAsDuckDBReads writes a file of each table and reads its
// columns' types with DuckDB: the Trino DDL declares each column as the
// type DuckDB reads, translated name for name (BIGINT bigint, TIMESTAMP
// timestamp(6), STRUCT(...)[] array(row(...)), ...).
func TestDDLTypesAsDuckDBReads(t *testing.T) {
	db, err := sql.Open("duckdb", "")
	require.NoError(t, err)
	defer db.Close()
	trino := strings.NewReplacer("BIGINT", "bigint", "INTEGER", "integer", "BOOLEAN", "boolean", "VARCHAR", "varchar",
		"TIMESTAMP", "timestamp(6)", "STRUCT(", "row(")
	for _, table := range schema.Tables {
		path := filepath.Join(t.TempDir(), table+".parquet")
		f, err := os.Create(path)
		require.NoError(t, err)
		w := parquet.NewWriter(f, parquet.SchemaOf(rows[table]))
		require.NoError(t, w.Write(rows[table]))
		require.NoError(t, w.Close())
		require.NoError(t, f.Close())
		got := map[string]string{}
		rs, err := db.Query("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet('" + path + "'))")
		require.NoError(t, err)
		for rs.Next() {
			var name, typ string
			require.NoError(t, rs.Scan(&name, &typ))
			// STRUCT(a X, b Y)[] is array(row(a x, b y)); X[] array(x).
			if strings.HasSuffix(typ, "[]") {
				typ = "array(" + strings.TrimSuffix(typ, "[]") + ")"
			}
			// DuckDB quotes the member names that are keywords.
			got[name] = strings.ReplaceAll(trino.Replace(typ), `"`, "")
		}
		require.NoError(t, rs.Err())
		rs.Close()
		ddl, err := schema.DDL(schema.Trino, table, "/data/abt/"+table)
		require.NoError(t, err)
		n := 0
		for _, line := range strings.Split(ddl, "\n") {
			name, typ, ok := strings.Cut(strings.TrimSuffix(strings.TrimSpace(line), ","), " ")
			if want, seen := got[name]; ok && seen && strings.HasPrefix(line, "  ") {
				require.Equal(t, want, typ, "%s.%s", table, name)
				n++
			}
		}
		require.Equal(t, len(got), n, "%s: every column of the file (runs' sensor as the partition)", table)
	}
}
