package partition

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/require"
)

// TestPageBuffer checks a page buffer against bytes.Reader/Buffer semantics
// through writes, seeks and reads, in memory and across a spill to a file.
func TestPageBuffer(t *testing.T) {
	for _, tc := range []struct {
		name   string
		budget int64
		spills bool
	}{
		{name: "memory", budget: 1 << 20},
		{name: "spills", budget: 8 << 10, spills: true},
		{name: "no memory", budget: 0, spills: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := newPagePool(dir, ".spill-test-*", tc.budget)
			b := p.GetBuffer()
			var want []byte
			write := func(n int, c byte) {
				d := bytes.Repeat([]byte{c}, n)
				m, err := b.Write(d)
				require.NoError(t, err)
				require.Equal(t, n, m)
				want = append(want, d...)
			}
			_, err := b.Seek(0, io.SeekStart)
			require.NoError(t, err)
			write(100, 'a')
			write(5000, 'b')
			write(7000, 'c') // past the small budget: spills
			// Overwrite in the middle, then append past the end (a gap
			// of zeros).
			_, err = b.Seek(50, io.SeekStart)
			require.NoError(t, err)
			_, err = b.Write([]byte("xyz"))
			require.NoError(t, err)
			copy(want[50:], "xyz")
			end, err := b.Seek(10, io.SeekEnd)
			require.NoError(t, err)
			require.Equal(t, int64(len(want)+10), end)
			_, err = b.Write([]byte("tail"))
			require.NoError(t, err)
			want = append(append(want, make([]byte, 10)...), "tail"...)

			_, err = b.Seek(0, io.SeekStart)
			require.NoError(t, err)
			head := make([]byte, 10)
			_, err = io.ReadFull(b, head)
			require.NoError(t, err)
			require.Equal(t, want[:10], head)
			var rest bytes.Buffer
			_, err = io.Copy(&rest, b) // through WriteTo
			require.NoError(t, err)
			require.Equal(t, want[10:], rest.Bytes())

			require.Equal(t, tc.spills, p.FilesCreated() > 0, "files created")
			p.PutBuffer(b)
			left, _ := os.ReadDir(dir)
			require.Empty(t, left, "a released buffer leaves no file")
			require.LessOrEqual(t, p.used, tc.budget, "memory held within the budget")
		})
	}
}

type prow struct {
	Ts     int64  `parquet:"ts,timestamp(microsecond:local)"`
	Server string `parquet:"server,dict"`
	Client string `parquet:"client,dict"`
	N      int64  `parquet:"n,delta"`
	Label  string `parquet:"label"`
}

func prowCmp(a, b *prow) int {
	return cmp.Or(strings.Compare(a.Server, b.Server), cmp.Compare(a.Ts, b.Ts), cmp.Compare(a.N, b.N))
}

// cprow is a prow as the writer holds it.
type cprow struct {
	Ts, N          int64
	Server, Client Name
	Label          uint8 // the label's length
}

var cprowSpec = Rows[cprow, prow]{
	Ts: func(r *cprow) int64 { return r.Ts },
	Cmp: func(a, b *cprow) int {
		return cmp.Or(a.Server.Compare(b.Server), cmp.Compare(a.Ts, b.Ts), cmp.Compare(a.N, b.N))
	},
	Convert: func(dst *prow, src *cprow) {
		*dst = prow{Ts: src.Ts, Server: src.Server.String(), Client: src.Client.String(), N: src.N,
			Label: strings.Repeat("x", int(src.Label))}
	},
}

var prowSorting = []parquet.SortingColumn{parquet.Ascending("server"), parquet.Ascending("ts"), parquet.Ascending("n")}

// prows makes n rows in hour h (µs since the epoch of the hour's start).
func prows(h Hour, n int) []cprow {
	out := make([]cprow, n)
	for i := range out {
		out[i] = cprow{Ts: h.Start() + int64(i*7919)%hourUs, Server: NameOf(fmt.Sprintf("10.0.%d.%d", i%7, i%13)),
			Client: NameOf(fmt.Sprintf("192.168.%d.%d", i%251, i%241)), N: int64(i) * 3, Label: uint8(i % 17)}
	}
	return out
}

