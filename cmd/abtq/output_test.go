package main

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// formats are the printed output formats.
var formats = []string{"table", "tsv", "csv", "json"}

// TestOutputGolden prints queries on the committed archive in every format
// and compares them with testdata/output/<case>.<format> (regenerate with
// go test ./cmd/abtq -run OutputGolden -update, and review the diff).
// Values in them are checked by hand, or by TestSMTPVector and
// TestValueFormats below.
func TestOutputGolden(t *testing.T) {
	cases := []struct {
		name string
		args []string
	}{
		// Nested values, a timestamp, a boolean: the SMTP connection's vector.
		{"vector", []string{"sql", "SELECT run_id, conn_id, server_ip, server_port, ts, concurrent, adus FROM vectors WHERE server_ip = '74.53.140.153'"}},
		// Exact seconds (DECIMAL), NULLs, timestamps.
		{"runs", []string{"runs"}},
		// Ratios (DOUBLE).
		{"adu-sizes", []string{"adu-sizes", "--server", "74.53.140.153", "--port", "25"}},
		// One value of each kind of type.
		{"types", []string{"sql", typesSQL}},
	}
	for _, tc := range cases {
		for _, f := range formats {
			t.Run(tc.name+"."+f, func(t *testing.T) {
				code, out, stderr := runCmd(t, append([]string{"--archive", testArchive, "--format", f}, tc.args...)...)
				require.Equal(t, 0, code, stderr)
				golden := filepath.Join("testdata", "output", tc.name+"."+f)
				if *update {
					require.NoError(t, os.MkdirAll(filepath.Dir(golden), 0o755))
					require.NoError(t, os.WriteFile(golden, []byte(out), 0o644))
				}
				want, err := os.ReadFile(golden)
				require.NoError(t, err)
				require.Equal(t, string(want), out)
			})
		}
	}
}

// typesSQL selects one value of each kind of type, with the text each
// should print as in typesText.
const typesSQL = `SELECT
  42::TINYINT AS tinyint, -9223372036854775808 AS bigint, 170141183460469231731687303715884105727::HUGEINT AS hugeint,
  2::DOUBLE / 9 AS ratio, 0.1::DOUBLE + 0.2::DOUBLE AS noise, 1e-7::DOUBLE AS small, 1e20::DOUBLE AS large,
  12345678901::DOUBLE AS integral, 'nan'::DOUBLE AS nan, 1::FLOAT / 3 AS float,
  12345678901234.567890::DECIMAL(20,6) AS decimal, 1.50::DECIMAL(4,2) AS decimal_zeros,
  DATE '2026-11-22' AS date, TIMESTAMP '2026-11-22 00:00:00' AS midnight, TIMESTAMP '2026-11-22 01:02:03.5' AS half,
  TIMESTAMP '2013-05-02 20:20:37.134545' AS micros, TIMESTAMP_NS '2026-11-22 01:02:03.123456789' AS nanos,
  TIMESTAMPTZ '2026-11-22 01:02:03+01' AS tz, TIME '01:02:03.25' AS time,
  INTERVAL 90 MINUTE AS minutes, INTERVAL 1 DAY + INTERVAL 1 MICROSECOND AS day_us, -INTERVAL 813 DAY AS negative,
  INTERVAL 1 MONTH AS month,
  'a' || chr(9) || 'b' || chr(10) || 'c,"d"' AS text, NULL::VARCHAR AS null,
  true AS bool, '\x00ab'::BLOB AS blob, '6b0a8d0e-2f41-4c2e-9e0a-8f2c1d3e4f50'::UUID AS uuid,
  [1, 2, NULL] AS list, [[DATE '2026-11-22']] AS nested_list, {'b': 1.5::DECIMAL(3,1), 'a': INTERVAL 2 SECOND} AS struct,
  MAP {'k': [TIMESTAMP '2026-11-22 01:02:03']} AS map, [1.5::DOUBLE, 2/3]::DOUBLE[2] AS array,
  union_value(n := 7) AS "union"`

