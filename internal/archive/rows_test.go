package archive

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/ingest"
	"github.com/abt-dev/abt/schema"
)

// compactADU is the aduRow of an adus row (whose run is the writer's).
func compactADU(t *testing.T, tab *addrs, r *schema.ADU) aduRow {
	t.Helper()
	row := aduRow{
		Ts: r.Ts, ConnID: r.ConnID, Size: r.Size, DecidedLagUs: r.DecidedLagUs, Ordinal: r.Ordinal,
		Server: tab.of(parseAddr(t, r.ServerIP)), ServerPort: uint16(r.ServerPort),
		Client: tab.of(parseAddr(t, r.ClientIP)), ClientPort: uint16(r.ClientPort),
		Dir: dirOf(t, r.Direction),
	}
	require.Equal(t, int32(row.ServerPort), r.ServerPort)
	require.Equal(t, int32(row.ClientPort), r.ClientPort)
	if r.DurationUs != nil {
		row.DurationUs, row.Flags = *r.DurationUs, row.Flags|aduDuration
	}
	if r.ThinkUs != nil {
		row.ThinkUs, row.Flags = *r.ThinkUs, row.Flags|aduThink
	}
	for _, f := range []struct {
		set  bool
		flag aduFlags
	}{{r.Concurrent, aduConcurrent}, {r.Complete, aduComplete}, {r.ThinkToPeer, aduThinkToPeer}} {
		if f.set {
			row.Flags |= f.flag
		}
	}
	return row
}

// nameOf finds the value of an enum whose String is s.
func nameOf[E ~uint8](t *testing.T, s string) E {
	t.Helper()
	for v := range 256 {
		if fmt.Sprint(E(v)) == s {
			return E(v)
		}
	}
	require.Failf(t, "no such value", "%q", s)
	return 0
}

func dirOf(t *testing.T, s string) ingest.Dir { return nameOf[ingest.Dir](t, s) }

// compactConn is the connRow of a connections row.
func compactConn(t *testing.T, tab *addrs, r *schema.Connection) connRow {
	t.Helper()
	row := connRow{
		Ts: r.Ts, ConnID: r.ConnID, LastUs: r.LastUs, EndUs: r.EndUs,
		SynAttempts: r.SynAttempts, SynAckAttempts: r.SynAckAttempts, Exchanges: r.Exchanges, Ambiguous: r.Ambiguous,
		Server: tab.of(parseAddr(t, r.ServerIP)), ServerPort: uint16(r.ServerPort),
		Client: tab.of(parseAddr(t, r.ClientIP)), ClientPort: uint16(r.ClientPort),
		Label: nameOf[ingest.Label](t, r.Label), End: nameOf[ingest.EndReason](t, r.EndReason),
		Handshake: nameOf[ingest.Handshake](t, r.Handshake),
	}
	opt := func(dst *int64, p *int64, f connFlags) {
		if p != nil {
			*dst, row.Flags = *p, row.Flags|f
		}
	}
	opt(&row.SynUs, r.SynUs, connSyn)
	opt(&row.EstablishedUs, r.EstablishedUs, connEstablished)
	opt(&row.ConcurrentUs, r.ConcurrentUs, connConcurrentAt)
	opt(&row.RTTUs, r.RTTUs, connRTT)
	opt(&row.AckRTTUs, r.AckRTTUs, connAckRTT)
	if r.Partial {
		row.Flags |= connPartial
	}
	if r.Concurrent {
		row.Flags |= connConcurrent
	}
	dir := func(d *dirRow, adus int32, pkts, data, bytes, uniq, missed, rxp, rxb int64, fin, rst bool, mss, ws *int32) {
		*d = dirRow{ADUs: adus, Pkts: pkts, DataPkts: data, Bytes: bytes, UniqueBytes: uniq, MissedBytes: missed, RexmtPkts: rxp, RexmtBytes: rxb}
		if fin {
			d.Flags |= dirFIN
		}
		if rst {
			d.Flags |= dirRST
		}
		if mss != nil {
			d.MSS, d.Flags = *mss, d.Flags|dirMSS
		}
		if ws != nil {
			d.WScale, d.Flags = *ws, d.Flags|dirWScale
		}
	}
	dir(&row.C2S, r.C2SADUs, r.C2SPkts, r.C2SDataPkts, r.C2SBytes, r.C2SUniqueBytes, r.C2SMissedBytes, r.C2SRexmtPkts, r.C2SRexmtBytes,
		r.C2SFIN, r.C2SRST, r.C2SMSS, r.C2SWScale)
	dir(&row.S2C, r.S2CADUs, r.S2CPkts, r.S2CDataPkts, r.S2CBytes, r.S2CUniqueBytes, r.S2CMissedBytes, r.S2CRexmtPkts, r.S2CRexmtBytes,
		r.S2CFIN, r.S2CRST, r.S2CMSS, r.S2CWScale)
	return row
}

