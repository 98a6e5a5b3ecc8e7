package main

import (
	"database/sql"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/schema"
)

// portabilityDir holds the other engines' reader (scripts/portability.sh
// installs its npm packages).
const portabilityDir = "../../scripts/portability"

// engineView is what scripts/portability/read.mjs prints.
type engineView struct {
	Engines map[string]map[string]struct {
		Rows    string            `json:"rows"`
		Columns map[string]string `json:"columns"`
		Sums    map[string]string `json:"sums"`
	} `json:"engines"`
	Canned map[string][][]any `json:"canned"`
}

// TestPortability reads the committed archive (its runs files written
// before the runs table had hours) and a fresh one (two sensors, captures
// years apart) with DuckDB, Polars and arrow-rs, from npm, without options
// but Hive partitioning: each finds abtq's rows and sums in every table,
// and reads every column of the files as the type schema.Columns says
// (each engine's name for it, without quotes); DuckDB, given queries/archive/*.sql, gives
// abtq's adu-sizes. The fresh files use no DELTA encoding (DuckDB's
// parquet_metadata says), the committed ones do and still read. In the
// fresh archive DuckDB and Polars read the partition columns alike: sensor
// a string, date a date, hour a 64-bit integer (the committed archive's
// hour=06 makes DuckDB read hour as text: adu2parquet migrate renames it).
func TestPortability(t *testing.T) {
	if _, err := os.Stat(filepath.Join(portabilityDir, "node_modules")); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the other engines are not installed (scripts/portability.sh installs them): %v", err)
		}
		t.Skip("scripts/portability.sh installs the other engines")
	}
	fresh := filepath.Join(t.TempDir(), "fresh")
	bin := buildADU2Parquet(t)
	for sensor, caps := range map[string][]string{
		"north": {"zeek_http_bro.org.pcap", "zeek_smtp.pcap"},
		"south": {"pcapplusplus_example.pcap", "trex_Oracle.pcap", "zeek_ftp_ipv6.pcap"},
	} {
		for _, c := range caps {
			require.NoError(t, runADU2Parquet(bin, nil, "--out", fresh, "--sensor", sensor, filepath.Join("../../testdata/pcaps", c)))
		}
	}
	// The fresh files use only the encodings every engine reads (the
	// committed ones, written before, use DELTA encodings: read above).
	db, err := sql.Open("duckdb", "")
	require.NoError(t, err)
	defer db.Close()
	rs, err := db.Query("SELECT DISTINCT encodings FROM parquet_metadata(?)", []string{filepath.Join(fresh, "*/*/*/*/*.parquet")})
	require.NoError(t, err)
	var encodings []string
	for rs.Next() {
		var e string
		require.NoError(t, rs.Scan(&e))
		encodings = append(encodings, e)
	}
	require.NoError(t, rs.Err())
	rs.Close()
	require.NotEmpty(t, encodings)
	for _, e := range encodings {
		require.NotContains(t, e, "DELTA", "fresh files' encodings: %v", encodings)
		require.NotContains(t, e, "BYTE_STREAM_SPLIT", "fresh files' encodings: %v", encodings)
	}

	for name, arch := range map[string]string{"committed": testArchive, "fresh": fresh} {
		t.Run(name, func(t *testing.T) {
			abs, err := filepath.Abs(arch)
			require.NoError(t, err)
			queriesDir, err := filepath.Abs("../../queries")
			require.NoError(t, err)
			cmd := exec.Command("node", "read.mjs", abs, queriesDir)
			cmd.Dir = portabilityDir
			out, err := cmd.Output()
			require.NoError(t, err, "node read.mjs: %s", exitStderr(err))
			var v engineView
			require.NoError(t, json.Unmarshal(out, &v))
			require.Len(t, v.Engines, 3)

			want := map[string]map[string]string{
				schema.TableADUs:        {"rows": "count(*)", "size": "sum(size)"},
				schema.TableConnections: {"rows": "count(*)", "c2s_bytes": "sum(c2s_bytes)", "s2c_bytes": "sum(s2c_bytes)"},
				schema.TableRuns:        {"rows": "count(*)", "adus": "sum(adus)", "connections": "sum(connections)"},
			}
			for table, exprs := range want {
				for key, expr := range exprs {
					code, got, stderr := runCmd(t, "--archive", arch, "--format", "tsv", "sql", "SELECT "+expr+" AS v FROM "+table)
					require.Equal(t, 0, code, stderr)
					val := strings.TrimSpace(strings.TrimPrefix(got, "v\n"))
					for engine, tables := range v.Engines {
						tb := tables[table]
						found := tb.Rows
						if key != "rows" {
							found = tb.Sums[key]
						}
						require.Equal(t, val, found, "%s: %s of %s", engine, expr, table)
					}
				}
				cols, err := schema.Columns(table)
				require.NoError(t, err)
				for engine, tables := range v.Engines {
					seen := tables[table].Columns
					for _, c := range cols {
						if table == schema.TableRuns && c.Name == "hours" && name == "committed" {
							require.NotContains(t, seen, "hours", "%s: the committed runs files predate hours", engine)
							continue
						}
						if c.Name == "sensor" && engine != "arrow-rs" {
							continue // the partition's (below)
						}
						require.Contains(t, seen, c.Name, "%s %s", engine, table)
						require.Equal(t, typeIn(engine, c.Type), strings.ReplaceAll(seen[c.Name], `"`, ""), "%s: %s.%s", engine, table, c.Name)
					}
					var parts []string
					for _, p := range schema.Partitions() {
						parts = append(parts, p.Name+" "+seen[p.Name])
					}
					t.Logf("%s, %s: partition columns read as %s", engine, table, strings.Join(parts, ", "))
					// The partition columns, in the engines that read the
					// directories: sensor a string, date a date; hour a
					// 64-bit integer in an archive of today's layout
					// (hour=7), which the committed one predates (hour=06:
					// DuckDB reads text; adu2parquet migrate renames).
					want := map[string][3]string{"duckdb": {"VARCHAR", "DATE", "BIGINT"}, "polars": {"DataType(String)", "DataType(Date)", "DataType(Int64)"}}
					if w, ok := want[engine]; ok {
						got := [3]string{seen["sensor"], seen["date"], seen["hour"]}
						if name == "committed" {
							w[2], got[2] = "", ""
						}
						require.Equal(t, w, got, "%s %s: sensor, date and hour", engine, table)
					}
				}
			}

			// adu-sizes through queries/archive/*.sql in DuckDB, against abtq.
			code, got, stderr := runCmd(t, "--archive", arch, "--format", "json", "adu-sizes", "--exact")
			require.Equal(t, 0, code, stderr)
			var rows []map[string]any
			for _, line := range strings.Split(strings.TrimSpace(got), "\n") {
				var r map[string]any
				require.NoError(t, json.Unmarshal([]byte(line), &r))
				rows = append(rows, r)
			}
			other := v.Canned["adu-sizes"]
			require.Len(t, other, len(rows))
			require.Greater(t, len(rows), 10)
			for i, r := range rows {
				for j, col := range []string{"direction", "size", "size_max", "adus", "cdf"} {
					require.True(t, sameValue(r[col], other[i][j]), "row %d %s: abtq %v, DuckDB %v", i, col, r[col], other[i][j])
				}
			}
		})
	}
}

