package partition

import (
	"cmp"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// wideRow is a row of about a kilobyte, like a wide table's.
type wideRow struct {
	K   int64
	Pad [120]int64
}

type narrowRow struct {
	K int64
}

// collect returns every row of s, in the order each yields them.
func collect[R any](t *testing.T, s *sorter[R]) []R {
	t.Helper()
	var out []R
	require.NoError(t, s.each(func(r *R) error {
		out = append(out, *r)
		return nil
	}))
	return out
}

// TestSorterBoundsMemory checks that a part's sorter holds at most
// SortBytes of rows, their permutation and the sort's scratch (or SortRows
// rows, when fewer),
// that its buffer never grows past that, that a spilled chunk is its rows'
// raw bytes, and that what it spills comes back whole and in order.
func TestSorterBoundsMemory(t *testing.T) {
	wide := newSorter(func(a, b *wideRow) int { return cmp.Compare(a.K, b.K) }, nil, 0, DefaultSortRows, t.TempDir(), ".spill-*")
	defer wide.close()
	require.Equal(t, 8+960+4, rowBytes[wideRow](0))
	require.Equal(t, SortBytes/rowBytes[wideRow](0), wide.max)
	scratch := newSorter(func(a, b *wideRow) int { return cmp.Compare(a.K, b.K) }, nil, 28, DefaultSortRows, t.TempDir(), ".spill-*")
	require.Equal(t, SortBytes/1000, scratch.max, "the sort's scratch counts")

	narrow := newSorter(func(a, b *narrowRow) int { return cmp.Compare(a.K, b.K) }, nil, 0, 1000, t.TempDir(), ".spill-*")
	defer narrow.close()
	require.Equal(t, 1000, narrow.max, "SortRows binds first")

	for i := range 3500 {
		require.NoError(t, narrow.add([]narrowRow{{K: int64((i * 7919) % 3500)}}))
		require.LessOrEqual(t, cap(narrow.buf), narrow.max)
	}
	require.Len(t, narrow.spills, 3)
	for _, sp := range narrow.spills {
		st, err := sp.f.Stat()
		require.NoError(t, err)
		require.Equal(t, int64(1000*8), st.Size(), "8 bytes a row")
	}
	got := collect(t, narrow)
	require.Len(t, got, 3500)
	for i := range got {
		require.Equal(t, int64(i), got[i].K)
	}
}

// oddRow has padding between and after its fields: raw bytes must bring
// every field back.
type oddRow struct {
	A int8
	B int64 // a key, with duplicates
	C [3]byte
	D uint32 // unique
}

func oddCmp(a, b *oddRow) int { return cmp.Or(cmp.Compare(a.B, b.B), cmp.Compare(a.D, b.D)) }

// oddOrder sorts like oddCmp by other means (a key array), as a table's
// Rows.Sort does.
func oddOrder(rows []oddRow, perm []int32) {
	type key struct {
		b int64
		d uint32
		i int32
	}
	keys := make([]key, len(rows))
	for i := range rows {
		keys[i] = key{rows[i].B, rows[i].D, int32(i)}
	}
	slices.SortFunc(keys, func(x, y key) int { return cmp.Or(cmp.Compare(x.b, y.b), cmp.Compare(x.d, y.d)) })
	for i, k := range keys {
		perm[i] = k.i
	}
}

// TestSorterSpillMerge sorts shuffled rows through chunks of every shape:
// none spilled, a chunk exactly full, a few chunks, and hundreds of small
// ones merged at once, with the table's sort and without; what comes back
// is exactly the rows sorted by slices.SortFunc, and closing removes every
// spill file.
func TestSorterSpillMerge(t *testing.T) {
	tests := []struct {
		name      string
		rows, max int
		spills    int
	}{
		{name: "in memory", rows: 5, max: 1000, spills: 0},
		{name: "one row", rows: 1, max: 1, spills: 1},
		{name: "exactly one chunk", rows: 1000, max: 1000, spills: 1},
		{name: "chunks and a rest", rows: 2500, max: 1000, spills: 2},
		{name: "many chunks", rows: 40000, max: 97, spills: 412},
	}
	for _, tc := range tests {
		for _, order := range []struct {
			name string
			fn   func([]oddRow, []int32)
		}{{"cmp", nil}, {"table sort", oddOrder}} {
			t.Run(tc.name+"/"+order.name, func(t *testing.T) {
				rng := rand.New(rand.NewPCG(1, uint64(tc.rows)))
				in := make([]oddRow, tc.rows)
				for i := range in {
					in[i] = oddRow{A: int8(rng.IntN(256) - 128), B: rng.Int64N(50) - 25, C: [3]byte{byte(i), byte(i >> 8), 7}, D: uint32(i)}
				}
				rng.Shuffle(len(in), func(i, j int) { in[i], in[j] = in[j], in[i] })
				want := slices.Clone(in)
				slices.SortFunc(want, func(a, b oddRow) int { return oddCmp(&a, &b) })

				dir := t.TempDir()
				s := newSorter(oddCmp, order.fn, 0, tc.max, dir, ".spill-test-*")
				for len(in) > 0 { // in uneven batches
					n := min(len(in), 1+rng.IntN(300))
					require.NoError(t, s.add(in[:n]))
					in = in[n:]
				}
				require.Len(t, s.spills, tc.spills)
				require.Equal(t, want, collect(t, s))
				s.close()
				left, err := filepath.Glob(filepath.Join(dir, ".spill-test-*"))
				require.NoError(t, err)
				require.Empty(t, left)
			})
		}
	}
}

// TestSorterSpillCut: a spill file cut short is an error, not fewer rows.
func TestSorterSpillCut(t *testing.T) {
	s := newSorter(func(a, b *narrowRow) int { return cmp.Compare(a.K, b.K) }, nil, 0, 100, t.TempDir(), ".spill-*")
	defer s.close()
	for i := range 250 {
		require.NoError(t, s.add([]narrowRow{{K: int64(i)}}))
	}
	require.NoError(t, os.Truncate(s.spills[1].f.Name(), 100*8-1))
	err := s.each(func(*narrowRow) error { return nil })
	require.ErrorContains(t, err, "read spill file: unexpected EOF")
}

func TestPointerFree(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want bool
	}{
		{narrowRow{}, true},
		{oddRow{}, true},
		{wideRow{}, true},
		{struct{ A [0]string }{}, true},
		{struct{ S string }{}, false},
		{struct{ P *int64 }{}, false},
		{struct{ B []byte }{}, false},
		{struct{ A [2]struct{ M map[int]int } }{}, false},
		{struct{ I any }{}, false},
		{struct{ U uintptr }{}, false},
	} {
		require.Equal(t, tc.want, pointerFree(reflect.TypeOf(tc.v)), "%T", tc.v)
	}
}