// typesText is what the text formats print for typesSQL, column by column,
// worked out from the rules in value.go.
var typesText = []struct{ col, text, json string }{
	{"tinyint", "42", "42"},
	{"bigint", "-9223372036854775808", "-9223372036854775808"},
	{"hugeint", "170141183460469231731687303715884105727", "170141183460469231731687303715884105727"},
	{"ratio", "0.2222222222", "0.2222222222222222"},
	{"noise", "0.3", "0.30000000000000004"},
	{"small", "1e-07", "1e-07"},
	{"large", "1e+20", "1e+20"},
	{"integral", "12345678901", "12345678901"},
	{"nan", "nan", `"nan"`},
	{"float", "0.33333334", "0.33333334"},
	{"decimal", "12345678901234.56789", "12345678901234.56789"},
	{"decimal_zeros", "1.5", "1.5"},
	{"date", "2026-11-22", `"2026-11-22"`},
	{"midnight", "2026-11-22T00:00:00Z", `"2026-11-22T00:00:00Z"`},
	{"half", "2026-11-22T01:02:03.500000Z", `"2026-11-22T01:02:03.500000Z"`},
	{"micros", "2013-05-02T20:20:37.134545Z", `"2013-05-02T20:20:37.134545Z"`},
	{"nanos", "2026-11-22T01:02:03.123456789Z", `"2026-11-22T01:02:03.123456789Z"`},
	{"tz", "2026-11-22T00:02:03Z", `"2026-11-22T00:02:03Z"`},
	{"time", "01:02:03.250000", `"01:02:03.250000"`},
	{"minutes", "5400", "5400"},
	{"day_us", "86400.000001", "86400.000001"},
	{"negative", "-70243200", "-70243200"},
	{"month", "2592000", "2592000"},
	{"text", "a\tb\nc,\"d\"", `"a\tb\nc,\"d\""`},
	{"null", "", "null"},
	{"bool", "true", "true"},
	{"blob", `\x00ab`, `"\\x00ab"`},
	{"uuid", "6b0a8d0e-2f41-4c2e-9e0a-8f2c1d3e4f50", `"6b0a8d0e-2f41-4c2e-9e0a-8f2c1d3e4f50"`},
	{"list", "[1,2,null]", "[1,2,null]"},
	{"nested_list", `[["2026-11-22"]]`, `[["2026-11-22"]]`},
	{"struct", `{"b":1.5,"a":2}`, `{"b":1.5,"a":2}`},
	{"map", `{"k":["2026-11-22T01:02:03Z"]}`, `{"k":["2026-11-22T01:02:03Z"]}`},
	{"array", "[1.5,0.6666666667]", "[1.5,0.6666666666666666]"},
	{"union", "7", "7"},
}

// TestValueFormats: each value prints as the rules say, in CSV (read back
// with encoding/csv), TSV (tabs and newlines escaped) and JSON (decoded).
func TestValueFormats(t *testing.T) {
	run := func(format string) string {
		code, out, stderr := runCmd(t, "--archive", testArchive, "--format", format, "sql", typesSQL)
		require.Equal(t, 0, code, stderr)
		return out
	}
	recs, err := csv.NewReader(strings.NewReader(run("csv"))).ReadAll()
	require.NoError(t, err)
	require.Len(t, recs, 2)
	tsv := strings.Split(strings.TrimSuffix(run("tsv"), "\n"), "\n")
	require.Len(t, tsv, 2, "one line per row")
	tsvFields := strings.Split(tsv[1], "\t")
	var obj map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(run("json")), &obj))

	require.Len(t, recs[0], len(typesText))
	for i, c := range typesText {
		require.Equal(t, c.col, recs[0][i])
		require.Equal(t, c.text, recs[1][i], "csv %s", c.col)
		escaped := strings.NewReplacer("\t", `\t`, "\n", `\n`).Replace(c.text)
		require.Equal(t, escaped, tsvFields[i], "tsv %s", c.col)
		require.JSONEq(t, c.json, string(obj[c.col]), "json %s", c.col)
	}
}

// TestSMTPVector: the vector of the SMTP connection, in every format, is
// the ADUs of cmd/adu2parquet/testdata/golden/zeek_smtp.pcap.adu (adudump
// text, another output of the same inference): one JSON object per ADU,
// in order, with its size and think time (µs; null for the last).
func TestSMTPVector(t *testing.T) {
	f, err := os.Open("../adu2parquet/testdata/golden/zeek_smtp.pcap.adu")
	require.NoError(t, err)
	defer f.Close()
	var want []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// ADU: <time> <server> {<|>} <client> <size> SEQ [<think s>]
		fl := strings.Fields(sc.Text())
		if fl[0] != "ADU:" || fl[2] != "74.53.140.153.25" {
			continue
		}
		dir := map[string]string{"<": "c2s", ">": "s2c"}[fl[3]]
		think := "null"
		if len(fl) == 8 {
			s, err := strconv.ParseFloat(fl[7], 64)
			require.NoError(t, err)
			think = strconv.FormatInt(int64(s*1e6+0.5), 10)
		}
		want = append(want, fmt.Sprintf(`{"ordinal":%d,"direction":"%s","size":%s,"think_us":%s}`, len(want), dir, fl[5], think))
	}
	require.NoError(t, sc.Err())
	require.Len(t, want, 19)
	vector := "[" + strings.Join(want, ",") + "]"

	query := "SELECT adus FROM vectors WHERE server_ip = '74.53.140.153'"
	for _, format := range formats {
		code, out, stderr := runCmd(t, "--archive", testArchive, "--format", format, "sql", query)
		require.Equal(t, 0, code, stderr)
		switch format {
		case "json":
			require.JSONEq(t, `{"adus":`+vector+`}`, out)
		case "csv":
			recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
			require.NoError(t, err)
			require.Equal(t, [][]string{{"adus"}, {vector}}, recs)
		default:
			require.Equal(t, []string{"adus", vector}, strings.Fields(out))
		}
	}
}

// TestTableAligned: the table format pads columns to a common width, two
// spaces apart, numbers to the right, with no trailing blanks.
func TestTableAligned(t *testing.T) {
	code, out, stderr := runCmd(t, "--archive", testArchive, "--format", "table", "sql",
		"SELECT * FROM (VALUES ('a', 1, 0.5::DOUBLE, NULL), ('bcd', 100, 2::DOUBLE/3, 'x')) AS v(name, n, ratio, last) ORDER BY n")
	require.Equal(t, 0, code, stderr)
	require.Equal(t, ""+
		"name    n         ratio  last\n"+
		"a       1           0.5\n"+
		"bcd   100  0.6666666667  x\n", out)
}
