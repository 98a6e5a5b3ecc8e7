package capture

import (
	"errors"
	"fmt"
)

// ErrClosed is returned by Next after Close.
var ErrClosed = errors.New("capture: source closed")

// Limits on a single record. Larger values are reported as "absurd length"
// format errors rather than allocated, so that a corrupt length field cannot
// make a reader allocate gigabytes.
const (
	// MaxPcapRecord is the largest captured length accepted in a classic pcap
	// record, in bytes, unless the file header's snaplen is larger (then the
	// snaplen, up to MaxBlockLen). It equals libpcap's MAXIMUM_SNAPLEN.
	MaxPcapRecord = 256 << 10
	// MaxBlockLen is the largest pcapng block total length accepted, in
	// bytes. ERF records are limited by their 16-bit rlen field.
	MaxBlockLen = 16 << 20
)

// Format is a capture container format.
type Format uint8

// Container formats. The zero value means "detect from the input".
const (
	FormatAuto   Format = iota // detect by magic number (ERF by heuristic)
	FormatPcap                 // classic libpcap
	FormatPcapNG               // pcapng
	FormatERF                  // Endace Extensible Record Format
)

// String returns the format's lowercase name.
func (f Format) String() string {
	switch f {
	case FormatAuto:
		return "auto"
	case FormatPcap:
		return "pcap"
	case FormatPcapNG:
		return "pcapng"
	case FormatERF:
		return "erf"
	}
	return fmt.Sprintf("format(%d)", uint8(f))
}

// Stats counts what a Source has read so far. Counters only grow.
type Stats struct {
	// Format is the container format being read.
	Format Format
	// Compression is "gzip", "zstd", or "" for an uncompressed input.
	Compression string
	// Packets is the number of packets returned by Next.
	Packets int64
	// Bytes is the sum of len(Packet.Data) over the returned packets.
	Bytes int64
	// SnapLenExceeded counts packets whose captured length exceeded the
	// file's or interface's snap length (accepted; see the package doc).
	SnapLenExceeded int64
	// OrigLenRaised counts packets whose captured length exceeded the
	// recorded original length; OrigLen was set to the captured length.
	OrigLenRaised int64
	// TsClamped counts packets whose timestamp did not fit in int64
	// nanoseconds and was clamped.
	TsClamped int64
	// SPBTimeBorrowed counts pcapng Simple Packet Blocks, which have no
	// timestamp and were given the previous packet's.
	SPBTimeBorrowed int64
	// Skipped counts blocks or records that were not packets and were
	// skipped: unknown or uninteresting pcapng blocks, ERF PAD and META
	// records.
	Skipped int64
}

// StatsReporter is implemented by every Source this package returns.
type StatsReporter interface {
	// Stats returns a snapshot of the counters.
	Stats() Stats
}

// String returns the link type's name in the tcpdump.org registry, or its
// number for types this package has no name for.
func (l LinkType) String() string {
	switch l {
	case LinkNull:
		return "NULL"
	case LinkEthernet:
		return "ETHERNET"
	case LinkRaw:
		return "RAW"
	case LinkLoop:
		return "LOOP"
	case LinkLinuxSLL:
		return "LINUX_SLL"
	case LinkIPv4:
		return "IPV4"
	case LinkIPv6:
		return "IPV6"
	case LinkLinuxSLL2:
		return "LINUX_SLL2"
	case LinkERF:
		return "ERF"
	}
	return fmt.Sprintf("LINKTYPE(%d)", uint16(l))
}
