package live_test

import (
	"errors"
	"testing"
	"time"

	"github.com/gopacket/gopacket/afpacket"
	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/capture"
	"github.com/abt-dev/abt/internal/capture/live"
	"github.com/abt-dev/abt/internal/netns"
)

// frames returns the frames of a bundled Ethernet capture.
func frames(t *testing.T, name string) [][]byte { return live.CaptureFrames(t, name) }

// sender writes frames on an interface.
func sender(t *testing.T, iface string) *afpacket.TPacket {
	t.Helper()
	tp, err := afpacket.NewTPacket(afpacket.OptInterface(iface))
	require.NoError(t, err)
	t.Cleanup(tp.Close)
	return tp
}

// TestLiveVeth sends the frames of a bundled capture alternately into two
// veth pairs and captures the far ends together: every frame comes out
// once, in the order sent, from its interface, cut to the snap length with
// its length on the wire; then a quiet poll gives capture.ErrIdle at about
// the poll interval; nothing was dropped.
func TestLiveVeth(t *testing.T) {
	if !netns.Run(t, "TestLiveVeth", netns.Veths) {
		return
	}
	const snap = 96
	src, err := live.Open([]string{"a1", "b1"}, live.Options{SnapLen: snap, Poll: 200 * time.Millisecond})
	require.NoError(t, err)
	defer src.Close()
	fs := frames(t, "trex_Oracle.pcap")
	out := []*afpacket.TPacket{sender(t, "a0"), sender(t, "b0")}
	for i, f := range fs {
		require.NoError(t, out[i%2].WritePacketData(f))
	}
	var p capture.Packet
	last := int64(0)
	for i, f := range fs {
		require.NoError(t, src.Next(&p), "frame %d", i)
		require.Equal(t, f[:min(len(f), snap)], p.Data, "frame %d", i)
		require.Equal(t, len(f), p.OrigLen, "frame %d", i)
		require.Equal(t, i%2, p.Iface, "frame %d", i)
		require.Equal(t, capture.LinkEthernet, p.Link)
		require.GreaterOrEqual(t, p.TsNs, last, "frame %d", i)
		last = p.TsNs
	}
	start := time.Now()
	require.ErrorIs(t, src.Next(&p), capture.ErrIdle)
	waited := time.Since(start)
	require.InDelta(t, time.Now().UnixNano(), p.TsNs, float64(time.Second), "the idle time is the wall clock")
	require.Greater(t, waited, 100*time.Millisecond)
	require.Less(t, waited, 2*time.Second)
	st, err := src.Stats()
	require.NoError(t, err)
	require.Equal(t, uint64(len(fs)), st.Packets)
	var wire uint64
	for _, f := range fs {
		wire += uint64(len(f))
	}
	require.Equal(t, wire, st.Bytes)
	require.Zero(t, st.Drops)
	require.Zero(t, st.IfaceDrops)
	t.Logf("%d frames captured on two interfaces, stats %+v", len(fs), st)
}

// TestLiveDrops fills a one-block ring with more frames than it holds
// before reading: the kernel drops the rest, and Stats counts them, so
// that what was read and what was dropped add up to what was sent.
func TestLiveDrops(t *testing.T) {
	if !netns.Run(t, "TestLiveDrops", netns.Veths) {
		return
	}
	src, err := live.Open([]string{"a1"}, live.Options{RingBytes: 1 << 20, Poll: 100 * time.Millisecond})
	require.NoError(t, err)
	defer src.Close()
	fs := frames(t, "trex_Oracle.pcap")
	tx := sender(t, "a0")
	const sent = 20000
	for i := range sent {
		require.NoError(t, tx.WritePacketData(fs[i%len(fs)]))
	}
	var p capture.Packet
	read := 0
	for {
		err := src.Next(&p)
		if errors.Is(err, capture.ErrIdle) {
			break
		}
		require.NoError(t, err)
		read++
	}
	st, err := src.Stats()
	require.NoError(t, err)
	require.Equal(t, uint64(read), st.Packets)
	require.Positive(t, st.Drops, "a ring of one block cannot hold %d frames", sent)
	require.Equal(t, uint64(sent), st.Packets+st.Drops, "read and dropped add up to sent")
	t.Logf("%d sent, %d read, %d dropped", sent, read, st.Drops)
}

// TestOpenErrors: an interface that does not exist, or none, is one line
// naming it.
func TestOpenErrors(t *testing.T) {
	_, err := live.Open([]string{"nosuch0"}, live.Options{})
	require.EqualError(t, err, "live capture: interface nosuch0: no such network interface")
	_, err = live.Open(nil, live.Options{})
	require.EqualError(t, err, "live capture: no interface")
}

