package synthcap

import (
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// FrameLen is the captured length of a header-only frame: Ethernet, IPv4
// without options, TCP without options.
const FrameLen = 14 + 20 + 20

// TCP flags of a Segment.
const (
	FlagFIN = 0x01
	FlagSYN = 0x02
	FlagRST = 0x04
	FlagPSH = 0x08
	FlagACK = 0x10
)

// Segment is one TCP segment of a synthetic header-only IPv4 capture.
type Segment struct {
	Ns       int64 // time, ns since the epoch
	Src, Dst netip.AddrPort
	Seq, Ack uint32
	Flags    uint8
	Payload  uint16 // bytes on the wire after the TCP header, not captured
}

// HeaderWriter writes Segments as a microsecond pcap of Ethernet frames cut
// after the TCP header (the IP length carrying the payload), the IPv4
// header checksum right and the TCP checksum zero (the decoder checks
// neither).
type HeaderWriter struct {
	pw    *pcapgo.Writer
	frame [FrameLen]byte
}

// NewHeaderWriter writes the pcap file header, with snapLen (at least
// FrameLen), to w.
func NewHeaderWriter(w io.Writer, snapLen uint32) (*HeaderWriter, error) {
	h := &HeaderWriter{pw: pcapgo.NewWriter(w)}
	if err := h.pw.WriteFileHeader(max(snapLen, FrameLen), layers.LinkTypeEthernet); err != nil {
		return nil, fmt.Errorf("write pcap header: %w", err)
	}
	return h, nil
}

// Write writes one segment.
func (h *HeaderWriter) Write(s *Segment) error {
	s.encode(&h.frame)
	ci := gopacket.CaptureInfo{Timestamp: time.Unix(0, s.Ns), CaptureLength: FrameLen, Length: FrameLen + int(s.Payload)}
	return h.pw.WritePacket(ci, h.frame[:])
}

// encode writes the segment's Ethernet, IPv4 and TCP headers.
func (s *Segment) encode(b *[FrameLen]byte) {
	*b = [FrameLen]byte{}
	copy(b[0:6], []byte{2, 0, 0, 0, 0, 2})
	copy(b[6:12], []byte{2, 0, 0, 0, 0, 1})
	binary.BigEndian.PutUint16(b[12:], 0x0800)
	ip := b[14:34]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], 40+s.Payload)
	ip[8], ip[9] = 64, 6
	s4, d4 := s.Src.Addr().As4(), s.Dst.Addr().As4()
	copy(ip[12:16], s4[:])
	copy(ip[16:20], d4[:])
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(ip[i:]))
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
	tcp := b[34:]
	binary.BigEndian.PutUint16(tcp[0:], s.Src.Port())
	binary.BigEndian.PutUint16(tcp[2:], s.Dst.Port())
	binary.BigEndian.PutUint32(tcp[4:], s.Seq)
	binary.BigEndian.PutUint32(tcp[8:], s.Ack)
	tcp[12] = 5 << 4
	tcp[13] = s.Flags
	binary.BigEndian.PutUint16(tcp[14:], 65535)
}
