package archive_test

import (
	"cmp"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/archive"
	"github.com/abt-dev/abt/internal/capture"
	"github.com/abt-dev/abt/internal/decode"
	"github.com/abt-dev/abt/internal/ingest"
	"github.com/abt-dev/abt/schema"
)

const pcapDir = "../../testdata/pcaps"

const (
	testSensor = "rt-sensor"
	testRun    = "rt-run"
)

// archived is what one archive run of a capture produced.
type archived struct {
	recs []ingest.Record // every record the engine emitted, in order
	info archive.RunInfo
	sum  archive.Summary
}

// openRun opens an archive run of one capture in root, the capture's
// fingerprint made up from its name.
func openRun(t *testing.T, root, runID, capture string, grace time.Duration, replace bool) (*archive.Archive, error) {
	t.Helper()
	name := filepath.Base(capture)
	return archive.Open(archive.Options{
		Root: root, Sensor: testSensor, RunID: runID, Grace: grace, Replace: replace, Producer: "roundtrip-test",
		Now: func() time.Time { return time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC) },
	}, []archive.Input{{Name: name, Fingerprint: "fp-" + name}})
}

// runWriter is an Archive, or an Async in front of one.
type runWriter interface {
	Record(*ingest.Record) error
	Advance(int64) error
}

// feedCapture runs the engine over a capture and sends its records both to
// a slice and to the archive, advancing the archive's clock the way
// adu2parquet does (every ingest.ProgressEvery packets). It does not close
// the archive.
func feedCapture(t *testing.T, a runWriter, path string, eo ingest.Options) archived {
	t.Helper()
	var out archived
	eng, err := ingest.New(eo, ingest.SinkFunc(func(r *ingest.Record) error {
		out.recs = append(out.recs, *r)
		return a.Record(r)
	}))
	require.NoError(t, err)
	src, err := capture.Open(path)
	require.NoError(t, err)
	defer src.Close()
	var dec decode.Decoder
	var advErr error
	require.NoError(t, eng.Feed(context.Background(), src, &dec, func(int64) {
		if now, ok := eng.Now(); ok && advErr == nil {
			advErr = a.Advance(now)
		}
	}))
	require.NoError(t, advErr)
	require.NoError(t, eng.Finish())

	name := filepath.Base(path)
	out.info = archive.RunInfo{
		Status: "complete", FirstPacket: ingest.NoTime, LastPacket: ingest.NoTime,
		Inputs:  []schema.Input{{Name: name, Fingerprint: "fp-" + name, Format: "pcap", Packets: int64(dec.Stats.Packets)}},
		Packets: int64(dec.Stats.Packets), TCPSegments: int64(dec.Stats.Segments), Bytes: 12345,
		Records: []schema.Counter{{Name: "ADU", Value: 1}}, Options: eo,
	}
	if first, ok := eng.First(); ok {
		last, _ := eng.Now()
		out.info.FirstPacket, out.info.LastPacket = first, last
		// Let every hour but the last be published, as a long run would.
		require.NoError(t, a.Advance(last))
	}
	return out
}

// archiveCapture archives a capture as run testRun.
func archiveCapture(t *testing.T, root, path string, eo ingest.Options, grace time.Duration) archived {
	t.Helper()
	a, err := openRun(t, root, testRun, path, grace, false)
	require.NoError(t, err)
	out := feedCapture(t, a, path, eo)
	out.sum, err = a.Close(out.info)
	require.NoError(t, err)
	return out
}

// usOf converts ns since the epoch to µs, rounding down.
func usOf(ns int64) int64 { return time.Unix(0, ns).UnixMicro() }

func ptr[T any](v T) *T { return &v }

// aduView is an adus row with its times as absolute µs, whatever columns
// the schema stores them in (viewOfRow is the one place that knows).
type aduView struct {
	Ts                     int64
	ServerIP, ClientIP     string
	ServerPort, ClientPort int32
	RunID                  string
	ConnID                 int64
	Ordinal                int32
	Direction              string
	Size                   int64
	Start, End             *int64 // first and last data segment; nil when unknown
	Decided                int64
	Think                  *int64
	Concurrent, Complete   bool
}

