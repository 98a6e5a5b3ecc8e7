package adutext

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	gzip "github.com/klauspost/pgzip"
	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/ingest"
)

// goldenDir holds adudump text written by Writer from real captures, with
// JSON Lines twins carrying every record field.
const goldenDir = "../../cmd/adu2parquet/testdata/golden"

// readAll reads every record of text; err is what ended the stream (nil
// for io.EOF).
func readAll(t testing.TB, name, text string, opts ReaderOptions) ([]ingest.Record, ReaderStats, error) {
	t.Helper()
	rd := NewReader(name, strings.NewReader(text), opts)
	var out []ingest.Record
	for {
		var rec ingest.Record
		err := rd.Next(&rec)
		if errors.Is(err, io.EOF) {
			return out, rd.Stats(), nil
		}
		if err != nil {
			// Sticky.
			require.Equal(t, err, rd.Next(&rec))
			return out, rd.Stats(), err
		}
		out = append(out, rec)
	}
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

// Test record builders: base fills what every record has.
func base(k ingest.Kind, ts int64, id uint64, cli, srv string, d ingest.Dir) ingest.Record {
	return ingest.Record{Kind: k, TsNs: ts, ConnID: id, Client: netip.MustParseAddrPort(cli),
		Server: netip.MustParseAddrPort(srv), Dir: d, ThinkNs: -1, AckRTTNs: -1}
}

func adu(r ingest.Record, size uint64, conc bool, think int64, ord uint32) ingest.Record {
	r.Size, r.Concurrent, r.Ordinal = size, conc, ord
	r.FirstNs, r.LastNs = ingest.NoTime, ingest.NoTime
	if think >= 0 {
		r.ThinkNs, r.LastNs = think, r.TsNs-think
		// Text does not tell a quiet-time split from a sequential boundary;
		// a sequential think time is read as ended by the other side.
		r.ThinkToPeer = !conc && r.Kind == ingest.KindADU
	}
	return r
}

func rtt(r ingest.Record, ns int64) ingest.Record {
	r.RTTNs = ns
	return r
}

func end(r ingest.Record, reason ingest.EndReason, s ingest.ConnSummary) ingest.Record {
	s.End, s.EndNs = reason, r.TsNs
	s.C2S.WScale, s.S2C.WScale = -1, -1
	if s.RTTNs == 0 {
		s.RTTNs = -1
	}
	s.AckRTTNs = -1
	r.Reason, r.Conn = reason, &s
	return r
}

const (
	us  = int64(1000)
	ms  = 1000 * us
	sec = 1000 * ms
)

func TestReaderSamples(t *testing.T) {
	const (
		t2  = 1202706002 * sec
		srv = "1.2.3.4:443"
		cli = "5.6.7.8:62015"

		l0  = 1591513668 * sec
		lc  = "10.248.18.2:37502"
		lc2 = "10.248.18.2:37504"
		lc3 = "10.248.18.2:42042"
		ls  = "52.216.90.78:443"
		ls3 = "52.216.251.30:443"

		x0  = 1600000000 * sec
		xa  = "192.0.2.10:8080"
		xb  = "198.51.100.7:51000"
		xpc = "198.51.100.8:40000"
		xps = "192.0.2.10:22"
	)
	const c2s, s2c, none = ingest.DirC2S, ingest.DirS2C, ingest.DirNone
	const (
		SYN, RTT, SEQ, CONC, ADU = ingest.KindSYN, ingest.KindRTT, ingest.KindSEQ, ingest.KindCONC, ingest.KindADU
		INC, END, PART           = ingest.KindINC, ingest.KindEND, ingest.KindPART
	)
	tests := []struct {
		name  string
		file  string
		want  []ingest.Record
		stats ReaderStats
	}{
		{name: "paper Table 2, TMA-2008 dialect", file: "testdata/table2.adu",
			want: []ingest.Record{
				base(SYN, t2+650917*us, 1, cli, srv, c2s),
				base(SEQ, t2+681395*us, 1, cli, srv, c2s),
				adu(base(ADU, t2+688748*us, 1, cli, srv, c2s), 163, false, 542*us, 0),
				adu(base(ADU, t2+733813*us, 1, cli, srv, s2c), 2886, false, 45041*us, 1),
				adu(base(ADU, t2+738254*us, 1, cli, srv, c2s), 198, false, 4441*us, 2),
				adu(base(ADU, t2+801408*us, 1, cli, srv, s2c), 59, false, -1, 3),
				end(base(END, t2+821701*us, 1, cli, srv, c2s), ingest.EndUnrecorded, ingest.ConnSummary{
					SynNs: t2 + 650917*us, EstablishedNs: t2 + 681395*us, FirstNs: t2 + 650917*us, LastNs: t2 + 821701*us,
					SynAttempts: 1, Handshake: ingest.HandshakeSYN, Exchanges: 2,
					C2S: ingest.DirStats{UniqueBytes: 361, ADUs: 2}, S2C: ingest.DirStats{UniqueBytes: 2945, ADUs: 2}}),
			},
			stats: ReaderStats{Lines: 7, Records: 7, Conns: 1}},
		{name: "reference sample, later dialect", file: "testdata/later.adu",
			want: []ingest.Record{
				base(SYN, l0+719172*us, 1, lc, ls, c2s),
				rtt(base(RTT, l0+786600*us, 1, lc, ls, s2c), 67428*us),
				base(SEQ, l0+786642*us, 1, lc, ls, c2s),
				adu(base(ADU, l0+856054*us, 1, lc, ls, c2s), 517, false, 67796*us, 0),
				adu(base(ADU, l0+866101*us, 1, lc, ls, s2c), 3630, false, 7350*us, 1),
				base(CONC, l0+1*sec+799233*us, 2, lc2, ls, none),
				adu(base(ADU, l0+8*sec+331431*us, 1, lc, ls, c2s), 31, false, -1, 2),
				end(base(END, l0+8*sec+398937*us, 1, lc, ls, none), ingest.EndUnrecorded, ingest.ConnSummary{
					SynNs: l0 + 719172*us, EstablishedNs: l0 + 786642*us, FirstNs: l0 + 719172*us, LastNs: l0 + 8*sec + 398937*us,
					RTTNs: 67428 * us, SynAttempts: 1, SynAckAttempts: 1, Handshake: ingest.HandshakeSYN, Exchanges: 2,
					C2S: ingest.DirStats{UniqueBytes: 548, ADUs: 2}, S2C: ingest.DirStats{UniqueBytes: 3630, ADUs: 1}}),
				// X.X: the latest time read.
				adu(base(INC, l0+8*sec+398937*us, 3, lc3, ls3, s2c), 343426, false, -1, 0),
				// Still open at the end: by last line time.
				end(base(END, l0+8*sec+398937*us, 2, lc2, ls, none), ingest.EndEOF, ingest.ConnSummary{
					FirstNs: l0 + 1*sec + 799233*us, LastNs: l0 + 1*sec + 799233*us, Partial: true, Concurrent: true,
					ConcurrentNs: l0 + 1*sec + 799233*us}),
				end(base(END, l0+8*sec+398937*us, 3, lc3, ls3, none), ingest.EndEOF, ingest.ConnSummary{
					FirstNs: l0 + 8*sec + 398937*us, LastNs: l0 + 8*sec + 398937*us, Partial: true, Exchanges: 1,
					S2C: ingest.DirStats{UniqueBytes: 343426, ADUs: 1}}),
			},
			stats: ReaderStats{Lines: 9, Records: 11, Conns: 3, UntimedINC: 1, EndsSynthesized: 2}},
		{name: "SAK, PART, +size, ordinals, CONC ADUs, reused key", file: "testdata/later-extras.adu",
			want: []ingest.Record{
				base(SEQ, x0+300*us, 1, xa, xb, c2s),
				adu(base(ADU, x0+100*ms, 1, xa, xb, c2s), 300, false, 50*ms, 0),
				adu(base(ADU, x0+200*ms, 1, xa, xb, s2c), 1200, false, -1, 1),
				base(CONC, x0+300*ms, 1, xa, xb, none),
				adu(base(ADU, x0+1*sec, 1, xa, xb, s2c), 10, true, 600*ms, 2),
				base(PART, x0+1500*ms, 2, xpc, xps, c2s),
				adu(base(ADU, x0+1600*ms, 2, xpc, xps, c2s), 512, false, 10*ms, 0),
				end(base(END, x0+2*sec, 1, xa, xb, s2c), ingest.EndReused, ingest.ConnSummary{
					SynNs: x0 + 100*us, EstablishedNs: x0 + 300*us, FirstNs: x0 + 100*us, LastNs: x0 + 1*sec,
					SynAckAttempts: 1, Handshake: ingest.HandshakeSYNACK, Concurrent: true, ConcurrentNs: x0 + 300*ms, Exchanges: 1,
					C2S: ingest.DirStats{UniqueBytes: 300, ADUs: 1}, S2C: ingest.DirStats{UniqueBytes: 1210, ADUs: 2}}),
				base(SYN, x0+2*sec, 3, xa, xb, c2s),
				adu(base(INC, x0+2*sec, 2, xpc, xps, s2c), 40, false, -1, 1),
				end(base(END, x0+2*sec, 2, xpc, xps, c2s), ingest.EndEOF, ingest.ConnSummary{
					EstablishedNs: x0 + 1500*ms, FirstNs: x0 + 1500*ms, LastNs: x0 + 1600*ms, Partial: true, Exchanges: 1,
					C2S: ingest.DirStats{UniqueBytes: 512, ADUs: 1}, S2C: ingest.DirStats{UniqueBytes: 40, ADUs: 1}}),
				end(base(END, x0+2*sec, 3, xa, xb, c2s), ingest.EndEOF, ingest.ConnSummary{
					SynNs: x0 + 2*sec, FirstNs: x0 + 2*sec, LastNs: x0 + 2*sec, SynAttempts: 1, Handshake: ingest.HandshakeSYN}),
			},
			stats: ReaderStats{Lines: 12, Records: 12, Conns: 3, UntimedINC: 1, EndsSynthesized: 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, st, err := readAll(t, tc.file, readFile(t, tc.file), ReaderOptions{})
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.stats, st)
		})
	}
}

