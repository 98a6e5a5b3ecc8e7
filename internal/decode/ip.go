package decode

import "net/netip"

// IP protocol / IPv6 next-header numbers.
const (
	protoHopByHop = 0
	protoTCP      = 6
	protoRouting  = 43
	protoFragment = 44
	protoAH       = 51
	protoDestOpts = 60
)

// ipFrame is the network-layer part of a packet.
type ipFrame struct {
	b []byte // captured bytes from the IP header on
	// wire is the packet's length on the wire from the IP header on:
	// Packet.OrigLen minus the link header when the capture records it,
	// else len(b).
	wire      int
	wireKnown bool // wire came from Packet.OrigLen
}

// ipv4 checks an IPv4 header and fills the addresses. It returns the bytes
// from the TCP header on and the IP payload length (total length − IHL*4).
func ipv4(ip ipFrame, s *Segment, notes *uint8) ([]byte, int, Result) {
	b := ip.b
	if len(b) == 0 {
		return nil, 0, IPTruncated
	}
	if b[0]>>4 != 4 {
		return nil, 0, BadIPHeader
	}
	if len(b) < 20 {
		return nil, 0, IPTruncated
	}
	ihl := int(b[0]&0x0f) * 4
	if ihl < 20 {
		return nil, 0, BadIPHeader
	}
	// Protocol before fragments: a UDP fragment is NotTCP, so Fragment
	// counts only the TCP segments we lose.
	if b[9] != protoTCP {
		return nil, 0, NotTCP
	}
	if be16(b[6:])&0x3fff != 0 { // MF flag or fragment offset
		return nil, 0, Fragment
	}
	total := int(be16(b[2:]))
	switch {
	case total == 0:
		total = ip.wire
		*notes |= noteZeroIPLen
	case ip.wireKnown && total > ip.wire:
		*notes |= noteIPLenOverWire
	}
	if total < ihl {
		return nil, 0, BadIPLength
	}
	if len(b) < ihl {
		return nil, 0, IPTruncated
	}
	s.Src = netip.AddrFrom4([4]byte(b[12:16]))
	s.Dst = netip.AddrFrom4([4]byte(b[16:20]))
	return b[ihl:], total - ihl, OK
}

// ipv6 checks an IPv6 header, walks its extension headers to TCP and fills
// the addresses. It returns the bytes from the TCP header on and the IP
// payload length left after the extension headers.
func ipv6(ip ipFrame, s *Segment, notes *uint8) ([]byte, int, Result) {
	b := ip.b
	if len(b) == 0 {
		return nil, 0, IPTruncated
	}
	if b[0]>>4 != 6 {
		return nil, 0, BadIPHeader
	}
	if len(b) < 40 {
		return nil, 0, IPTruncated
	}
	nh := b[6]
	end := 40 + int(be16(b[4:])) // end of the IP packet
	switch {
	case end == 40 && nh == protoHopByHop:
		return nil, 0, Jumbogram
	case end == 40:
		end = ip.wire
		*notes |= noteZeroIPLen
	case ip.wireKnown && end > ip.wire:
		*notes |= noteIPLenOverWire
	}
	off, r := ipv6Ext(b, nh, end)
	if r != OK {
		return nil, 0, r
	}
	s.Src = netip.AddrFrom16([16]byte(b[8:24]))
	s.Dst = netip.AddrFrom16([16]byte(b[24:40]))
	return b[off:], end - off, OK
}

// ipv6Ext walks the extension headers of the IPv6 packet b, whose first
// next-header value is nh and whose length is end, and returns the offset of
// the TCP header.
func ipv6Ext(b []byte, nh uint8, end int) (int, Result) {
	off := 40
	for n := 0; nh != protoTCP; n++ {
		if !isIPv6Ext(nh) {
			return 0, NotTCP // ESP, no-next-header, UDP, ICMPv6, ...
		}
		if n == maxIPv6Ext {
			return 0, TooManyHeaders
		}
		if len(b)-off < 8 { // every extension header is at least 8 bytes
			return 0, IPTruncated
		}
		h := b[off:]
		var hlen int
		switch nh {
		case protoAH: // RFC 4302: length in 4-byte units, minus 2
			hlen = (int(h[1]) + 2) * 4
		case protoFragment:
			hlen = 8
			// An atomic fragment (offset 0, M clear; RFC 6946) is a
			// whole packet: step over it.
			if be16(h[2:])&0xfff9 != 0 {
				if h[0] == protoTCP || isIPv6Ext(h[0]) {
					return 0, Fragment
				}
				return 0, NotTCP
			}
		default: // RFC 8200: length in 8-byte units, not counting the first 8
			hlen = (int(h[1]) + 1) * 8
		}
		nh = h[0]
		off += hlen
		if off > end {
			return 0, BadIPLength
		}
		if off > len(b) {
			return 0, IPTruncated
		}
	}
	return off, OK
}

// isIPv6Ext reports whether nh is an extension header ipv6Ext steps over.
func isIPv6Ext(nh uint8) bool {
	switch nh {
	case protoHopByHop, protoRouting, protoFragment, protoAH, protoDestOpts:
		return true
	}
	return false
}