// viewOfRow reads an adus row: ts is the start (or, with no start, the
// decision), duration_us the end after it, and the decision is
// ts + duration + think + decided_lag_us.
func viewOfRow(r *schema.ADU) aduView {
	v := aduView{
		Ts: r.Ts, ServerIP: r.ServerIP, ServerPort: r.ServerPort, ClientIP: r.ClientIP, ClientPort: r.ClientPort,
		RunID: r.RunID, ConnID: r.ConnID, Ordinal: r.Ordinal, Direction: r.Direction, Size: r.Size,
		Decided: r.Ts + deref(r.DurationUs) + deref(r.ThinkUs) + r.DecidedLagUs, Think: r.ThinkUs, Concurrent: r.Concurrent, Complete: r.Complete,
	}
	if r.DurationUs != nil {
		v.Start, v.End = ptr(r.Ts), ptr(r.Ts+*r.DurationUs)
	}
	return v
}

// wantADU is the adus row an ADU or INC record must become.
func wantADU(r *ingest.Record) aduView {
	v := aduView{
		ServerIP: r.Server.Addr().String(), ServerPort: int32(r.Server.Port()),
		ClientIP: r.Client.Addr().String(), ClientPort: int32(r.Client.Port()),
		RunID: testRun, ConnID: int64(r.ConnID), Ordinal: int32(r.Ordinal), Direction: r.Dir.String(),
		Size: int64(r.Size), Decided: usOf(r.TsNs), Concurrent: r.Concurrent, Complete: r.Kind == ingest.KindADU,
	}
	if r.FirstNs != ingest.NoTime {
		v.Start = ptr(usOf(r.FirstNs))
	}
	if r.LastNs != ingest.NoTime {
		v.End = ptr(usOf(r.LastNs))
	}
	if r.Kind == ingest.KindADU && r.ThinkNs >= 0 {
		v.Think = ptr(r.ThinkNs / 1000)
	}
	v.Ts = v.Decided
	if v.Start != nil {
		v.Ts = *v.Start
	}
	return v
}

// wantConn is the connections row an END record must become.
func wantConn(r *ingest.Record) schema.Connection {
	s := r.Conn
	row := schema.Connection{
		Ts:       usOf(s.FirstNs),
		ServerIP: r.Server.Addr().String(), ServerPort: int32(r.Server.Port()),
		ClientIP: r.Client.Addr().String(), ClientPort: int32(r.Client.Port()),
		RunID: testRun, ConnID: int64(r.ConnID), Label: s.Label.String(),
		LastUs: usOf(s.LastNs) - usOf(s.FirstNs), EndUs: usOf(s.EndNs) - usOf(s.FirstNs), EndReason: s.End.String(),
		SynAttempts: int32(s.SynAttempts), SynAckAttempts: int32(s.SynAckAttempts),
		Handshake: s.Handshake.String(), Partial: s.Partial, Concurrent: s.Concurrent,
		Exchanges: int32(s.Exchanges), Ambiguous: int32(s.Ambiguous),
	}
	// Times the summary marks "not seen" (0, -1) are null.
	if s.Handshake == ingest.HandshakeSYN {
		row.SynUs = ptr(usOf(s.SynNs) - row.Ts)
	}
	if s.EstablishedNs != 0 {
		row.EstablishedUs = ptr(usOf(s.EstablishedNs) - row.Ts)
	}
	if s.Concurrent {
		row.ConcurrentUs = ptr(usOf(s.ConcurrentNs) - row.Ts)
	}
	if s.RTTNs >= 0 {
		row.RTTUs = ptr(s.RTTNs / 1000)
	}
	if s.AckRTTNs >= 0 {
		row.AckRTTUs = ptr(s.AckRTTNs / 1000)
	}
	dir := func(d *ingest.DirStats, adus *int32, pkts, data, bytes, uniq, missed, rxp, rxb *int64, fin, rst *bool, mss, ws **int32) {
		*adus, *pkts, *data, *bytes = int32(d.ADUs), int64(d.Pkts), int64(d.DataPkts), int64(d.Bytes)
		*uniq, *missed, *rxp, *rxb = int64(d.UniqueBytes), int64(d.MissedBytes), int64(d.RexmtPkts), int64(d.RexmtBytes)
		*fin, *rst = d.FIN, d.RST
		if d.MSS != 0 {
			*mss = ptr(int32(d.MSS))
		}
		if d.WScale >= 0 {
			*ws = ptr(int32(d.WScale))
		}
	}
	dir(&s.C2S, &row.C2SADUs, &row.C2SPkts, &row.C2SDataPkts, &row.C2SBytes, &row.C2SUniqueBytes, &row.C2SMissedBytes,
		&row.C2SRexmtPkts, &row.C2SRexmtBytes, &row.C2SFIN, &row.C2SRST, &row.C2SMSS, &row.C2SWScale)
	dir(&s.S2C, &row.S2CADUs, &row.S2CPkts, &row.S2CDataPkts, &row.S2CBytes, &row.S2CUniqueBytes, &row.S2CMissedBytes,
		&row.S2CRexmtPkts, &row.S2CRexmtBytes, &row.S2CFIN, &row.S2CRST, &row.S2CMSS, &row.S2CWScale)
	return row
}