func p64(v int64) *int64 { return &v }
func p32(v int32) *int32 { return &v }

// TestCompactRowRoundTrip turns adus and connections rows into their
// compact form and back: every column comes back, nulls as nulls, zeros as
// zeros, extreme values whole; and a reused destination keeps nothing of
// the row converted into it before.
func TestCompactRowRoundTrip(t *testing.T) {
	const run = "run-1"
	adus := []schema.ADU{
		{ServerIP: "0.0.0.0", ClientIP: "0.0.0.0", RunID: run, Direction: "none"}, // zero values, null optionals
		{Ts: 1700000000123456, ServerIP: "10.0.0.1", ServerPort: 443, ClientIP: "192.168.1.20", ClientPort: 65535, RunID: run,
			ConnID: 7, Ordinal: 3, Direction: "s2c", Size: 1 << 40, DurationUs: p64(0), ThinkUs: p64(-5), DecidedLagUs: 12,
			Concurrent: true, Complete: true, ThinkToPeer: true},
		{Ts: -1, ServerIP: "2001:db8::1", ServerPort: 80, ClientIP: "fe80::1%eth0", ClientPort: 1, RunID: run,
			ConnID: 1<<63 - 1, Ordinal: -1 << 31, Direction: "c2s", Size: -1, ThinkUs: p64(1<<63 - 1), DecidedLagUs: -1 << 63},
		{Ts: 5, ServerIP: "::ffff:1.2.3.4", ServerPort: 0, ClientIP: "::", RunID: run, Direction: "c2s", DurationUs: p64(-1 << 63)},
	}
	conns := []schema.Connection{
		{ServerIP: "0.0.0.0", ClientIP: "0.0.0.0", RunID: run, Handshake: "none"}, // zero values, null optionals
		{Ts: 1700000000123456, ServerIP: "2001:db8::10", ServerPort: 22, ClientIP: "2001:db8::11", ClientPort: 50000, RunID: run,
			ConnID: 99, Label: "in", SynUs: p64(0), EstablishedUs: p64(1), ConcurrentUs: p64(-2), LastUs: 3, EndUs: 4,
			EndReason: "evicted", RTTUs: p64(0), AckRTTUs: p64(1 << 62), SynAttempts: 2, SynAckAttempts: 3, Handshake: "syn",
			Partial: true, Concurrent: true, Exchanges: 5, Ambiguous: 6,
			C2SADUs: 1, C2SPkts: 2, C2SDataPkts: 3, C2SBytes: 4, C2SUniqueBytes: 5, C2SMissedBytes: 6, C2SRexmtPkts: 7, C2SRexmtBytes: 8,
			C2SFIN: true, C2SMSS: p32(1460), C2SWScale: p32(0),
			S2CADUs: 9, S2CPkts: 10, S2CDataPkts: 11, S2CBytes: 12, S2CUniqueBytes: 13, S2CMissedBytes: 14, S2CRexmtPkts: 15, S2CRexmtBytes: 16,
			S2CRST: true, S2CMSS: p32(-1), S2CWScale: p32(14)},
		{Ts: 1, ServerIP: "10.9.8.7", ServerPort: 8080, ClientIP: "fe80::2%eth1", ClientPort: 7, RunID: run, Label: "external",
			EndReason: "unrecorded", Handshake: "synack", LastUs: -1 << 63, EndUs: 1<<63 - 1, C2SRST: true, S2CFIN: true},
	}
	var tab addrs
	w := &rowWriter{addrs: &tab, runID: run}
	var gotADU schema.ADU
	for _, r := range slices.Concat(adus, adus) { // the second round reuses gotADU after every other row
		c := compactADU(t, &tab, &r)
		w.adu(&gotADU, &c)
		require.Equal(t, r, gotADU)
	}
	var gotConn schema.Connection
	for _, r := range slices.Concat(conns, conns) {
		c := compactConn(t, &tab, &r)
		w.conn(&gotConn, &c)
		require.Equal(t, r, gotConn)
	}
}

