package catalog_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/catalog"
	"github.com/abt-dev/abt/internal/partition"
	"github.com/abt-dev/abt/schema"
)

// row is a minimal runs-table-like row: the catalog reads only footers.
type row struct {
	Ts    int64  `parquet:"ts,timestamp(microsecond:local)"`
	RunID string `parquet:"run_id"`
}

var h0 = time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)

// writePart writes a part as the archive's writer does: its footer names
// its table, sensor, hour and runs.
func writePart(t *testing.T, root, table, name string, hour time.Time, runs string, mutate func(map[string]string)) string {
	t.Helper()
	h := partition.HourOf(hour.UnixMicro())
	dir := partition.Dir(root, table, "s", h)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	meta := map[string]string{
		schema.MetaTable: table, schema.MetaSchemaVersion: strconv.Itoa(schema.Version), schema.MetaSensor: "s",
		schema.MetaHour: h.String(), schema.MetaRunIDs: runs,
	}
	if mutate != nil {
		mutate(meta)
	}
	var opts []parquet.WriterOption
	for k, v := range meta {
		opts = append(opts, parquet.KeyValueMetadata(k, v))
	}
	path := filepath.Join(dir, name)
	f, err := os.Create(path)
	require.NoError(t, err)
	w := parquet.NewGenericWriter[row](f, opts...)
	_, err = w.Write([]row{{Ts: hour.UnixMicro(), RunID: runs}})
	require.NoError(t, err)
	require.NoError(t, w.Close())
	require.NoError(t, f.Close())
	return path
}

func names(files []catalog.File) []string {
	var out []string
	for _, f := range files {
		out = append(out, f.Name)
	}
	return out
}

// TestListRules: what a reader sees under a state, file by file.
func TestListRules(t *testing.T) {
	root := t.TempDir()
	writePart(t, root, "adus", "part-old-0001.parquet", h0, "old", nil)
	writePart(t, root, "adus", "part-other-0001.parquet", h0, "other", nil)
	writePart(t, root, "adus", partition.UncommittedName("part-new-0001.parquet"), h0, "new", nil)
	writePart(t, root, "adus", partition.UncommittedName("part-live-0001.parquet"), h0, "live", nil)
	writePart(t, root, "adus", "part-compact-c1.parquet", h0, "old,other", nil)
	require.NoError(t, os.WriteFile(filepath.Join(partition.Dir(root, "adus", "s", partition.HourOf(h0.UnixMicro())), ".part-x-0001.parquet.tmp"), nil, 0o644))
	writePart(t, root, "adus", "part-old-0001.parquet", h0.Add(48*time.Hour), "old", nil)

	before := catalog.State{}
	got, err := catalog.List(root, before, catalog.Selection{})
	require.NoError(t, err)
	require.Equal(t, []string{"part-compact-c1.parquet", "part-old-0001.parquet", "part-other-0001.parquet", "part-old-0001.parquet"},
		names(got["adus"]), "before the commit: published parts only")
	require.Empty(t, got["connections"])

	after := catalog.State{Generation: 1, Replacements: []catalog.Replacement{{Run: "new", Replaces: []string{"old"}}}}
	got, err = catalog.List(root, after, catalog.Selection{})
	require.NoError(t, err)
	require.Equal(t, []string{"part-compact-c1.parquet", "part-new-0001.parquet", "part-other-0001.parquet"},
		names(got["adus"]), "after: the new run's parts, not the old run's (its rows in merged files are Hidden)")
	require.Equal(t, []string{"old"}, after.Hidden())

	got, err = catalog.List(root, before, catalog.Selection{From: h0.Add(time.Hour), To: h0.Add(72 * time.Hour)})
	require.NoError(t, err)
	require.Equal(t, []string{"part-old-0001.parquet"}, names(got["adus"]), "only the hours of the range")
	require.Equal(t, partition.HourOf(h0.Add(48*time.Hour).UnixMicro()), got["adus"][0].Hour)
}

