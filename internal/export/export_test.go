package export

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/anonymize"
	"github.com/abt-dev/abt/internal/archive"
	"github.com/abt-dev/abt/internal/ingest"
	"github.com/abt-dev/abt/internal/pipeline"
	"github.com/abt-dev/abt/internal/query"
	"github.com/abt-dev/abt/schema"
)

// sourceArchive is an archive of two bundled captures, one of IPv4 and one
// of IPv6 connections, archived with local networks (so that connections
// are labelled), built once.
var sourceArchive = sync.OnceValues(func() (string, error) {
	root, err := os.MkdirTemp("", "export-source-")
	if err != nil {
		return "", err
	}
	for i, c := range []string{"pcapplusplus_example.pcap", "pcapplusplus_four_ipv6_http_streams.pcap"} {
		eo := ingest.DefaultOptions()
		eo.LocalNets = []netip.Prefix{netip.MustParsePrefix("212.199.0.0/16"), netip.MustParsePrefix("2001:638::/32")}
		run, err := pipeline.Start(pipeline.Config{
			Inputs: []string{filepath.Join("..", "..", "testdata", "pcaps", c)}, Engine: eo,
			Archive: &archive.Options{Root: root, Sensor: fmt.Sprintf("s%d", i+1), Producer: "abt test"},
		})
		if err != nil {
			return "", err
		}
		feedErr := run.Feed(context.Background())
		out := run.Finish(feedErr)
		if err := errors.Join(feedErr, out.FinishErr, out.OutputErr); err != nil {
			return "", err
		}
	}
	return root, nil
})

func source(t *testing.T) string {
	t.Helper()
	root, err := sourceArchive()
	require.NoError(t, err)
	return root
}

// rowsOf reads every row of a table's files under root.
func rowsOf[T any](t *testing.T, root, table string) []T {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, table, "*", "*", "*", "*.parquet"))
	require.NoError(t, err)
	var out []T
	for _, f := range files {
		rows, err := parquet.ReadFile[T](f)
		require.NoError(t, err)
		out = append(out, rows...)
	}
	return out
}

func export(t *testing.T, o Options) (Result, string) {
	t.Helper()
	o.Archive = source(t)
	if o.Dir == "" {
		o.Dir = filepath.Join(t.TempDir(), "release")
	}
	o.Producer = "abt test"
	o.Args = []string{"abtq", "export"}
	o.Now = func() time.Time { return time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC) }
	res, err := Export(context.Background(), o)
	require.NoError(t, err)
	return res, o.Dir
}

