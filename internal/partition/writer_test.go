package partition_test

import (
	"cmp"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/partition"
)

type row struct {
	Ts     int64  `parquet:"ts,timestamp(microsecond:local)"`
	Server string `parquet:"server,dict"`
	N      int64  `parquet:"n"`
}

// crow is a row as the writer holds it.
type crow struct {
	Ts, N  int64
	Server partition.Name
}

func newRow(ts int64, server string, n int64) crow {
	return crow{Ts: ts, Server: partition.NameOf(server), N: n}
}

var rowSpec = partition.Rows[crow, row]{
	Ts:  func(r *crow) int64 { return r.Ts },
	Cmp: func(a, b *crow) int { return cmp.Or(a.Server.Compare(b.Server), cmp.Compare(a.Ts, b.Ts)) },
	Convert: func(dst *row, src *crow) {
		*dst = row{Ts: src.Ts, Server: src.Server.String(), N: src.N}
	},
}

const h0 = int64(1700000000) / 3600 * 3600 * 1e6 // an hour boundary, µs

func newWriter(t *testing.T, root string, grace time.Duration) *partition.Writer[crow, row] {
	t.Helper()
	w, err := partition.NewWriter(partition.Options{
		Root: root, Table: "t", Sensor: "s1", RunID: "run1", Grace: grace,
		RowGroupRows: 100, SortRows: 64,
		Sorting:  []parquet.SortingColumn{parquet.Ascending("server"), parquet.Ascending("ts")},
		Metadata: map[string]string{"abt.table": "t"},
	}, rowSpec)
	require.NoError(t, err)
	return w
}

func readAll(t *testing.T, path string) []row {
	t.Helper()
	rows, err := parquet.ReadFile[row](path)
	require.NoError(t, err)
	return rows
}

// TestWriterHours writes rows spanning two hours out of order, advances the
// clock past the first hour's grace, and checks what is published where:
// one sorted file per hour, late rows in a second part, nothing temporary
// left, footer metadata present.
func TestWriterHours(t *testing.T) {
	root := t.TempDir()
	w := newWriter(t, root, time.Minute)
	var want0, want1 int
	for i := 0; i < 1000; i++ {
		ts := h0 + int64(i)*7_000_000 // 7 s apart: spans ~1.9 hours
		srv := []string{"10.0.0.2", "10.0.0.1", "10.0.0.3"}[i%3]
		require.NoError(t, w.Write(newRow(ts, srv, int64(i))))
		if ts < h0+3600e6 {
			want0++
		} else {
			want1++
		}
	}
	require.NoError(t, w.Advance(h0+3600e6+61e6)) // first hour due
	pub := w.Published()
	require.Len(t, pub, 1)
	require.Equal(t, int64(want0), pub[0].Rows)
	// A late row for the published hour goes to a second part.
	require.NoError(t, w.Write(newRow(h0+5, "10.0.0.9", -1)))
	require.NoError(t, w.Close())
	pub = w.Published()
	require.Len(t, pub, 3)

	dir0 := partition.Dir(root, "t", "s1", partition.HourOf(h0))
	dir1 := partition.Dir(root, "t", "s1", partition.HourOf(h0+3600e6))
	require.Equal(t, filepath.Join(root, "t", "sensor=s1", "date=2023-11-14", "hour=22"), dir0)
	names0, _ := os.ReadDir(dir0)
	require.Len(t, names0, 2, "main part and late part, nothing else")
	rows := readAll(t, filepath.Join(dir0, partition.PartName("run1", 1)))
	require.Len(t, rows, want0)
	require.True(t, sort.SliceIsSorted(rows, func(i, j int) bool {
		return rows[i].Server < rows[j].Server || rows[i].Server == rows[j].Server && rows[i].Ts < rows[j].Ts
	}), "rows sorted by server, then time")
	late := readAll(t, filepath.Join(dir0, partition.PartName("run1", 2)))
	require.Equal(t, []row{{Ts: h0 + 5, Server: "10.0.0.9", N: -1}}, late)
	require.Len(t, readAll(t, filepath.Join(dir1, partition.PartName("run1", 1))), want1)

	f, err := os.Open(filepath.Join(dir0, partition.PartName("run1", 1)))
	require.NoError(t, err)
	defer f.Close()
	st, _ := f.Stat()
	pf, err := parquet.OpenFile(f, st.Size())
	require.NoError(t, err)
	v, ok := pf.Lookup("abt.table")
	require.True(t, ok)
	require.Equal(t, "t", v)
	v, _ = pf.Lookup("abt.hour")
	require.Equal(t, "2023-11-14T22:00:00Z", v)
	require.Greater(t, len(pf.RowGroups()), 1, "row groups are cut at RowGroupRows")
	spills, _ := filepath.Glob(filepath.Join(root, ".spill-*"))
	require.Empty(t, spills)
}

func TestAbortLeavesNoTemporaryFiles(t *testing.T) {
	root := t.TempDir()
	w := newWriter(t, root, time.Minute)
	for i := 0; i < 500; i++ {
		require.NoError(t, w.Write(newRow(h0+int64(i), "a", int64(i))))
	}
	w.Abort()
	var files []string
	require.NoError(t, filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && !strings.HasSuffix(p, ".lock") {
			files = append(files, p)
		}
		return err
	}))
	require.Empty(t, files, "only the hour's lock file remains")
}

// TestDirLayout: an hour's directory is hour=H (no leading zero), unless
// the hour has an hour=0H directory already (an archive written before),
// which is then kept, so that an hour is always one directory; Relayout
// renames such a directory to hour=H (its lock file goes too), lists none
// after, and refuses when both names exist.
func TestDirLayout(t *testing.T) {
	root := t.TempDir()
	h7 := partition.HourOf(time.Date(2024, 3, 1, 7, 30, 0, 0, time.UTC).UnixMicro())
	h22 := partition.HourOf(time.Date(2024, 3, 1, 22, 0, 0, 0, time.UTC).UnixMicro())
	day := filepath.Join(root, "t", "sensor=s", "date=2024-03-01")
	require.Equal(t, filepath.Join(day, "hour=7"), partition.Dir(root, "t", "s", h7))
	require.Equal(t, filepath.Join(day, "hour=22"), partition.Dir(root, "t", "s", h22))

	old := filepath.Join(day, "hour=07")
	require.NoError(t, os.MkdirAll(old, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(old, "part-a-0001.parquet"), []byte("x"), 0o644))
	require.Equal(t, old, partition.Dir(root, "t", "s", h7), "the hour's existing directory")
	got, err := partition.OldHourDirs(root, []string{"t", "u"})
	require.NoError(t, err)
	require.Equal(t, []string{old}, got)

	require.NoError(t, partition.Relayout(old))
	require.NoFileExists(t, filepath.Join(old, "part-a-0001.parquet"))
	require.FileExists(t, filepath.Join(day, "hour=7", "part-a-0001.parquet"))
	require.NoFileExists(t, filepath.Join(day, ".hour=07.lock"))
	require.Equal(t, filepath.Join(day, "hour=7"), partition.Dir(root, "t", "s", h7))
	got, err = partition.OldHourDirs(root, []string{"t"})
	require.NoError(t, err)
	require.Empty(t, got)

	require.NoError(t, os.MkdirAll(old, 0o755))
	require.ErrorContains(t, partition.Relayout(old), "the hour is in two directories")
	require.DirExists(t, old, "left as it was")
}