// TestTakeConsistent: a snapshot follows one state; the state file is
// written whole.
func TestTakeConsistent(t *testing.T) {
	root := t.TempDir()
	writePart(t, root, "adus", "part-old-0001.parquet", h0, "old", nil)
	writePart(t, root, "adus", partition.UncommittedName("part-new-0001.parquet"), h0, "new", nil)
	s, err := catalog.Take(root, catalog.Selection{})
	require.NoError(t, err)
	require.Equal(t, uint64(0), s.State.Generation)
	require.Equal(t, []string{"part-old-0001.parquet"}, names(s.Files["adus"]))

	lock, err := catalog.Lock(root)
	require.NoError(t, err)
	st, err := catalog.WriteState(root, catalog.State{Replacements: []catalog.Replacement{{Run: "new", Replaces: []string{"old"}}}})
	lock.Unlock()
	require.NoError(t, err)
	require.Equal(t, uint64(1), st.Generation)
	s, err = catalog.Take(root, catalog.Selection{})
	require.NoError(t, err)
	require.Equal(t, uint64(1), s.State.Generation)
	require.Equal(t, []string{"part-new-0001.parquet"}, names(s.Files["adus"]))
	tmps, _ := filepath.Glob(filepath.Join(root, catalog.MetaDir, ".state-*"))
	require.Empty(t, tmps)
}

// TestPinHoldsRetiredFiles: a pinned file stays readable through its link
// after a writer removed it, and the links carry the Hive path.
func TestPinHoldsRetiredFiles(t *testing.T) {
	root := t.TempDir()
	path := writePart(t, root, "adus", "part-old-0001.parquet", h0, "old", nil)
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	dir := t.TempDir()
	p, err := catalog.Pin(root, dir, catalog.Selection{})
	require.NoError(t, err)
	defer p.Close()
	require.True(t, p.Held)
	links := p.Paths("adus")
	require.Len(t, links, 1)
	require.Equal(t, filepath.Join(dir, "adus", "sensor=s", "date=2024-03-01", "hour=10", "part-old-0001.parquet"), links[0])
	require.Equal(t, int64(len(want)), p.Files["adus"][0].Size)
	require.NoError(t, os.Remove(path))
	got, err := os.ReadFile(links[0])
	require.NoError(t, err, "a retired file is still read through its link")
	require.Equal(t, want, got)
	require.Equal(t, path+": x", p.Unpin(links[0]+": x"))
}

// TestPinRejectsForeignFiles: a file in a part's place that adu2parquet
// did not write there is reported with its path, and nothing is pinned.
func TestPinRejectsForeignFiles(t *testing.T) {
	tests := []struct {
		name   string
		write  func(t *testing.T, root string) string
		reason string
	}{
		{"not parquet", func(t *testing.T, root string) string {
			dir := partition.Dir(root, "adus", "s", partition.HourOf(h0.UnixMicro()))
			require.NoError(t, os.MkdirAll(dir, 0o755))
			path := filepath.Join(dir, "part-evil-0001.parquet")
			require.NoError(t, os.WriteFile(path, []byte("PAR1 not parquet at all PAR1"), 0o644))
			return path
		}, "footer"},
		{"no footer metadata (written by another tool)", func(t *testing.T, root string) string {
			return writePart(t, root, "adus", "part-evil-0001.parquet", h0, "evil", func(m map[string]string) { clear(m) })
		}, "abt.table"},
		{"another table's part", func(t *testing.T, root string) string {
			return writePart(t, root, "adus", "part-evil-0001.parquet", h0, "evil", func(m map[string]string) { m[schema.MetaTable] = "connections" })
		}, "abt.table"},
		{"another hour's part", func(t *testing.T, root string) string {
			return writePart(t, root, "adus", "part-evil-0001.parquet", h0, "evil", func(m map[string]string) {
				m[schema.MetaHour] = partition.HourOf(h0.Add(time.Hour).UnixMicro()).String()
			})
		}, "abt.hour"},
		{"another run's part copied under a new name", func(t *testing.T, root string) string {
			return writePart(t, root, "adus", "part-evil-0001.parquet", h0, "old", nil)
		}, "does not name run evil"},
		{"a schema version this program does not know", func(t *testing.T, root string) string {
			return writePart(t, root, "adus", "part-evil-0001.parquet", h0, "evil", func(m map[string]string) { m[schema.MetaSchemaVersion] = "99" })
		}, "abt.schema_version"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			writePart(t, root, "adus", "part-good-0001.parquet", h0, "good", nil)
			path := tc.write(t, root)
			dir := t.TempDir()
			_, err := catalog.Pin(root, dir, catalog.Selection{})
			var ce *partition.CorruptError
			require.True(t, errors.As(err, &ce), "%v", err)
			require.Equal(t, path, ce.Path)
			require.ErrorContains(t, err, "corrupt or foreign file in the archive: "+path)
			require.ErrorContains(t, err, tc.reason)
			ents, err := os.ReadDir(dir)
			require.NoError(t, err)
			require.Empty(t, ents, "nothing left pinned")
		})
	}
}