// TestReaderLines covers line-level rules on small inline logs.
func TestReaderLines(t *testing.T) {
	type brief struct {
		Kind   ingest.Kind
		TsNs   int64
		ConnID uint64
		Client string
		Dir    ingest.Dir
		Label  ingest.Label
		Reason ingest.EndReason
	}
	short := func(rs []ingest.Record) []brief {
		var out []brief
		for _, r := range rs {
			out = append(out, brief{r.Kind, r.TsNs, r.ConnID, r.Client.String(), r.Dir, r.Label, r.Reason})
		}
		return out
	}
	const (
		c2s, s2c, none = ingest.DirC2S, ingest.DirS2C, ingest.DirNone
		SYN, SEQ, CONC = ingest.KindSYN, ingest.KindSEQ, ingest.KindCONC
		ADU, END       = ingest.KindADU, ingest.KindEND
		eof, unrec     = ingest.EndEOF, ingest.EndUnrecorded
	)
	tests := []struct {
		name  string
		text  string
		opts  ReaderOptions
		want  []brief
		check func(t *testing.T, st ReaderStats)
	}{
		{name: "blank and comment lines, CRLF, no final newline",
			text: "# header\r\n\r\n   \n\t# indented comment\nSYN: 1.000000 1.2.3.4.80 < 5.6.7.8.5000\r\nEND: 2.000000 1.2.3.4.80 < 5.6.7.8.5000",
			want: []brief{{SYN, 1e9, 1, "5.6.7.8:5000", c2s, 0, 0}, {END, 2e9, 1, "5.6.7.8:5000", c2s, 0, unrec}},
			check: func(t *testing.T, st ReaderStats) {
				require.Equal(t, int64(6), st.Lines)
			}},
		{name: "Writer's IPv6 and negative times",
			text: "SYN: -1.500001 2001:db8::1.80 < 2001:db8::2.5000\nEND: 2.000000 2001:db8::1.80 > 2001:db8::2.5000\n",
			want: []brief{{SYN, -1_500_001_000, 1, "[2001:db8::2]:5000", c2s, 0, 0}, {END, 2e9, 1, "[2001:db8::2]:5000", s2c, 0, unrec}}},
		{name: "mid-way start: well-known port is the server",
			text: "ADU: 1.000000 5.6.7.8.5000 > 1.2.3.4.80 10 SEQ\n",
			want: []brief{{ADU, 1e9, 1, "5.6.7.8:5000", c2s, 0, 0}, {END, 1e9, 1, "5.6.7.8:5000", c2s, 0, eof}}},
		{name: "mid-way start: ephemeral 49152+ port is the client",
			text: "ADU: 1.000000 5.6.7.8.8080 > 1.2.3.4.50000 10 SEQ\n",
			want: []brief{{ADU, 1e9, 1, "1.2.3.4:50000", s2c, 0, 0}, {END, 1e9, 1, "1.2.3.4:50000", s2c, 0, eof}}},
		{name: "mid-way start, ports tell nothing: the sender is the client",
			text: "ADU: 1.000000 5.6.7.8.3000 < 1.2.3.4.4000 10 SEQ\n",
			want: []brief{{ADU, 1e9, 1, "1.2.3.4:4000", c2s, 0, 0}, {END, 1e9, 1, "1.2.3.4:4000", c2s, 0, eof}}},
		{name: "mid-way x line, ports tell nothing: the first printed is the server",
			text: "CNC: 1.000000 5.6.7.8.3000 x0 1.2.3.4.4000\nEND: 2.000000 5.6.7.8.3000 x0 1.2.3.4.4000\n",
			want: []brief{{CONC, 1e9, 1, "1.2.3.4:4000", none, 0, 0}, {END, 2e9, 1, "1.2.3.4:4000", none, 0, unrec}}},
		{name: "a connection shown only by its END, ports tell nothing: the first printed is the server",
			// The engine's END for a connection begun by a SYN-ACK that saw
			// nothing else: its direction is the SYN-ACK's, not a client's.
			text: "END: 1.000000 5.6.7.8.5900 > 1.2.3.4.47098\n",
			want: []brief{{END, 1e9, 1, "1.2.3.4:47098", s2c, 0, unrec}}},
		{name: "mid-way SEQ: its sender is the client despite the ports",
			text: "SEQ: 1.000000 5.6.7.8.80 > 1.2.3.4.4000\n",
			want: []brief{{SEQ, 1e9, 1, "5.6.7.8:80", c2s, 0, 0}, {END, 1e9, 1, "5.6.7.8:80", c2s, 0, eof}}},
		{name: "a line after END starts a new connection",
			text: "SYN: 1.000000 1.2.3.4.80 < 5.6.7.8.5000\nEND: 2.000000 1.2.3.4.80 x0 5.6.7.8.5000\nADU: 3.000000 1.2.3.4.80 > 5.6.7.8.5000 1 SEQ\n",
			want: []brief{{SYN, 1e9, 1, "5.6.7.8:5000", c2s, 0, 0}, {END, 2e9, 1, "5.6.7.8:5000", none, 0, unrec},
				{ADU, 3e9, 2, "5.6.7.8:5000", s2c, 0, 0}, {END, 3e9, 2, "5.6.7.8:5000", s2c, 0, eof}}},
		{name: "print order does not matter to the key",
			text: "SYN: 1.000000 5.6.7.8.5000 > 1.2.3.4.80\nADU: 2.000000 1.2.3.4.80 > 5.6.7.8.5000 1 SEQ\n",
			want: []brief{{SYN, 1e9, 1, "5.6.7.8:5000", c2s, 0, 0}, {ADU, 2e9, 1, "5.6.7.8:5000", s2c, 0, 0},
				{END, 2e9, 1, "5.6.7.8:5000", s2c, 0, eof}}},
		{name: "EOF ends by last line time, then ConnID",
			text: "SYN: 1.000000 1.2.3.4.80 < 5.6.7.8.5000\nSYN: 2.000000 1.2.3.4.80 < 5.6.7.8.5001\nADU: 3.000000 1.2.3.4.80 < 5.6.7.8.5000 1 SEQ\nSYN: 3.000000 1.2.3.4.80 < 5.6.7.8.5002\n",
			want: []brief{{SYN, 1e9, 1, "5.6.7.8:5000", c2s, 0, 0}, {SYN, 2e9, 2, "5.6.7.8:5001", c2s, 0, 0},
				{ADU, 3e9, 1, "5.6.7.8:5000", c2s, 0, 0}, {SYN, 3e9, 3, "5.6.7.8:5002", c2s, 0, 0},
				{END, 3e9, 2, "5.6.7.8:5001", c2s, 0, eof}, {END, 3e9, 1, "5.6.7.8:5000", c2s, 0, eof},
				{END, 3e9, 3, "5.6.7.8:5002", c2s, 0, eof}}},
		{name: "a SAK line has no record: its ConnID comes with its first record",
			text: "SAK: 1.000000 1.2.3.4.80 > 5.6.7.8.5000\nSYN: 2.000000 1.2.3.4.80 < 5.6.7.8.5001\nSEQ: 3.000000 1.2.3.4.80 < 5.6.7.8.5000\n",
			want: []brief{{SYN, 2e9, 1, "5.6.7.8:5001", c2s, 0, 0}, {SEQ, 3e9, 2, "5.6.7.8:5000", c2s, 0, 0},
				{END, 3e9, 1, "5.6.7.8:5001", c2s, 0, eof}, {END, 3e9, 2, "5.6.7.8:5000", c2s, 0, eof}},
			check: func(t *testing.T, st ReaderStats) {
				require.Equal(t, int64(2), st.Conns)
			}},
		{name: "a SAK-only connection ended at EOF in order of its first line",
			text: "SYN: 1.000000 1.2.3.4.80 < 5.6.7.8.5001\nSAK: 1.000000 1.2.3.4.80 > 5.6.7.8.5000\n",
			want: []brief{{SYN, 1e9, 1, "5.6.7.8:5001", c2s, 0, 0},
				{END, 1e9, 1, "5.6.7.8:5001", c2s, 0, eof}, {END, 1e9, 2, "5.6.7.8:5000", s2c, 0, eof}}},
		{name: "time going backwards is counted, not fatal",
			text: "SYN: 5.000000 1.2.3.4.80 < 5.6.7.8.5000\nSEQ: 4.000000 1.2.3.4.80 < 5.6.7.8.5000\nINC: X.X 1.2.3.4.80 < 5.6.7.8.5000 3 CONC\n",
			want: []brief{{SYN, 5e9, 1, "5.6.7.8:5000", c2s, 0, 0}, {SEQ, 4e9, 1, "5.6.7.8:5000", c2s, 0, 0},
				{ingest.KindINC, 5e9, 1, "5.6.7.8:5000", c2s, 0, 0}, {END, 5e9, 1, "5.6.7.8:5000", c2s, 0, eof}},
			check: func(t *testing.T, st ReaderStats) {
				require.Equal(t, int64(1), st.TimeBackwards)
				require.Equal(t, int64(1), st.UntimedINC)
			}},
		{name: "labels from local networks",
			opts: ReaderOptions{LocalNets: []netip.Prefix{netip.MustParsePrefix("10.1.2.3/8")}},
			text: "SYN: 1.000000 10.0.0.1.80 < 5.6.7.8.5000\nSYN: 1.000000 10.0.0.1.5000 > 5.6.7.8.80\nSYN: 1.000000 10.0.0.1.80 < 10.0.0.2.5000\nSYN: 1.000000 1.1.1.1.80 < 5.6.7.8.5000\n",
			want: []brief{{SYN, 1e9, 1, "5.6.7.8:5000", c2s, ingest.LabelIn, 0}, {SYN, 1e9, 2, "10.0.0.1:5000", c2s, ingest.LabelOut, 0},
				{SYN, 1e9, 3, "10.0.0.2:5000", c2s, ingest.LabelLocal, 0}, {SYN, 1e9, 4, "5.6.7.8:5000", c2s, ingest.LabelExternal, 0},
				{END, 1e9, 1, "5.6.7.8:5000", c2s, ingest.LabelIn, eof}, {END, 1e9, 2, "10.0.0.1:5000", c2s, ingest.LabelOut, eof},
				{END, 1e9, 3, "10.0.0.2:5000", c2s, ingest.LabelLocal, eof}, {END, 1e9, 4, "5.6.7.8:5000", c2s, ingest.LabelExternal, eof}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, st, err := readAll(t, "t.adu", tc.text, tc.opts)
			require.NoError(t, err)
			require.Equal(t, tc.want, short(got))
			if tc.check != nil {
				tc.check(t, st)
			}
		})
	}
}

