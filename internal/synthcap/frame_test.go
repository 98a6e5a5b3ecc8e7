package synthcap

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/stretchr/testify/require"
)

// TestHeaderWriter: gopacket reads back what HeaderWriter wrote: the
// endpoints, numbers and flags, the IP length carrying the payload, a
// right IPv4 checksum, frames cut after the TCP header.
func TestHeaderWriter(t *testing.T) {
	s := Segment{Ns: 1_700_000_000_123_456_000, Src: netip.MustParseAddrPort("10.1.2.3:40000"),
		Dst: netip.MustParseAddrPort("198.18.0.1:443"), Seq: 4_000_000_000, Ack: 7, Flags: FlagACK | FlagPSH, Payload: 1448}
	var buf bytes.Buffer
	hw, err := NewHeaderWriter(&buf, 96)
	require.NoError(t, err)
	require.NoError(t, hw.Write(&s))

	r, err := pcapgo.NewReader(&buf)
	require.NoError(t, err)
	require.EqualValues(t, 96, r.Snaplen())
	data, ci, err := r.ReadPacketData()
	require.NoError(t, err)
	require.Equal(t, FrameLen, ci.CaptureLength)
	require.Equal(t, FrameLen+1448, ci.Length)
	require.Equal(t, s.Ns, ci.Timestamp.UnixNano())

	pkt := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
	ip := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	require.Equal(t, "10.1.2.3", ip.SrcIP.String())
	require.Equal(t, "198.18.0.1", ip.DstIP.String())
	require.EqualValues(t, 40+1448, ip.Length)
	want := ip.Checksum
	require.NoError(t, ip.SerializeTo(gopacket.NewSerializeBuffer(), gopacket.SerializeOptions{ComputeChecksums: true}))
	require.Equal(t, want, ip.Checksum, "the IPv4 header checksum")
	tcp := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
	require.EqualValues(t, 40000, tcp.SrcPort)
	require.EqualValues(t, 443, tcp.DstPort)
	require.EqualValues(t, s.Seq, tcp.Seq)
	require.EqualValues(t, 7, tcp.Ack)
	require.True(t, tcp.ACK && tcp.PSH && !tcp.SYN && !tcp.FIN && !tcp.RST)
}