// TestCompactRowsOfRecords: a record's compact row, converted, is the row
// the archive wrote from records before there were compact rows (the
// arithmetic of that conversion, for records with and without every
// optional time).
func TestCompactRowsOfRecords(t *testing.T) {
	const noTime = ingest.NoTime
	server := netip.MustParseAddrPort("10.0.0.1:80")
	client := netip.MustParseAddrPort("[2001:db8::2]:4000")
	tests := []struct {
		name string
		rec  ingest.Record
		want schema.ADU
	}{
		{name: "ADU with every time",
			rec: ingest.Record{Kind: ingest.KindADU, TsNs: 10_000_999, ConnID: 3, Server: server, Client: client, Dir: ingest.DirS2C,
				Size: 100, ThinkNs: 2_000_500, ThinkToPeer: true, FirstNs: 5_000_000, LastNs: 6_500_700, Ordinal: 1},
			want: schema.ADU{Ts: 5000, ServerIP: "10.0.0.1", ServerPort: 80, ClientIP: "2001:db8::2", ClientPort: 4000, RunID: "r",
				ConnID: 3, Ordinal: 1, Direction: "s2c", Size: 100, DurationUs: p64(1500), ThinkUs: p64(2000), DecidedLagUs: 10000 - 5000 - 1500 - 2000,
				Complete: true, ThinkToPeer: true}},
		{name: "INC: no think time, not complete",
			rec: ingest.Record{Kind: ingest.KindINC, TsNs: 9_000_000, Server: server, Client: client, Dir: ingest.DirC2S,
				Size: 1, ThinkNs: 5, ThinkToPeer: true, FirstNs: 8_000_000, LastNs: 8_000_000, Concurrent: true},
			want: schema.ADU{Ts: 8000, ServerIP: "10.0.0.1", ServerPort: 80, ClientIP: "2001:db8::2", ClientPort: 4000, RunID: "r",
				Direction: "c2s", Size: 1, DurationUs: p64(0), DecidedLagUs: 1000, Concurrent: true}},
		{name: "from a text log: no start, negative time",
			rec: ingest.Record{Kind: ingest.KindADU, TsNs: -1, Server: server, Client: client, Dir: ingest.DirC2S,
				ThinkNs: -1, FirstNs: noTime, LastNs: noTime},
			want: schema.ADU{Ts: -1, ServerIP: "10.0.0.1", ServerPort: 80, ClientIP: "2001:db8::2", ClientPort: 4000, RunID: "r",
				Direction: "c2s", Complete: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var tab addrs
			row := tab.newADURow(&tc.rec)
			var got schema.ADU
			(&rowWriter{addrs: &tab, runID: "r"}).adu(&got, &row)
			require.Equal(t, tc.want, got)
		})
	}
}

// randomADUs makes n adus rows with few servers, ports and connections,
// so that every sort column decides some pairs; addrs are drawn from
// pool.
func randomADUs(rng *rand.Rand, tab *addrs, pool []netip.Addr, n int) []aduRow {
	rows := make([]aduRow, n)
	for i := range rows {
		rows[i] = aduRow{
			Server: tab.of(pool[rng.IntN(len(pool))]), ServerPort: uint16(rng.IntN(3) * 40000),
			Client: tab.of(pool[rng.IntN(len(pool))]), ConnID: rng.Int64N(5) - 2, Ordinal: int32(rng.IntN(4) - 2),
			Ts: rng.Int64N(1000), Dir: ingest.DirC2S,
		}
	}
	// Keys are unique in a part: drop repeats.
	seen := map[[4]any]bool{}
	return slices.DeleteFunc(rows, func(r aduRow) bool {
		k := [4]any{r.Server, r.ServerPort, r.ConnID, r.Ordinal}
		if seen[k] {
			return true
		}
		seen[k] = true
		return false
	})
}