// TestExportAsIs: without options the data set holds every row of the
// archive, unchanged; its checksums, data package and Dataset describe
// exactly its files; and abtq's query layer reads it as an archive with
// the same answers.
func TestExportAsIs(t *testing.T) {
	res, dir := export(t, Options{})
	src := source(t)
	sortADUs := func(r []schema.ADU) []schema.ADU {
		slices.SortFunc(r, func(a, b schema.ADU) int {
			return strings.Compare(fmt.Sprint(a.RunID, a.ConnID, a.Ordinal), fmt.Sprint(b.RunID, b.ConnID, b.Ordinal))
		})
		return r
	}
	want, got := sortADUs(rowsOf[schema.ADU](t, src, "adus")), sortADUs(rowsOf[schema.ADU](t, dir, "adus"))
	require.NotEmpty(t, want)
	require.Equal(t, want, got)
	require.ElementsMatch(t, rowsOf[schema.Connection](t, src, "connections"), rowsOf[schema.Connection](t, dir, "connections"))
	require.ElementsMatch(t, rowsOf[schema.Run](t, src, "runs"), rowsOf[schema.Run](t, dir, "runs"))
	require.Equal(t, []string{"s1", "s2"}, res.Sensors)
	require.False(t, res.Anonymized)

	// SHA256SUMS: every other file, each hash right.
	sums := map[string]string{}
	f, err := os.Open(filepath.Join(dir, ChecksumsFile))
	require.NoError(t, err)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		h, p, ok := strings.Cut(sc.Text(), "  ")
		require.True(t, ok, sc.Text())
		sums[p] = h
	}
	f.Close()
	var files []string
	require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, rel)
		}
		return err
	}))
	require.Len(t, sums, len(files)-1, "every file but SHA256SUMS")
	for p, h := range sums {
		b, err := os.ReadFile(filepath.Join(dir, p))
		require.NoError(t, err)
		sum := sha256.Sum256(b)
		require.Equal(t, hex.EncodeToString(sum[:]), h, p)
	}

	// datapackage.json: a resource per table, its paths the table's files,
	// its fields the table's columns.
	var pkg struct {
		Profile   string `json:"profile"`
		Resources []struct {
			Name   string   `json:"name"`
			Path   []string `json:"path"`
			Format string   `json:"format"`
			Schema struct {
				Fields []struct{ Name, Type string } `json:"fields"`
			} `json:"schema"`
		} `json:"resources"`
	}
	b, err := os.ReadFile(filepath.Join(dir, PackageFile))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &pkg))
	require.Equal(t, "data-package", pkg.Profile)
	require.Len(t, pkg.Resources, 3)
	for i, r := range pkg.Resources {
		require.Equal(t, schema.Tables[i], r.Name)
		require.Equal(t, "parquet", r.Format)
		matches, err := filepath.Glob(filepath.Join(dir, r.Name, "*", "*", "*", "*.parquet"))
		require.NoError(t, err)
		var rel []string
		for _, m := range matches {
			p, _ := filepath.Rel(dir, m)
			rel = append(rel, p)
		}
		require.ElementsMatch(t, rel, r.Path)
		cols, err := schema.Columns(r.Name)
		require.NoError(t, err)
		require.Len(t, r.Schema.Fields, len(cols))
		for j, c := range cols {
			require.Equal(t, c.Name, r.Schema.Fields[j].Name)
		}
	}
	var ld map[string]any
	b, err = os.ReadFile(filepath.Join(dir, LinkedDataFile))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &ld))
	require.Equal(t, "Dataset", ld["@type"])
	require.Equal(t, res.First.Format(time.RFC3339)+"/"+res.Last.Format(time.RFC3339), ld["temporalCoverage"])

	readme, err := os.ReadFile(filepath.Join(dir, ReadmeFile))
	require.NoError(t, err)
	for _, tb := range res.Tables {
		require.Contains(t, string(readme), fmt.Sprintf("| %s | %d | %d |", tb.Name, tb.Rows, len(tb.Files)))
	}
	require.Contains(t, string(readme), "None: addresses are as captured.")

	// The same answers from abtq's views over both.
	count := func(root string) string {
		db, err := query.Open(context.Background(), root, query.Range{}, query.Options{Threads: 1})
		require.NoError(t, err)
		defer db.Close()
		rows, err := db.Query(context.Background(), "SELECT count(*), sum(size), count(DISTINCT server_ip), sum(think_us) FROM adus")
		require.NoError(t, err)
		defer rows.Close()
		require.True(t, rows.Next())
		var n, s, d, th int64
		require.NoError(t, rows.Scan(&n, &s, &d, &th))
		return fmt.Sprint(n, s, d, th)
	}
	require.Equal(t, count(src), count(dir))
}

