package rollup

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/duckbox"
)

// TestBin checks bins worked out by hand: exact below 128, then 64 bins per
// power of two.
func TestBin(t *testing.T) {
	tests := []struct {
		v, bin, low, high int64
	}{
		{0, 0, 0, 0},
		{1, 1, 1, 1},
		{127, 127, 127, 127},
		{128, 128, 128, 129},       // msb 7: width 2, bin (7-6)*64 + 128>>1
		{129, 128, 128, 129},       //
		{130, 129, 130, 131},       //
		{255, 191, 254, 255},       // 64 + 255>>1 = 191
		{256, 192, 256, 259},       // msb 8: width 4
		{1000, 317, 1000, 1007},    // msb 9: 3*64 + 1000>>3 = 192+125
		{14549, 561, 14464, 14591}, // msb 13: 7*64 + 14549>>7 = 448 + 113, width 128
		{math.MaxInt64, 3711, 127 << 56, math.MaxInt64},
		{-5, -5, -5, -5},
	}
	for _, tc := range tests {
		require.Equal(t, tc.bin, Bin(tc.v), "Bin(%d)", tc.v)
		require.Equal(t, tc.low, BinLow(tc.bin), "BinLow(%d)", tc.bin)
		require.Equal(t, tc.high, BinHigh(tc.bin), "BinHigh(%d)", tc.bin)
	}
}

// TestBinProperties: every value lies in its bin, bins are contiguous and
// no wider than 1/64 of their lower bound.
func TestBinProperties(t *testing.T) {
	prevHigh := int64(-1)
	for b := int64(0); b <= Bin(math.MaxInt64); b++ {
		lo, hi := BinLow(b), BinHigh(b)
		require.Equal(t, prevHigh+1, lo, "bin %d starts where bin %d ended", b, b-1)
		require.Equal(t, b, Bin(lo))
		require.Equal(t, b, Bin(hi))
		if lo >= 128 {
			require.LessOrEqual(t, float64(hi-lo+1), float64(lo)/64)
		}
		prevHigh = hi
	}
	require.Equal(t, int64(math.MaxInt64), prevHigh)
}

func openDuckDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	require.NoError(t, err)
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	for _, m := range Macros {
		_, err := db.Exec(m)
		require.NoError(t, err)
	}
	return db
}

// TestMacrosMatchBin: the SQL macros bin as Bin does, around every power of
// two (where floating-point log2 could be off by one) and at random values.
func TestMacrosMatchBin(t *testing.T) {
	db := openDuckDB(t)
	var vals []int64
	for v := int64(0); v < 300; v++ {
		vals = append(vals, v)
	}
	for k := 7; k <= 62; k++ {
		p := int64(1) << k
		vals = append(vals, p-2, p-1, p, p+1)
	}
	vals = append(vals, math.MaxInt64, math.MaxInt64-1)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		vals = append(vals, rng.Int64N(1<<uint(1+rng.IntN(62))))
	}
	list := make([]string, len(vals))
	for i, v := range vals {
		list[i] = strconv.FormatInt(v, 10)
	}
	rows, err := db.Query(`SELECT v, abt_bin(v), abt_bin_low(abt_bin(v)), abt_bin_high(abt_bin(v)), abt_bin_mid(abt_bin(v))
FROM (SELECT unnest([` + strings.Join(list, ", ") + `]::BIGINT[]) AS v)`)
	require.NoError(t, err)
	defer rows.Close()
	n := 0
	for rows.Next() {
		var v, bin, low, high int64
		var mid float64
		require.NoError(t, rows.Scan(&v, &bin, &low, &high, &mid))
		b := Bin(v)
		require.Equal(t, b, bin, "abt_bin(%d)", v)
		require.Equal(t, BinLow(b), low, "abt_bin_low(%d)", b)
		require.Equal(t, BinHigh(b), high, "abt_bin_high(%d)", b)
		require.Equal(t, (float64(BinLow(b))+float64(BinHigh(b)))/2, mid)
		n++
	}
	require.NoError(t, rows.Err())
	require.Equal(t, len(vals), n)
}