// TestSortRowsStringOrder sorts chunks of compact rows with sortRows (by
// the octets of IPv4 servers, or by ranks of the chunk's servers; small
// chunks by comparing keys, others with radixSort) and
// checks the order against aduCmp and connCmp on the rows converted, which
// compare the addresses' texts: chunks of IPv4 servers only, of both
// families, and of IPv6 with zones; and the merge order (aduCmpRow,
// connCmpRow) against them too.
func TestSortRowsStringOrder(t *testing.T) {
	var v4, mixed []netip.Addr
	for _, s := range testAddrs {
		a := netip.MustParseAddr(s)
		if a.Is4() {
			v4 = append(v4, a)
		}
		mixed = append(mixed, a)
	}
	for _, tc := range []struct {
		name string
		pool []netip.Addr
	}{{"ipv4", v4}, {"both families", mixed}} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 4))
			tab := &addrs{}
			w := &rowWriter{addrs: tab, runID: "r"}
			s := &serverSorter{addrs: tab}
			// Chunks, reusing the sorter: small ones sorted by comparing
			// keys, larger ones by radixSort.
			for _, n := range []int{1, 2, 37, radixMin - 1, radixMin, 700, 2000, 5000, 1 + rng.IntN(5000), 1 + rng.IntN(5000)} {
				rows := randomADUs(rng, tab, tc.pool, n)
				perm := make([]int32, len(rows))
				sortRows(s, rows, perm, aduKey)

				schemaRows := make([]schema.ADU, len(rows))
				for i := range rows {
					w.adu(&schemaRows[i], &rows[i])
				}
				want := make([]int32, len(rows))
				for i := range want {
					want[i] = int32(i)
				}
				slices.SortFunc(want, func(a, b int32) int { return aduCmp(&schemaRows[a], &schemaRows[b]) })
				require.Equal(t, want, perm)
				for i := 1; i < len(perm); i++ {
					require.Negative(t, tab.aduCmpRow(&rows[perm[i-1]], &rows[perm[i]]))
				}

				conns := make([]connRow, len(rows))
				schemaConns := make([]schema.Connection, len(rows))
				for i := range rows {
					conns[i] = connRow{Server: rows[i].Server, ServerPort: rows[i].ServerPort, Client: rows[i].Client,
						ConnID: rows[i].ConnID*8 + int64(rows[i].Ordinal)} // unique, like the adus rows' keys
					w.conn(&schemaConns[i], &conns[i])
				}
				sortRows(s, conns, perm, connKey)
				slices.SortFunc(want, func(a, b int32) int { return connCmp(&schemaConns[a], &schemaConns[b]) })
				require.Equal(t, want, perm)
				for i := 1; i < len(perm); i++ {
					require.Negative(t, tab.connCmpRow(&conns[perm[i-1]], &conns[perm[i]]))
				}
			}
		})
	}
}

// BenchmarkSortRows sorts a chunk of adus rows as a busy hour gives them:
// connections in the order they started, each on one of a few thousand
// servers, a few ADUs each.
func BenchmarkSortRows(b *testing.B) {
	for _, tc := range []struct {
		name string
		v6   bool
	}{{"family=ipv4", false}, {"family=both", true}} {
		b.Run(tc.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(5, 6))
			tab := &addrs{}
			servers := make([]addr, 5000)
			for i := range servers {
				a := netip.AddrFrom4([4]byte{byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))})
				if tc.v6 && i%10 == 0 {
					a = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: byte(i >> 8), 15: byte(i)})
				}
				servers[i] = tab.of(a)
			}
			const n = 330_000
			rows := make([]aduRow, 0, n)
			for c := int64(1); len(rows) < n; c++ {
				srv := servers[rng.IntN(len(servers))]
				for o := range int32(1 + rng.IntN(8)) {
					rows = append(rows, aduRow{Server: srv, ServerPort: 443, ConnID: c, Ordinal: o})
				}
			}
			rows = rows[:n]
			rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] }) // records come out of order across connections
			s := &serverSorter{addrs: tab}
			perm := make([]int32, n)
			b.ReportAllocs()
			for b.Loop() {
				sortRows(s, rows, perm, aduKey)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/row")
		})
	}
}
