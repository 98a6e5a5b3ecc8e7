package decode

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/capture"
)

const (
	pa  = FlagPSH | FlagACK
	syn = FlagSYN
)

// decodeCase is one hand-built packet and what Decode must make of it.
type decodeCase struct {
	name string
	link capture.LinkType
	data []byte
	// origLen is Packet.OrigLen: 0 means len(data), -1 means unset (0).
	origLen int
	want    Result
	seg     Segment // compared when want is OK (TsNs and Iface are added)
}

// Shared packet bodies.
var (
	tcpPA   = tcpSeg(pa, nil, 100)
	v4PA    = ip4(protoTCP, tcpPA)
	v6PA    = ip6(protoTCP, tcpPA)
	ethV4PA = ether(etherTypeIPv4, v4PA)
	ethV6PA = ether(etherTypeIPv6, v6PA)
	segV4PA = wantSeg(false, pa, 100, nil)
	segV6PA = wantSeg(true, pa, 100, nil)
	// synOpts: MSS 1460, SACK permitted, timestamps, NOP, window scale 7.
	synOpts = []byte{2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7}
)

// withVLAN sets the VLAN of a wanted segment.
func withVLAN(id uint16) func(*Segment) { return func(s *Segment) { s.VLAN = id } }

// nTags builds n 802.1Q tags whose last one announces next.
func nTags(n int, next uint16) []byte {
	var b []byte
	for i := 1; i <= n; i++ {
		et := uint16(etherTypeVLAN)
		if i == n {
			et = next
		}
		b = append(b, tag(uint16(i), et)...)
	}
	return b
}

// ip4Opts returns an IPv4 packet with 4 bytes of options (IHL 6).
func ip4Opts(l4 []byte) []byte {
	h := ip4(protoTCP, l4)
	b := cat(h[:20], []byte{1, 1, 1, 0}, h[20:])
	b[0] = 0x46
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	return b
}

func linkCases() []decodeCase {
	le, be := binary.LittleEndian, binary.BigEndian
	return []decodeCase{
		{name: "ethernet/ipv4", link: capture.LinkEthernet, data: ethV4PA, want: OK, seg: segV4PA},
		{name: "ethernet/ipv6", link: capture.LinkEthernet, data: ethV6PA, want: OK, seg: segV6PA},
		{name: "ethernet/padding ignored", link: capture.LinkEthernet,
			data: cat(ether(etherTypeIPv4, ip4(protoTCP, tcpSeg(FlagACK, nil, 0))), make([]byte, 6)),
			want: OK, seg: wantSeg(false, FlagACK, 0, nil)},
		{name: "ethernet/802.1q", link: capture.LinkEthernet,
			data: ether(etherTypeVLAN, cat(tag(42, etherTypeIPv4), v4PA)),
			want: OK, seg: wantSeg(false, pa, 100, withVLAN(42))},
		{name: "ethernet/802.1ad qinq innermost", link: capture.LinkEthernet,
			data: ether(etherTypeQinQ, cat(tag(10, etherTypeVLAN), tag(20, etherTypeIPv6), v6PA)),
			want: OK, seg: wantSeg(true, pa, 100, withVLAN(20))},
		{name: "ethernet/0x9100 qinq", link: capture.LinkEthernet,
			data: ether(etherTypeQinQOld, cat(tag(100, etherTypeVLAN), tag(4095, etherTypeIPv4), v4PA)),
			want: OK, seg: wantSeg(false, pa, 100, withVLAN(4095))},
		{name: "ethernet/8 tags", link: capture.LinkEthernet,
			data: ether(etherTypeVLAN, cat(nTags(8, etherTypeIPv4), v4PA)),
			want: OK, seg: wantSeg(false, pa, 100, withVLAN(8))},
		{name: "ethernet/mpls", link: capture.LinkEthernet,
			data: ether(etherTypeMPLS, cat(mplsLabel(100, false), mplsLabel(200, true), v4PA)),
			want: OK, seg: segV4PA},
		{name: "ethernet/vlan mpls ipv6", link: capture.LinkEthernet,
			data: ether(etherTypeVLAN, cat(tag(9, etherTypeMPLSMulti), mplsLabel(1, true), v6PA)),
			want: OK, seg: wantSeg(true, pa, 100, withVLAN(9))},
		{name: "sll/ipv4", link: capture.LinkLinuxSLL, data: sll(etherTypeIPv4, v4PA), want: OK, seg: segV4PA},
		{name: "sll/802.1q", link: capture.LinkLinuxSLL,
			data: sll(etherTypeVLAN, cat(tag(7, etherTypeIPv4), v4PA)),
			want: OK, seg: wantSeg(false, pa, 100, withVLAN(7))},
		{name: "sll2/ipv6", link: capture.LinkLinuxSLL2, data: sll2(etherTypeIPv6, v6PA), want: OK, seg: segV6PA},
		{name: "null/little-endian ipv4", link: capture.LinkNull, data: family(le, 2, v4PA), want: OK, seg: segV4PA},
		{name: "null/big-endian ipv4", link: capture.LinkNull, data: family(be, 2, v4PA), want: OK, seg: segV4PA},
		{name: "null/ipv6 24", link: capture.LinkNull, data: family(be, 24, v6PA), want: OK, seg: segV6PA},
		{name: "null/ipv6 28", link: capture.LinkNull, data: family(le, 28, v6PA), want: OK, seg: segV6PA},
		{name: "null/ipv6 30", link: capture.LinkNull, data: family(le, 30, v6PA), want: OK, seg: segV6PA},
		{name: "loop/ipv4", link: capture.LinkLoop, data: family(be, 2, v4PA), want: OK, seg: segV4PA},
		{name: "loop/ipv6", link: capture.LinkLoop, data: family(be, 24, v6PA), want: OK, seg: segV6PA},
		{name: "raw/ipv4", link: capture.LinkRaw, data: v4PA, want: OK, seg: segV4PA},
		{name: "raw/ipv6", link: capture.LinkRaw, data: v6PA, want: OK, seg: segV6PA},
		{name: "ipv4 link", link: capture.LinkIPv4, data: v4PA, want: OK, seg: segV4PA},
		{name: "ipv6 link", link: capture.LinkIPv6, data: v6PA, want: OK, seg: segV6PA},
	}
}

