package query

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func readDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	es, err := os.ReadDir(dir)
	require.NoError(t, err)
	m := map[string]string{}
	for _, e := range es {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		m[e.Name()] = string(b)
	}
	return m
}

// TestOutput: nothing appears at the path until Publish, which replaces
// the old file; Discard leaves the old file and no temporary one.
func TestOutput(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.tsv")
	require.NoError(t, os.WriteFile(path, []byte("old\n"), 0o644))

	o, err := CreateOutput(path)
	require.NoError(t, err)
	_, err = o.Write([]byte("half"))
	require.NoError(t, err)
	require.Equal(t, "old\n", readDir(t, dir)["out.tsv"])
	require.NoError(t, o.Discard())
	require.Equal(t, map[string]string{"out.tsv": "old\n"}, readDir(t, dir))

	o, err = CreateOutput(path)
	require.NoError(t, err)
	_, err = o.Write([]byte("new\n"))
	require.NoError(t, err)
	require.NoError(t, o.Publish())
	require.NoError(t, o.Discard(), "a no-op after Publish")
	require.Equal(t, map[string]string{"out.tsv": "new\n"}, readDir(t, dir))
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.NotZero(t, st.Mode().Perm()&0o044, "readable as os.Create makes it, not 0600")

	_, err = CreateOutput(filepath.Join(dir, "no-such-dir", "out.tsv"))
	require.ErrorContains(t, err, "create output")
}

// TestPublishFile: a rename when it can, a copy beside the destination
// when the rename would cross file systems (copyFile, called directly:
// the test cannot count on two file systems).
func TestPublishFile(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	a, b := filepath.Join(src, "a.parquet"), filepath.Join(src, "b.parquet")
	require.NoError(t, os.WriteFile(a, []byte("A"), 0o644))
	require.NoError(t, os.WriteFile(b, []byte("B"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dst, "out.parquet"), []byte("old"), 0o644))

	require.NoError(t, publishFile(a, filepath.Join(dst, "out.parquet")))
	require.Equal(t, map[string]string{"out.parquet": "A"}, readDir(t, dst))
	require.Equal(t, map[string]string{"b.parquet": "B"}, readDir(t, src))

	require.NoError(t, copyFile(b, filepath.Join(dst, "out.parquet")))
	require.Equal(t, map[string]string{"out.parquet": "B"}, readDir(t, dst))

	require.Error(t, publishFile(filepath.Join(src, "missing"), filepath.Join(dst, "out.parquet")))
	require.Equal(t, map[string]string{"out.parquet": "B"}, readDir(t, dst))
}
