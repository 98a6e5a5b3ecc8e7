package ingest_test

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/capture"
	"github.com/abt-dev/abt/internal/decode"
	"github.com/abt-dev/abt/internal/ingest"
)

// benchCaptures are the bundled captures the benchmark replays: many short
// connections (echo), web browsing, TLS, a long Oracle dialog, a scan.
var benchCaptures = []string{
	"zeek_echo-connections.pcap.gz",
	"pcapplusplus_example.pcap",
	"slips_test-cc-capture-1.pcap",
	"zeek_http_bro.org.pcap",
	"trex_Oracle.pcap",
	"evilfingers_TCP_CONNECT_SCAN.pcap",
	"zeek_http_1000-requests-one-dropped-response.pcap.gz",
}

// memPacket is a captured packet held in memory.
type memPacket struct {
	data []byte
	pkt  capture.Packet
}

// loadPackets reads the benchmark captures into memory, each shifted so
// that they follow one another in time.
func loadPackets(tb testing.TB) ([]memPacket, int64) {
	tb.Helper()
	var out []memPacket
	var offset, span int64
	for _, name := range benchCaptures {
		src, err := capture.Open(filepath.Join(pcapDir, name))
		require.NoError(tb, err)
		var p capture.Packet
		var first, last int64
		n := 0
		for {
			err := src.Next(&p)
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(tb, err)
			if n == 0 {
				first = p.TsNs
			}
			last = max(last, p.TsNs)
			m := memPacket{data: append([]byte(nil), p.Data...), pkt: p}
			m.pkt.TsNs = p.TsNs - first + offset
			out = append(out, m)
			n++
		}
		require.NoError(tb, src.Close())
		offset += last - first + 1e9
	}
	span = offset
	for i := range out {
		out[i].pkt.Data = out[i].data
	}
	return out, span
}

// BenchmarkIngest measures decode + inference per packet over the bundled
// captures replayed end to end, each replay shifted in time (the engine
// sees one long capture of b.N packets). Reported: ns and allocations per
// packet, packets/s, and the live heap at the end.
func BenchmarkIngest(b *testing.B) {
	pkts, span := loadPackets(b)
	var recs int64
	e, err := ingest.New(ingest.DefaultOptions(), ingest.SinkFunc(func(*ingest.Record) error { recs++; return nil }))
	require.NoError(b, err)
	var dec decode.Decoder
	var seg decode.Segment
	var p capture.Packet
	b.ReportAllocs()
	b.ResetTimer()
	shift := int64(0)
	i := 0
	for range b.N {
		if i == len(pkts) {
			i = 0
			shift += span
		}
		p = pkts[i].pkt
		p.TsNs += shift
		i++
		if dec.Decode(&p, &seg) != decode.OK {
			continue
		}
		if err := e.Process(&seg); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	require.NoError(b, e.Finish())
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/1e6, "heap-MB")
	_ = context.Background
}

// TestSteadyStateAllocations checks that an established connection's data
// segments cost no allocation in the engine once it is warm.
func TestSteadyStateAllocations(t *testing.T) {
	sc := newScript()
	e, err := ingest.New(ingest.DefaultOptions(), ingest.SinkFunc(func(*ingest.Record) error { return nil }))
	require.NoError(t, err)
	for _, st := range handshake(0) {
		s := sc.seg(st)
		require.NoError(t, e.Process(&s))
	}
	seqC, seqS := uint32(1), uint32(1)
	us := int64(100000)
	exchange := func() {
		for _, st := range []step{
			{us: us, c2s: true, flags: "PA", seq: seqC, ack: seqS, n: 100},
			{us: us + 100, flags: "A", seq: seqS, ack: seqC + 100, n: 1400},
			{us: us + 200, flags: "PA", seq: seqS + 1400, ack: seqC + 100, n: 600},
			{us: us + 300, c2s: true, flags: "A", seq: seqC + 100, ack: seqS + 2000},
		} {
			s := sc.seg(st)
			if err := e.Process(&s); err != nil {
				t.Fatal(err)
			}
		}
		seqC += 100
		seqS += 2000
		us += 1_500_000 // beyond the hold: held records are released
	}
	for range 200 {
		exchange()
	}
	allocs := testing.AllocsPerRun(1000, exchange)
	require.Zero(t, allocs, "allocations per 4-segment exchange")
}