func ipTCPCases() []decodeCase {
	eth4 := func(l4 []byte) []byte { return ether(etherTypeIPv4, ip4(protoTCP, l4)) }
	synFull := eth4(tcpSeg(syn, []byte{2, 4, 0x05, 0xb4, 4, 2, 1, 3, 3, 7}, 0))
	zero4 := set16(ethV4PA, 14+2, 0)
	zero6 := set16(ethV6PA, 14+4, 0)
	return []decodeCase{
		// A v4-mapped address in an IPv6 header stays 16 bytes (found by
		// FuzzDecode, testdata/fuzz/FuzzDecode/9b476145c8edf482), so flows
		// keyed by address never merge the two families.
		{name: "ipv6/v4-mapped source stays ipv6", link: capture.LinkRaw,
			data: cat(v6PA[:8], netip.MustParseAddr("::ffff:192.0.2.1").AsSlice(), v6PA[24:]), want: OK,
			seg: wantSeg(true, pa, 100, func(s *Segment) { s.Src = netip.MustParseAddr("::ffff:192.0.2.1") })},
		{name: "ipv4/options skipped", link: capture.LinkRaw, data: ip4Opts(tcpPA), want: OK, seg: segV4PA},
		{name: "ipv6/hop-by-hop routing destination", link: capture.LinkRaw,
			data: ip6(protoHopByHop, cat(ext6(protoRouting, 1), ext6(protoDestOpts, 2), ext6(protoTCP, 1), tcpPA)),
			want: OK, seg: segV6PA},
		{name: "ipv6/authentication header", link: capture.LinkRaw,
			data: ip6(protoAH, cat(ah6(protoTCP, 3), tcpPA)), want: OK, seg: segV6PA},
		{name: "ipv6/atomic fragment", link: capture.LinkRaw,
			data: ip6(protoFragment, cat(frag6(protoTCP, 0, false), tcpPA)), want: OK, seg: segV6PA},
		{name: "ipv6/8 extension headers", link: capture.LinkRaw,
			data: ip6(protoDestOpts, cat(ext6(60, 1), ext6(60, 1), ext6(60, 1), ext6(60, 1),
				ext6(60, 1), ext6(60, 1), ext6(60, 1), ext6(protoTCP, 1), tcpPA)),
			want: OK, seg: segV6PA},
		{name: "tcp/syn options", link: capture.LinkEthernet,
			data: eth4(tcpSeg(syn, synOpts, 0)), want: OK,
			seg: wantSeg(false, syn, 0, func(s *Segment) { s.MSS, s.WScale = 1460, 7 })},
		{name: "tcp/syn options cut by snap length", link: capture.LinkEthernet,
			data: synFull[:14+20+20+7], origLen: len(synFull), want: OK,
			seg: wantSeg(false, syn, 0, func(s *Segment) { s.MSS = 1460 })},
		{name: "tcp/syn options not captured", link: capture.LinkEthernet,
			data: synFull[:14+20+18], origLen: len(synFull), want: OK, seg: wantSeg(false, syn, 0, nil)},
		{name: "tcp/options ignored without syn", link: capture.LinkEthernet,
			data: eth4(tcpSeg(FlagACK, synOpts, 0)), want: OK, seg: wantSeg(false, FlagACK, 0, nil)},
		{name: "tcp/window scale clamped to 14", link: capture.LinkEthernet,
			data: eth4(tcpSeg(syn|FlagACK, []byte{3, 3, 15}, 0)), want: OK,
			seg: wantSeg(false, syn|FlagACK, 0, func(s *Segment) { s.WScale = 14 })},
		{name: "tcp/malformed option length stops parsing", link: capture.LinkEthernet,
			data: eth4(tcpSeg(syn, []byte{3, 3, 2, 8, 1, 2, 4, 5, 0xb4}, 0)), want: OK,
			seg: wantSeg(false, syn, 0, func(s *Segment) { s.WScale = 2 })},
		{name: "tcp/end of options", link: capture.LinkEthernet,
			data: eth4(tcpSeg(syn, []byte{0, 0, 0, 0, 2, 4, 5, 0xb4}, 0)), want: OK, seg: wantSeg(false, syn, 0, nil)},
		{name: "tcp/payload from ip length not capture", link: capture.LinkEthernet,
			data: eth4(tcpSeg(pa, nil, 1400))[:54], origLen: 54 + 1400, want: OK,
			seg: wantSeg(false, pa, 1400, nil)},
		{name: "tcp/16 header bytes suffice", link: capture.LinkEthernet,
			data: ethV4PA[:14+20+16], origLen: len(ethV4PA), want: OK, seg: segV4PA},
		{name: "ipv4/zero total length uses captured length", link: capture.LinkEthernet,
			data: zero4, origLen: -1, want: OK, seg: segV4PA},
		{name: "ipv4/zero total length uses wire length", link: capture.LinkEthernet,
			data: zero4[:54], origLen: 54 + 5000, want: OK, seg: wantSeg(false, pa, 5000, nil)},
		{name: "ipv6/zero payload length uses wire length", link: capture.LinkEthernet,
			data: zero6[:74], origLen: 74 + 3000, want: OK, seg: wantSeg(true, pa, 3000, nil)},
		{name: "ipv4/length over wire still used", link: capture.LinkEthernet,
			data: ethV4PA[:54], origLen: 54 + 50, want: OK, seg: segV4PA},
	}
}

