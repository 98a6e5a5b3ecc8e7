package decode

import "strconv"

// Result is the outcome of decoding one packet: OK, or the reason the packet
// was skipped. Skipping is not a failure; callers count it and go on.
type Result uint8

// Decode results. Each non-OK value names the first check that failed, in
// the order link layer, IP, TCP.
const (
	// NoResult is the zero value; Decode never returns it.
	NoResult Result = iota
	// OK means a TCP segment was decoded into the Segment.
	OK
	// UnsupportedLink means the packet's link type is not one decode handles.
	UnsupportedLink
	// LinkTruncated means the link-layer header (including VLAN tags and
	// MPLS labels) was cut by the snap length.
	LinkTruncated
	// TooManyHeaders means a header chain exceeded the decoder's bound:
	// more than 8 VLAN tags, MPLS labels or IPv6 extension headers.
	TooManyHeaders
	// NotIP means the link layer carries something other than IPv4 or IPv6
	// (ARP, LLDP, 802.3/LLC, PPPoE, an unknown loopback family, ...).
	NotIP
	// BadIPHeader means the IP version does not match the link layer's
	// claim, or the IPv4 header length (IHL) is below 5.
	BadIPHeader
	// IPTruncated means the IP header, its options or an IPv6 extension
	// header was cut by the snap length.
	IPTruncated
	// BadIPLength means the IP length field is smaller than the IP header
	// (IPv4 total length below IHL*4, or IPv6 extension headers running past
	// the payload length).
	BadIPLength
	// Jumbogram means an IPv6 jumbogram (payload length 0 with a hop-by-hop
	// header), which decode does not support.
	Jumbogram
	// Fragment means a TCP-carrying IP fragment, first or not: counted, not
	// parsed. Fragments of other protocols are NotTCP.
	Fragment
	// NotTCP means an IP packet whose upper-layer protocol is not TCP (UDP,
	// ICMP, ESP, tunnels, no-next-header, ...).
	NotTCP
	// TCPTruncated means fewer than the 16 TCP header bytes decode needs
	// (ports through window) were captured.
	TCPTruncated
	// BadTCPOffset means the TCP data offset is below 5 words or larger
	// than the IP payload length.
	BadTCPOffset

	resultCount // number of Result values; keep last
)

var resultNames = [resultCount]string{
	NoResult:        "no_result",
	OK:              "ok",
	UnsupportedLink: "unsupported_link",
	LinkTruncated:   "link_truncated",
	TooManyHeaders:  "too_many_headers",
	NotIP:           "not_ip",
	BadIPHeader:     "bad_ip_header",
	IPTruncated:     "ip_truncated",
	BadIPLength:     "bad_ip_length",
	Jumbogram:       "jumbogram",
	Fragment:        "fragment",
	NotTCP:          "not_tcp",
	TCPTruncated:    "tcp_truncated",
	BadTCPOffset:    "bad_tcp_offset",
}

// String returns the result's snake_case label, the same name Stats.Nonzero
// uses, or "result(N)" for a value out of range.
func (r Result) String() string {
	if r < resultCount {
		return resultNames[r]
	}
	return "result(" + strconv.Itoa(int(r)) + ")"
}

// Stats counts what a Decoder has seen. The zero value is ready to use; it is
// plain data, so callers may copy, reset (assign Stats{}) or merge it (Add).
type Stats struct {
	// Packets is the number of Decode calls.
	Packets uint64
	// Segments is the number of packets decoded as TCP segments (Result OK).
	Segments uint64
	// Results counts packets by Result, indexed by the Result value.
	Results [resultCount]uint64
	// ZeroIPLen counts decoded segments whose IP length field was 0 (TCP
	// segmentation offload on the capturing host); their length was taken
	// from the frame instead.
	ZeroIPLen uint64
	// IPLenOverWire counts decoded segments whose IP length claims more
	// bytes than the frame had on the wire (Packet.OrigLen minus the link
	// header). The IP length is still used; a large count means corrupt or
	// rewritten captures.
	IPLenOverWire uint64
	// SYNOptionsCut counts decoded SYN segments whose TCP options were cut
	// by the snap length, so MSS or WScale may be missing.
	SYNOptionsCut uint64
}

// Counter is one named counter value, as listed by Stats.Nonzero.
type Counter struct {
	Name  string // snake_case label, e.g. "packets" or "not_tcp"
	Value uint64
}

// Nonzero lists the counters that are not zero, in a fixed order: packets,
// segments, zero_ip_len, ip_len_over_wire, syn_options_cut, then each
// skipped Result by its String name. OK is not listed again (it equals
// segments).
func (s *Stats) Nonzero() []Counter {
	var out []Counter
	add := func(name string, v uint64) {
		if v != 0 {
			out = append(out, Counter{Name: name, Value: v})
		}
	}
	add("packets", s.Packets)
	add("segments", s.Segments)
	add("zero_ip_len", s.ZeroIPLen)
	add("ip_len_over_wire", s.IPLenOverWire)
	add("syn_options_cut", s.SYNOptionsCut)
	for r := OK + 1; r < resultCount; r++ {
		add(r.String(), s.Results[r])
	}
	return out
}

// Skipped returns the number of packets that did not decode to a segment.
func (s *Stats) Skipped() uint64 { return s.Packets - s.Segments }

// Add adds every counter of o to s, for merging per-worker decoders.
func (s *Stats) Add(o *Stats) {
	s.Packets += o.Packets
	s.Segments += o.Segments
	for i := range s.Results {
		s.Results[i] += o.Results[i]
	}
	s.ZeroIPLen += o.ZeroIPLen
	s.IPLenOverWire += o.IPLenOverWire
	s.SYNOptionsCut += o.SYNOptionsCut
}
