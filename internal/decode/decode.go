package decode

import (
	"encoding/binary"
	"math/bits"

	"github.com/abt-dev/abt/internal/capture"
)

// Bounds on header chains. Real traffic rarely has more than two VLAN tags,
// three MPLS labels or two IPv6 extension headers; the bounds keep a crafted
// packet from making Decode walk its whole length.
const (
	maxVLANTags   = 8
	maxMPLSLabels = 8
	maxIPv6Ext    = 8
)

// Link types outside capture's list that decode also accepts. Old or
// non-libpcap writers stored the platform's DLT_RAW value instead of
// LINKTYPE_RAW (101): 12 on most systems, 14 on OpenBSD. Wireshark reads
// both as raw IP, and so do we.
const (
	linkRawDLT12 capture.LinkType = 12
	linkRawDLT14 capture.LinkType = 14
)

// EtherType values.
const (
	etherTypeIPv4      = 0x0800
	etherTypeIPv6      = 0x86dd
	etherTypeVLAN      = 0x8100 // 802.1Q C-tag
	etherTypeQinQ      = 0x88a8 // 802.1ad S-tag
	etherTypeQinQOld   = 0x9100 // pre-802.1ad vendor S-tag
	etherTypeMPLS      = 0x8847
	etherTypeMPLSMulti = 0x8848
	etherTypeMin       = 0x0600 // smaller values are 802.3 length fields
)

// Notes on a segment that turn into Stats counters only if it decodes OK.
const (
	noteZeroIPLen uint8 = 1 << iota
	noteIPLenOverWire
	noteSYNOptionsCut
)

// Decoder decodes captured packets into TCP segments and counts the
// outcomes. The zero value is ready to use. A Decoder is not safe for
// concurrent use; give each goroutine its own and merge with Stats.Add.
type Decoder struct {
	// Stats accumulates counters over every Decode call.
	Stats Stats
}

// Decode decodes p into seg and returns OK, or the reason p is not a
// decodable TCP segment. seg is written only when the result is OK, and then
// every field is overwritten (the caller may reuse it). Decode reads p.Data
// but keeps no reference to it, never allocates and never panics.
func (d *Decoder) Decode(p *capture.Packet, seg *Segment) Result {
	var notes uint8
	r := decodePacket(p, seg, &notes)
	st := &d.Stats
	st.Packets++
	st.Results[r]++
	if r == OK {
		st.Segments++
		if notes != 0 {
			st.addNotes(notes)
		}
	}
	return r
}

func (s *Stats) addNotes(notes uint8) {
	if notes&noteZeroIPLen != 0 {
		s.ZeroIPLen++
	}
	if notes&noteIPLenOverWire != 0 {
		s.IPLenOverWire++
	}
	if notes&noteSYNOptionsCut != 0 {
		s.SYNOptionsCut++
	}
}

// decodePacket is Decode without the counting. It fills a local Segment and
// copies it out on success so that seg is untouched on every other result.
func decodePacket(p *capture.Packet, seg *Segment, notes *uint8) Result {
	s := Segment{TsNs: p.TsNs, Iface: p.Iface, WScale: -1}
	nb, proto, r := linkLayer(p.Data, p.Link, &s.VLAN)
	if r != OK {
		return r
	}
	// ip.wire is the IP packet's length on the wire, if the capture says.
	ip := ipFrame{b: nb, wire: len(nb)}
	if p.OrigLen >= len(p.Data) && p.OrigLen > 0 {
		ip.wire += p.OrigLen - len(p.Data)
		ip.wireKnown = true
	}
	var l4 []byte
	var ipPayload int
	switch proto {
	case etherTypeIPv4:
		l4, ipPayload, r = ipv4(ip, &s, notes)
	case etherTypeIPv6:
		l4, ipPayload, r = ipv6(ip, &s, notes)
	default:
		return NotIP
	}
	if r != OK {
		return r
	}
	if r = tcp(l4, ipPayload, &s, notes); r != OK {
		return r
	}
	*seg = s
	return OK
}

