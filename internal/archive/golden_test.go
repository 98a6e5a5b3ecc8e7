package archive_test

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/archive"
	"github.com/abt-dev/abt/internal/ingest"
	"github.com/abt-dev/abt/schema"
)

var update = flag.Bool("update", false, "rewrite the golden rows under testdata/rows")

// goldenCaptures are archived by TestGoldenRows: IPv4 and IPv6 (in
// different hours), IPv6 alone, parts over several hours, null optional
// columns, and small captures of a few rows. (The order of mixed address
// families and of texts such as "9.x" and "10.x" is tested on its own, in
// TestSortRowsStringOrder.)
var goldenCaptures = []string{
	"pcapplusplus_raw_ip.pcap",
	"zeek_ftp_ipv6.pcap",
	"trex_Oracle.pcap",
	"zeek_smtp.pcap",
	"zeek_http-qinq-0.pcap",
	"zeek_tcp_handshake-reorder.pcap",
	"pcapplusplus_nanosecs_big_endian.pcap",
}

// TestGoldenRows archives bundled captures and compares every adus and
// connections file, row by row in file order, with
// testdata/rows/<capture>.golden: the files the archive wrote before its
// rows were held in a compact form (commit 20742e9, written by this test
// with -update there), rendered as text. The archive is written twice:
// with its default sort chunk, and with chunks of 5 rows, so that every
// part of more than 5 rows is merged from spilled chunks.
func TestGoldenRows(t *testing.T) {
	for _, name := range goldenCaptures {
		for _, sortRows := range []int64{0, 5} {
			t.Run(fmt.Sprintf("%s/sort_rows=%d", name, sortRows), func(t *testing.T) {
				root := filepath.Join(t.TempDir(), "archive")
				a, err := archive.Open(archive.Options{
					Root: root, Sensor: testSensor, RunID: testRun, Grace: time.Millisecond, Producer: "golden-test",
					SortRows: sortRows,
					Now:      func() time.Time { return time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC) },
				}, []archive.Input{{Name: name, Fingerprint: "fp-" + name}})
				require.NoError(t, err)
				run := feedCapture(t, a, filepath.Join(pcapDir, name), ingest.DefaultOptions())
				_, err = a.Close(run.info)
				require.NoError(t, err)

				got := renderArchive(t, root)
				golden := filepath.Join("testdata", "rows", name+".golden")
				if *update && sortRows == 0 {
					require.NoError(t, os.MkdirAll(filepath.Dir(golden), 0o755))
					require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
				}
				want, err := os.ReadFile(golden)
				require.NoError(t, err)
				require.Equal(t, string(want), got)
			})
		}
	}
}

// renderArchive renders the adus and connections files under root as
// text: each file's path, the columns it declares it is sorted by and its
// row groups' sizes, then its rows in order, one line each.
func renderArchive(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	for _, table := range []string{schema.TableADUs, schema.TableConnections} {
		var paths []string
		err := filepath.WalkDir(filepath.Join(root, table), func(path string, d fs.DirEntry, err error) error {
			if path == filepath.Join(root, table) && errors.Is(err, fs.ErrNotExist) {
				return nil // no rows
			}
			if err == nil && strings.HasSuffix(path, ".parquet") {
				paths = append(paths, path)
			}
			return err
		})
		require.NoError(t, err)
		for _, path := range paths { // WalkDir walks in lexical order
			rel, err := filepath.Rel(root, path)
			require.NoError(t, err)
			fmt.Fprintf(&b, "# %s\n", filepath.ToSlash(rel))
			f, err := os.Open(path)
			require.NoError(t, err)
			st, err := f.Stat()
			require.NoError(t, err)
			pf, err := parquet.OpenFile(f, st.Size())
			require.NoError(t, err)
			for _, rg := range pf.RowGroups() {
				fmt.Fprintf(&b, "# row group: %d rows, sorted by", rg.NumRows())
				for _, c := range rg.SortingColumns() {
					fmt.Fprintf(&b, " %s", strings.Join(c.Path(), "."))
				}
				b.WriteString("\n")
			}
			require.NoError(t, f.Close())
			switch table {
			case schema.TableADUs:
				rows, err := parquet.ReadFile[schema.ADU](path)
				require.NoError(t, err)
				renderRows(&b, rows)
			case schema.TableConnections:
				rows, err := parquet.ReadFile[schema.Connection](path)
				require.NoError(t, err)
				renderRows(&b, rows)
			}
		}
	}
	return b.String()
}

// renderRows writes the column names, then each row's values separated by
// spaces, NULL for a null.
func renderRows[T any](b *strings.Builder, rows []T) {
	rt := reflect.TypeFor[T]()
	for i := range rt.NumField() {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(strings.Split(rt.Field(i).Tag.Get("parquet"), ",")[0])
	}
	b.WriteString("\n")
	for i := range rows {
		v := reflect.ValueOf(rows[i])
		for j := range v.NumField() {
			if j > 0 {
				b.WriteString(" ")
			}
			f := v.Field(j)
			switch {
			case f.Kind() == reflect.Pointer && f.IsNil():
				b.WriteString("NULL")
			case f.Kind() == reflect.Pointer:
				fmt.Fprint(b, f.Elem().Interface())
			case f.Kind() == reflect.String:
				fmt.Fprintf(b, "%q", f.String())
			default:
				fmt.Fprint(b, f.Interface())
			}
		}
		b.WriteString("\n")
	}
}