// typeIn is an engine's name for a column type, as the engine prints it
// (DuckDB's without its quotes around keywords).
func typeIn(engine string, t schema.Type) string {
	type names struct{ bigint, int, boolean, str, ts string }
	n := map[string]names{
		"duckdb":   {"BIGINT", "INTEGER", "BOOLEAN", "VARCHAR", "TIMESTAMP"},
		"polars":   {"DataType(Int64)", "DataType(Int32)", "DataType(Bool)", "DataType(String)", "DataType(Datetime(us,))"},
		"arrow-rs": {"Int64", "Int32", "Bool", "Utf8", "Timestamp<MICROSECOND>"},
	}[engine]
	switch t.Kind {
	case "bigint":
		return n.bigint
	case "int":
		return n.int
	case "boolean":
		return n.boolean
	case "string":
		return n.str
	case "timestamp":
		return n.ts
	case "array":
		e := typeIn(engine, *t.Elem)
		switch engine {
		case "duckdb":
			return e + "[]"
		case "polars":
			return "DataType(List(" + e + "))"
		}
		return "List<" + e + ">"
	case "struct":
		var m []string
		for _, f := range t.Fields {
			switch engine {
			case "duckdb":
				m = append(m, f.Name+" "+typeIn(engine, f.Type))
			case "polars":
				m = append(m, "Field("+f.Name+", "+typeIn(engine, f.Type)+")")
			default:
				m = append(m, f.Name+":"+typeIn(engine, f.Type))
			}
		}
		switch engine {
		case "duckdb":
			return "STRUCT(" + strings.Join(m, ", ") + ")"
		case "polars":
			return "DataType(Struct(" + strings.Join(m, ",") + "))"
		}
		return "Struct<{" + strings.Join(m, ", ") + "}>"
	}
	return t.Kind
}

// sameValue compares a value of abtq's JSON with DuckDB's through node:
// numbers (DuckDB's integers arrive as strings) equal to 1e-12.
func sameValue(a, b any) bool {
	num := func(v any) (float64, bool) {
		switch x := v.(type) {
		case float64:
			return x, true
		case string:
			f, err := strconv.ParseFloat(x, 64)
			return f, err == nil
		}
		return 0, false
	}
	if s, ok := a.(string); ok {
		if t, ok := b.(string); ok && s == t {
			return true
		}
	}
	x, ok1 := num(a)
	y, ok2 := num(b)
	return ok1 && ok2 && math.Abs(x-y) <= 1e-12*math.Max(1, math.Abs(x))
}

// exitStderr is the standard error of a command that failed.
func exitStderr(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}