// TestLiveFilter sends a capture's frames with a kernel filter attached:
// exactly the frames the filter keeps in x/net/bpf's machine (which keeps
// what tcpdump keeps: TestFilterAgainstTcpdump) come out.
func TestLiveFilter(t *testing.T) {
	if !netns.Run(t, "TestLiveFilter", netns.Veths) {
		return
	}
	fs := frames(t, "zeek_http_bro.org.pcap")
	for _, expr := range []string{"src host 10.0.2.15", "tcp port 80 and not src host 10.0.2.15", "udp",
		"tcp[tcpflags] & (tcp-syn|tcp-fin) != 0", "greater 500 and ip[8] >= 64", "tcp[((tcp[12] & 0xf0) >> 2):4] = 0x47455420"} {
		t.Run(expr, func(t *testing.T) {
			src, err := live.Open([]string{"a1"}, live.Options{Poll: 100 * time.Millisecond, Filter: expr})
			require.NoError(t, err)
			defer src.Close()
			want := live.Matching(t, expr, fs)
			tx := sender(t, "a0")
			for _, f := range fs {
				require.NoError(t, tx.WritePacketData(f))
			}
			var p capture.Packet
			got := 0
			for src.Next(&p) == nil {
				got++
			}
			require.Equal(t, want, got, "frames kept in the kernel")
			t.Logf("%q: %d of %d frames", expr, got, len(fs))
		})
	}
}

// TestLiveFanout captures with a fanout group of three sockets the frames
// of a capture of 855 TCP flows sent alternately into two veth pairs:
// every frame comes out once, with its bytes, its length and its
// interface; in time order; each flow's frames in the order sent; the
// kernel spread them over the sockets; nothing was dropped; and a quiet
// poll still gives capture.ErrIdle.
func TestLiveFanout(t *testing.T) {
	if !netns.Run(t, "TestLiveFanout", netns.Veths) {
		return
	}
	src, err := live.Open([]string{"a1", "b1"}, live.Options{Fanout: 3, Poll: 200 * time.Millisecond})
	require.NoError(t, err)
	defer src.Close()
	var fs [][]byte
	for _, f := range frames(t, "mercury_emix.pcap") {
		if len(f) <= 1514 { // the veths' MTU
			fs = append(fs, f)
		}
	}
	out := []*afpacket.TPacket{sender(t, "a0"), sender(t, "b0")}
	sent := map[string][]int{} // frame bytes → the frames sent with them
	for i, f := range fs {
		require.NoError(t, out[i%2].WritePacketData(f))
		sent[string(f[:min(len(f), live.DefaultSnapLen)])] = append(sent[string(f[:min(len(f), live.DefaultSnapLen)])], i)
	}
	var p capture.Packet
	last := int64(0)
	seen := map[string]int{}
	flowLast := map[string]int{} // per flow (the frames' addresses and ports), the last frame read
	opened := time.Now()
	for n := range fs {
		require.NoError(t, src.Next(&p), "frame %d of %d, %v after the first read", n, len(fs), time.Since(opened))
		require.GreaterOrEqual(t, p.TsNs, last, "in time order")
		last = p.TsNs
		key := string(p.Data)
		idx := sent[key]
		require.Less(t, seen[key], len(idx), "a frame read more often than sent")
		i := idx[seen[key]]
		seen[key]++
		require.Equal(t, len(fs[i]), p.OrigLen)
		require.Equal(t, i%2, p.Iface)
		if flow, ok := flowOf(p.Data); ok {
			if prev, ok := flowLast[flow]; ok {
				require.Greater(t, i, prev, "flow %x: frame %d after frame %d", flow, i, prev)
			}
			flowLast[flow] = i
		}
	}
	require.ErrorIs(t, src.Next(&p), capture.ErrIdle)
	st, err := src.Stats()
	require.NoError(t, err)
	require.Equal(t, uint64(len(fs)), st.Packets)
	require.Zero(t, st.Drops)
	rings := live.RingFrames(src)
	used := 0
	for _, n := range rings {
		if n > 0 {
			used++
		}
	}
	require.GreaterOrEqual(t, used, 2, "frames per socket %v", rings)
	t.Logf("%d frames of %d flows, per socket %v", len(fs), len(flowLast), rings)
}

// flowOf is an untagged Ethernet IPv4 or IPv6 frame's addresses and ports
// (the 4 bytes after the IP header, whatever the protocol).
func flowOf(f []byte) (string, bool) {
	if len(f) < 14 {
		return "", false
	}
	ip := f[14:]
	switch {
	case f[12] == 0x08 && f[13] == 0x00 && len(ip) >= 20:
		hl := int(ip[0]&0x0f) * 4
		if len(ip) < hl+4 {
			return "", false
		}
		return string(ip[12:20]) + string(ip[hl:hl+4]), true
	case f[12] == 0x86 && f[13] == 0xdd && len(ip) >= 44:
		return string(ip[8:40]) + string(ip[40:44]), true
	}
	return "", false
}
