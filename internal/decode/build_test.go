package decode

import (
	"encoding/binary"
	"net/netip"
)

// Builders for hand-made packets. Every builder returns a fresh slice, so
// test cases can tweak bytes without affecting each other.

var (
	src4 = [4]byte{192, 0, 2, 1}
	dst4 = [4]byte{198, 51, 100, 2}
	src6 = netip.MustParseAddr("2001:db8::1").As16()
	dst6 = netip.MustParseAddr("2001:db8::2").As16()
)

// Default TCP header fields of tcpSeg.
const (
	tSrcPort = 40000
	tDstPort = 80
	tSeq     = 0x01020304
	tAck     = 0xa0b0c0d0
	tWindow  = 29200
)

// cat concatenates byte slices into a new one.
func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// tcpSeg builds a TCP header with the default ports, numbers and window,
// the given flags and options (zero-padded to 4 bytes), followed by payload
// bytes.
func tcpSeg(flags uint8, opts []byte, payload int) []byte {
	optLen := (len(opts) + 3) / 4 * 4
	h := make([]byte, 20+optLen+payload)
	binary.BigEndian.PutUint16(h[0:], tSrcPort)
	binary.BigEndian.PutUint16(h[2:], tDstPort)
	binary.BigEndian.PutUint32(h[4:], tSeq)
	binary.BigEndian.PutUint32(h[8:], tAck)
	h[12] = byte((20+optLen)/4) << 4
	h[13] = flags
	binary.BigEndian.PutUint16(h[14:], tWindow)
	copy(h[20:], opts)
	for i := 20 + optLen; i < len(h); i++ {
		h[i] = byte(i)
	}
	return h
}

// ip4 builds an IPv4 header (IHL 5, DF set, TTL 64) carrying l4, with a
// correct total length.
func ip4(proto uint8, l4 []byte) []byte {
	h := make([]byte, 20)
	h[0] = 0x45
	binary.BigEndian.PutUint16(h[2:], uint16(20+len(l4)))
	binary.BigEndian.PutUint16(h[4:], 0x1234)
	h[6] = 0x40 // DF
	h[8] = 64
	h[9] = proto
	copy(h[12:], src4[:])
	copy(h[16:], dst4[:])
	return cat(h, l4)
}

// ip6 builds an IPv6 header carrying l4 (which may start with extension
// headers), with a correct payload length.
func ip6(nh uint8, l4 []byte) []byte {
	h := make([]byte, 40)
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], uint16(len(l4)))
	h[6] = nh
	h[7] = 64
	copy(h[8:], src6[:])
	copy(h[24:], dst6[:])
	return cat(h, l4)
}

// ext6 builds an IPv6 extension header of 8*units bytes (hop-by-hop,
// routing or destination options layout) whose next header is nh. Padding
// is PadN so gopacket accepts options headers.
func ext6(nh uint8, units int) []byte {
	h := make([]byte, 8*units)
	h[0] = nh
	h[1] = byte(units - 1)
	h[2] = 1 // PadN
	h[3] = byte(len(h) - 4)
	return h
}

// ah6 builds an authentication header with an ICV of 4*icvWords bytes.
func ah6(nh uint8, icvWords int) []byte {
	h := make([]byte, 12+4*icvWords)
	h[0] = nh
	h[1] = byte(len(h)/4 - 2)
	return h
}

// frag6 builds an IPv6 fragment header.
func frag6(nh uint8, offset uint16, more bool) []byte {
	h := make([]byte, 8)
	h[0] = nh
	v := offset << 3
	if more {
		v |= 1
	}
	binary.BigEndian.PutUint16(h[2:], v)
	binary.BigEndian.PutUint32(h[4:], 0xdeadbeef)
	return h
}

// ether builds an Ethernet II frame with EtherType et.
func ether(et uint16, payload []byte) []byte {
	h := []byte{2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0, 0}
	binary.BigEndian.PutUint16(h[12:], et)
	return cat(h, payload)
}

// tag builds an 802.1Q-style tag: TCI with the given VLAN ID (priority 5
// set, to check it is masked off) and the next EtherType.
func tag(vlan, next uint16) []byte {
	h := make([]byte, 4)
	binary.BigEndian.PutUint16(h, 5<<13|vlan)
	binary.BigEndian.PutUint16(h[2:], next)
	return h
}

// mplsLabel builds one MPLS label stack entry.
func mplsLabel(label uint32, bottom bool) []byte {
	v := label<<12 | 64 // TTL 64
	if bottom {
		v |= 1 << 8
	}
	return binary.BigEndian.AppendUint32(nil, v)
}

// sll builds a Linux cooked v1 header (outgoing, ARPHRD_ETHER).
func sll(proto uint16, payload []byte) []byte {
	h := make([]byte, 16)
	binary.BigEndian.PutUint16(h[0:], 4) // sent by us
	binary.BigEndian.PutUint16(h[2:], 1) // ARPHRD_ETHER
	binary.BigEndian.PutUint16(h[4:], 6)
	copy(h[6:], []byte{2, 0, 0, 0, 0, 1})
	binary.BigEndian.PutUint16(h[14:], proto)
	return cat(h, payload)
}

// sll2 builds a Linux cooked v2 header.
func sll2(proto uint16, payload []byte) []byte {
	h := make([]byte, 20)
	binary.BigEndian.PutUint16(h[0:], proto)
	binary.BigEndian.PutUint32(h[4:], 3) // interface index
	binary.BigEndian.PutUint16(h[8:], 1) // ARPHRD_ETHER
	h[10] = 0                            // to us
	h[11] = 6
	copy(h[12:], []byte{2, 0, 0, 0, 0, 1})
	return cat(h, payload)
}

// family builds a 4-byte loopback family header in the given byte order.
func family(order binary.AppendByteOrder, fam uint32, payload []byte) []byte {
	return cat(order.AppendUint32(nil, fam), payload)
}

// wantSeg is the Segment the default builders decode to: IPv4 or IPv6
// addresses, default TCP fields, flags and payload length; edit applies
// case-specific changes.
func wantSeg(v6 bool, flags uint8, payload uint32, edit func(*Segment)) Segment {
	s := Segment{
		Src: netip.AddrFrom4(src4), Dst: netip.AddrFrom4(dst4),
		SrcPort: tSrcPort, DstPort: tDstPort, Seq: tSeq, Ack: tAck,
		Flags: flags, Window: tWindow, PayloadLen: payload, WScale: -1,
	}
	if v6 {
		s.Src, s.Dst = netip.AddrFrom16(src6), netip.AddrFrom16(dst6)
	}
	if edit != nil {
		edit(&s)
	}
	return s
}

// set returns a copy of b with b[i] = v.
func set(b []byte, i int, v byte) []byte {
	b = cat(b)
	b[i] = v
	return b
}

// set16 returns a copy of b with a big-endian uint16 v at i.
func set16(b []byte, i int, v uint16) []byte {
	b = cat(b)
	binary.BigEndian.PutUint16(b[i:], v)
	return b
}