// partPathRE is a published part of this test's run, relative to the root.
var partPathRE = regexp.MustCompile(`^(adus|connections|runs)/sensor=` + testSensor +
	`/date=(\d{4}-\d{2}-\d{2})/hour=(\d{1,2})/part-` + testRun + `-\d{4}\.parquet$`)

// readBack is every row of the archive, by table, with each file checked:
// it sits in its table's directory of its rows' hour, its footer names the
// table, schema version, sensor and run, and its rows are in the documented
// sort order.
type readBack struct {
	adus  []aduView
	conns []schema.Connection
	runs  []schema.Run
	files map[string]int   // parts per table
	bytes map[string]int64 // their sizes
	hours map[string]int   // distinct hour directories per table
}

func readArchive(t *testing.T, root string) readBack {
	t.Helper()
	rb := readBack{files: map[string]int{}, bytes: map[string]int64{}, hours: map[string]int{}}
	hourDirs := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		rel, err := filepath.Rel(root, path)
		require.NoError(t, err)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			return nil
		}
		if rel == "_abt/state.json" || rel == "_abt/lock" || (strings.Count(rel, "/") == 1 && strings.HasPrefix(rel, "_abt/") && strings.HasSuffix(rel, ".lock")) {
			return nil // the archive's locks and state stay
		}
		if strings.HasPrefix(rel, "_abt/") {
			require.Failf(t, "run left state behind", "%s", rel)
		}
		if strings.HasPrefix(d.Name(), ".hour=") && strings.HasSuffix(d.Name(), ".lock") {
			return nil // the hour locks stay
		}
		m := partPathRE.FindStringSubmatch(rel)
		require.NotNil(t, m, "unexpected file %s", rel)
		table := m[1]
		hour, err := time.Parse("2006-01-02 15", m[2]+" "+m[3])
		require.NoError(t, err)
		rb.files[table]++
		info, err := d.Info()
		require.NoError(t, err)
		rb.bytes[table] += info.Size()
		if dir := filepath.Dir(rel); !hourDirs[dir] {
			hourDirs[dir] = true
			rb.hours[table]++
		}
		checkFooter(t, path, table)
		inHour := func(ts int64) {
			require.Equal(t, hour, time.UnixMicro(ts).UTC().Truncate(time.Hour), "%s: row ts %d outside its hour", rel, ts)
		}
		switch table {
		case schema.TableADUs:
			rows, err := parquet.ReadFile[schema.ADU](path)
			require.NoError(t, err, rel)
			require.NotEmpty(t, rows, rel)
			for i := range rows {
				inHour(rows[i].Ts)
				if i > 0 {
					a, b := &rows[i-1], &rows[i]
					c := cmpSort(a.ServerIP, a.ServerPort, 0, b.ServerIP, b.ServerPort, 0)
					if c == 0 {
						c = strings.Compare(a.RunID, b.RunID)
					}
					if c == 0 {
						c = cmpInt(a.ConnID, b.ConnID)
					}
					if c == 0 {
						c = cmpInt(int64(a.Ordinal), int64(b.Ordinal))
					}
					require.LessOrEqual(t, c, 0, "%s: rows %d, %d out of order (server, port, run, connection, ordinal)", rel, i-1, i)
				}
			}
			for i := range rows {
				rb.adus = append(rb.adus, viewOfRow(&rows[i]))
			}
		case schema.TableConnections:
			rows, err := parquet.ReadFile[schema.Connection](path)
			require.NoError(t, err, rel)
			require.NotEmpty(t, rows, rel)
			for i := range rows {
				inHour(rows[i].Ts)
				if i > 0 {
					require.LessOrEqual(t, cmpSort(rows[i-1].ServerIP, rows[i-1].ServerPort, rows[i-1].Ts,
						rows[i].ServerIP, rows[i].ServerPort, rows[i].Ts), 0, "%s: rows %d, %d out of order", rel, i-1, i)
				}
			}
			rb.conns = append(rb.conns, rows...)
		case schema.TableRuns:
			rows, err := parquet.ReadFile[schema.Run](path)
			require.NoError(t, err, rel)
			for i := range rows {
				inHour(rows[i].Ts)
			}
			rb.runs = append(rb.runs, rows...)
		}
		return nil
	})
	require.NoError(t, err)
	return rb
}

