package ingest_test

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/decode"
	"github.com/abt-dev/abt/internal/ingest"
)

// TestSYNFloodIsBounded floods SYNs from 10,000 ports at a table capped at
// 100 entries while one real connection runs: the table never grows past
// the cap, the half-open entries are shed (and counted) before the
// established one, and the real connection's records are intact.
func TestSYNFloodIsBounded(t *testing.T) {
	opts := ingest.DefaultOptions()
	opts.MaxConns = 100
	var recs []ingest.Record
	e, err := ingest.New(opts, ingest.SinkFunc(func(r *ingest.Record) error {
		recs = append(recs, *r)
		return nil
	}))
	require.NoError(t, err)
	sc := newScript()
	feed := func(st step) {
		s := sc.seg(st)
		require.NoError(t, e.Process(&s))
	}
	for _, st := range handshake(0) {
		feed(st)
	}
	feed(step{us: 40000, c2s: true, flags: "PA", seq: 1, ack: 1, n: 100})
	attacker := netip.MustParseAddr("203.0.113.9")
	for i := 0; i < 10000; i++ {
		s := decode.Segment{TsNs: (base + 50000 + int64(i)) * 1000, Src: attacker, SrcPort: uint16(1024 + i),
			Dst: server.Addr(), DstPort: server.Port(), Seq: uint32(i), Flags: decode.FlagSYN, WScale: -1}
		require.NoError(t, e.Process(&s))
		require.LessOrEqual(t, e.Conns(), 100)
	}
	feed(step{us: 100000, flags: "PA", seq: 1, ack: 101, n: 300})
	feed(step{us: 110000, c2s: true, flags: "FA", seq: 101, ack: 301})
	feed(step{us: 120000, flags: "FA", seq: 301, ack: 102})
	require.NoError(t, e.Finish())

	st := e.Stats()
	require.Equal(t, 100, st.PeakConns)
	require.Equal(t, uint64(10000-99), st.EvictedHalfOpen, "all but the 99 newest SYNs were shed")
	require.Equal(t, st.Evicted, st.EvictedHalfOpen, "the established connection was never shed")

	var real []ingest.Record
	ends := map[ingest.EndReason]int{}
	for _, r := range recs {
		if r.ConnID == 1 {
			real = append(real, r)
		}
		if r.Kind == ingest.KindEND {
			ends[r.Reason]++
		}
	}
	require.Equal(t, 10001, ends[ingest.EndEvicted]+ends[ingest.EndEOF]+ends[ingest.EndFIN])
	require.Equal(t, 1, ends[ingest.EndFIN])
	require.Len(t, real, 6) // SYN RTT SEQ ADU ADU END
	require.Equal(t, uint64(100), real[3].Size)
	require.Equal(t, uint64(300), real[4].Size)
	require.Equal(t, ingest.EndFIN, real[5].Reason)
}

// TestRecordsAreTimeOrdered interleaves a connection whose ADU is held with
// other connections' records: the output stays in time order.
func TestRecordsAreTimeOrdered(t *testing.T) {
	a := newScript()
	b := newScript()
	b.c = netip.MustParseAddrPort("9.9.9.9:5555")
	var steps []decode.Segment
	for _, st := range append(handshake(0), step{us: 100000, c2s: true, flags: "FPA", seq: 1, ack: 1, n: 10}) {
		steps = append(steps, a.seg(st))
	}
	for _, st := range handshake(200000) {
		steps = append(steps, b.seg(st))
	}
	steps = append(steps, a.seg(step{us: 900000, flags: "PA", seq: 1, ack: 12, n: 20}))
	var last int64
	var kinds []ingest.Kind
	e, err := ingest.New(ingest.DefaultOptions(), ingest.SinkFunc(func(r *ingest.Record) error {
		require.GreaterOrEqual(t, r.TsNs, last)
		last = r.TsNs
		kinds = append(kinds, r.Kind)
		return nil
	}))
	require.NoError(t, err)
	for i := range steps {
		require.NoError(t, e.Process(&steps[i]))
	}
	require.NoError(t, e.Finish())
	require.Equal(t, []ingest.Kind{
		ingest.KindSYN, ingest.KindRTT, ingest.KindSEQ, ingest.KindADU, // a; its ADU held until b's records
		ingest.KindSYN, ingest.KindRTT, ingest.KindSEQ, // b
		ingest.KindINC, ingest.KindEND, ingest.KindEND,
	}, kinds)
}

