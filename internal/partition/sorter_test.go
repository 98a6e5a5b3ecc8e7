package partition

import (
	"bytes"
	"cmp"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/require"
)

// wideRow is a row of about a kilobyte, like a wide table's.
type wideRow struct {
	K    int64  `parquet:"k"`
	Name string `parquet:"name"`
	Pad  [120]int64
}

type narrowRow struct {
	K int64 `parquet:"k"`
}

// TestSorterBoundsMemory checks that a part's sorter holds at most
// SortBytes of rows (or SortRows, when fewer), that its buffer never grows
// past that, and that what it spills comes back whole and in order.
func TestSorterBoundsMemory(t *testing.T) {
	wide := newSorter(func(a, b *wideRow) int { return cmp.Compare(a.K, b.K) }, DefaultSortRows, t.TempDir(), ".spill-*")
	defer wide.close()
	require.Equal(t, 8+16+16+960, rowBytes[wideRow]())
	require.Equal(t, SortBytes/rowBytes[wideRow](), wide.max)

	narrow := newSorter(func(a, b *narrowRow) int { return cmp.Compare(a.K, b.K) }, 1000, t.TempDir(), ".spill-*")
	defer narrow.close()
	require.Equal(t, 1000, narrow.max, "SortRows binds first")

	for i := range 3500 {
		require.NoError(t, narrow.add([]narrowRow{{K: int64((i * 7919) % 3500)}}))
		require.LessOrEqual(t, cap(narrow.buf), narrow.max)
	}
	require.Len(t, narrow.spills, 3)
	var out bytes.Buffer
	w := parquet.NewGenericWriter[narrowRow](&out)
	require.NoError(t, narrow.writeTo(w))
	require.NoError(t, w.Close())
	got, err := parquet.Read[narrowRow](bytes.NewReader(out.Bytes()), int64(out.Len()))
	require.NoError(t, err)
	require.Len(t, got, 3500)
	for i := range got {
		require.Equal(t, int64(i), got[i].K)
	}
}
