package decode

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/capture"
)

// pcapDir holds the shared test captures; testdata/README.md in the
// repository root gives the provenance of each.
const pcapDir = "../../testdata/pcaps"

// tsharkCounts is, per capture, the number of TCP packets and the sum of
// their payload lengths (tcp.len) that tshark 4.0.17 reports, copied from
// the "TCP (tshark)" lines of the captures' README.
var tsharkCounts = map[string]struct{ segments, payload uint64 }{
	"ppa_ftp-crack.pcap":                                   {19730, 150042},
	"zeek_echo-connections.pcap.gz":                        {82582, 52022},
	"mercury_emix.pcap":                                    {5571, 410178},
	"slips_test-cc-capture-1.pcap":                         {7931, 1417600},
	"gopacket_cip.pcap":                                    {25998, 1526617},
	"evilfingers_TCP_CONNECT_SCAN.pcap":                    {9924, 0},
	"chrissanders_synscan.pcapng":                          {2011, 0},
	"evilfingers_xscan_capture.pcap":                       {11775, 908634},
	"zeek_http_1000-requests-one-dropped-response.pcap.gz": {4102, 996757},
	"pcapplusplus_example.pcap":                            {4492, 3426041},
	"zeek_http_bro.org.pcap":                               {751, 453271},
	"chrissanders_http_espn.pcapng":                        {928, 587340},
	"pcapplusplus_4KHttpRequests.pcap":                     {385, 426944},
	"retina_tls_ciphers.pcap":                              {1095, 191644},
	"ndpi_netflix.pcap":                                    {1748, 880067},
	"ndpi_reddit.pcap":                                     {1942, 546888},
	"suricata_tls-subjectaltname.pcap":                     {2982, 1369609},
	"zeek_smtp.pcap":                                       {122, 29126},
	"zeek_ssh.pcap":                                        {1795, 1172239},
	"slips_malicious-ssh-bruteforce.pcap":                  {1178, 168512},
	"zeek_ftp_ipv6.pcap":                                   {136, 4639},
	"suricata_output-eve-ftp-data.pcap":                    {755, 51542},
	"arkime_wireshark-retrans.pcap":                        {108, 23192},
	"zeek_tcp_handshake-reorder.pcap":                      {14, 5143},
	"suricata_syn_retransmit_with_ts.pcap":                 {254, 208724},
	"zeek_tcp_timestamp_snap96.pcap":                       {878, 1000000},
	"tcpflow_simson_snap40.pcap":                           {303, 0},
	"pcapplusplus_sll.pcap":                                {483, 415114},
	"suricata_decode-sll2-02.pcap":                         {159, 2598957},
	"pcapplusplus_raw_ip.pcap":                             {92, 24437},
	"gopacket_test_loopback.pcap":                          {24, 56331},
	"zeek_http-qinq-0.pcap":                                {14, 5143},
	"zeek_vlan-collisions.pcap":                            {42, 15429},
	"pcapplusplus_pcapng-example.pcapng":                   {159, 46679},
	"pcapplusplus_nanosecs_big_endian.pcap":                {10, 1522},
	"pcapplusplus_four_ipv6_http_streams.pcap":             {81, 34770},
	"trex_Oracle.pcap":                                     {302, 39763},
	"zeek_irc-dcc-send.pcapng":                             {1184, 1330912},
	"zeek_telnet-long-line-no-eol.pcapng.gz":               {13987, 16777216},
}

// tsharkExceptions are captures where our counts differ from tshark's on
// purpose; the value is the count of segments we expect instead.
var tsharkExceptions = map[string]struct {
	segments, payload uint64
	why               string
}{
	// Snap length 40 leaves 6 bytes of each TCP header (ports and half the
	// sequence number): tshark counts the packets as TCP but cannot decode
	// them either (it reports 0 conversations); we need 16 bytes.
	"tcpflow_simson_snap40.pcap": {0, 0, "tcp header cut at 6 bytes"},
	// Packets 26 and 28-30 are ICMP "fragmentation needed" errors quoting
	// an IP+TCP header. tshark dissects the quote and counts a TCP packet
	// (with no payload); for us an ICMP packet is NotTCP.
	"zeek_smtp.pcap": {118, 29126, "tshark counts 4 tcp headers quoted in icmp errors"},
}

// packetSource yields the packets of one capture file.
type packetSource interface {
	next() (data []byte, ci gopacket.CaptureInfo, link capture.LinkType, err error)
}

type pcapSource struct{ r *pcapgo.Reader }

func (s pcapSource) next() ([]byte, gopacket.CaptureInfo, capture.LinkType, error) {
	data, ci, err := s.r.ReadPacketData()
	return data, ci, capture.LinkType(s.r.LinkType()), err
}

type ngSource struct{ r *pcapgo.NgReader }

