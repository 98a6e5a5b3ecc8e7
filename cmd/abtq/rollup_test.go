package main

import (
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/rollup"
)

// tsvRows splits TSV output into rows of fields, header included.
func tsvRows(t *testing.T, out string) [][]string {
	t.Helper()
	var rows [][]string
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		rows = append(rows, strings.Split(line, "\t"))
	}
	require.NotEmpty(t, rows)
	return rows
}

// binnedMs is what a rollup query prints for an exact value printed in ms
// (µs precision): the midpoint of the value's bin, in ms, rounded as the
// query rounds.
func binnedMs(t *testing.T, exact string) string {
	t.Helper()
	ms, err := strconv.ParseFloat(exact, 64)
	require.NoError(t, err)
	us := int64(math.Round(ms * 1000))
	b := rollup.Bin(us)
	mid := (float64(rollup.BinLow(b)) + float64(rollup.BinHigh(b))) / 2
	return strconv.FormatFloat(math.Round(mid)/1000, 'f', -1, 64)
}

// TestRollupsMatchExact: the rollup variants give what the exact queries
// give, up to the bin: adu-sizes identically (bin counts are exact), each
// response-time quantile as the midpoint of the bin of the exact
// nearest-rank quantile, with the same exchange counts.
func TestRollupsMatchExact(t *testing.T) {
	cases := [][]string{
		{"adu-sizes"},
		{"adu-sizes", "--server", "212.199.202.9", "--port", "80", "--direction", "s2c"},
		{"adu-sizes", "--port", "25"},
		{"--from", "2014-01-14", "--to", "2014-01-15", "adu-sizes"},
		{"response-times", "--limit", "50"},
		{"response-times", "--port", "80"},
		{"response-time-cdf"},
		{"response-time-cdf", "--server", "192.150.187.43", "--port", "80"},
		{"--from", "2009-10-05", "--to", "2013-05-03", "response-time-cdf", "--port", "25"},
		{"top-servers", "--limit", "100"},
		{"--from", "2013-05-02", "--to", "2013-05-03", "top-servers", "--port", "443"},
	}
	for _, args := range cases {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			base := []string{"--archive", testArchive, "--format", "tsv"}
			code, approx, stderr := runCmd(t, append(base, args...)...)
			require.Equal(t, 0, code, stderr)
			require.Empty(t, stderr, "the committed archive's rollups are current")
			code, exact, stderr := runCmd(t, append(append(base, args...), "--exact")...)
			require.Equal(t, 0, code, stderr)
			if strings.Contains(strings.Join(args, " "), "adu-sizes") {
				require.Equal(t, exact, approx)
				return
			}
			a, e := tsvRows(t, approx), tsvRows(t, exact)
			require.Equal(t, e[0], a[0])
			require.Len(t, a, len(e))
			require.Greater(t, len(e), 1, "a case with results")
			for i := 1; i < len(e); i++ {
				for j := range e[i] {
					col := e[0][j]
					switch {
					case col == "quantiles_ms":
						ev := strings.Split(strings.Trim(e[i][j], "[]"), ",")
						av := strings.Split(strings.Trim(a[i][j], "[]"), ",")
						require.Len(t, av, len(ev))
						for k := range ev {
							require.Equal(t, binnedMs(t, ev[k]), av[k], "row %d quantile %d", i, k)
						}
					case strings.HasSuffix(col, "_ms"):
						require.Equal(t, binnedMs(t, e[i][j]), a[i][j], "row %d %s", i, col)
					default:
						require.Equal(t, e[i][j], a[i][j], "row %d %s", i, col)
					}
				}
			}
		})
	}
}

// copyArchive copies the committed archive without its rollups.
func copyArchive(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(testArchive, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(testArchive, p)
		if rel == rollup.Table {
			return filepath.SkipDir
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	require.NoError(t, err)
	return dst
}

// TestRollupFallback: days without a current rollup are computed from the
// ADU rows with the same result, and abtq says so on stderr; a part added to
// a day makes its rollup stale rather than wrong.
func TestRollupFallback(t *testing.T) {
	arch := copyArchive(t)
	args := []string{"response-times", "--limit", "50"}
	code, want, stderr := runCmd(t, append([]string{"--archive", testArchive, "--format", "tsv"}, args...)...)
	require.Equal(t, 0, code, stderr)

	code, got, stderr := runCmd(t, append([]string{"--archive", arch, "--format", "tsv"}, args...)...)
	require.Equal(t, 0, code, stderr)
	require.Equal(t, want, got)
	require.Contains(t, stderr, "4 of 4 days have no current rollup")

	// Copying keeps rollups current: they name parts by path and size.
	require.NoError(t, os.CopyFS(filepath.Join(arch, rollup.Table), os.DirFS(filepath.Join(testArchive, rollup.Table))))
	code, got, stderr = runCmd(t, append([]string{"--archive", arch, "--format", "tsv"}, args...)...)
	require.Equal(t, 0, code, stderr)
	require.Equal(t, want, got)
	require.Empty(t, stderr)

	// A late part on 2015-07-25 (a copy of that day's part as another part
	// of the same run): that day's rollup is stale, and its ADUs count
	// twice.
	parts, err := filepath.Glob(filepath.Join(arch, "adus", "sensor=golden", "date=2015-07-25", "hour=*", "part-*.parquet"))
	require.NoError(t, err)
	require.Len(t, parts, 1)
	b, err := os.ReadFile(parts[0])
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(strings.Replace(parts[0], "-0001.parquet", "-0099.parquet", 1), b, 0o444))
	smtp := []string{"--archive", arch, "--format", "tsv", "response-times", "--server", "192.168.133.102"}
	code, got, stderr = runCmd(t, smtp...)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stderr, "1 of 4 days have no current rollup")
	code, exact, stderr := runCmd(t, append(smtp, "--exact")...)
	require.Equal(t, 0, code, stderr)
	require.Equal(t, tsvRows(t, exact)[1][2], tsvRows(t, got)[1][2])
	require.Equal(t, "14", tsvRows(t, got)[1][2], "7 exchanges, twice")
}

// TestRollupNotForPartialDays: a range that is not whole days, or hourly
// periods, are answered from the ADU rows exactly.
func TestRollupNotForPartialDays(t *testing.T) {
	for _, args := range [][]string{
		{"--from", "2014-01-14T17:00:00Z", "--to", "2014-01-14T18:00:00Z", "response-times"},
		{"response-time-cdf", "--period", "hour"},
	} {
		base := []string{"--archive", testArchive, "--format", "tsv"}
		code, got, stderr := runCmd(t, append(base, args...)...)
		require.Equal(t, 0, code, stderr)
		code, exact, stderr := runCmd(t, append(append(base, args...), "--exact")...)
		require.Equal(t, 0, code, stderr)
		require.Equal(t, exact, got)
	}
}
