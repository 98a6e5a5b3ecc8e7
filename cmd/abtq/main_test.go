package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const testArchive = "../../queries/testdata/archive"

func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// TestCannedQueries runs every canned query on the committed archive
// (queries/testdata/archive, built by queries/testdata/mkarchive.go from
// three bundled captures) and compares its TSV with the golden file. The
// golden files were checked by hand against independent figures; see
// queries/testdata/README.md.
func TestCannedQueries(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := runCmd(t, append([]string{"--archive", testArchive, "--format", "tsv"}, tc.args...)...)
			require.Equal(t, 0, code, stderr)
			golden := filepath.Join("../../queries/testdata", tc.name+".golden")
			if *update {
				require.NoError(t, os.WriteFile(golden, []byte(out), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err)
			require.Equal(t, string(want), out)
		})
	}
}

// goldenCases are the canned-query cases with a golden file:
// queries/testdata/<name>.golden.
var goldenCases = []struct {
	name string
	args []string
}{
	{"runs", []string{"runs"}},
	{"collections", []string{"collections"}},
	{"top-servers", []string{"top-servers"}},
	{"response-times", []string{"response-times", "--limit", "5"}},
	{"adu-sizes-smtp", []string{"adu-sizes", "--server", "74.53.140.153", "--port", "25"}},
	{"exchanges", []string{"exchanges"}},
	{"exchanges-one-day", []string{"--from", "2014-01-14", "--to", "2014-01-15", "exchanges"}},
	{"response-time-cdf", []string{"response-time-cdf", "--server", "192.150.187.43", "--port", "80", "--period", "hour"}},
	{"conn-buckets", []string{"conn-buckets", "--by", "bytes_out", "--bucket-size", "100000", "--buckets", "5"}},
	{"conn-list", []string{"conn-list", "--by", "bytes_out", "--bucket-size", "100000", "--buckets", "5", "--bucket", "3"}},
	{"syn-attempts", []string{"syn-attempts"}},
}

// TestSQL counts the archive's ADUs per direction. The expected figures are
// the ADU and INC records adu2parquet --format jsonl prints for the same
// three captures (another output path of the same inference): the archive
// and the query layer lose and duplicate nothing.
func TestSQL(t *testing.T) {
	code, out, stderr := runCmd(t, "--archive", testArchive, "--format", "csv", "sql",
		"SELECT direction, count(*) AS n, sum(size) AS bytes FROM adus GROUP BY ALL ORDER BY ALL")
	require.Equal(t, 0, code, stderr)
	require.Equal(t, "direction,n,bytes\nc2s,393,238758\ns2c,396,3668878\n", out)
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"missing archive", []string{"--archive", "/nonexistent", "runs"}, 1, "archive /nonexistent"},
		{"empty range", []string{"--archive", testArchive, "--from", "2030-01-01", "runs"}, 1, "no archive files in the selected range"},
		{"empty range, rollups", []string{"--archive", testArchive, "--from", "2030-01-01", "response-times"}, 1, "no archive files in the selected range"},
		{"rollups need whole days", []string{"--archive", testArchive, "--from", "2014-01-14T10:00:00Z", "sql", "SELECT * FROM rollup_hist"}, 1, "whole UTC days"},
		{"bad time", []string{"--archive", testArchive, "--from", "yesterday", "runs"}, 2, "--from"},
		{"bad query", []string{"--archive", testArchive, "sql", "SELEKT 1"}, 1, "syntax error"},
		{"parquet needs output", []string{"--archive", testArchive, "--format", "parquet", "runs"}, 2, "--output"},
		{"unknown command", []string{"--archive", testArchive, "bogus"}, 2, "unknown command"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCmd(t, tc.args...)
			require.Equal(t, tc.code, code, stderr)
			require.Contains(t, stderr, tc.want)
			lines := 1 // one-line error
			if tc.code == 2 {
				lines = 2 // and the usage hint
				require.Contains(t, stderr, "\nRun 'abtq ")
			}
			require.Equal(t, lines, strings.Count(stderr, "\n"), stderr)
		})
	}
}

func TestParquetOutput(t *testing.T) {
	out := filepath.Join(t.TempDir(), "sizes.parquet")
	code, _, stderr := runCmd(t, "--archive", testArchive, "--format", "parquet", "--output", out, "adu-sizes")
	require.Equal(t, 0, code, stderr)
	f, err := os.Open(out)
	require.NoError(t, err)
	defer f.Close()
	st, err := f.Stat()
	require.NoError(t, err)
	pf, err := parquet.OpenFile(f, st.Size())
	require.NoError(t, err)
	require.Positive(t, pf.NumRows())
	es, err := os.ReadDir(filepath.Dir(out))
	require.NoError(t, err)
	require.Len(t, es, 1, "no temporary file left")
}