func (s ngSource) next() ([]byte, gopacket.CaptureInfo, capture.LinkType, error) {
	data, ci, err := s.r.ReadPacketData()
	if err != nil {
		return nil, ci, 0, err
	}
	intf, err := s.r.Interface(ci.InterfaceIndex)
	return data, ci, capture.LinkType(intf.LinkType), err
}

// openCapture opens a pcap or pcapng file, gzip-compressed or not, detected
// by magic number. ok is false for formats pcapgo does not read (ERF).
func openCapture(t testing.TB, path string) (src packetSource, ok bool) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, f.Close()) })
	var r io.Reader = bufio.NewReader(f)
	br := r.(*bufio.Reader)
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		require.NoError(t, err)
		br = bufio.NewReader(zr)
	}
	magic, err := br.Peek(4)
	require.NoError(t, err)
	switch {
	case bytes.Equal(magic, []byte{0x0a, 0x0d, 0x0d, 0x0a}):
		r, err := pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{WantMixedLinkType: true})
		require.NoError(t, err)
		return ngSource{r}, true
	case bytes.Equal(magic, []byte{0xd4, 0xc3, 0xb2, 0xa1}), bytes.Equal(magic, []byte{0xa1, 0xb2, 0xc3, 0xd4}),
		bytes.Equal(magic, []byte{0x4d, 0x3c, 0xb2, 0xa1}), bytes.Equal(magic, []byte{0xa1, 0xb2, 0x3c, 0x4d}):
		r, err := pcapgo.NewReader(br)
		require.NoError(t, err)
		return pcapSource{r}, true
	}
	return nil, false
}

// oracle is what gopacket's layers make of one packet.
type oracle struct {
	seg    Segment
	ok     bool   // gopacket decoded IP and TCP without error
	reason string // why not, when !ok
}

// decodeOracle decodes data with gopacket/layers into the same Segment
// fields Decode fills.
func decodeOracle(data []byte, lt capture.LinkType) oracle {
	pkt := gopacket.NewPacket(data, layers.LinkType(lt), gopacket.DecodeOptions{NoCopy: true})
	// gopacket adds a layer even when decoding it failed, so check errors
	// first.
	if el := pkt.ErrorLayer(); el != nil {
		return oracle{reason: "error: " + el.Error().Error()}
	}
	tcpL, _ := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
	if tcpL == nil {
		return oracle{reason: "no tcp layer"}
	}
	// Offsets of layers in data, from the aliasing slices (NoCopy).
	off := func(b []byte) int { return cap(data) - cap(b) }
	tcpOff := off(tcpL.Contents)
	doff := int(tcpL.DataOffset) * 4
	var o oracle
	var ipPayload int
	switch ip := pkt.NetworkLayer().(type) {
	case *layers.IPv4:
		if ip.Contents[2] == 0 && ip.Contents[3] == 0 || countNetwork(pkt) > 1 {
			return oracle{reason: "ipv4 tso or tunnel"}
		}
		o.seg.Src, _ = netip.AddrFromSlice(ip.SrcIP.To4())
		o.seg.Dst, _ = netip.AddrFromSlice(ip.DstIP.To4())
		ipPayload = int(ip.Length) - (tcpOff - off(ip.Contents))
	case *layers.IPv6:
		if ip.Length == 0 || countNetwork(pkt) > 1 {
			return oracle{reason: "ipv6 jumbo or tunnel"}
		}
		o.seg.Src, _ = netip.AddrFromSlice(ip.SrcIP)
		o.seg.Dst, _ = netip.AddrFromSlice(ip.DstIP)
		ipPayload = int(ip.Length) + 40 - (tcpOff - off(ip.Contents))
	default:
		return oracle{reason: "no ip layer"}
	}
	o.ok = true
	s := &o.seg
	s.SrcPort, s.DstPort = uint16(tcpL.SrcPort), uint16(tcpL.DstPort)
	s.Seq, s.Ack, s.Window = tcpL.Seq, tcpL.Ack, tcpL.Window
	s.Flags = tcpFlags(tcpL)
	s.PayloadLen = uint32(ipPayload - doff)
	s.WScale = -1
	if tcpL.SYN {
		for _, opt := range tcpL.Options {
			switch {
			case opt.OptionType == layers.TCPOptionKindMSS && len(opt.OptionData) == 2:
				s.MSS = uint16(opt.OptionData[0])<<8 | uint16(opt.OptionData[1])
			case opt.OptionType == layers.TCPOptionKindWindowScale && len(opt.OptionData) == 1:
				s.WScale = int8(min(opt.OptionData[0], maxWScale))
			}
		}
	}
	for _, l := range pkt.Layers() {
		if q, ok := l.(*layers.Dot1Q); ok {
			s.VLAN = q.VLANIdentifier
		}
	}
	return o
}