func TestReaderMalformed(t *testing.T) {
	const (
		good = "SYN: 1.000000 1.2.3.4.80 < 5.6.7.8.5000\n"
		pre  = good + "# comment\n"
	)
	tests := []struct {
		name string
		line string
		msg  string
	}{
		{"bad type", "FOO: 1.000000 1.2.3.4.80 < 5.6.7.8.5000", `t.adu:3: bad record type "FOO:"`},
		{"type without colon", "SYN 1.000000 1.2.3.4.80 < 5.6.7.8.5000", `t.adu:3: bad record type "SYN"`},
		{"bad time", "ADU: 1.00000 1.2.3.4.80 < 5.6.7.8.5000 1 SEQ", `t.adu:3: bad time "1.00000"`},
		{"time without seconds", "ADU: .000000 1.2.3.4.80 < 5.6.7.8.5000 1 SEQ", `t.adu:3: bad time ".000000"`},
		{"X.X outside INC", "ADU: X.X 1.2.3.4.80 < 5.6.7.8.5000 1 SEQ", `t.adu:3: bad time "X.X"`},
		{"time out of range", "SEQ: 99999999999.000000 1.2.3.4.80 < 5.6.7.8.5000", `t.adu:3: bad time "99999999999.000000"`},
		{"bad address", "SEQ: 1.000000 1.2.3.256.80 < 5.6.7.8.5000", `t.adu:3: bad address "1.2.3.256.80"`},
		{"address without port", "SEQ: 1.000000 1.2.3.4.80 < 5.6.7.8", `t.adu:3: bad address "5.6.7.8"`},
		{"port out of range", "SEQ: 1.000000 1.2.3.4.65536 < 5.6.7.8.5000", `t.adu:3: bad address "1.2.3.4.65536"`},
		{"IPv6 garbage", "SEQ: 1.000000 2001:db8:::1.80 < 5.6.7.8.5000", `t.adu:3: bad address "2001:db8:::1.80"`},
		{"bad dir", "SEQ: 1.000000 1.2.3.4.80 = 5.6.7.8.5000", `t.adu:3: bad direction "="`},
		{"bad interface", "SEQ: 1.000000 1.2.3.4.80 <a 5.6.7.8.5000", `t.adu:3: bad direction "<a"`},
		{"x on an ADU", "ADU: 1.000000 1.2.3.4.80 x0 5.6.7.8.5000 1 SEQ", `t.adu:3: bad direction "x0" for ADU`},
		{"bad size", "ADU: 1.000000 1.2.3.4.80 < 5.6.7.8.5000 12x SEQ", `t.adu:3: bad ADU size "12x"`},
		{"negative size", "INC: X.X 1.2.3.4.80 < 5.6.7.8.5000 -1 SEQ", `t.adu:3: bad INC size "-1"`},
		{"size overflow", "ADU: 1.000000 1.2.3.4.80 < 5.6.7.8.5000 18446744073709551616 SEQ", `t.adu:3: bad ADU size "18446744073709551616"`},
		{"bad mode", "ADU: 1.000000 1.2.3.4.80 < 5.6.7.8.5000 12 SEQUENTIAL", `t.adu:3: bad ADU mode "SEQUENTIAL" (want SEQ or CONC)`},
		{"bad think", "ADU: 1.000000 1.2.3.4.80 < 5.6.7.8.5000 12 SEQ 1e-3", `t.adu:3: bad think time "1e-3"`},
		{"bad ordinal", "ADU: 1.000000 1.2.3.4.80 < 5.6.7.8.5000 12 SEQ 0.500000 x.1", `t.adu:3: bad ordinal "x.1"`},
		{"think on INC", "INC: X.X 1.2.3.4.80 < 5.6.7.8.5000 12 SEQ 0.500000 1.2", `t.adu:3: unexpected field "1.2" after INC line`},
		{"bad RTT", "RTT: 1.000000 1.2.3.4.80 > 5.6.7.8.5000 -0.000001", `t.adu:3: bad RTT "-0.000001"`},
		{"missing fields", "SEQ: 1.000000 1.2.3.4.80 <", `t.adu:3: missing fields: SEQ line has 4 of at least 5`},
		{"missing ADU size", "ADU: 1.000000 1.2.3.4.80 < 5.6.7.8.5000", `t.adu:3: missing fields: ADU line without size and SEQ or CONC`},
		{"missing RTT", "RTT: 1.000000 1.2.3.4.80 > 5.6.7.8.5000", `t.adu:3: missing fields: RTT line without its RTT`},
		{"extra field", "END: 1.000000 1.2.3.4.80 x0 5.6.7.8.5000 FIN", `t.adu:3: unexpected field "FIN" after END line`},
		{"too many fields", "ADU: 1.000000 1.2.3.4.80 < 5.6.7.8.5000 1 SEQ 0.000001 1.1 a b", `t.adu:3: too many fields (10)`},
		{"too long", "ADU: 1.000000 1.2.3.4.80 < 5.6.7.8.5000 1 SEQ" + strings.Repeat(" ", 300), `t.adu:3: line longer than 256 bytes`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			text := pre + tc.line + "\n" + good
			opts := ReaderOptions{MaxLineBytes: 256}
			got, _, err := readAll(t, "t.adu", text, opts)
			var le *LineError
			require.ErrorAs(t, err, &le)
			require.Equal(t, tc.msg, err.Error())
			require.Equal(t, "t.adu", le.File)
			require.Equal(t, int64(3), le.Line)
			require.LessOrEqual(t, len(le.Text), lineErrorText+3)
			require.True(t, strings.HasPrefix(tc.line, strings.TrimSuffix(le.Text, "...")))
			require.NotNil(t, errors.Unwrap(err))
			// The SYN before it has been returned, and nothing else.
			require.Len(t, got, 1)
			require.Equal(t, ingest.KindSYN, got[0].Kind)

			opts.SkipMalformed = true
			got, st, err := readAll(t, "t.adu", text, opts)
			require.NoError(t, err)
			require.Equal(t, int64(1), st.Malformed)
			require.Equal(t, int64(4), st.Lines)
			// The second SYN reuses the key: SYN, END (reused), SYN, END (eof).
			require.Len(t, got, 4)
			require.Equal(t, ingest.EndReused, got[1].Reason)
		})
	}
}

