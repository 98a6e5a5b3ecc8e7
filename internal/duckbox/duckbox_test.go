package duckbox

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// spillQuery sorts 3 M integers: 24 MB of keys, more than spillLimit.
const (
	spillQuery = "SELECT count(*), sum(x) FROM (SELECT x FROM range(3000000) t(x) ORDER BY x DESC)"
	spillLimit = "10MB"
)

func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// TestTempDir: DuckDB spills into a private directory (0700, under
// TempRoot), not into the current directory (its default, ".tmp"), and
// Close removes it.
func TestTempDir(t *testing.T) {
	ctx := context.Background()
	root, cwd := t.TempDir(), t.TempDir()
	t.Chdir(cwd)

	b, err := Open(ctx, Options{Threads: 1, MemoryLimit: spillLimit, TempRoot: root})
	require.NoError(t, err)
	st, err := os.Stat(b.TempDir)
	require.NoError(t, err)
	require.Equal(t, os.ModeDir|0o700, st.Mode())
	require.Equal(t, root, filepath.Dir(b.TempDir))
	var setting string
	require.NoError(t, b.Conn.QueryRowContext(ctx, "SELECT current_setting('temp_directory')").Scan(&setting))
	require.Equal(t, b.TempDir, setting)

	var n, sum int64
	require.NoError(t, b.Conn.QueryRowContext(ctx, spillQuery).Scan(&n, &sum))
	require.Equal(t, int64(3000000), n)
	require.Equal(t, int64(3000000*2999999/2), sum)
	require.Empty(t, entries(t, cwd), "nothing written in the current directory")

	require.NoError(t, b.Close())
	require.Empty(t, entries(t, root), "Close removes the temporary directory")
}

// TestSpillQuerySpills: spillQuery needs the temporary directory (it fails
// when DuckDB may not store anything there), so TestTempDir's success
// means it spilled into the private one.
func TestSpillQuerySpills(t *testing.T) {
	ctx := context.Background()
	b, err := Open(ctx, Options{Threads: 1, MemoryLimit: spillLimit, TempRoot: t.TempDir()})
	require.NoError(t, err)
	defer b.Close()
	_, err = b.Conn.ExecContext(ctx, "SET max_temp_directory_size = '0KiB'")
	require.NoError(t, err)
	var n, sum int64
	err = b.Conn.QueryRowContext(ctx, spillQuery).Scan(&n, &sum)
	require.ErrorContains(t, err, "Out of Memory")
}

// TestOpenFailsCleanly: a setting DuckDB refuses fails Open and leaves no
// temporary directory.
func TestOpenFailsCleanly(t *testing.T) {
	root := t.TempDir()
	_, err := Open(context.Background(), Options{MemoryLimit: "lots", TempRoot: root})
	require.ErrorContains(t, err, "memory_limit")
	require.Empty(t, entries(t, root))
}

// TestSandbox: files outside Dirs cannot be read or written; the
// temporary directory can be written (Copy's results go there).
func TestSandbox(t *testing.T) {
	ctx := context.Background()
	allowed, other := t.TempDir(), t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(other, "secret.csv"), []byte("a\n1\n"), 0o644))
	b, err := Open(ctx, Options{Dirs: []string{allowed}, Threads: 1, TempRoot: t.TempDir()})
	require.NoError(t, err)
	defer b.Close()

	_, err = b.Conn.ExecContext(ctx, "SELECT * FROM read_csv("+Literal(filepath.Join(other, "secret.csv"))+")")
	require.ErrorContains(t, err, "Permission Error")
	_, err = b.Conn.ExecContext(ctx, "COPY (SELECT 1) TO "+Literal(filepath.Join(other, "x.csv")))
	require.ErrorContains(t, err, "Permission Error")
	require.Equal(t, []string{"secret.csv"}, entries(t, other))
	_, err = b.Conn.ExecContext(ctx, "COPY (SELECT 1) TO "+Literal(filepath.Join(b.TempDir, "x.parquet")))
	require.NoError(t, err)
}
