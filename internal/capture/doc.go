// Package capture reads captured packets from files and streams: classic
// pcap (microsecond and nanosecond, either byte order), pcapng (several
// sections, interfaces and link types), and Endace ERF, each optionally gzip-
// or zstd-compressed (detected by magic number, not by file name).
//
// It does not decode protocol headers (see package decode) and it never
// interprets packet contents; it only frames packets and reports where in
// the input a fault lies.
//
// # Why not gopacket/pcapgo
//
// The readers here are small hand-written ones rather than pcapgo's, for
// three reasons:
//
//   - Exact fault offsets. pcapgo wraps its input in bufio and does not track
//     how far it has read, so it cannot say where a bad record starts. Every
//     *FormatError here carries the byte offset (in the decompressed stream)
//     of the record or block header at fault, and the 1-based packet index.
//     A fault of the compression itself (corrupt or cut gzip or zstd data,
//     a bad checksum, garbage after the last member) also carries, in a
//     *DecompressError, the byte offset in the compressed file at which the
//     decompressor detected it: "x.pcap.gz: byte offset 6833698 of the
//     decompressed stream (packet 82583): read record header: decompress
//     gzip at byte offset 1904987 of the file: gzip: invalid checksum".
//   - Zero allocations per packet. One buffer per Source holds whole records;
//     Packet.Data aliases it and it grows only when a larger record arrives.
//   - Leniency where real captures are sloppy (listed below), counted in
//     Stats rather than silently applied or rejected.
//
// # Detection
//
// Open first looks at the leading bytes for compression: 1f 8b is gzip
// (github.com/klauspost/pgzip, which decompresses ahead of the reader on its
// own goroutine; concatenated members allowed) and 28 b5 2f fd is zstd
// (klauspost/compress/zstd, single-threaded). It then looks at the leading
// bytes of the decompressed stream for the container:
//
//   - a1 b2 c3 d4 / d4 c3 b2 a1: pcap, microsecond timestamps
//   - a1 b2 3c 4d / 4d 3c b2 a1: pcap, nanosecond timestamps
//   - a1 b2 cd 34 / 34 cd b2 a1: Kuznetzov's modified pcap (24-byte record
//     headers; the 8 extra bytes are skipped)
//   - 0a 0d 0d 0a: pcapng section header block
//
// ERF files have no magic number, so anything else is tried as ERF with a
// heuristic modelled on Wireshark's erf_open: the first 16 bytes must be a
// plausible record header (record type 1-29 or 48, PAD; rlen at least
// the header plus the extension headers and Ethernet pad it announces; wlen
// non-zero unless the record is a PAD or META record), and, if the file holds another header right after the first
// record, that one must be plausible too and its timestamp no more than one
// second earlier and no more than one week later than the first. Inputs that
// fail are reported as a *FormatError at offset 0 quoting their first bytes.
// Options.Format forces a container and skips the guess (compression is
// still detected by magic).
//
// # Timestamps
//
// Packet.TsNs is nanoseconds since the Unix epoch as an int64, which covers
// the years 1677 to 2262. pcapng timestamps are unsigned 64-bit counts of
// if_tsresol units plus if_tsoffset seconds; they are converted with 128-bit
// intermediate arithmetic and, when the result does not fit, clamped to
// math.MaxInt64 (or math.MinInt64 for a large negative if_tsoffset) and
// counted in Stats.TsClamped. Such timestamps come from broken writers: in
// pcapplusplus_pcapng-example.pcapng the second interface has no if_tsresol
// (so microseconds) yet its packets carry values near 2^64, which Wireshark
// shows as the year 586524; this package yields math.MaxInt64 for them.
//
// # Leniency
//
// Accepted but counted in Stats:
//
//   - pcap and pcapng records whose captured length exceeds the file's (or
//     interface's) snap length, as long as the record is within the absolute
//     limits (MaxPcapRecord, or the file's snaplen if larger, capped at
//     MaxBlockLen; MaxBlockLen for pcapng blocks). Writers that set snaplen 0
//     or too small exist. (Stats.SnapLenExceeded)
//   - records whose captured length exceeds the original length: OrigLen is
//     raised to the captured length. (Stats.OrigLenRaised)
//   - pcapng Simple Packet Blocks, which carry no timestamp: they get the
//     timestamp of the previous packet of the stream, or 0 if none.
//     (Stats.SPBTimeBorrowed)
//   - unknown pcapng blocks, ERF PAD and META records, and other
//     non-packet records are skipped by their length. (Stats.Skipped)
//
// Also accepted, silently: link type 12 or 14 in a pcap header or IDB (the
// platform DLT_RAW values old writers stored) is reported as LinkRaw, as
// libpcap and Wireshark do; pcap timestamp fractions of a second or more are
// added as they stand; the pcap version fields are not checked.
//
// Interface numbers: Packet.Iface counts pcapng interfaces across sections
// (the first IDB of the second section follows the last of the first), so
// it stays unique in a multi-section file.
//
// Limitations: pcapng Name Resolution, Interface Statistics, Decryption
// Secrets and custom blocks are skipped, not parsed; EPB options (flags,
// hashes, drop counts) are ignored; the pcap FCS-length bits of the link
// type field are ignored. ERF records of types other than Ethernet, IPv4
// and IPv6 are passed whole with Link = LinkERF (see erf.go).
package capture