func TestReaderLongLines(t *testing.T) {
	const syn = "SYN: 1.000000 1.2.3.4.80 < 5.6.7.8.5000" // 39 bytes
	tests := []struct {
		name    string
		text    string
		max     int
		records int   // with SkipMalformed
		errLine int64 // without, 0 for none
		errText string
		errMsg  string
	}{
		{name: "over bufio's buffer, within the limit",
			text: "# " + strings.Repeat("x", 200<<10) + "\n" + syn + "\n", records: 2},
		{name: "over the default limit",
			text: "# c\nFOO " + strings.Repeat("y", 2<<20) + "\n" + syn + "\n", records: 2, errLine: 2,
			errText: "FOO " + strings.Repeat("y", lineErrorText-4) + "...", errMsg: "t.adu:2: line longer than 1048576 bytes"},
		{name: "exactly the limit, CRLF", text: syn + "\r\n", max: 39, records: 2},
		{name: "exactly the limit, last line", text: syn, max: 39, records: 2},
		{name: "one byte over, CRLF", text: syn + " \r\n", max: 39, errLine: 1,
			errText: syn + " ", errMsg: "t.adu:1: line longer than 39 bytes"},
		{name: "one byte over, last line", text: syn + " ", max: 39, errLine: 1,
			errText: syn + " ", errMsg: "t.adu:1: line longer than 39 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, st, err := readAll(t, "t.adu", tc.text, ReaderOptions{SkipMalformed: true, MaxLineBytes: tc.max})
			require.NoError(t, err)
			require.Len(t, got, tc.records)
			require.Equal(t, int64(boolToInt(tc.errLine > 0)), st.Malformed)

			_, _, err = readAll(t, "t.adu", tc.text, ReaderOptions{MaxLineBytes: tc.max})
			if tc.errLine == 0 {
				require.NoError(t, err)
				return
			}
			var le *LineError
			require.ErrorAs(t, err, &le)
			require.Equal(t, tc.errLine, le.Line)
			require.Equal(t, tc.errText, le.Text)
			require.EqualError(t, err, tc.errMsg)
		})
	}
}

func boolToInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// errReader fails after its data.
type errReader struct{ r io.Reader }

func (e errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func TestReaderReadError(t *testing.T) {
	rd := NewReader("t.adu", errReader{strings.NewReader("SYN: 1.000000 1.2.3.4.80 < 5.6.7.8.5000\n")}, ReaderOptions{})
	var rec ingest.Record
	require.NoError(t, rd.Next(&rec))
	err := rd.Next(&rec)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	require.EqualError(t, err, "read adudump log t.adu at line 2: unexpected EOF")
	require.Equal(t, err, rd.Next(&rec))
}

// goldenLine is the part of a jsonl record that adudump text carries.
type goldenLine struct {
	Kind       string `json:"kind"`
	TsNs       int64  `json:"ts_ns"`
	ConnID     uint64 `json:"conn_id"`
	Client     string `json:"client"`
	Server     string `json:"server"`
	Dir        string `json:"dir"`
	Size       uint64 `json:"size"`
	Concurrent bool   `json:"concurrent"`
	ThinkNs    *int64 `json:"think_ns"`
	ToPeer     bool   `json:"think_to_peer"`
	LastNs     int64  `json:"last_ns"`
	Ordinal    uint32 `json:"ordinal"`
	RTTNs      int64  `json:"rtt_ns"`
	Conn       *struct {
		SynNs         int64  `json:"syn_ns"`
		EstablishedNs int64  `json:"established_ns"`
		FirstNs       int64  `json:"first_ns"`
		Partial       bool   `json:"partial"`
		Concurrent    bool   `json:"concurrent"`
		Exchanges     uint32 `json:"exchanges"`
		C2S           struct {
			ADUs uint32 `json:"adus"`
		} `json:"c2s"`
		S2C struct {
			ADUs uint32 `json:"adus"`
		} `json:"s2c"`
	} `json:"conn"`
}

// usTrunc is the ns time as printed and read back (Writer truncates to µs).
func usTrunc(ns int64) int64 { return usec(ns) * 1000 }

// TestReaderGolden reads back the text our Writer printed for real
// captures and compares it with the same records as JSON Lines.
func TestReaderGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(goldenDir, "*.adu"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	total := 0
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			got, st, err := readAll(t, path, readFile(t, path), ReaderOptions{})
			require.NoError(t, err)
			require.Zero(t, st.TimeBackwards)
			require.Zero(t, st.EndsSynthesized, "the engine ends every connection")
			require.Zero(t, st.PeerGuessed, "every boundary is decided by the next line")
			checkRecords(t, got, st)

			jf, err := os.Open(strings.TrimSuffix(path, ".adu") + ".jsonl")
			require.NoError(t, err)
			defer jf.Close()
			sc := bufio.NewScanner(jf)
			sc.Buffer(nil, 1<<20)
			i := 0
			for sc.Scan() {
				var w goldenLine
				require.NoError(t, json.Unmarshal(sc.Bytes(), &w))
				require.Less(t, i, len(got), "fewer records than the jsonl")
				g := got[i]
				require.Equal(t, w.Kind, g.Kind.String(), "record %d", i)
				require.Equal(t, usTrunc(w.TsNs), g.TsNs, "record %d", i)
				require.Equal(t, w.ConnID, g.ConnID, "record %d", i)
				require.Equal(t, w.Client, g.Client.String(), "record %d", i)
				require.Equal(t, w.Server, g.Server.String(), "record %d", i)
				require.Equal(t, w.Dir, g.Dir.String(), "record %d", i)
				switch g.Kind {
				case ingest.KindADU, ingest.KindINC:
					require.Equal(t, w.Size, g.Size, "record %d", i)
					require.Equal(t, w.Concurrent, g.Concurrent, "record %d", i)
					require.Equal(t, w.Ordinal, g.Ordinal, "record %d", i)
					if w.ThinkNs == nil || g.Kind == ingest.KindINC {
						require.Equal(t, int64(-1), g.ThinkNs, "record %d", i)
					} else {
						require.Equal(t, usTrunc(*w.ThinkNs), g.ThinkNs, "record %d", i)
					}
					// The next line of the connection tells a quiet-time
					// split from a boundary ended by the other side.
					require.Equal(t, w.ToPeer, g.ThinkToPeer, "record %d", i)
				case ingest.KindRTT:
					require.Equal(t, usTrunc(w.RTTNs), g.RTTNs, "record %d", i)
				case ingest.KindEND:
					c := g.Conn
					require.NotNil(t, c)
					require.Equal(t, ingest.EndUnrecorded, g.Reason)
					require.Equal(t, usTrunc(w.Conn.SynNs), c.SynNs, "record %d", i)
					require.Equal(t, usTrunc(w.Conn.EstablishedNs), c.EstablishedNs, "record %d", i)
					// The first line is not always the first packet (a SYN-ACK
					// can precede the SYN).
					require.LessOrEqual(t, usTrunc(w.Conn.FirstNs), c.FirstNs, "record %d", i)
					require.Equal(t, g.TsNs, c.EndNs, "record %d", i)
					require.Equal(t, w.Conn.Partial, c.Partial, "record %d", i)
					require.Equal(t, w.Conn.Concurrent, c.Concurrent, "record %d", i)
					require.Equal(t, w.Conn.Exchanges, c.Exchanges, "record %d", i)
					require.Equal(t, w.Conn.C2S.ADUs, c.C2S.ADUs, "record %d", i)
					require.Equal(t, w.Conn.S2C.ADUs, c.S2C.ADUs, "record %d", i)
				}
				i++
			}
			require.NoError(t, sc.Err())
			require.Equal(t, i, len(got))
			total += i
		})
	}
	t.Logf("%d files, %d records", len(files), total)
}

