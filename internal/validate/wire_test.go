package validate

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/ingest"
	"github.com/abt-dev/abt/internal/synthcap"
)

// TestWireOverlap: connections worked out by hand. A request answered
// after it arrived does not overlap (synthcap.Exchange); a response sent
// before the server had the request (its ACK field does not cover it)
// does; so does a request sent before the client had the response; a
// server that speaks first and a client that answers after reading it do
// not. (synthcap writes IPv4 frames; the harness's captures have both
// families.)
func TestWireOverlap(t *testing.T) {
	ms := int64(time.Millisecond)
	server := netip.MustParseAddrPort("10.0.0.1:80")
	client := func(port uint16) netip.AddrPort { return netip.AddrPortFrom(netip.MustParseAddr("10.0.0.2"), port) }
	hs := func(t0 int64, c, s netip.AddrPort) []synthcap.Segment {
		return []synthcap.Segment{
			{Ns: t0, Src: c, Dst: s, Seq: 999, Flags: synthcap.FlagSYN},
			{Ns: t0 + ms, Src: s, Dst: c, Seq: 4999, Ack: 1000, Flags: synthcap.FlagSYN | synthcap.FlagACK},
			{Ns: t0 + 2*ms, Src: c, Dst: s, Seq: 1000, Ack: 5000, Flags: synthcap.FlagACK},
		}
	}
	data := uint8(synthcap.FlagPSH | synthcap.FlagACK)
	var segs []synthcap.Segment
	segs = append(segs, synthcap.Exchange(0, client(1), server, 100, 200, true)...)
	// 2: the server sends 200 bytes acknowledging none of the client's 100.
	segs = append(segs, hs(10*ms, client(2), server)...)
	segs = append(segs,
		synthcap.Segment{Ns: 13 * ms, Src: client(2), Dst: server, Seq: 1000, Ack: 5000, Flags: data, Payload: 100},
		synthcap.Segment{Ns: 14 * ms, Src: server, Dst: client(2), Seq: 5000, Ack: 1000, Flags: data, Payload: 200})
	// 3: the client sends more while the server's response is unacknowledged.
	segs = append(segs, hs(20*ms, client(3), server)...)
	segs = append(segs,
		synthcap.Segment{Ns: 23 * ms, Src: client(3), Dst: server, Seq: 1000, Ack: 5000, Flags: data, Payload: 100},
		synthcap.Segment{Ns: 24 * ms, Src: server, Dst: client(3), Seq: 5000, Ack: 1100, Flags: data, Payload: 3000},
		synthcap.Segment{Ns: 25 * ms, Src: client(3), Dst: server, Seq: 1100, Ack: 6000, Flags: data, Payload: 50})
	// 4: the server speaks first; the client answers having read it all.
	segs = append(segs, hs(30*ms, client(4), server)...)
	segs = append(segs,
		synthcap.Segment{Ns: 33 * ms, Src: server, Dst: client(4), Seq: 5000, Ack: 1000, Flags: data, Payload: 300},
		synthcap.Segment{Ns: 34 * ms, Src: client(4), Dst: server, Seq: 1000, Ack: 5300, Flags: data, Payload: 20},
		synthcap.Segment{Ns: 35 * ms, Src: server, Dst: client(4), Seq: 5300, Ack: 1020, Flags: data, Payload: 30})
	b, err := synthcap.Capture(segs)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "c.pcap")
	require.NoError(t, os.WriteFile(path, b, 0o644))
	truth := map[netip.AddrPort]*TruthConn{}
	for _, c := range []netip.AddrPort{client(1), client(2), client(3), client(4)} {
		truth[c] = &TruthConn{Client: c, Server: server}
	}
	got, err := ReadWire(truth, path)
	require.NoError(t, err)
	require.Equal(t, map[netip.AddrPort]bool{client(2): true, client(3): true}, got.Overlap)
}

// TestMergeOnTheWire: two requests 600 ms apart at the application, but
// the first one's last bytes were seen again at the monitor (a
// retransmission) 100 ms before the second began: merged, as the wire
// shows, and so explained; without the wire, and with the retransmission
// 700 ms before, not.
func TestMergeOnTheWire(t *testing.T) {
	ms := int64(time.Millisecond)
	client := netip.MustParseAddrPort("10.0.0.2:7")
	tc := &TruthConn{Client: client, Mode: ModeConc, ADUs: []TruthADU{
		{Dir: "c2s", Size: 100, Off: 0, FirstNs: 0, LastNs: 0, Writes: []LogWrite{{N: 100, Ns: 0}}},
		{Dir: "c2s", Size: 50, Off: 100, FirstNs: 600 * ms, LastNs: 600 * ms, Writes: []LogWrite{{N: 50, Ns: 600 * ms}}},
	}}
	inf := &InferredConn{Client: client, ADUs: []ingest.Record{{Kind: ingest.KindADU, Dir: ingest.DirC2S, Size: 150}}}
	wire := func(retransmitAt int64) *Wire {
		return &Wire{Data: map[netip.AddrPort]*[2][]WireSeg{client: {{
			{Off: 0, End: 100, Ns: 1 * ms},
			{Off: 50, End: 100, Ns: retransmitAt},
			{Off: 100, End: 150, Ns: 601 * ms},
		}}}}
	}
	causes, ok := explainDir(tc, inf, "c2s", 500*time.Millisecond, wire(501*ms))
	require.True(t, ok, "%v", causes)
	require.Contains(t, causes[0], "the wire only 100ms")
	_, ok = explainDir(tc, inf, "c2s", 500*time.Millisecond, nil)
	require.False(t, ok)
	_, ok = explainDir(tc, inf, "c2s", 500*time.Millisecond, wire(-99*ms))
	require.False(t, ok, "the retransmission 700 ms before: a pause the wire shows too")
}
