// Package decode turns a captured frame into the TCP/IP header fields the
// inference engine needs: addresses, ports, sequence and acknowledgement
// numbers, flags, window, SYN options and the payload length taken from the
// IP length field (never from the captured bytes, so header-only traces cut
// by a small snap length still give exact sizes).
//
// It keeps no state between packets except counters, and allocates nothing.
// It does not reassemble, track connections or parse payloads; IP fragments
// are counted, not parsed.
//
// # Supported encapsulations
//
// Link layers (capture.LinkType):
//   - Ethernet II, with any stack of 802.1Q (0x8100) and 802.1ad / QinQ
//     (0x88a8, 0x9100) tags up to 8 deep; Segment.VLAN is the innermost ID.
//     An 802.3 length field (EtherType < 0x0600, LLC/SNAP) is "not IP".
//   - MPLS (0x8847, 0x8848) label stacks up to 8 deep, after which the IP
//     version is guessed from the first nibble, as gopacket does.
//   - Linux cooked capture v1 (16-byte header, protocol at offset 14) and v2
//     (20-byte header, protocol at offset 0). The protocol is treated as an
//     EtherType, so VLAN tags that libpcap re-inserts are handled.
//   - BSD loopback DLT_NULL: the 4-byte address family is in the byte order
//     of the machine that captured, which the file does not record, so both
//     orders are accepted (families are small numbers, so at most one order
//     gives a value below 2^16). 2 is IPv4; 24, 28 and 30 (NetBSD/OpenBSD,
//     FreeBSD, Darwin) are IPv6.
//   - OpenBSD LINKTYPE_LOOP: the same family field in network byte order.
//   - Raw IP (101, and the DLT_RAW values 12 and 14 that some writers stored
//     instead; version from the first nibble), raw IPv4 (228), raw IPv6 (229).
//
// Network layers: IPv4 with options (skipped), and IPv6 with up to 8
// extension headers (hop-by-hop, routing, destination options, fragment and
// AH are walked; ESP and no-next-header end the chain as "not TCP").
//
// # Lengths
//
// PayloadLen = IP length − IP header (with options or extension headers) −
// TCP data offset. An IPv4 total length of 0, or an IPv6 payload length of 0
// without a hop-by-hop header, is what TCP segmentation offload leaves in
// captures taken on the sending host; the length on the wire is then used
// instead (Packet.OrigLen minus the link header, or the captured bytes when
// OrigLen is unset) and Stats.ZeroIPLen counts it. An IPv6 jumbogram (payload
// length 0 behind a hop-by-hop header) is skipped as Jumbogram.
//
// The decoder needs the first 16 bytes of the TCP header (ports, sequence,
// acknowledgement, data offset, flags and window) to produce a segment; the
// checksum and urgent pointer are not read. SYN options (MSS, window scale)
// are parsed as far as they were captured; an option cut by the snap length
// ends parsing without failing the packet.
//
// # Why hand-written
//
// gopacket's DecodingLayerParser was the obvious alternative and was
// rejected for three reasons: its TCP layer fails the whole segment when the
// options were cut by the snap length (common in header-only traces, where
// the fixed header we need is intact); it allocates an error value for every
// bad or unsupported packet, which a capture full of junk turns into
// garbage-collector load; and it costs more per packet than this decoder's
// single pass with no interface calls. gopacket's layers package is still
// used, in tests only, as an independent oracle: the differential test
// decodes every packet of the repository's test captures with both and
// compares the fields.
//
// Limitations: checksums are not verified (offload makes them wrong in
// captures from the sending host); IP-in-IP, GRE, VXLAN and other tunnels,
// PPPoE, LLC/SNAP-encapsulated IP and MPLS pseudowires are "not IP" or "not
// TCP"; IP fragments are never reassembled.
package decode
