package capture

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Classic pcap magic numbers, as read in the file's own byte order.
const (
	magicPcapUs   = 0xa1b2c3d4 // microsecond timestamps
	magicPcapNs   = 0xa1b23c4d // nanosecond timestamps
	magicPcapKuzn = 0xa1b2cd34 // Alexey Kuznetzov's patched libpcap: 24-byte record headers
)

const (
	pcapFileHeaderLen = 24
	pcapRecHeaderLen  = 16
	kuznRecHeaderLen  = 24
)

// pcapMagic reports whether h starts with a classic pcap magic number and if
// so the byte order, whether timestamps are nanoseconds, and the record
// header length.
func pcapMagic(h []byte) (bigEndian, nano bool, recHdr int, ok bool) {
	for _, be := range []bool{true, false} {
		m := binary.LittleEndian.Uint32(h)
		if be {
			m = binary.BigEndian.Uint32(h)
		}
		switch m {
		case magicPcapUs:
			return be, false, pcapRecHeaderLen, true
		case magicPcapNs:
			return be, true, pcapRecHeaderLen, true
		case magicPcapKuzn:
			return be, false, kuznRecHeaderLen, true
		}
	}
	return false, false, 0, false
}

// pcapReader reads classic libpcap files.
type pcapReader struct {
	*base
	bigEndian bool
	nano      bool
	recHdr    int
	snaplen   uint32 // from the file header; 0 means unset
	maxCap    uint32 // largest captured length accepted
	link      LinkType
}

func newPcapReader(b *base) (*pcapReader, error) {
	h, err := b.br.peek(pcapFileHeaderLen)
	if err != nil {
		return nil, b.failHeader(0, readErr("pcap file header", err))
	}
	be, nano, recHdr, ok := pcapMagic(h)
	if !ok {
		return nil, b.failHeader(0, fmt.Errorf("bad pcap magic % x", h[:4]))
	}
	r := &pcapReader{base: b, bigEndian: be, nano: nano, recHdr: recHdr}
	r.snaplen = r.u32(h[16:])
	// The upper bits of the link type field carry FCS information; the link
	// type proper is the low 16 bits.
	r.link = normalizeLink(LinkType(r.u32(h[20:]) & 0xffff))
	// caplen may exceed snaplen (see the package doc), but a snaplen above
	// libpcap's maximum is taken as the writer's promise of big records.
	r.maxCap = max(MaxPcapRecord, min(r.snaplen, MaxBlockLen))
	r.br.consume(pcapFileHeaderLen)
	return r, nil
}

func (r *pcapReader) u32(b []byte) uint32 {
	if r.bigEndian {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

// Next implements Source.
func (r *pcapReader) Next(p *Packet) error {
	if r.err != nil {
		return r.err
	}
	off := r.br.off
	hdr, err := r.br.peek(r.recHdr)
	if err != nil {
		if err == io.EOF {
			r.err = io.EOF
			return io.EOF
		}
		return r.fail(off, readErr("record header", err))
	}
	sec, frac := r.u32(hdr), r.u32(hdr[4:])
	caplen, origlen := r.u32(hdr[8:]), r.u32(hdr[12:])
	if caplen > r.maxCap {
		return r.fail(off, fmt.Errorf("%w: captured length %d exceeds %d", ErrAbsurdLength, caplen, r.maxCap))
	}
	n := r.recHdr + int(caplen)
	rec, err := r.br.peek(n)
	if err != nil {
		return r.fail(off, readErr("packet data", err))
	}
	if r.snaplen != 0 && caplen > r.snaplen {
		r.stats.SnapLenExceeded++
	}
	r.br.consume(n)
	// Both fields are unsigned 32-bit, so the sum stays below 2^63: no
	// overflow. Fractions beyond one second are kept, as libpcap does.
	ts := int64(sec) * 1e9
	if r.nano {
		ts += int64(frac)
	} else {
		ts += int64(frac) * 1e3
	}
	*p = Packet{Data: rec[r.recHdr:n:n], TsNs: ts, OrigLen: int(origlen), Link: r.link}
	r.account(p)
	return nil
}

// normalizeLink maps the platform-specific DLT_RAW values that old writers
// put in files (12 on most BSDs and Linux, 14 on OpenBSD) to LinkRaw, as
// libpcap and Wireshark do. pcapplusplus_four_ipv6_http_streams.pcap has 12.
func normalizeLink(l LinkType) LinkType {
	switch l {
	case 12, 14:
		return LinkRaw
	}
	return l
}