// cmpSort compares two rows in the adus/connections file order
// (server_ip, server_port, ts), the IP as its text.
func cmpSort(ip1 string, port1 int32, ts1 int64, ip2 string, port2 int32, ts2 int64) int {
	return cmp.Or(strings.Compare(ip1, ip2), cmp.Compare(port1, port2), cmp.Compare(ts1, ts2))
}

func checkFooter(t *testing.T, path, table string) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	st, err := f.Stat()
	require.NoError(t, err)
	pf, err := parquet.OpenFile(f, st.Size())
	require.NoError(t, err, path)
	for k, want := range map[string]string{
		schema.MetaTable: table, schema.MetaSchemaVersion: strconv.Itoa(schema.Version),
		schema.MetaSensor: testSensor, schema.MetaRunIDs: testRun, schema.MetaProducer: "roundtrip-test",
	} {
		got, ok := pf.Lookup(k)
		require.True(t, ok, "%s: footer has no %s", path, k)
		require.Equal(t, want, got, "%s: footer %s", path, k)
	}
}

// sortADUs orders adus rows by connection, ordinal and direction.
func sortADUs(rows []aduView) {
	slices.SortFunc(rows, func(a, b aduView) int {
		return cmp.Or(cmp.Compare(a.ConnID, b.ConnID), cmp.Compare(a.Ordinal, b.Ordinal),
			strings.Compare(a.Direction, b.Direction), cmp.Compare(a.Ts, b.Ts))
	})
}

// requireSameRows compares two equally long sorted slices row by row, so a
// difference names its row instead of dumping both tables.
func requireSameRows[T any](t *testing.T, want, got []T, what string) {
	t.Helper()
	require.Len(t, got, len(want), "%s rows", what)
	for i := range want {
		require.Equal(t, want[i], got[i], "%s row %d", what, i)
	}
}

