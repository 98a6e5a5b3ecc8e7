package decode

import "net/netip"

// TCP flag bits as they appear in byte 13 of the TCP header.
const (
	FlagFIN uint8 = 0x01
	FlagSYN uint8 = 0x02
	FlagRST uint8 = 0x04
	FlagPSH uint8 = 0x08
	FlagACK uint8 = 0x10
	FlagURG uint8 = 0x20
	FlagECE uint8 = 0x40
	FlagCWR uint8 = 0x80
)

// Segment is one decoded TCP segment.
type Segment struct {
	TsNs    int64      // capture time, ns since the Unix epoch
	Src     netip.Addr // IPv4 or IPv6 source (IPv4 is never 4-in-6 mapped)
	Dst     netip.Addr
	SrcPort uint16
	DstPort uint16
	Seq     uint32
	Ack     uint32 // meaningful only when Flags&FlagACK != 0
	Flags   uint8
	Window  uint16 // raw, unscaled window field
	// PayloadLen is the TCP payload length in bytes, computed as the IP
	// total (or payload) length minus the IP and TCP header lengths.
	PayloadLen uint32
	// MSS is the SYN's maximum segment size option in bytes, 0 if absent or
	// not captured. Options are parsed only when FlagSYN is set.
	MSS uint16
	// WScale is the window scale shift from the SYN option, -1 if absent or
	// not captured. Shifts above 14 are clamped to 14 (RFC 7323 section 2.3).
	WScale int8
	// VLAN is the innermost 802.1Q / 802.1ad VLAN ID (12 bits), 0 if
	// untagged. Outer tags of a QinQ stack are not kept.
	VLAN uint16
	// Iface is the capture interface index, copied from the packet.
	Iface int
}
