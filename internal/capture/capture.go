package capture

import (
	"errors"
	"fmt"
)

// LinkType is a LINKTYPE_* value from the tcpdump.org link-layer header
// type registry, the same numbers pcap and pcapng files carry.
type LinkType uint16

// Link types understood by package decode. Other values are passed through
// unchanged; decode counts them as unsupported.
const (
	LinkNull      LinkType = 0   // BSD loopback: 4-byte host-order address family
	LinkEthernet  LinkType = 1   // Ethernet II, possibly 802.1Q / 802.1ad tagged
	LinkRaw       LinkType = 101 // raw IPv4 or IPv6, version from the first nibble
	LinkLoop      LinkType = 108 // OpenBSD loopback: 4-byte network-order family
	LinkLinuxSLL  LinkType = 113 // Linux "cooked" capture v1
	LinkIPv4      LinkType = 228 // raw IPv4
	LinkIPv6      LinkType = 229 // raw IPv6
	LinkLinuxSLL2 LinkType = 276 // Linux "cooked" capture v2
)

// LinkERF (LINKTYPE_ERF) marks an ERF record of a type this package does not
// unwrap (anything but Ethernet, IPv4 and IPv6): Data is then the whole ERF
// record, header included, as the tcpdump.org registry defines for this
// link type. Package decode does not support it and counts such packets as
// unsupported.
const LinkERF LinkType = 197

// Packet is one captured frame. Data aliases a buffer owned by the Source and
// is valid only until the next call to Next; callers that keep bytes must
// copy them.
type Packet struct {
	// Data holds the captured bytes (CapLen of them).
	Data []byte
	// TsNs is the capture time in nanoseconds since the Unix epoch (UTC).
	TsNs int64
	// OrigLen is the length of the frame on the wire, in bytes, as recorded
	// by the capture; it may exceed len(Data) when the snap length cut it.
	OrigLen int
	// Link is the link-layer header type of Data.
	Link LinkType
	// Iface is the zero-based interface index (pcapng IDB order, counted
	// across sections; ERF interface number from the flags; 0 for classic
	// pcap).
	Iface int
}

// ErrIdle is what a live source's Next returns when its poll interval
// passed without a packet, with the packet's TsNs set to the time it gave
// up (the wall clock, as its packets' times are); Next may be called again.
// A reader of the source moves its clock on and checks for cancellation,
// however quiet the link.
var ErrIdle = errors.New("no packet within the poll interval")

// Source yields packets in file order. Implementations are not safe for
// concurrent use.
type Source interface {
	// Next fills p with the next packet. It returns io.EOF after the last
	// packet, or a *FormatError describing the first fault; after an error
	// every later call returns the same error.
	Next(p *Packet) error
	// Name is the input's name as given by the user (a path, or "-" for stdin).
	Name() string
	// Close releases the input.
	Close() error
}

// FormatError reports malformed input: the file, the byte offset where the
// offending structure starts, and what was wrong with it. Read errors of
// the underlying input (I/O, gzip or zstd corruption) are reported as a
// FormatError too, with Err wrapping them; a stream that ends inside a
// record wraps io.ErrUnexpectedEOF.
//
// For a compressed input Offset counts bytes of the decompressed stream
// (zcat's output), and the text says so. When the fault is in the
// compression layer itself, Err wraps a *DecompressError that carries the
// offset in the compressed file as well.
type FormatError struct {
	File        string // input name as given by the user
	Offset      int64  // byte offset in the stream: the file, or its decompressed content
	Packet      int64  // 1-based index of the packet being read; 0 for faults in a file header or before detection
	Compression string // "gzip" or "zstd" when Offset is in the decompressed stream; "" for a plain input
	Err         error  // what was wrong
}

// Error formats the fault as "file: byte offset N (packet K): cause", with
// " of the decompressed stream" after N for a compressed input.
func (e *FormatError) Error() string {
	where := fmt.Sprintf("byte offset %d", e.Offset)
	if e.Compression != "" {
		where += " of the decompressed stream"
	}
	if e.Packet > 0 {
		where += fmt.Sprintf(" (packet %d)", e.Packet)
	}
	return fmt.Sprintf("%s: %s: %v", e.File, where, e.Err)
}

// Unwrap returns the underlying cause.
func (e *FormatError) Unwrap() error { return e.Err }
