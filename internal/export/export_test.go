package export

import (
	"bufio"
	"cmp"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/csv"
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

	"github.com/abt-dev/abt/internal/adutext"
	"github.com/abt-dev/abt/internal/anonymize"
	"github.com/abt-dev/abt/internal/archive"
	"github.com/abt-dev/abt/internal/ingest"
	"github.com/abt-dev/abt/internal/pipeline"
	"github.com/abt-dev/abt/internal/query"
	"github.com/abt-dev/abt/internal/synthcap"
	"github.com/abt-dev/abt/schema"
)

// sourceArchive is an archive of three bundled captures, as three sensors:
// IPv4 web browsing, IPv6 HTTP streams, and SSH with concurrent
// connections, archived with local networks (so that connections are
// labelled), built once.
var sourceArchive = sync.OnceValues(func() (string, error) {
	root, err := os.MkdirTemp("", "export-source-")
	if err != nil {
		return "", err
	}
	for i, c := range sourceCaptures {
		if err := runPipeline(pipeline.Config{Inputs: []string{c}, Engine: sourceEngine(),
			Archive: &archive.Options{Root: root, Sensor: fmt.Sprintf("s%d", i+1), Producer: "abt test"}}); err != nil {
			return "", err
		}
	}
	return root, nil
})

// sourceCaptures are the captures of sourceArchive, sensors s1, s2, s3.
var sourceCaptures = []string{
	filepath.Join("..", "..", "testdata", "pcaps", "pcapplusplus_example.pcap"),
	filepath.Join("..", "..", "testdata", "pcaps", "pcapplusplus_four_ipv6_http_streams.pcap"),
	filepath.Join("..", "..", "testdata", "pcaps", "zeek_ssh.pcap"),
}

// sourceEngine is the inference's options of sourceArchive.
func sourceEngine() ingest.Options {
	eo := ingest.DefaultOptions()
	eo.LocalNets = []netip.Prefix{netip.MustParsePrefix("212.199.0.0/16"), netip.MustParsePrefix("2001:638::/32")}
	return eo
}

// runPipeline runs adu2parquet's pipeline.
func runPipeline(cfg pipeline.Config) error {
	run, err := pipeline.Start(cfg)
	if err != nil {
		return err
	}
	feedErr := run.Feed(context.Background())
	out := run.Finish(feedErr)
	return errors.Join(feedErr, out.FinishErr, out.OutputErr)
}

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
	require.Equal(t, []string{"s1", "s2", "s3"}, res.Sensors)
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

// readCSV reads a gzip'd CSV file.
func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	gz, err := gzip.NewReader(f)
	require.NoError(t, err)
	recs, err := csv.NewReader(gz).ReadAll()
	require.NoError(t, err)
	return recs
}

// TestExportCSV: the tables as CSV: a header of the table's columns, and
// a record per row whose fields read back as the archive's values.
func TestExportCSV(t *testing.T) {
	src := source(t)
	res, dir := export(t, Options{Format: FormatCSV})
	adus := rowsOf[schema.ADU](t, src, "adus")
	byKey := map[string]schema.ADU{}
	for _, a := range adus {
		byKey[fmt.Sprintf("%s/%d/%d", a.RunID, a.ConnID, a.Ordinal)] = a
	}
	recs := readCSV(t, filepath.Join(dir, "adus.csv.gz"))
	cols, err := schema.Columns("adus")
	require.NoError(t, err)
	var names []string
	for _, c := range cols {
		names = append(names, c.Name)
	}
	require.Equal(t, names, recs[0])
	require.Len(t, recs[1:], len(adus))
	require.Equal(t, int64(len(adus)), res.Tables[0].Rows)
	col := func(name string) int { return slices.Index(names, name) }
	for _, r := range recs[1:] {
		a := byKey[r[col("run_id")]+"/"+r[col("conn_id")]+"/"+r[col("ordinal")]]
		require.NotEmpty(t, a.RunID, "a row of the archive: %v", r)
		ts, err := time.Parse(time.RFC3339Nano, r[col("ts")])
		require.NoError(t, err)
		require.Equal(t, a.Ts, ts.UnixMicro())
		require.Equal(t, fmt.Sprint(a.Size), r[col("size")])
		require.Equal(t, a.ServerIP, r[col("server_ip")])
		if a.ThinkUs == nil {
			require.Empty(t, r[col("think_us")])
		} else {
			require.Equal(t, fmt.Sprint(*a.ThinkUs), r[col("think_us")])
		}
		require.Equal(t, fmt.Sprint(a.ThinkToPeer), r[col("think_to_peer")])
	}
	runs := readCSV(t, filepath.Join(dir, "runs.csv.gz"))
	require.Len(t, runs[1:], 3)
	var inputs []map[string]any
	require.NoError(t, json.Unmarshal([]byte(runs[1][slices.Index(runs[0], "inputs")]), &inputs))
	require.Len(t, inputs, 1)
	require.Contains(t, inputs[0]["name"], "pcapplusplus_")
	conns := readCSV(t, filepath.Join(dir, "connections.csv.gz"))
	require.Len(t, conns[1:], len(rowsOf[schema.Connection](t, src, "connections")))
}

