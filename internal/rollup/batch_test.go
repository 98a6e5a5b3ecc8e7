package rollup

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBatchMatchesAlone: the rollups Update builds in a batch are the
// files Build writes for each day alone, byte for byte.
func TestBatchMatchesAlone(t *testing.T) {
	ctx := context.Background()
	root := copyADUs(t)
	b, err := NewBuilder(ctx, root, 1)
	require.NoError(t, err)
	defer b.Close()
	st, err := b.Update(ctx, UpdateOptions{})
	require.NoError(t, err)
	require.Equal(t, UpdateStats{Days: 4, Built: 4}, st)
	require.Equal(t, 1, b.batches, "the four small days in one batch")
	days, err := listDays(root, Table, UpdateOptions{})
	require.NoError(t, err)
	require.Len(t, days, 4)
	for _, d := range days {
		batched, err := os.ReadFile(Path(root, d.Sensor, d.Date))
		require.NoError(t, err)
		require.NoError(t, b.Build(ctx, d))
		alone, err := os.ReadFile(Path(root, d.Sensor, d.Date))
		require.NoError(t, err)
		require.Equal(t, alone, batched, "rollup of %s", d)
	}
}

// TestBatchCorruptPart: a corrupt part fails its own day only; the other
// days of its batch are built.
func TestBatchCorruptPart(t *testing.T) {
	ctx := context.Background()
	root := copyADUs(t)
	d := day("2013-05-02")
	files, err := filepath.Glob(filepath.Join(root, "adus", "sensor="+d.Sensor, "date="+d.Date.Format("2006-01-02"), "hour=*", "part-*.parquet"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	bad := filepath.Join(filepath.Dir(files[0]), "part-bad-0001.parquet")
	require.NoError(t, os.WriteFile(bad, []byte("PAR1 not parquet PAR1"), 0o644))
	b, err := NewBuilder(ctx, root, 1)
	require.NoError(t, err)
	defer b.Close()
	st, err := b.Update(ctx, UpdateOptions{})
	require.Error(t, err)
	require.Contains(t, err.Error(), d.String())
	require.Equal(t, UpdateStats{Days: 4, Built: 3, Failed: 1}, st)
	_, err = os.Stat(Path(root, d.Sensor, d.Date))
	require.ErrorIs(t, err, fs.ErrNotExist)
}
