package capture

import (
	"encoding/binary"
	"fmt"
	"io"
)

// ERF record types (Endace "ERF Types Reference Guide"; the numbers match
// Wireshark's wiretap/erf_record.h and libpcap's pcap-dag.c).
const (
	erfTypeETH          = 2
	erfTypeColorETH     = 11
	erfTypeDSMColorETH  = 16
	erfTypeColorHashETH = 20
	erfTypeIPv4         = 22
	erfTypeIPv6         = 23
	erfTypeMeta         = 27 // provenance metadata, not a packet
	erfTypeLastPublic   = 29 // highest public type a heuristic accepts
	erfTypePad          = 48 // padding, not a packet
)

const (
	erfHeaderLen = 16
	erfExtLen    = 8 // each extension header
	erfEthPad    = 2 // offset/pad bytes before an Ethernet frame
	erfFCSLen    = 4 // Ethernet FCS counted in wlen
	erfMoreExt   = 0x80
	erfTypeMask  = 0x7f
	erfIfaceMask = 0x03 // flags: capture interface
)

// erfReader reads Endace ERF files: a bare sequence of records, no file
// header. Each record is
//
//	ts    8 bytes little-endian, 32.32 fixed-point seconds since the epoch
//	type  1 byte, bit 7 = an extension header follows
//	flags 1 byte, bits 0-1 = interface
//	rlen  2 bytes big-endian, whole record length incl. header and padding
//	lctr  2 bytes loss counter (or colour)
//	wlen  2 bytes big-endian, length on the wire
//
// then the 8-byte extension headers, each with bit 7 of its first byte set
// when another follows, then the payload.
//
// What Packet gets, by record type:
//
//   - Ethernet (2, 11, 16, 20): the frame after the 2 pad bytes, Link =
//     LinkEthernet. wlen counts the 4-byte FCS (ERF spec; in
//     trex_sfr2-0-ex.erf a 58-byte frame has wlen 64 = padded 60 + FCS, and
//     rlen - 18 - wlen is 0-7 bytes of record alignment). The FCS is
//     dropped: Data is cut to wlen-4 bytes and OrigLen = wlen-4, so
//     lengths match what libpcap would have captured from the same link.
//   - IPv4 (22) and IPv6 (23): the IP packet, Link = LinkIPv4 / LinkIPv6,
//     Data cut to wlen (dropping alignment padding), OrigLen = wlen.
//   - PAD (48) and META (27): skipped, counted in Stats.Skipped.
//   - anything else (HDLC/POS, ATM, AAL, MC_*, InfiniBand, ...): the whole
//     record, header included, with Link = LinkERF, which package decode
//     counts as unsupported.
//
// rlen is padded to 8 bytes. When a record was snapped short of wlen the
// padding cannot be told from data, so Data may end with up to 7 padding
// bytes (Wireshark does the same); decoders rely on IP lengths anyway.
//
// Iface is the 2-bit interface number from flags. Timestamps are converted
// to the nearest nanosecond, as Wireshark does.
type erfReader struct {
	*base
}

func newERFReader(b *base) *erfReader { return &erfReader{base: b} }

// erfIsEthernet reports whether an ERF record type carries Ethernet frames.
func erfIsEthernet(t byte) bool {
	switch t {
	case erfTypeETH, erfTypeColorETH, erfTypeDSMColorETH, erfTypeColorHashETH:
		return true
	}
	return false
}

// erfTsNs converts an ERF 32.32 fixed-point timestamp to nanoseconds,
// rounding to nearest. The result is below 2^32 * 1e9 + 1e9 < 2^63.
func erfTsNs(ts uint64) int64 {
	frac := ((ts&0xffffffff)*1e9 + 1<<31) >> 32
	return int64(ts>>32)*1e9 + int64(frac)
}