func skipCases() []decodeCase {
	le, be := binary.LittleEndian, binary.BigEndian
	rawUDP := ip4(17, make([]byte, 8))
	mfTCP := set(v4PA, 6, 0x20)
	v6Ext := ip6(protoDestOpts, cat(ext6(protoTCP, 2), tcpPA))
	nineExt := ip6(protoDestOpts, cat(ext6(60, 1), ext6(60, 1), ext6(60, 1), ext6(60, 1),
		ext6(60, 1), ext6(60, 1), ext6(60, 1), ext6(60, 1), ext6(protoTCP, 1), tcpPA))
	shortTCP := ip4(protoTCP, tcpSeg(FlagACK, nil, 0))
	return []decodeCase{
		{name: "unsupported link", link: capture.LinkType(105), data: v4PA, want: UnsupportedLink},
		{name: "ethernet truncated", link: capture.LinkEthernet, data: ethV4PA[:13], want: LinkTruncated},
		{name: "vlan tag truncated", link: capture.LinkEthernet, data: ether(etherTypeVLAN, []byte{0, 1}), want: LinkTruncated},
		{name: "mpls label truncated", link: capture.LinkEthernet, data: ether(etherTypeMPLS, []byte{0, 0}), want: LinkTruncated},
		{name: "sll truncated", link: capture.LinkLinuxSLL, data: sll(etherTypeIPv4, nil)[:15], want: LinkTruncated},
		{name: "sll2 truncated", link: capture.LinkLinuxSLL2, data: sll2(etherTypeIPv4, nil)[:19], want: LinkTruncated},
		{name: "null truncated", link: capture.LinkNull, data: []byte{2, 0, 0}, want: LinkTruncated},
		{name: "loop truncated", link: capture.LinkLoop, data: []byte{0, 0, 0}, want: LinkTruncated},
		{name: "9 vlan tags", link: capture.LinkEthernet, data: ether(etherTypeVLAN, cat(nTags(9, etherTypeIPv4), v4PA)), want: TooManyHeaders},
		{name: "9 mpls labels", link: capture.LinkEthernet, want: TooManyHeaders,
			data: ether(etherTypeMPLS, cat(mplsLabel(1, false), mplsLabel(2, false), mplsLabel(3, false),
				mplsLabel(4, false), mplsLabel(5, false), mplsLabel(6, false), mplsLabel(7, false),
				mplsLabel(8, false), mplsLabel(9, true), v4PA))},
		{name: "9 ipv6 extension headers", link: capture.LinkRaw, data: nineExt, want: TooManyHeaders},
		{name: "arp", link: capture.LinkEthernet, data: ether(0x0806, make([]byte, 28)), want: NotIP},
		{name: "802.3 length field", link: capture.LinkEthernet, data: ether(0x05dc, v4PA), want: NotIP},
		{name: "pppoe", link: capture.LinkEthernet, data: ether(0x8864, v4PA), want: NotIP},
		{name: "sll llc", link: capture.LinkLinuxSLL, data: sll(0x0004, v4PA), want: NotIP},
		{name: "mpls pseudowire", link: capture.LinkEthernet, data: ether(etherTypeMPLS, cat(mplsLabel(1, true), make([]byte, 20))), want: NotIP},
		{name: "null unknown family", link: capture.LinkNull, data: family(le, 7, v4PA), want: NotIP},
		{name: "loop host byte order", link: capture.LinkLoop, data: family(le, 2, v4PA), want: NotIP},
		{name: "mpls empty payload", link: capture.LinkEthernet, data: ether(etherTypeMPLS, mplsLabel(1, true)), want: IPTruncated},
		{name: "raw empty", link: capture.LinkRaw, data: nil, want: IPTruncated},
		{name: "raw version 5", link: capture.LinkRaw, data: set(v4PA, 0, 0x55), want: BadIPHeader},
		{name: "ipv4 link carrying ipv6", link: capture.LinkIPv4, data: v6PA, want: BadIPHeader},
		{name: "ipv6 link carrying ipv4", link: capture.LinkIPv6, data: v4PA, want: BadIPHeader},
		{name: "ipv4 ihl 4", link: capture.LinkRaw, data: set(v4PA, 0, 0x44), want: BadIPHeader},
		{name: "ethernet empty ipv4", link: capture.LinkEthernet, data: ether(etherTypeIPv4, nil), want: IPTruncated},
		{name: "ethernet empty ipv6", link: capture.LinkEthernet, data: ether(etherTypeIPv6, nil), want: IPTruncated},
		{name: "ipv4 19 bytes", link: capture.LinkRaw, data: v4PA[:19], want: IPTruncated},
		{name: "ipv4 options truncated", link: capture.LinkRaw, data: set(v4PA, 0, 0x4f)[:40], want: IPTruncated},
		{name: "ipv6 39 bytes", link: capture.LinkRaw, data: v6PA[:39], want: IPTruncated},
		{name: "ipv6 extension header truncated", link: capture.LinkRaw, data: v6Ext[:40+10], want: IPTruncated},
		{name: "ipv6 extension header under 8 bytes", link: capture.LinkRaw, data: v6Ext[:40+7], want: IPTruncated},
		{name: "ipv4 total below header", link: capture.LinkRaw, data: set16(v4PA, 2, 19), want: BadIPLength},
		{name: "ipv6 extensions beyond payload length", link: capture.LinkRaw, data: set16(v6Ext, 4, 8), want: BadIPLength},
		{name: "ipv6 jumbogram", link: capture.LinkRaw, want: Jumbogram,
			data: set16(ip6(protoHopByHop, cat(ext6(protoTCP, 1), tcpPA)), 4, 0)},
		{name: "ipv4 more fragments", link: capture.LinkRaw, data: mfTCP, want: Fragment},
		{name: "ipv4 fragment offset", link: capture.LinkRaw, data: set16(v4PA, 6, 185), want: Fragment},
		{name: "ipv6 first fragment", link: capture.LinkRaw, want: Fragment,
			data: ip6(protoFragment, cat(frag6(protoTCP, 0, true), tcpPA))},
		{name: "ipv6 later fragment", link: capture.LinkRaw, want: Fragment,
			data: ip6(protoFragment, cat(frag6(protoDestOpts, 100, false), tcpPA))},
		{name: "ipv4 udp", link: capture.LinkRaw, data: rawUDP, want: NotTCP},
		{name: "ipv4 udp fragment", link: capture.LinkRaw, data: set(rawUDP, 6, 0x20), want: NotTCP},
		{name: "ipv6 udp", link: capture.LinkRaw, data: ip6(17, make([]byte, 8)), want: NotTCP},
		{name: "ipv6 udp fragment", link: capture.LinkRaw, data: ip6(protoFragment, cat(frag6(17, 0, true), make([]byte, 8))), want: NotTCP},
		{name: "ipv6 esp", link: capture.LinkRaw, data: ip6(50, make([]byte, 16)), want: NotTCP},
		{name: "ipv6 no next header", link: capture.LinkRaw, data: ip6(protoDestOpts, ext6(59, 1)), want: NotTCP},
		{name: "tcp 15 bytes", link: capture.LinkRaw, data: v4PA[:20+15], origLen: len(v4PA), want: TCPTruncated},
		{name: "tcp data offset 4", link: capture.LinkRaw, data: set(shortTCP, 20+12, 0x40), want: BadTCPOffset},
		{name: "tcp data offset beyond ip length", link: capture.LinkRaw, data: set(shortTCP, 20+12, 0x60), want: BadTCPOffset},
		{name: "tcp data offset beyond ipv6 length", link: capture.LinkRaw,
			data: set(ip6(protoTCP, tcpSeg(FlagACK, nil, 0)), 40+12, 0xf0), want: BadTCPOffset},
		{name: "null big-endian garbage family", link: capture.LinkNull, data: family(be, 0x01000000, v4PA), want: NotIP},
	}
}

