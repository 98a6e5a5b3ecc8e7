package main

import "encoding/binary"

// EtherTypes parsed by rewriteAddrs.
const (
	etherTypeIPv4   = 0x0800
	etherTypeIPv6   = 0x86dd
	etherTypeVLAN   = 0x8100 // IEEE 802.1Q
	etherTypeQinQ   = 0x88a8 // IEEE 802.1ad service tag
	etherTypeQinQv1 = 0x9100 // pre-standard double tagging
)

// rewriteAddrs makes frame b (an Ethernet frame, modified in place) belong to
// copy key: it xors key into the low 16 bits (the last two bytes) of both
// the source and the destination IP address. For a fixed key the mapping is
// a bijection, so distinct endpoints of one copy stay distinct and both
// directions of a connection map to the same new connection; key 0 leaves b
// unchanged.
//
// Only the outermost IPv4 or IPv6 header after Ethernet and any 802.1Q/802.1ad
// tags is rewritten; every other EtherType, and a frame cut before the end of
// the addresses, is left as it is. The IPv4 header checksum is updated
// incrementally (RFC 1624), so a header that was valid stays valid and one
// that was wrong stays wrong by the same amount.
//
// Limitations: TCP and UDP checksums cover the addresses (pseudo-header) and
// are not updated, so they become wrong. adu2parquet (package decode) does not
// verify checksums; tools that do (e.g. Wireshark with validation on) will
// flag them. Addresses inside tunnels (IP-in-IP, GRE, ...) and in ICMP
// payloads are not rewritten.
func rewriteAddrs(b []byte, key uint16) {
	if key == 0 {
		return
	}
	off, etherType, ok := ipHeader(b)
	if !ok {
		return
	}
	ip := b[off:]
	switch {
	case etherType == etherTypeIPv4 && len(ip) >= 20 && ip[0]>>4 == 4:
		sum := binary.BigEndian.Uint16(ip[10:12])
		sum = xorWord(ip[14:16], key, sum)
		sum = xorWord(ip[18:20], key, sum)
		binary.BigEndian.PutUint16(ip[10:12], sum)
	case etherType == etherTypeIPv6 && len(ip) >= 40 && ip[0]>>4 == 6:
		xorWord(ip[22:24], key, 0)
		xorWord(ip[38:40], key, 0)
	}
}

// ipHeader returns the offset of the network header in Ethernet frame b and
// its EtherType, skipping VLAN tags. ok is false when b ends first.
func ipHeader(b []byte) (off int, etherType uint16, ok bool) {
	off = 12 // destination and source MAC
	for {
		if len(b) < off+2 {
			return 0, 0, false
		}
		etherType = binary.BigEndian.Uint16(b[off:])
		if etherType != etherTypeVLAN && etherType != etherTypeQinQ && etherType != etherTypeQinQv1 {
			return off + 2, etherType, true
		}
		off += 4 // TPID and TCI
	}
}

// xorWord xors key into the big-endian 16-bit word w and returns the Internet
// checksum sum updated for the change (RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m')).
func xorWord(w []byte, key, sum uint16) uint16 {
	old := binary.BigEndian.Uint16(w)
	word := old ^ key
	binary.BigEndian.PutUint16(w, word)
	s := uint32(^sum) + uint32(^old) + uint32(word)
	s = (s & 0xffff) + s>>16
	s = (s & 0xffff) + s>>16
	return ^uint16(s)
}