// Next implements Source.
func (r *erfReader) Next(p *Packet) error {
	if r.err != nil {
		return r.err
	}
	for {
		off := r.br.off
		hdr, err := r.br.peek(erfHeaderLen)
		if err != nil {
			if err == io.EOF {
				r.err = io.EOF
				return io.EOF
			}
			return r.fail(off, readErr("record header", err))
		}
		rlen := int(binary.BigEndian.Uint16(hdr[10:]))
		if rlen < erfHeaderLen {
			return r.fail(off, fmt.Errorf("record length %d shorter than the %d-byte header", rlen, erfHeaderLen))
		}
		rec, err := r.br.peek(rlen)
		if err != nil {
			return r.fail(off, readErr("record", err))
		}
		skip, err := r.record(rec, p)
		if err != nil {
			return r.fail(off, err)
		}
		r.br.consume(rlen)
		if skip {
			r.stats.Skipped++
			continue
		}
		r.account(p)
		return nil
	}
}

// record fills p from one whole ERF record, or reports that it is not a
// packet and should be skipped.
func (r *erfReader) record(rec []byte, p *Packet) (skip bool, err error) {
	typ := rec[8]
	hl := erfHeaderLen
	for more := typ&erfMoreExt != 0; more; {
		if hl+erfExtLen > len(rec) {
			return false, fmt.Errorf("extension headers overrun record length %d", len(rec))
		}
		more = rec[hl]&erfMoreExt != 0
		hl += erfExtLen
	}
	wlen := int(binary.BigEndian.Uint16(rec[14:]))
	t := typ & erfTypeMask
	*p = Packet{
		TsNs:  erfTsNs(binary.LittleEndian.Uint64(rec)),
		Iface: int(rec[9] & erfIfaceMask),
	}
	switch {
	case t == erfTypePad || t == erfTypeMeta:
		return true, nil
	case erfIsEthernet(t):
		if hl+erfEthPad > len(rec) {
			return false, fmt.Errorf("record length %d too short for the Ethernet pad", len(rec))
		}
		p.Link = LinkEthernet
		p.Data = rec[hl+erfEthPad:]
		if wlen >= erfFCSLen {
			p.OrigLen = wlen - erfFCSLen
			p.Data = p.Data[:min(len(p.Data), p.OrigLen)]
		}
	case t == erfTypeIPv4 || t == erfTypeIPv6:
		p.Link = LinkIPv4
		if t == erfTypeIPv6 {
			p.Link = LinkIPv6
		}
		p.Data = rec[hl:]
		p.OrigLen = wlen
		p.Data = p.Data[:min(len(p.Data), wlen)]
	default:
		p.Link = LinkERF
		p.Data = rec
		p.OrigLen = max(len(rec), hl+wlen)
	}
	p.Data = p.Data[:len(p.Data):len(p.Data)]
	return false, nil
}

// looksLikeERF applies the detection heuristic described in the package doc
// to the start of the stream, without consuming it.
func looksLikeERF(br *bufReader) bool {
	h, _ := br.peekUpTo(erfHeaderLen)
	rlen, ts, ok := plausibleERFHeader(h)
	if !ok {
		return false
	}
	two, _ := br.peekUpTo(rlen + erfHeaderLen)
	if len(two) < rlen+erfHeaderLen {
		return true // a single record (or a truncated second one)
	}
	_, ts2, ok := plausibleERFHeader(two[rlen:])
	if !ok {
		return false
	}
	// As Wireshark: records from different interfaces may be up to a second
	// out of order, and a jump of more than a week means we misparsed.
	const second, week = 1 << 32, 7 * 24 * 3600 << 32
	if ts2 < ts {
		return ts-ts2 <= second
	}
	return ts2-ts <= week
}

// plausibleERFHeader checks one ERF record header for the detection
// heuristic and returns its rlen and timestamp.
func plausibleERFHeader(h []byte) (rlen int, ts uint64, ok bool) {
	if len(h) < erfHeaderLen {
		return 0, 0, false
	}
	t := h[8] & erfTypeMask
	if (t == 0 || t > erfTypeLastPublic) && t != erfTypePad {
		return 0, 0, false
	}
	minLen := erfHeaderLen
	if h[8]&erfMoreExt != 0 {
		minLen += erfExtLen
	}
	if erfIsEthernet(t) {
		minLen += erfEthPad
	}
	rlen = int(binary.BigEndian.Uint16(h[10:]))
	wlen := binary.BigEndian.Uint16(h[14:])
	if rlen < minLen || (wlen == 0 && t != erfTypePad && t != erfTypeMeta) {
		return 0, 0, false
	}
	return rlen, binary.LittleEndian.Uint64(h), true
}