func allCases() []decodeCase {
	return append(append(linkCases(), ipTCPCases()...), skipCases()...)
}

func (tc decodeCase) packet() capture.Packet {
	p := capture.Packet{Data: tc.data, TsNs: 1_700_000_000_123_456_789, Link: tc.link, Iface: 3, OrigLen: tc.origLen}
	switch tc.origLen {
	case 0:
		p.OrigLen = len(tc.data)
	case -1:
		p.OrigLen = 0
	}
	return p
}

func TestDecode(t *testing.T) {
	sentinel := Segment{Seq: 0xfeedface, PayloadLen: 7, WScale: 3}
	for _, tc := range allCases() {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.packet()
			seg := sentinel
			var d Decoder
			got := d.Decode(&p, &seg)
			require.Equal(t, tc.want, got, "result")
			if tc.want != OK {
				require.Equal(t, sentinel, seg, "seg must be untouched unless OK")
				return
			}
			want := tc.seg
			want.TsNs, want.Iface = p.TsNs, p.Iface
			require.Equal(t, want, seg)
		})
	}
}

func TestDecodeCoversEveryResult(t *testing.T) {
	seen := map[Result]bool{}
	for _, tc := range allCases() {
		seen[tc.want] = true
	}
	for r := OK; r < resultCount; r++ {
		require.True(t, seen[r], "no test case for %v", r)
	}
}