// TestRoundTrip archives bundled captures and reads every part back: each
// ADU and INC record is exactly one adus row with the same values, each END
// record exactly one connections row, and the run is one runs row whose
// counts are the records'.
func TestRoundTrip(t *testing.T) {
	partial := ingest.DefaultOptions()
	partial.TrackPartial = true
	tests := []struct {
		name      string
		capture   string
		opts      ingest.Options
		grace     time.Duration
		minHours  int // adus hour directories at least
		minADUs   int
		wantConns int  // END records; -1: any nonzero
		partial   bool // some connections were tracked without a handshake
	}{
		{name: "ipv4 oracle", capture: "trex_Oracle.pcap", opts: ingest.DefaultOptions(), minHours: 1, minADUs: 100, wantConns: -1},
		{name: "http", capture: "zeek_http_bro.org.pcap", opts: ingest.DefaultOptions(), minHours: 1, minADUs: 10, wantConns: -1},
		{name: "ipv6", capture: "pcapplusplus_four_ipv6_http_streams.pcap", opts: ingest.DefaultOptions(), minHours: 1, minADUs: 4, wantConns: 4},
		{name: "gzip one dropped response", capture: "zeek_http_1000-requests-one-dropped-response.pcap.gz", opts: ingest.DefaultOptions(), minHours: 1, minADUs: 2000, wantConns: 1},
		{name: "nanosecond big endian", capture: "pcapplusplus_nanosecs_big_endian.pcap", opts: ingest.DefaultOptions(), minHours: 1, minADUs: 1, wantConns: -1},
		// Spans years: many hours, published during the run with a tiny grace.
		{name: "many hours", capture: "mercury_emix.pcap", opts: ingest.DefaultOptions(), grace: time.Millisecond, minHours: 10, minADUs: 100, wantConns: -1},
		// Partial connections: null handshake times.
		{name: "partial connections", capture: "zeek_ssh.pcap", opts: partial, grace: time.Millisecond, minHours: 10, minADUs: 100, wantConns: -1, partial: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "archive")
			run := archiveCapture(t, root, filepath.Join(pcapDir, tc.capture), tc.opts, tc.grace)

			var wantADUs []aduView
			var wantConns []schema.Connection
			var nINC int
			for i := range run.recs {
				r := &run.recs[i]
				switch r.Kind {
				case ingest.KindADU, ingest.KindINC:
					wantADUs = append(wantADUs, wantADU(r))
					if r.Kind == ingest.KindINC {
						nINC++
					}
				case ingest.KindEND:
					require.NotNil(t, r.Conn, "END record without summary")
					wantConns = append(wantConns, wantConn(r))
				}
			}
			require.GreaterOrEqual(t, len(wantADUs), tc.minADUs, "ADU+INC records")
			if tc.wantConns >= 0 {
				require.Len(t, wantConns, tc.wantConns, "END records")
			} else {
				require.NotEmpty(t, wantConns, "END records")
			}

			nPartial := 0
			for _, c := range wantConns {
				if c.Partial {
					nPartial++
					require.Nil(t, c.SynUs)
				}
			}
			require.Equal(t, tc.partial, nPartial > 0, "partial connections")

			rb := readArchive(t, root)
			require.GreaterOrEqual(t, rb.hours[schema.TableADUs], tc.minHours, "adus hour directories")

			sortADUs(wantADUs)
			sortADUs(rb.adus)
			requireSameRows(t, wantADUs, rb.adus, "adus")

			byConn := func(a, b schema.Connection) int { return cmp.Compare(a.ConnID, b.ConnID) }
			slices.SortFunc(wantConns, byConn)
			slices.SortFunc(rb.conns, byConn)
			requireSameRows(t, wantConns, rb.conns, "connections")

			// The run's row.
			require.Len(t, rb.runs, 1)
			r := rb.runs[0]
			require.Equal(t, 1, rb.files[schema.TableRuns])
			require.Equal(t, testRun, r.RunID)
			require.Equal(t, testSensor, r.Sensor)
			require.Equal(t, "complete", r.Status)
			require.Equal(t, int64(len(wantADUs)), r.ADUs)
			require.Equal(t, int64(len(wantConns)), r.Connections)
			require.Equal(t, run.info.Packets, r.Packets)
			require.Equal(t, run.info.TCPSegments, r.TCPSegments)
			require.Equal(t, run.info.Inputs, r.Inputs)
			require.Equal(t, run.info.Records, r.Records)
			require.Equal(t, int32(schema.Version), r.SchemaVersion)
			require.NotNil(t, r.FirstPacket)
			require.NotNil(t, r.LastPacket)
			require.Equal(t, usOf(run.info.FirstPacket), *r.FirstPacket)
			require.Equal(t, usOf(run.info.LastPacket), *r.LastPacket)
			require.Equal(t, *r.FirstPacket, r.Ts)
			require.Equal(t, tc.opts.IdleTimeout.Microseconds(), r.IdleTimeoutUs)
			require.Equal(t, tc.opts.TrackPartial, r.TrackPartial)
			// The row counts the run's data files (it cannot count its own).
			require.Equal(t, int64(rb.files[schema.TableADUs]+rb.files[schema.TableConnections]), r.FilesWritten)
			require.Equal(t, rb.bytes[schema.TableADUs]+rb.bytes[schema.TableConnections], r.BytesWritten)

			// What Close reports agrees with the archive.
			require.Equal(t, int64(len(wantADUs)), run.sum.ADUs)
			require.Equal(t, int64(len(wantConns)), run.sum.Conns)
			require.Equal(t, int64(rb.files[schema.TableADUs]+rb.files[schema.TableConnections]+rb.files[schema.TableRuns]), run.sum.Files)
			t.Logf("%d ADU + %d INC -> %d adus rows in %d files (%d hours), %d connections, %d bytes",
				len(wantADUs)-nINC, nINC, len(rb.adus), rb.files[schema.TableADUs], rb.hours[schema.TableADUs], len(rb.conns), run.sum.Bytes)
		})
	}
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