// linkLayer strips the link-layer header of b. It returns the network-layer
// bytes and their EtherType (etherTypeIPv4 or etherTypeIPv6; 0 for anything
// else) and stores the innermost VLAN ID in *vlan.
func linkLayer(b []byte, lt capture.LinkType, vlan *uint16) ([]byte, uint16, Result) {
	switch lt {
	case capture.LinkEthernet:
		if len(b) < 14 {
			return nil, 0, LinkTruncated
		}
		return etherPayload(b[14:], be16(b[12:]), vlan)
	case capture.LinkLinuxSLL:
		if len(b) < 16 {
			return nil, 0, LinkTruncated
		}
		return etherPayload(b[16:], be16(b[14:]), vlan)
	case capture.LinkLinuxSLL2:
		if len(b) < 20 {
			return nil, 0, LinkTruncated
		}
		return etherPayload(b[20:], be16(b), vlan)
	case capture.LinkNull:
		if len(b) < 4 {
			return nil, 0, LinkTruncated
		}
		// Host byte order of an unknown machine: families are small, so
		// if the little-endian reading is huge the bytes are big-endian.
		fam := binary.LittleEndian.Uint32(b)
		if fam > 0xffff {
			fam = bits.ReverseBytes32(fam)
		}
		return b[4:], familyType(fam), OK
	case capture.LinkLoop:
		if len(b) < 4 {
			return nil, 0, LinkTruncated
		}
		return b[4:], familyType(binary.BigEndian.Uint32(b)), OK
	case capture.LinkRaw, linkRawDLT12, linkRawDLT14:
		return ipByVersion(b, BadIPHeader)
	case capture.LinkIPv4:
		return b, etherTypeIPv4, OK
	case capture.LinkIPv6:
		return b, etherTypeIPv6, OK
	}
	return nil, 0, UnsupportedLink
}

// familyType maps a BSD loopback address family to an EtherType.
func familyType(fam uint32) uint16 {
	switch fam {
	case 2: // AF_INET everywhere
		return etherTypeIPv4
	case 24, 28, 30: // AF_INET6 on NetBSD/OpenBSD, FreeBSD, Darwin
		return etherTypeIPv6
	}
	return 0
}

// etherPayload follows VLAN tags and MPLS labels from EtherType et, whose
// payload is b, down to IP.
func etherPayload(b []byte, et uint16, vlan *uint16) ([]byte, uint16, Result) {
	for tags := 0; et == etherTypeVLAN || et == etherTypeQinQ || et == etherTypeQinQOld; tags++ {
		if tags == maxVLANTags {
			return nil, 0, TooManyHeaders
		}
		if len(b) < 4 {
			return nil, 0, LinkTruncated
		}
		*vlan = be16(b) & 0x0fff
		et = be16(b[2:])
		b = b[4:]
	}
	switch et {
	case etherTypeIPv4, etherTypeIPv6:
		return b, et, OK
	case etherTypeMPLS, etherTypeMPLSMulti:
		return mplsPayload(b)
	}
	return nil, 0, NotIP
}

// mplsPayload pops an MPLS label stack and guesses the payload's IP version
// from its first nibble. Anything else (pseudowires, control words) is
// reported as NotIP.
func mplsPayload(b []byte) ([]byte, uint16, Result) {
	for labels := 0; ; labels++ {
		if labels == maxMPLSLabels {
			return nil, 0, TooManyHeaders
		}
		if len(b) < 4 {
			return nil, 0, LinkTruncated
		}
		bottom := b[2]&1 != 0
		b = b[4:]
		if bottom {
			break
		}
	}
	return ipByVersion(b, NotIP)
}

// ipByVersion reads the IP version nibble of a header with no link-layer
// type to say which it is (raw IP, the payload of an MPLS stack); other
// versions give notIP.
func ipByVersion(b []byte, notIP Result) ([]byte, uint16, Result) {
	if len(b) == 0 {
		return nil, 0, IPTruncated
	}
	switch b[0] >> 4 {
	case 4:
		return b, etherTypeIPv4, OK
	case 6:
		return b, etherTypeIPv6, OK
	}
	return nil, 0, notIP
}

// be16 reads a big-endian uint16 from the start of b.
func be16(b []byte) uint16 { return binary.BigEndian.Uint16(b) }
