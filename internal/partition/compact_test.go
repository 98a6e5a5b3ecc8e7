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
	"github.com/parquet-go/parquet-go/format"
	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/partition"
)

type runRow struct {
	Ts  int64  `parquet:"ts,timestamp(microsecond:local)"`
	Run string `parquet:"run"`
	K   int64  `parquet:"k"`
}

// krow is a runRow as its run's writer holds it: the run is the writer's.
type krow struct{ Ts, K int64 }

func runRows(run string) partition.Rows[krow, runRow] {
	return partition.Rows[krow, runRow]{
		Ts:      func(r *krow) int64 { return r.Ts },
		Cmp:     func(a, b *krow) int { return cmp.Compare(a.K, b.K) },
		Convert: func(dst *runRow, src *krow) { *dst = runRow{Ts: src.Ts, Run: run, K: src.K} },
	}
}

func writeRun(t *testing.T, root, run string, n int, late bool) {
	t.Helper()
	w, err := partition.NewWriter(partition.Options{
		Root: root, Table: "t", Sensor: "s", RunID: run, Grace: time.Minute,
		Sorting:  []parquet.SortingColumn{parquet.Ascending("k")},
		Metadata: map[string]string{"abt.table": "t"},
	}, runRows(run))
	require.NoError(t, err)
	for i := 0; i < n; i++ {
		require.NoError(t, w.Write(krow{Ts: h0 + int64(i), K: int64(i * 7 % n)}))
		if late && i == n/2 {
			require.NoError(t, w.Advance(h0+3600e6+61e6)) // publish, the rest goes to a late part
		}
	}
	require.NoError(t, w.Close())
}

func compactOpts(root string) partition.EditOptions {
	return partition.EditOptions{Merge: true,
		Root: root, Table: "t", Sensor: "s", Hour: partition.HourOf(h0),
		Sorting:  []parquet.SortingColumn{parquet.Ascending("k")},
		StageDir: filepath.Join(root, "_abt", "compact"),
		Metadata: map[string]string{"abt.table": "t"}, RunIDsKey: "abt.run_ids",
		Expect: map[string]string{"abt.table": "t"},
	}
}

func parts(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// requireV1Pages checks that every data page of the file at path is a
// version 1 page (DATA_PAGE), which every engine reads.
func requireV1Pages(t *testing.T, path string) {
	t.Helper()
	pf, f, err := partition.OpenParquet(path)
	require.NoError(t, err)
	defer f.Close()
	pages := 0
	for _, rg := range pf.Metadata().RowGroups {
		for _, c := range rg.Columns {
			require.NotEmpty(t, c.MetaData.EncodingStats, "%s: page statistics", path)
			for _, es := range c.MetaData.EncodingStats {
				require.Contains(t, []format.PageType{format.DataPage, format.DictionaryPage}, es.PageType, "%s %v", path, c.MetaData.PathInSchema)
				pages++
			}
		}
	}
	require.Positive(t, pages)
}

// TestCompactHour merges an hour's three parts into one, sorted, with the
// runs' ids in its footer, and rewrites it without a run's rows; every
// file, written or compacted, has version 1 data pages.
func TestCompactHour(t *testing.T) {
	root := t.TempDir()
	writeRun(t, root, "runA", 300, true)
	writeRun(t, root, "runB", 200, false)
	dir := partition.Dir(root, "t", "s", partition.HourOf(h0))
	require.Len(t, parts(t, dir), 3)
	for _, name := range parts(t, dir) {
		requireV1Pages(t, filepath.Join(dir, name))
	}

	res, err := partition.EditHour[runRow](compactOpts(root), kLess, func(r *runRow) string { return r.Run })
	require.NoError(t, err)
	require.Equal(t, 3, res.Parts)
	require.Equal(t, int64(500), res.Rows)
	names := parts(t, dir)
	require.Len(t, names, 1)
	require.True(t, strings.HasPrefix(names[0], "part-compact-c"))
	rows, err := parquet.ReadFile[runRow](filepath.Join(dir, names[0]))
	require.NoError(t, err)
	require.Len(t, rows, 500)
	require.True(t, sort.SliceIsSorted(rows, func(i, j int) bool { return rows[i].K < rows[j].K }))
	requireV1Pages(t, filepath.Join(dir, names[0]))

	f, err := os.Open(filepath.Join(dir, names[0]))
	require.NoError(t, err)
	defer f.Close()
	st, _ := f.Stat()
	pf, err := parquet.OpenFile(f, st.Size())
	require.NoError(t, err)
	v, _ := pf.Lookup("abt.run_ids")
	require.Equal(t, "runA,runB", v)
	stage, _ := os.ReadDir(filepath.Join(root, "_abt", "compact"))
	require.Empty(t, stage, "staging cleaned up")

	// Dropping one run's rows rewrites the hour without them.
	o := compactOpts(root)
	o.Hide = map[string]bool{"runA": true}
	res, err = partition.EditHour[runRow](o, kLess, func(r *runRow) string { return r.Run })
	require.NoError(t, err)
	require.Equal(t, int64(200), res.Rows)
	require.Equal(t, int64(300), res.Dropped)
	names = parts(t, dir)
	require.Len(t, names, 1)
	rows, err = parquet.ReadFile[runRow](filepath.Join(dir, names[0]))
	require.NoError(t, err)
	require.Len(t, rows, 200)
}

func TestCompactSkipsHourBeingWritten(t *testing.T) {
	root := t.TempDir()
	writeRun(t, root, "runA", 10, false)
	writeRun(t, root, "runB", 10, false)
	w, err := partition.NewWriter(partition.Options{Root: root, Table: "t", Sensor: "s", RunID: "live",
		Metadata: map[string]string{"abt.table": "t"}}, runRows("live"))
	require.NoError(t, err)
	require.NoError(t, w.Write(krow{Ts: h0 + 1}))
	res, err := partition.EditHour[runRow](compactOpts(root), kLess, func(r *runRow) string { return r.Run })
	require.NoError(t, err)
	require.NotEmpty(t, res.Skipped)
	require.NoError(t, w.Close())
	res, err = partition.EditHour[runRow](compactOpts(root), kLess, func(r *runRow) string { return r.Run })
	require.NoError(t, err)
	require.Equal(t, 3, res.Parts)
}

func TestCompactRefusesForeignFile(t *testing.T) {
	root := t.TempDir()
	writeRun(t, root, "runA", 10, false)
	writeRun(t, root, "runB", 10, false)
	dir := partition.Dir(root, "t", "s", partition.HourOf(h0))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "part-evil-0001.parquet"), []byte("not parquet"), 0o644))
	_, err := partition.EditHour[runRow](compactOpts(root), kLess, func(r *runRow) string { return r.Run })
	require.ErrorContains(t, err, "corrupt or foreign file in the archive: "+filepath.Join(dir, "part-evil-0001.parquet"))
	require.Len(t, parts(t, dir), 3, "nothing changed")
}

func kLess(a, b *runRow) int {
	if c := cmp.Compare(a.K, b.K); c != 0 {
		return c
	}
	return strings.Compare(a.Run, b.Run)
}
