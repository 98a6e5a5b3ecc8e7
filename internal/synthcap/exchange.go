package synthcap

import (
	"bytes"
	"net/netip"
	"time"
)

// Exchange is one TCP connection from client to server starting at t0
// (ns), a segment a millisecond: the handshake (client ISN 999, server
// 4999), a request of req bytes, a response of resp bytes, and then, when
// closed, both FINs and the last ACK, or else the client's ACK of the
// response (the connection stays open).
func Exchange(t0 int64, client, server netip.AddrPort, req, resp uint16, closed bool) []Segment {
	ms := int64(time.Millisecond)
	c, s := uint32(1000), uint32(5000) // next sequence numbers after the SYNs
	out := []Segment{
		{Ns: t0, Src: client, Dst: server, Seq: c - 1, Flags: FlagSYN},
		{Ns: t0 + ms, Src: server, Dst: client, Seq: s - 1, Ack: c, Flags: FlagSYN | FlagACK},
		{Ns: t0 + 2*ms, Src: client, Dst: server, Seq: c, Ack: s, Flags: FlagACK},
		{Ns: t0 + 3*ms, Src: client, Dst: server, Seq: c, Ack: s, Flags: FlagPSH | FlagACK, Payload: req},
		{Ns: t0 + 4*ms, Src: server, Dst: client, Seq: s, Ack: c + uint32(req), Flags: FlagPSH | FlagACK, Payload: resp},
	}
	c, s = c+uint32(req), s+uint32(resp)
	if !closed {
		return append(out, Segment{Ns: t0 + 5*ms, Src: client, Dst: server, Seq: c, Ack: s, Flags: FlagACK})
	}
	return append(out,
		Segment{Ns: t0 + 5*ms, Src: client, Dst: server, Seq: c, Ack: s, Flags: FlagFIN | FlagACK},
		Segment{Ns: t0 + 6*ms, Src: server, Dst: client, Seq: s, Ack: c + 1, Flags: FlagFIN | FlagACK},
		Segment{Ns: t0 + 7*ms, Src: client, Dst: server, Seq: c + 1, Ack: s + 1, Flags: FlagACK})
}

// Capture returns segs as a header-only pcap (HeaderWriter), in the order
// given.
func Capture(segs []Segment) ([]byte, error) {
	var buf bytes.Buffer
	hw, err := NewHeaderWriter(&buf, 0)
	if err != nil {
		return nil, err
	}
	for i := range segs {
		if err := hw.Write(&segs[i]); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}
