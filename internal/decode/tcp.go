package decode

import "encoding/binary"

// TCP option kinds.
const (
	optEnd    = 0
	optNOP    = 1
	optMSS    = 2
	optWScale = 3
)

// tcpMinCaptured is how much of the TCP header decode needs: ports,
// sequence, acknowledgement, data offset, flags and window. The checksum
// and urgent pointer that follow are never read, so a capture cut right
// after the window still yields a segment.
const tcpMinCaptured = 16

// maxWScale is the largest window scale shift RFC 7323 section 2.3 allows;
// larger values are treated as 14.
const maxWScale = 14

// tcp decodes the TCP header at the start of b. ipPayload is the IP payload
// length (from the IP header, not from len(b)), which gives PayloadLen.
func tcp(b []byte, ipPayload int, s *Segment, notes *uint8) Result {
	if len(b) < tcpMinCaptured {
		return TCPTruncated
	}
	doff := int(b[12]>>4) * 4
	if doff < 20 || doff > ipPayload {
		return BadTCPOffset
	}
	s.SrcPort = be16(b[0:])
	s.DstPort = be16(b[2:])
	s.Seq = be32(b[4:])
	s.Ack = be32(b[8:])
	s.Flags = b[13]
	s.Window = be16(b[14:])
	s.PayloadLen = uint32(ipPayload - doff)
	if s.Flags&FlagSYN != 0 && doff > 20 {
		end := min(doff, len(b))
		if end < doff {
			*notes |= noteSYNOptionsCut
		}
		if end > 20 {
			synOptions(b[20:end], s)
		}
	}
	return OK
}

// synOptions reads MSS and window scale from the option bytes o. It stops
// at end-of-options, at a malformed length and at an option cut short (by
// the snap length), keeping what it found before.
func synOptions(o []byte, s *Segment) {
	for len(o) > 0 {
		kind := o[0]
		if kind == optEnd {
			return
		}
		if kind == optNOP {
			o = o[1:]
			continue
		}
		if len(o) < 2 {
			return
		}
		n := int(o[1])
		if n < 2 || n > len(o) {
			return
		}
		switch {
		case kind == optMSS && n == 4:
			s.MSS = be16(o[2:])
		case kind == optWScale && n == 3:
			s.WScale = int8(min(o[2], maxWScale))
		}
		o = o[n:]
	}
}

// be32 reads a big-endian uint32 from the start of b.
func be32(b []byte) uint32 { return binary.BigEndian.Uint32(b) }