// TestHugeADU sends 82,000 segments of 65,535 bytes (5.37 GB, wrapping the
// sequence space once) as one ADU.
func TestHugeADU(t *testing.T) {
	sc := newScript()
	steps := handshake(0)
	const n, size = 82000, 65535
	seq := uint32(1)
	for i := 0; i < n; i++ {
		steps = append(steps, step{us: 40000 + int64(i), c2s: true, flags: "A", seq: seq, ack: 1, n: size})
		seq += size
	}
	steps = append(steps, step{us: 200000, flags: "PA", seq: 1, ack: seq, n: 1})
	_, st, recs := run(t, ingest.DefaultOptions(), sc, steps)
	require.Equal(t, uint64(0), st.SeqAnomalies)
	var adu *ingest.Record
	for i := range recs {
		if recs[i].Kind == ingest.KindADU {
			adu = &recs[i]
		}
	}
	require.NotNil(t, adu)
	require.Equal(t, uint64(n*size), adu.Size)
	require.Greater(t, adu.Size, uint64(1)<<32)
}

func TestPartialConnections(t *testing.T) {
	steps := []step{
		{us: 100000, c2s: true, flags: "PA", seq: 1, ack: 1, n: 100},
		{us: 150000, flags: "PA", seq: 1, ack: 101, n: 300},
		{us: 200000, c2s: true, flags: "PA", seq: 101, ack: 301, n: 10},
	}
	t.Run("skipped by default", func(t *testing.T) {
		out, st, _ := run(t, ingest.DefaultOptions(), newScript(), steps)
		require.Empty(t, out)
		require.Equal(t, uint64(1), st.SkippedNoSYN)
		require.Equal(t, uint64(3), st.SegsUntracked)
	})
	t.Run("tracked on request", func(t *testing.T) {
		opts := ingest.DefaultOptions()
		opts.TrackPartial = true
		out, st, _ := run(t, opts, newScript(), steps)
		require.Equal(t, lines(
			l("PART", 100000, "<", ""),
			l("ADU", 150000, "<", "100 SEQ 0.050000"),
			l("ADU", 200000, ">", "300 SEQ 0.050000"),
			l("INC", 200000, "<", "10 SEQ"),
			l("END", 200000, "<", "")), out)
		require.Equal(t, uint64(1), st.ConnsPartial)
		require.Equal(t, uint64(0), st.SkippedNoSYN)
	})
}

func TestLocalNetworks(t *testing.T) {
	steps := append(handshake(0), step{us: 100000, c2s: true, flags: "RA", seq: 1, ack: 1})
	t.Run("inbound connection kept, server printed first", func(t *testing.T) {
		opts := ingest.DefaultOptions()
		opts.LocalNets = []netip.Prefix{netip.MustParsePrefix("1.2.77.77/16")} // mask applied
		opts.InboundOnly = true
		out, _, recs := run(t, opts, newScript(), steps)
		require.Equal(t, with(hs, l("END", 100000, "<", "")), out)
		require.Equal(t, ingest.LabelIn, recs[len(recs)-1].Conn.Label)
	})
	t.Run("outbound connection dropped by inbound-only", func(t *testing.T) {
		opts := ingest.DefaultOptions()
		opts.LocalNets = []netip.Prefix{netip.MustParsePrefix("5.6.0.0/16")}
		opts.InboundOnly = true
		out, st, _ := run(t, opts, newScript(), steps)
		require.Empty(t, out)
		require.Equal(t, uint64(1), st.SkippedFilter)
	})
	t.Run("outbound connection prints the local client first", func(t *testing.T) {
		opts := ingest.DefaultOptions()
		opts.LocalNets = []netip.Prefix{netip.MustParsePrefix("5.6.0.0/16")}
		out, _, recs := run(t, opts, newScript(), steps)
		require.Equal(t, lines(
			"SYN: 1202706002.000000 5.6.7.8.62015 > 1.2.3.4.443",
			"RTT: 1202706002.030000 5.6.7.8.62015 < 1.2.3.4.443 0.030000",
			"SEQ: 1202706002.030100 5.6.7.8.62015 > 1.2.3.4.443",
			"END: 1202706002.100000 5.6.7.8.62015 > 1.2.3.4.443"), out)
		require.Equal(t, ingest.LabelOut, recs[0].Label)
	})
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*ingest.Options)
		want string
	}{
		{"quiet", func(o *ingest.Options) { o.QuietTime = 0 }, "quiet time"},
		{"hold", func(o *ingest.Options) { o.Hold = -1 }, "hold"},
		{"conns", func(o *ingest.Options) { o.MaxConns = 0 }, "max connections"},
		{"inbound", func(o *ingest.Options) { o.InboundOnly = true }, "inbound-only"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := ingest.DefaultOptions()
			tc.mod(&o)
			_, err := ingest.New(o, ingest.SinkFunc(func(*ingest.Record) error { return nil }))
			require.ErrorContains(t, err, tc.want)
		})
	}
}