// TestExportAnonymized: with a key, no original address is left anywhere
// in the data set (every column of every row of every table, the footers,
// the metadata files), every address is its Crypto-PAn image, and the
// images keep the originals' common prefixes.
func TestExportAnonymized(t *testing.T) {
	src := source(t)
	key := filepath.Join(t.TempDir(), "release.key")
	res, dir := export(t, Options{KeyFile: key, Describe: Description{Title: "test release"}})
	require.True(t, res.Anonymized)
	require.True(t, res.KeyCreated)
	k, err := anonymize.LoadKey(key)
	require.NoError(t, err)
	c, err := anonymize.New(k)
	require.NoError(t, err)

	// Every original address, and the local networks' addresses.
	orig := map[string]bool{}
	srcADUs := rowsOf[schema.ADU](t, src, "adus")
	for _, a := range srcADUs {
		orig[a.ServerIP], orig[a.ClientIP] = true, true
	}
	for _, cn := range rowsOf[schema.Connection](t, src, "connections") {
		orig[cn.ServerIP], orig[cn.ClientIP] = true, true
	}
	orig["212.199.0.0"], orig["2001:638::"] = true, true // the local networks
	require.Greater(t, len(orig), 10)
	var v6 int
	for a := range orig {
		if strings.Contains(a, ":") {
			v6++
		}
	}
	require.Greater(t, v6, 1, "IPv6 addresses are exported too")

	// Every value of every row of every Parquet file, and its footer.
	var texts []string
	require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !strings.HasSuffix(p, ".parquet") {
			b, err := os.ReadFile(p)
			texts = append(texts, string(b))
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		st, _ := f.Stat()
		pf, err := parquet.OpenFile(f, st.Size())
		if err != nil {
			return err
		}
		for _, kv := range pf.Metadata().KeyValueMetadata {
			texts = append(texts, kv.Key+"="+kv.Value)
		}
		r := parquet.NewReader(pf)
		defer r.Close()
		buf := make([]parquet.Row, 64)
		for {
			n, err := r.ReadRows(buf)
			for _, row := range buf[:n] {
				for _, v := range row {
					if v.Kind() == parquet.ByteArray {
						texts = append(texts, string(v.ByteArray()))
					}
				}
			}
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
		}
	}))
	var all []string
	for _, s := range texts {
		all = append(all, strings.FieldsFunc(s, func(r rune) bool {
			return !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F' || r == '.' || r == ':')
		})...)
	}
	for _, tok := range all {
		require.False(t, orig[tok], "original address %s in the export", tok)
	}

	// Each exported row's addresses are the originals' images.
	byKey := map[string]schema.ADU{}
	for _, a := range srcADUs {
		byKey[fmt.Sprint(a.RunID, a.ConnID, a.Ordinal)] = a
	}
	got := rowsOf[schema.ADU](t, dir, "adus")
	require.Len(t, got, len(srcADUs))
	for _, a := range got {
		o := byKey[fmt.Sprint(a.RunID, a.ConnID, a.Ordinal)]
		require.Equal(t, c.Addr(netip.MustParseAddr(o.ServerIP)).String(), a.ServerIP)
		require.Equal(t, c.Addr(netip.MustParseAddr(o.ClientIP)).String(), a.ClientIP)
	}
	// The runs' local networks are the networks' images.
	for _, r := range rowsOf[schema.Run](t, dir, "runs") {
		require.Equal(t, []string{c.Prefix(netip.MustParsePrefix("212.199.0.0/16")).String(), c.Prefix(netip.MustParsePrefix("2001:638::/32")).String()}, r.LocalNets)
		for i, in := range r.Inputs {
			require.Equal(t, fmt.Sprintf("input %d", i+1), in.Name)
		}
	}

	// Reused key: a second release maps alike.
	res2, dir2 := export(t, Options{KeyFile: key})
	require.False(t, res2.KeyCreated)
	require.ElementsMatch(t, got, rowsOf[schema.ADU](t, dir2, "adus"))
}