func TestStats(t *testing.T) {
	var d Decoder
	var seg Segment
	want := Stats{}
	for _, tc := range allCases() {
		p := tc.packet()
		r := d.Decode(&p, &seg)
		want.Packets++
		want.Results[r]++
		if r == OK {
			want.Segments++
		}
	}
	// Side counters, from the cases built to trigger them.
	want.ZeroIPLen = 3
	want.IPLenOverWire = 1
	want.SYNOptionsCut = 2
	require.Equal(t, want, d.Stats)
	require.Equal(t, want.Packets-want.Segments, d.Stats.Skipped())

	var sum Stats
	sum.Add(&d.Stats)
	sum.Add(&d.Stats)
	require.Equal(t, 2*d.Stats.Packets, sum.Packets)
	require.Equal(t, 2*d.Stats.Results[NotTCP], sum.Results[NotTCP])
	require.Equal(t, 2*d.Stats.SYNOptionsCut, sum.SYNOptionsCut)
}

func TestStatsNonzero(t *testing.T) {
	tests := []struct {
		name  string
		stats Stats
		want  []Counter
	}{
		{name: "empty", stats: Stats{}, want: nil},
		{
			name: "mixed",
			stats: func() Stats {
				s := Stats{Packets: 10, Segments: 6, ZeroIPLen: 1, SYNOptionsCut: 2}
				s.Results[OK] = 6
				s.Results[NotTCP] = 3
				s.Results[Fragment] = 1
				return s
			}(),
			want: []Counter{
				{"packets", 10}, {"segments", 6}, {"zero_ip_len", 1}, {"syn_options_cut", 2},
				{"fragment", 1}, {"not_tcp", 3},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, tc.stats.Nonzero())
		})
	}
}