// tmixVector is a vector parsed back from the tmix file.
type tmixVector struct {
	kind               string
	start, n1, n2, id2 int64
	rtt                int64
	lines              [][4]int64 // initiator (1) or not (0), send_wait, recv_wait, bytes
}

// parseTmix reads tmix v2 text as its readers do: a vector is an S or C
// line, its w, r and l lines, then its I and A lines.
func parseTmix(t *testing.T, path string) []tmixVector {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	gz, err := gzip.NewReader(f)
	require.NoError(t, err)
	var out []tmixVector
	sc := bufio.NewScanner(gz)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		nums := make([]int64, 0, len(fields))
		for _, f := range fields[1:] {
			var v int64
			if _, err := fmt.Sscan(f, &v); err == nil {
				nums = append(nums, v)
			}
		}
		switch fields[0] {
		case "S":
			require.Len(t, nums, 4, line)
			out = append(out, tmixVector{kind: "S", start: nums[0], n1: nums[1], id2: nums[3]})
		case "C":
			require.Len(t, nums, 5, line)
			out = append(out, tmixVector{kind: "C", start: nums[0], n1: nums[1], n2: nums[2], id2: nums[4]})
		case "w", "l":
		case "r":
			out[len(out)-1].rtt = nums[0]
		case "I", "A":
			require.Len(t, nums, 3, line)
			side := int64(0)
			if fields[0] == "I" {
				side = 1
			}
			v := &out[len(out)-1]
			v.lines = append(v.lines, [4]int64{side, nums[0], nums[1], nums[2]})
		default:
			t.Fatalf("not a tmix line: %q", line)
		}
	}
	require.NoError(t, sc.Err())
	return out
}

// TestExportTmix: every connection with ADUs is one vector, whose ADU
// lines are the connection's ADUs in order (the client's as I), each
// waiting the think time the archive gives the ADU before it; the header
// says what the connection row does.
func TestExportTmix(t *testing.T) {
	src := source(t)
	res, dir := export(t, Options{Format: FormatTmix})
	adus := rowsOf[schema.ADU](t, src, "adus")
	slices.SortFunc(adus, func(a, b schema.ADU) int { return int(a.Ordinal - b.Ordinal) })
	type ck struct {
		run  string
		conn int64
	}
	byConn := map[ck][]schema.ADU{}
	for _, a := range adus {
		byConn[ck{a.RunID, a.ConnID}] = append(byConn[ck{a.RunID, a.ConnID}], a)
	}
	// The connections with ADUs, in the file's order: by first packet.
	var conns []schema.Connection
	var first int64 = 1 << 62
	for _, c := range rowsOf[schema.Connection](t, src, "connections") {
		first = min(first, c.Ts)
		if len(byConn[ck{c.RunID, c.ConnID}]) > 0 {
			conns = append(conns, c)
		}
	}
	slices.SortFunc(conns, func(a, b schema.Connection) int {
		return cmp.Or(cmp.Compare(a.Ts, b.Ts), strings.Compare(a.RunID, b.RunID), cmp.Compare(a.ConnID, b.ConnID))
	})
	vecs := parseTmix(t, filepath.Join(dir, TmixFile))
	require.Len(t, vecs, len(conns))
	require.Equal(t, []Table{{Name: "tmix", Rows: int64(len(conns)), Files: []string{TmixFile}, Bytes: res.Tables[0].Bytes}}, res.Tables)
	think := func(a schema.ADU) int64 {
		if a.ThinkUs == nil {
			return 0
		}
		return *a.ThinkUs
	}
	var conc int
	for i, v := range vecs {
		c := conns[i]
		require.Equal(t, c.ConnID, v.id2)
		want := byConn[ck{c.RunID, c.ConnID}]
		start := c.Ts - first
		if c.SynUs != nil {
			start += *c.SynUs
		}
		require.Equal(t, start, v.start)
		if c.RTTUs != nil && c.AckRTTUs != nil {
			require.Equal(t, *c.RTTUs+*c.AckRTTUs, v.rtt)
		}
		var data [][4]int64
		var fins int
		for _, l := range v.lines {
			if l[3] == 0 {
				fins++
				continue
			}
			data = append(data, l)
		}
		require.Len(t, data, len(want), "conn %d", v.id2)
		if c.Concurrent {
			conc++
			require.Equal(t, "C", v.kind)
			// Each side's ADUs in order, each waiting its side's
			// previous think time.
			for _, side := range []int64{1, 0} {
				var got [][4]int64
				var exp []schema.ADU
				for _, l := range data {
					if l[0] == side {
						got = append(got, l)
					}
				}
				for _, a := range want {
					if (a.Direction == "c2s") == (side == 1) {
						exp = append(exp, a)
					}
				}
				require.Len(t, got, len(exp))
				for i := range exp {
					require.Equal(t, exp[i].Size, got[i][3])
					if i > 0 {
						require.Equal(t, think(exp[i-1]), got[i][1])
					}
				}
			}
			continue
		}
		require.Equal(t, "S", v.kind)
		require.Equal(t, int64(max(c.Exchanges, 1)), v.n1)
		for i, a := range want {
			l := data[i]
			require.Equal(t, a.Direction == "c2s", l[0] == 1)
			require.Equal(t, a.Size, l[3])
			switch {
			case i == 0:
				require.Equal(t, [2]int64{0, 0}, [2]int64{l[1], l[2]})
			case want[i-1].Direction == a.Direction:
				require.Equal(t, [2]int64{think(want[i-1]), 0}, [2]int64{l[1], l[2]})
			default:
				require.Equal(t, [2]int64{0, think(want[i-1])}, [2]int64{l[1], l[2]}, "conn %d ADU %d: the response time", v.id2, i)
			}
		}
		require.LessOrEqual(t, fins, 1)
		require.Equal(t, fins == 1, c.C2SFIN || c.S2CFIN)
	}
	t.Logf("%d vectors, %d concurrent", len(vecs), conc)
}