// writeParts writes rows through a Writer with the given page memory and
// returns the published files' contents by hour, and the temporary files
// its page buffers created.
func writeParts(t *testing.T, rows []cprow, pageMemory int64) (map[Hour][]byte, int64) {
	t.Helper()
	root := t.TempDir()
	w, err := NewWriter(Options{Root: root, Table: "t", Sensor: "s1", RunID: "run1",
		RowGroupRows: 3000, PageBytes: 8 << 10, PageMemoryBytes: pageMemory, Sorting: prowSorting,
		Metadata: map[string]string{"abt.table": "t"}, MaxOpenParts: 4}, cprowSpec)
	require.NoError(t, err)
	require.NoError(t, w.Write(rows...))
	require.NoError(t, w.Close())
	out := map[Hour][]byte{}
	for _, p := range w.Published() {
		b, err := os.ReadFile(p.Path)
		require.NoError(t, err)
		out[p.Hour] = b
	}
	spill, _ := filepath.Glob(filepath.Join(root, ".spill-*"))
	require.Empty(t, spill, "no spill file left")
	return out, w.pages.FilesCreated()
}

// TestWriterPages: whatever its page memory, the writer writes the same
// bytes as it did with parquet-go's file page buffers and full-size page
// buffers; a part of a few rows creates no temporary file, and one whose
// pages exceed the budget spills them and still writes the same file.
func TestWriterPages(t *testing.T) {
	base := HourOf(1_700_000_000_000_000)
	var rows []cprow
	sizes := map[Hour]int{}
	for i, n := range []int{1, 2, 10000, 1, 3, 7000, 1} { // hours a few days apart
		h := base + Hour(i*53)
		sizes[h] = n
		rows = append(rows, prows(h, n)...)
	}

	// What the writer wrote before pagePool: a new parquet writer per
	// file, page buffers of PageBytes in parquet-go's temporary files.
	want := map[Hour][]byte{}
	for h, n := range sizes {
		dir := t.TempDir()
		var sorted []prow
		for _, r := range prows(h, n) {
			var p prow
			cprowSpec.Convert(&p, &r)
			sorted = append(sorted, p)
		}
		slices.SortFunc(sorted, func(a, b prow) int { return prowCmp(&a, &b) })
		var buf bytes.Buffer
		opts := withMetadata(writerOptions(parquet.SchemaOf(prow{}), 3, 3000, 8<<10, prowSorting,
			parquet.NewFileBufferPool(dir, ".ref-*")), map[string]string{"abt.table": "t"})
		pw := parquet.NewGenericWriter[prow](&buf, append(opts, parquet.KeyValueMetadata("abt.hour", h.String()))...)
		for len(sorted) > 0 { // in batches, as the writer does
			n := min(len(sorted), batchRows)
			_, err := pw.Write(sorted[:n])
			require.NoError(t, err)
			sorted = sorted[n:]
		}
		require.NoError(t, pw.Close())
		want[h] = buf.Bytes()
	}

	got, files := writeParts(t, rows, 32<<20)
	require.Equal(t, len(want), len(got))
	for h := range want {
		require.True(t, bytes.Equal(want[h], got[h]), "hour %s: same bytes as a fresh writer", h)
	}
	require.Zero(t, files, "pages within the budget stay in memory")

	small, files := writeParts(t, rows, 16<<10)
	for h := range want {
		require.True(t, bytes.Equal(want[h], small[h]), "hour %s: same bytes when pages spill", h)
	}
	require.Positive(t, files, "pages past the budget spill")
}

// TestWriterScatteredHours publishes many one-row parts: none creates a
// temporary file.
func TestWriterScatteredHours(t *testing.T) {
	var rows []cprow
	for i := range 60 {
		rows = append(rows, prows(HourOf(1_600_000_000_000_000)+Hour(i*37), 1)...)
	}
	got, files := writeParts(t, rows, 0)
	require.Len(t, got, 60)
	require.Zero(t, files)
}