func TestResultString(t *testing.T) {
	tests := []struct {
		r    Result
		want string
	}{
		{NoResult, "no_result"},
		{OK, "ok"},
		{UnsupportedLink, "unsupported_link"},
		{TCPTruncated, "tcp_truncated"},
		{BadTCPOffset, "bad_tcp_offset"},
		{resultCount, "result(14)"},
		{Result(255), "result(255)"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			require.Equal(t, tc.want, tc.r.String())
		})
	}
	names := map[string]bool{}
	for r := NoResult; r < resultCount; r++ {
		n := r.String()
		require.NotEmpty(t, n)
		require.False(t, names[n], "duplicate name %q", n)
		names[n] = true
	}
}

// allocPackets are the hot-path shapes that must decode without allocating.
func allocPackets() map[string]capture.Packet {
	vlan := ether(etherTypeQinQ, cat(tag(10, etherTypeVLAN), tag(20, etherTypeIPv4), v4PA))
	v6ext := ether(etherTypeIPv6, ip6(protoHopByHop,
		cat(ext6(protoRouting, 1), ext6(protoFragment, 1), frag6(protoTCP, 0, false), tcpSeg(syn, synOpts, 0))))
	return map[string]capture.Packet{
		"ethernet-ipv4": {Data: ethV4PA, OrigLen: len(ethV4PA), Link: capture.LinkEthernet},
		"qinq-ipv4":     {Data: vlan, OrigLen: len(vlan), Link: capture.LinkEthernet},
		"ipv6-ext-syn":  {Data: v6ext, OrigLen: len(v6ext), Link: capture.LinkEthernet},
	}
}

func TestDecodeDoesNotAllocate(t *testing.T) {
	for name, p := range allocPackets() {
		t.Run(name, func(t *testing.T) {
			var d Decoder
			var seg Segment
			require.Equal(t, OK, d.Decode(&p, &seg))
			allocs := testing.AllocsPerRun(1000, func() { d.Decode(&p, &seg) })
			require.Zero(t, allocs)
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, name := range []string{"ethernet-ipv4", "qinq-ipv4", "ipv6-ext-syn"} {
		p := allocPackets()[name]
		b.Run("pkt="+name, func(b *testing.B) {
			var d Decoder
			var seg Segment
			b.ReportAllocs()
			for b.Loop() {
				d.Decode(&p, &seg)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
			if d.Stats.Segments != d.Stats.Packets {
				b.Fatalf("decoded %d of %d packets", d.Stats.Segments, d.Stats.Packets)
			}
		})
	}
}
