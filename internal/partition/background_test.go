package partition_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/partition"
)

// newBackgroundWriter is newWriter, publishing in the background or not.
func newBackgroundWriter(t *testing.T, root string, background bool) *partition.Writer[crow, row] {
	t.Helper()
	w, err := partition.NewWriter(partition.Options{
		Root: root, Table: "t", Sensor: "s1", RunID: "run1", Grace: time.Minute,
		RowGroupRows: 100, SortRows: 64, Background: background,
		Sorting:  []parquet.SortingColumn{parquet.Ascending("server"), parquet.Ascending("ts")},
		Metadata: map[string]string{"abt.table": "t"},
	}, rowSpec)
	require.NoError(t, err)
	return w
}

// writeHours writes rows over four hours, advancing the clock as it goes
// (so that hours are published during the run), with late rows for
// published hours; chunks of 64 rows spill.
func writeHours(t *testing.T, w *partition.Writer[crow, row]) {
	t.Helper()
	srvs := []string{"10.0.0.2", "10.0.0.1", "10.0.0.30", "9.0.0.1"}
	for i := range 4000 {
		ts := h0 + int64(i)*3_500_000 // 3.5 s apart: about 3.9 hours
		require.NoError(t, w.Write(newRow(ts, srvs[i%len(srvs)], int64(i))))
		if i%100 == 99 {
			require.NoError(t, w.Advance(ts))
		}
		if i%700 == 699 {
			require.NoError(t, w.Write(newRow(h0+int64(i), "10.0.0.9", -int64(i)))) // late
		}
	}
	require.NoError(t, w.Close())
}

// filesUnder returns the contents of the regular files under root by their
// relative path, lock files left out.
func filesUnder(t *testing.T, root string) map[string]string {
	t.Helper()
	files := map[string]string{}
	require.NoError(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".lock") {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		files[rel] = string(b)
		return err
	}))
	return files
}

// TestBackgroundSameFiles: publishing on the writer's own goroutine gives
// the files publishing in the caller gives, byte for byte, and the same
// list of published files.
func TestBackgroundSameFiles(t *testing.T) {
	fg, bg := t.TempDir(), t.TempDir()
	wf := newBackgroundWriter(t, fg, false)
	writeHours(t, wf)
	wb := newBackgroundWriter(t, bg, true)
	writeHours(t, wb)

	want, got := filesUnder(t, fg), filesUnder(t, bg)
	require.Greater(t, len(want), 5, "several hours and late parts")
	require.Equal(t, want, got)
	rel := func(root string, ps []partition.Published) []partition.Published {
		for i := range ps {
			ps[i].Path, _ = filepath.Rel(root, ps[i].Path)
		}
		return ps
	}
	require.Equal(t, rel(fg, wf.Published()), rel(bg, wb.Published()))
}

// TestBackgroundAbort: Abort while parts wait for the background
// publisher leaves only whole published parts: no pending file, no spill.
func TestBackgroundAbort(t *testing.T) {
	root := t.TempDir()
	w := newBackgroundWriter(t, root, true)
	for i := range 3000 {
		require.NoError(t, w.Write(newRow(h0+int64(i)*5_000_000, "10.0.0.1", int64(i))))
	}
	require.NoError(t, w.Advance(h0+4*3600e6)) // every hour handed over
	w.Abort()
	published := map[string]bool{}
	for _, p := range w.Published() {
		published[p.Path] = true
		readAll(t, p.Path) // whole
	}
	for rel := range filesUnder(t, root) {
		require.True(t, published[filepath.Join(root, rel)], "%s: left behind", rel)
	}
}