// TestPinManyFiles: a range with more files than the process may hold
// open is still read, through links to the files' paths.
func TestPinManyFiles(t *testing.T) {
	root := t.TempDir()
	for i := range 5 {
		writePart(t, root, "adus", "part-r-000"+strconv.Itoa(i+1)+".parquet", h0, "r", nil)
	}
	p, err := catalog.PinLimit(root, t.TempDir(), catalog.Selection{}, 3)
	require.NoError(t, err)
	defer p.Close()
	require.False(t, p.Held)
	for _, l := range p.Paths("adus") {
		target, err := os.Readlink(l)
		require.NoError(t, err)
		require.True(t, filepath.IsAbs(target) && !strings.HasPrefix(target, "/proc/"), target)
		_, err = os.Stat(l)
		require.NoError(t, err)
	}
}

// TestOpenInPlaceOrPinned: a reader reads in place when no writer retires
// files, and a writer that would waits for it; a reader that comes while a
// writer holds or wants the retire lock pins its files instead of waiting.
func TestOpenInPlaceOrPinned(t *testing.T) {
	root := t.TempDir()
	path := writePart(t, root, "adus", "part-r-0001.parquet", h0, "r", nil)
	meta := filepath.Join(root, catalog.MetaDir)
	require.NoError(t, os.MkdirAll(meta, 0o755))

	// No writer of this version yet (no lock files): pinned, to be safe.
	p, err := catalog.Open(root, catalog.Selection{}, "")
	require.NoError(t, err)
	require.False(t, p.InPlace)
	require.NoError(t, p.Close())
	require.NoDirExists(t, p.Dir, "Open's link directory is removed by Close")

	require.NoError(t, partition.MakeRetireLocks(meta))
	reader, err := catalog.Open(root, catalog.Selection{}, "")
	require.NoError(t, err)
	require.True(t, reader.InPlace)
	require.Equal(t, []string{path}, reader.Paths("adus"))

	locked := make(chan *partition.RetireLock)
	go func() {
		l, err := partition.LockRetire(meta)
		if err != nil {
			panic(err)
		}
		locked <- l
	}()
	time.Sleep(100 * time.Millisecond)
	select {
	case <-locked:
		t.Fatal("the writer did not wait for the reader reading in place")
	default:
	}
	// Meanwhile a second reader pins rather than wait.
	second, err := catalog.Open(root, catalog.Selection{}, "")
	require.NoError(t, err)
	require.False(t, second.InPlace)
	require.True(t, second.Held)
	require.NoError(t, reader.Close())
	writer := <-locked
	require.NoError(t, os.Remove(path), "the writer retires the file")
	b, err := os.ReadFile(second.Paths("adus")[0])
	require.NoError(t, err, "the pinned reader still reads it")
	require.NotEmpty(t, b)
	require.NoError(t, second.Close())
	writer.Unlock()
}