// TestExportSelect: the range, servers, ports, inbound connections and the
// time resolution select and truncate as SQL over the source says.
func TestExportSelect(t *testing.T) {
	src := source(t)
	adus := rowsOf[schema.ADU](t, src, "adus")
	conns := rowsOf[schema.Connection](t, src, "connections")
	// A port with some but not all rows, and the busiest server.
	ports, servers := map[int32]int{}, map[string]int{}
	for _, a := range adus {
		ports[a.ServerPort]++
		servers[a.ServerIP]++
	}
	var port int32
	var server string
	for p, n := range ports {
		if n < len(adus) && (port == 0 || n > ports[port]) {
			port = p
		}
	}
	for s, n := range servers {
		if server == "" || n > servers[server] {
			server = s
		}
	}
	inbound := map[string]bool{}
	for _, c := range conns {
		if c.Label == "in" {
			inbound[fmt.Sprint(c.RunID, c.ConnID)] = true
		}
	}
	require.NotEmpty(t, inbound)
	require.Less(t, len(inbound), len(conns))
	count := func(keep func(a schema.ADU) bool) int {
		n := 0
		for _, a := range adus {
			if keep(a) {
				n++
			}
		}
		return n
	}
	slices.SortFunc(adus, func(a, b schema.ADU) int { return int(a.Ts - b.Ts) })
	mid := time.UnixMicro(adus[len(adus)/2].Ts).UTC().Truncate(time.Hour)

	for _, tc := range []struct {
		name string
		o    Options
		keep func(schema.ADU) bool
	}{
		{"port", Options{Ports: []int32{port}}, func(a schema.ADU) bool { return a.ServerPort == port }},
		{"server", Options{Servers: []netip.Prefix{netip.PrefixFrom(netip.MustParseAddr(server), 32)}}, func(a schema.ADU) bool { return a.ServerIP == server }},
		{"inbound", Options{Inbound: true}, func(a schema.ADU) bool { return inbound[fmt.Sprint(a.RunID, a.ConnID)] }},
		{"from", Options{From: mid}, func(a schema.ADU) bool { return a.Ts >= mid.UnixMicro() }},
		{"to", Options{To: mid}, func(a schema.ADU) bool { return a.Ts < mid.UnixMicro() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, dir := export(t, tc.o)
			want := count(tc.keep)
			require.Positive(t, want)
			require.Equal(t, int64(want), res.Tables[0].Rows)
			got := rowsOf[schema.ADU](t, dir, "adus")
			require.Len(t, got, want)
			for _, a := range got {
				require.True(t, tc.keep(a), "%+v", a)
			}
		})
	}

	res, dir := export(t, Options{Resolution: time.Second})
	require.Equal(t, int64(len(adus)), res.Tables[0].Rows)
	for _, a := range rowsOf[schema.ADU](t, dir, "adus") {
		require.Zero(t, a.Ts%1_000_000, "ts %d", a.Ts)
	}
	for _, r := range rowsOf[schema.Run](t, dir, "runs") {
		require.Zero(t, r.Started%1_000_000)
		require.Zero(t, *r.FirstPacket%1_000_000)
	}
}

// TestExportRefuses: an existing directory, one inside the archive, a key
// file others may read; nothing is left behind.
func TestExportRefuses(t *testing.T) {
	src := source(t)
	parent := t.TempDir()
	exists := filepath.Join(parent, "exists")
	require.NoError(t, os.Mkdir(exists, 0o755))
	_, err := Export(context.Background(), Options{Archive: src, Dir: exists})
	require.ErrorContains(t, err, "exists: give a new directory")
	_, err = Export(context.Background(), Options{Archive: src, Dir: filepath.Join(src, "release")})
	require.ErrorContains(t, err, "is inside the archive")
	key := filepath.Join(parent, "k")
	require.NoError(t, os.WriteFile(key, []byte(strings.Repeat("ab", 32)+"\n"), 0o644))
	_, err = Export(context.Background(), Options{Archive: src, Dir: filepath.Join(parent, "r"), KeyFile: key})
	require.ErrorContains(t, err, "readable by others than its owner")
	entries, err := os.ReadDir(parent)
	require.NoError(t, err)
	require.Len(t, entries, 2, "only exists and the key: no partial directory")
}