// TestExportAdudump: the round trip archive → adudump text → adu2parquet →
// archive loses nothing that the text carries. For every bundled capture,
// the archive adu2parquet makes from the text exported from the capture's
// archive holds the same ADU and connection rows as the one it makes from
// the text the engine itself writes for the capture (adu2parquet --format
// adudump): the export gives, from the archive's rows alone, all the text
// carries.
//
// One exception, gopacket_cip.pcap: its timestamps go backwards (a SYN at
// .359112 is stored after packets at .359144), and the engine prints a
// record at its clock's time, never earlier than a record before it, while
// the archive keeps each packet's own time. The exported text has the true
// time of three such SYNs, so those three connections begin 32 µs earlier
// (and are numbered in that order); their ADUs, and every other
// connection, are the same.
func TestExportAdudump(t *testing.T) {
	captures, err := filepath.Glob(filepath.Join("..", "..", "testdata", "pcaps", "*"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(captures), 40)
	// The synthetic campus capture: concurrent connections begun at
	// quiet-time splits, which the text's CONC lines decide.
	campus := filepath.Join(t.TempDir(), "campus.pcap")
	f, err := os.Create(campus)
	require.NoError(t, err)
	require.NoError(t, synthcap.DefaultCampus().Write(f))
	require.NoError(t, f.Close())
	captures = append(captures, campus)
	for _, capture := range captures {
		t.Run(filepath.Base(capture), func(t *testing.T) {
			t.Parallel()
			tmp := t.TempDir()
			src := filepath.Join(tmp, "a")
			require.NoError(t, runPipeline(pipeline.Config{Inputs: []string{capture}, Engine: sourceEngine(),
				Archive: &archive.Options{Root: src, Sensor: "x", Producer: "abt test"}}))
			// B: through the engine's own text.
			engineText := filepath.Join(tmp, "engine.adu")
			f, err := os.Create(engineText)
			require.NoError(t, err)
			require.NoError(t, runPipeline(pipeline.Config{Inputs: []string{capture}, Engine: sourceEngine(), Text: adutext.NewWriter(f)}))
			require.NoError(t, f.Close())
			viaEngine := filepath.Join(tmp, "b")
			require.NoError(t, runPipeline(pipeline.Config{Inputs: []string{engineText}, Engine: sourceEngine(),
				Archive: &archive.Options{Root: viaEngine, Sensor: "x", Producer: "abt test"}}))
			// B': through the exported text.
			res, err := Export(context.Background(), Options{Archive: src, Dir: filepath.Join(tmp, "release"),
				Format: FormatAdudump, Producer: "abt test"})
			require.NoError(t, err)
			require.Equal(t, AdudumpFile, res.Tables[0].Files[0])
			viaExport := filepath.Join(tmp, "b2")
			require.NoError(t, runPipeline(pipeline.Config{Inputs: []string{filepath.Join(res.Dir, AdudumpFile)}, Engine: sourceEngine(),
				Archive: &archive.Options{Root: viaExport, Sensor: "x", Producer: "abt test"}}))

			norm := func(root string) ([]schema.ADU, []schema.Connection) {
				adus := rowsOf[schema.ADU](t, root, "adus")
				conns := rowsOf[schema.Connection](t, root, "connections")
				for i := range adus {
					adus[i].RunID = ""
				}
				for i := range conns {
					conns[i].RunID = ""
				}
				return adus, conns
			}
			wantADUs, wantConns := norm(viaEngine)
			gotADUs, gotConns := norm(viaExport)
			require.ElementsMatch(t, wantADUs, gotADUs)
			if filepath.Base(capture) == "gopacket_cip.pcap" {
				require.Len(t, gotConns, len(wantConns))
				return
			}
			require.ElementsMatch(t, wantConns, gotConns)
		})
	}
}