// countNetwork counts IP layers: more than one means a tunnel, which decode
// reports as NotTCP.
func countNetwork(pkt gopacket.Packet) int {
	n := 0
	for _, l := range pkt.Layers() {
		if t := l.LayerType(); t == layers.LayerTypeIPv4 || t == layers.LayerTypeIPv6 {
			n++
		}
	}
	return n
}

func tcpFlags(t *layers.TCP) uint8 {
	var f uint8
	for _, b := range []struct {
		set  bool
		flag uint8
	}{
		{t.FIN, FlagFIN}, {t.SYN, FlagSYN}, {t.RST, FlagRST}, {t.PSH, FlagPSH},
		{t.ACK, FlagACK}, {t.URG, FlagURG}, {t.ECE, FlagECE}, {t.CWR, FlagCWR},
	} {
		if b.set {
			f |= b.flag
		}
	}
	return f
}

// fileResult summarises one capture for the count checks.
type fileResult struct {
	stats      Stats
	payload    uint64
	oursOnly   int // we decoded, gopacket did not (must be snap-length cuts)
	oracleOnly map[string]int
}

// TestDecodeMatchesGopacket decodes every packet of every capture in
// pcapDir with Decode and with gopacket/layers, and compares the fields
// packet by packet, then the per-file totals against tshark's.
func TestDecodeMatchesGopacket(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(pcapDir, "*"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no captures in %s", pcapDir)
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			src, ok := openCapture(t, path)
			if !ok {
				t.Skipf("%s: not pcap or pcapng (pcapgo cannot read it)", name)
			}
			res := compareFile(t, src)
			t.Logf("%v payload=%d ours_only=%d oracle_only=%v", res.stats.Nonzero(), res.payload, res.oursOnly, res.oracleOnly)
			require.Empty(t, res.oracleOnly, "packets gopacket decodes as TCP but we skip")
			want, ok := tsharkCounts[name]
			require.True(t, ok, "add %s to tsharkCounts", name)
			if ex, ok := tsharkExceptions[name]; ok {
				t.Logf("differs from tshark on purpose: %s", ex.why)
				want.segments, want.payload = ex.segments, ex.payload
			}
			require.Equal(t, want.segments, res.stats.Segments, "tcp segments vs tshark")
			require.Equal(t, want.payload, res.payload, "payload bytes vs tshark")
		})
	}
}

func compareFile(t *testing.T, src packetSource) fileResult {
	res := fileResult{oracleOnly: map[string]int{}}
	var d Decoder
	for i := 1; ; i++ {
		data, ci, link, err := src.next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err, "packet %d", i)
		p := capture.Packet{Data: data, TsNs: int64(i), OrigLen: ci.Length, Link: link, Iface: ci.InterfaceIndex}
		var seg Segment
		r := d.Decode(&p, &seg)
		o := decodeOracle(data, link)
		switch {
		case r == OK && o.ok:
			o.seg.TsNs, o.seg.Iface = p.TsNs, p.Iface
			require.Equal(t, o.seg, seg, "packet %d", i)
		case r == OK:
			// Only a cut by the snap length may make gopacket fail.
			require.Less(t, ci.CaptureLength, ci.Length, "packet %d: gopacket: %s", i, o.reason)
			res.oursOnly++
		case o.ok:
			res.oracleOnly[r.String()]++
		}
		if r == OK {
			res.payload += uint64(seg.PayloadLen)
		}
	}
	res.stats = d.Stats
	return res
}

// TestOpenCaptureSkipsERF keeps the skip list honest: only ERF is skipped.
func TestOpenCaptureSkipsERF(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(pcapDir, "*"))
	require.NoError(t, err)
	for _, path := range files {
		_, ok := openCapture(t, path)
		require.Equal(t, !strings.HasSuffix(path, ".erf"), ok, path)
	}
}

// TestGopacketRejectsCutOptions pins down the first reason doc.go gives for
// not using gopacket's decoder: a SYN whose options were cut by the snap
// length fails in gopacket but decodes here, fixed header intact.
func TestGopacketRejectsCutOptions(t *testing.T) {
	full := ether(etherTypeIPv4, ip4(protoTCP, tcpSeg(syn, synOpts, 0)))
	data := full[:14+20+20+6]
	o := decodeOracle(data, capture.LinkEthernet)
	require.False(t, o.ok, "gopacket now accepts cut options; update doc.go")

	p := capture.Packet{Data: data, OrigLen: len(full), Link: capture.LinkEthernet}
	var d Decoder
	var seg Segment
	require.Equal(t, OK, d.Decode(&p, &seg))
	require.Equal(t, wantSeg(false, syn, 0, func(s *Segment) { s.MSS = 1460 }), seg)
	require.Equal(t, uint64(1), d.Stats.SYNOptionsCut)
}