const testArchive = "../../queries/testdata/archive"

// copyADUs copies the committed archive's adus and connections tables to a
// new archive.
func copyADUs(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	for _, table := range SourceTables {
		require.NoError(t, os.CopyFS(filepath.Join(dst, table), os.DirFS(filepath.Join(testArchive, table))))
	}
	return dst
}

func day(s string) Day {
	d, _ := time.Parse("2006-01-02", s)
	return Day{Sensor: "golden", Date: d}
}

// TestUpdate builds, keeps, rebuilds and removes rollups as the parts
// change, and the rollup's counts add up to the ADU rows it summarises.
func TestUpdate(t *testing.T) {
	ctx := context.Background()
	root := copyADUs(t)
	b, err := NewBuilder(ctx, root, 1)
	require.NoError(t, err)
	defer b.Close()

	st, err := b.Update(ctx, UpdateOptions{})
	require.NoError(t, err)
	require.Equal(t, UpdateStats{Days: 4, Built: 4}, st)
	st, err = b.Update(ctx, UpdateOptions{})
	require.NoError(t, err)
	require.Equal(t, UpdateStats{Days: 4, Current: 4}, st)

	// Counts: per kind, the all-servers rows and the per-server rows each
	// add up to the ADU rows (sizes) and the sequential requests with a
	// response time (rt).
	db := openDuckDB(t)
	files, err := filepath.Glob(filepath.Join(root, "adus", "sensor=golden", "date=2013-05-02", "hour=*", "part-*.parquet"))
	require.NoError(t, err)
	src := "read_parquet(" + duckbox.LiteralList(files) + ")"
	var want [3]int64
	require.NoError(t, db.QueryRow(`SELECT count(*) FILTER (WHERE direction = 'c2s'), count(*) FILTER (WHERE direction = 's2c'),
  count(*) FILTER (WHERE direction = 'c2s' AND think_to_peer AND NOT concurrent AND think_us IS NOT NULL) FROM `+src).Scan(&want[0], &want[1], &want[2]))
	require.Positive(t, want[2])
	rf := duckbox.Literal(Path(root, "golden", day("2013-05-02").Date))
	for _, where := range []string{"server_ip IS NULL", "server_ip IS NOT NULL"} {
		var got [3]int64
		require.NoError(t, db.QueryRow(`SELECT sum(n) FILTER (WHERE kind = 'c2s'), sum(n) FILTER (WHERE kind = 's2c'), sum(n) FILTER (WHERE kind = 'rt')
  FROM read_parquet(`+rf+`) WHERE `+where).Scan(&got[0], &got[1], &got[2]))
		require.Equal(t, want, got, where)
	}

	// Connections: totals and RTT counts, per server and over all servers.
	var wantConns [5]int64
	cfiles, err := filepath.Glob(filepath.Join(root, "connections", "sensor=golden", "date=2013-05-02", "hour=*", "part-*.parquet"))
	require.NoError(t, err)
	require.NotEmpty(t, cfiles)
	require.NoError(t, db.QueryRow(`SELECT count(*), sum(c2s_unique_bytes), sum(s2c_unique_bytes), count(*) FILTER (WHERE c2s_rst OR s2c_rst),
  count(rtt_us) FROM read_parquet(`+duckbox.LiteralList(cfiles)+`)`).Scan(&wantConns[0], &wantConns[1], &wantConns[2], &wantConns[3], &wantConns[4]))
	for _, where := range []string{"server_ip IS NULL", "server_ip IS NOT NULL"} {
		var got [5]int64
		require.NoError(t, db.QueryRow(`SELECT sum(n) FILTER (WHERE kind = 'conns'), sum(n) FILTER (WHERE kind = 'bytes_in'),
  sum(n) FILTER (WHERE kind = 'bytes_out'), sum(n) FILTER (WHERE kind = 'rst'), sum(n) FILTER (WHERE kind = 'rtt')
  FROM read_parquet(`+rf+`) WHERE `+where).Scan(&got[0], &got[1], &got[2], &got[3], &got[4]))
		require.Equal(t, wantConns, got, where)
	}

	// A new part makes only its day stale.
	d := day("2015-07-25")
	ok, err := IsCurrent(root, d)
	require.NoError(t, err)
	require.True(t, ok)
	dayParts, err := filepath.Glob(filepath.Join(root, "adus", "sensor=golden", "date=2015-07-25", "hour=*", "part-*-0001.parquet"))
	require.NoError(t, err)
	require.NotEmpty(t, dayParts)
	data, err := os.ReadFile(dayParts[0])
	require.NoError(t, err)
	late := strings.Replace(dayParts[0], "-0001.parquet", "-0099.parquet", 1) // a late part of the same run
	require.NoError(t, os.WriteFile(late, data, 0o444))
	ok, err = IsCurrent(root, d)
	require.NoError(t, err)
	require.False(t, ok)
	st, err = b.Update(ctx, UpdateOptions{})
	require.NoError(t, err)
	require.Equal(t, UpdateStats{Days: 4, Built: 1, Current: 3}, st)

	// --force and a day range.
	st, err = b.Update(ctx, UpdateOptions{Force: true, From: d.Date, To: d.Date.Add(24 * time.Hour)})
	require.NoError(t, err)
	require.Equal(t, UpdateStats{Days: 1, Built: 1}, st)

	// A day whose parts are all gone loses its rollup; the temporary file of a
	// builder that died is removed, that of a live one (this process) is
	// not.
	for _, table := range SourceTables {
		require.NoError(t, os.RemoveAll(filepath.Join(root, table, "sensor=golden", "date=2009-10-05")))
	}
	dir := filepath.Dir(Path(root, "golden", d.Date))
	dead := exec.Command("true")
	require.NoError(t, dead.Run())
	old := filepath.Join(dir, fmt.Sprintf(".rollup-%d-ab12.parquet.tmp", dead.Process.Pid))
	young := filepath.Join(dir, fmt.Sprintf(".rollup-%d-cd34.parquet.tmp", os.Getpid()))
	require.NoError(t, os.WriteFile(old, nil, 0o644))
	require.NoError(t, os.WriteFile(young, nil, 0o644))
	st, err = b.Update(ctx, UpdateOptions{})
	require.NoError(t, err)
	require.Equal(t, UpdateStats{Days: 3, Current: 3, Removed: 1}, st)
	_, err = os.Stat(Path(root, "golden", day("2009-10-05").Date))
	require.ErrorIs(t, err, fs.ErrNotExist)
	_, err = os.Stat(old)
	require.ErrorIs(t, err, fs.ErrNotExist)
	_, err = os.Stat(young)
	require.NoError(t, err)
}

// TestCurrentRejects: a rollup of another version, or a file that is not
// Parquet, is not current.
func TestCurrentRejects(t *testing.T) {
	ctx := context.Background()
	root := copyADUs(t)
	b, err := NewBuilder(ctx, root, 1)
	require.NoError(t, err)
	defer b.Close()
	d := day("2014-01-14")
	require.NoError(t, b.Build(ctx, d))
	ok, err := IsCurrent(root, d)
	require.NoError(t, err)
	require.True(t, ok)
	f, err := os.Open(Path(root, d.Sensor, d.Date))
	require.NoError(t, err)
	require.False(t, Current(f, Fingerprint(nil, nil)), "another set of parts")
	require.NoError(t, f.Close())
	require.NoError(t, os.WriteFile(Path(root, d.Sensor, d.Date), []byte("not parquet"), 0o644))
	ok, err = IsCurrent(root, d)
	require.NoError(t, err)
	require.False(t, ok)
}