// TestReaderWriterRoundTrip writes records with Writer and reads them back.
func TestReaderWriterRoundTrip(t *testing.T) {
	text := readFile(t, "testdata/later-extras.adu")
	recs, _, err := readAll(t, "in", text, ReaderOptions{})
	require.NoError(t, err)
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for i := range recs {
		require.NoError(t, w.Record(&recs[i]))
	}
	require.NoError(t, w.Flush())
	again, _, err := readAll(t, "out", buf.String(), ReaderOptions{})
	require.NoError(t, err)
	// The Writer prints the ENDs the Reader made up; read back they are
	// unrecorded. Everything else is the same.
	require.Len(t, again, len(recs))
	for i := range recs {
		if recs[i].Kind == ingest.KindEND {
			require.Equal(t, ingest.KindEND, again[i].Kind)
			require.Equal(t, recs[i].ConnID, again[i].ConnID)
			continue
		}
		if recs[i].Dir == ingest.DirNone {
			// Writer prints DirNone as '>'.
			again[i].Dir = ingest.DirNone
		}
		require.Equal(t, recs[i], again[i], "record %d", i)
	}
}

func TestOpenLog(t *testing.T) {
	text := []byte(readFile(t, "testdata/table2.adu"))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, err := zw.Write(text)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	enc, err := zstd.NewWriter(nil)
	require.NoError(t, err)
	zs := enc.EncodeAll(text, nil)
	require.NoError(t, enc.Close())

	dir := t.TempDir()
	tests := []struct {
		name string
		data []byte
	}{
		{"plain", text},
		{"gzip", gz.Bytes()},
		{"zstd", zs},
		{"empty", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name)
			require.NoError(t, os.WriteFile(path, tc.data, 0o600))
			f, err := OpenLog(path)
			require.NoError(t, err)
			got, err := io.ReadAll(f)
			require.NoError(t, err)
			require.NoError(t, f.Close())
			if tc.data == nil {
				require.Empty(t, got)
				return
			}
			require.Equal(t, text, got)
		})
	}
	_, err = OpenLog(filepath.Join(dir, "missing"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

func BenchmarkReader(b *testing.B) {
	text, err := os.ReadFile(filepath.Join(goldenDir, "trex_sfr2-0-ex.erf.adu"))
	require.NoError(b, err)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	var rec ingest.Record
	for b.Loop() {
		rd := NewReader("bench", bytes.NewReader(text), ReaderOptions{})
		for rd.Next(&rec) == nil {
		}
	}
}

// TestReaderUnseenSynAck checks the summary of connections whose first
// line is their SEQ or their END: the engine prints no line for the SYN-ACK
// that began them.
func TestReaderUnseenSynAck(t *testing.T) {
	text := "SEQ: 1.000100 1.2.3.4.21 < 5.6.7.8.2227\n" +
		"END: 2.000000 1.2.3.4.21 < 5.6.7.8.2227\n" +
		"END: 3.000000 1.2.3.4.5900 > 5.6.7.8.47098\n"
	recs, _, err := readAll(t, "t.adu", text, ReaderOptions{})
	require.NoError(t, err)
	require.Len(t, recs, 3)
	for _, r := range recs[1:] {
		require.Equal(t, ingest.KindEND, r.Kind)
		require.Equal(t, ingest.HandshakeSYNACK, r.Conn.Handshake)
		require.False(t, r.Conn.Partial)
		require.Equal(t, uint32(1), r.Conn.SynAckAttempts)
		require.Zero(t, r.Conn.SynAttempts)
		require.Zero(t, r.Conn.SynNs, "the SYN-ACK's time is not in the log")
	}
	require.Equal(t, int64(1_000_100_000), recs[1].Conn.EstablishedNs)
	require.Equal(t, "1.2.3.4:21", recs[1].Server.String())
	require.Equal(t, "1.2.3.4:5900", recs[2].Server.String(), "the first printed is the server")
}

// TestReaderMaxConns: past MaxConns open connections, the one named least
// recently ends (evicted, at the time of the line that needed its room),
// so that a log without END lines holds a bounded table.
func TestReaderMaxConns(t *testing.T) {
	text := `SYN: 1.000000 10.0.0.1.80 < 10.0.0.9.5001
SYN: 2.000000 10.0.0.1.80 < 10.0.0.9.5002
SYN: 3.000000 10.0.0.1.80 < 10.0.0.9.5003
ADU: 4.000000 10.0.0.1.80 < 10.0.0.9.5001 100 SEQ 0.010000
SYN: 5.000000 10.0.0.1.80 < 10.0.0.9.5004
SYN: 6.000000 10.0.0.1.80 < 10.0.0.9.5005
`
	recs, st, err := readAll(t, "log", text, ReaderOptions{MaxConns: 3})
	require.NoError(t, err)
	require.EqualValues(t, 2, st.Evicted)
	type end struct {
		port   uint16
		ts     int64
		reason ingest.EndReason
	}
	var ends []end
	for _, r := range recs {
		if r.Kind == ingest.KindEND {
			ends = append(ends, end{r.Client.Port(), r.TsNs, r.Reason})
		}
	}
	// 5002 was named least recently when 5004 came (5001 had its ADU at
	// 4 s), then 5003 when 5005 came; the rest end at the end of the log.
	require.Equal(t, []end{
		{5002, 5e9, ingest.EndEvicted},
		{5003, 6e9, ingest.EndEvicted},
		{5001, 6e9, ingest.EndEOF},
		{5004, 6e9, ingest.EndEOF},
		{5005, 6e9, ingest.EndEOF},
	}, ends)

	// Without a bound nothing is evicted.
	_, st, err = readAll(t, "log", text, ReaderOptions{})
	require.NoError(t, err)
	require.Zero(t, st.Evicted)
}
