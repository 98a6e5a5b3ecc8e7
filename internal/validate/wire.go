package validate

import (
	"errors"
	"fmt"
	"io"
	"net/netip"

	"github.com/abt-dev/abt/internal/capture"
	"github.com/abt-dev/abt/internal/decode"
)

// Wire is what the capture shows of the connections of a ground truth, by
// client address and port, read from the packets' headers independently of
// the engine.
type Wire struct {
	// Overlap: the two sides had data in flight at the monitor at once
	// (see ReadWire).
	Overlap map[netip.AddrPort]bool
	// Data are each connection's data segments per direction (0: client
	// to server), in capture order: what a boundary's wire gap is read
	// from (Seen).
	Data map[netip.AddrPort]*[2][]WireSeg
}

// WireSeg is a data segment: its bytes [Off, End) of its direction's
// stream and when the monitor saw it.
type WireSeg struct {
	Off, End int64
	Ns       int64
}

// Seen returns when byte off of the client's (c2s) or server's stream
// first and last passed the monitor (a retransmission passes again), and
// whether it did.
func (w *Wire) Seen(client netip.AddrPort, c2s bool, off int64) (first, last int64, ok bool) {
	d := w.Data[client]
	if d == nil {
		return 0, 0, false
	}
	i := 1
	if c2s {
		i = 0
	}
	for _, s := range d[i] {
		if off >= s.Off && off < s.End {
			if !ok {
				first, ok = s.Ns, true
			}
			last = max(last, s.Ns)
		}
	}
	return first, last, ok
}

// ReadWire reads the capture and says, for each connection of truth (by
// client address and port), whether its two sides had data in flight at
// the monitor at once: a data segment of one side was captured while the
// other side's data, captured before it, was not yet acknowledged by the
// segment's own ACK field (the sender had not received it when it sent).
// That is the concurrency a monitor can know (issue 15); a concurrent
// dialog whose sends never overlap on the wire looks sequential to any
// monitor. It reads headers only and keeps, per connection and direction,
// the end of the data sent and the highest acknowledgement, in sequence
// space relative to the first sequence number seen (wrap-safe over a
// connection's 2 GiB).
func ReadWire(truth map[netip.AddrPort]*TruthConn, paths ...string) (*Wire, error) {
	type side struct {
		base    uint32 // first sequence number seen from this side
		known   bool
		sentEnd int64 // end of the data sent, relative to base
		acked   int64 // highest ACK this side sent, in the other side's space
		ackSeen bool
	}
	type conn struct{ s [2]side }
	conns := map[netip.AddrPort]*conn{}
	byServer := map[[2]netip.AddrPort]netip.AddrPort{} // (client, server) -> client key
	for k, t := range truth {
		byServer[[2]netip.AddrPort{k, t.Server}] = k
	}
	out := map[netip.AddrPort]bool{}
	data := map[netip.AddrPort]*[2][]WireSeg{}
	var dec decode.Decoder
	var pkt capture.Packet
	var seg decode.Segment
	for _, p := range paths {
		src, err := capture.Open(p)
		if err != nil {
			return nil, fmt.Errorf("read wire: %w", err)
		}
		for {
			err := src.Next(&pkt)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				src.Close()
				return nil, fmt.Errorf("read wire: %w", err)
			}
			if dec.Decode(&pkt, &seg) != decode.OK {
				continue
			}
			a := netip.AddrPortFrom(seg.Src.Unmap(), seg.SrcPort)
			b := netip.AddrPortFrom(seg.Dst.Unmap(), seg.DstPort)
			d := 0 // 0: client to server
			key, ok := byServer[[2]netip.AddrPort{a, b}]
			if !ok {
				if key, ok = byServer[[2]netip.AddrPort{b, a}]; !ok {
					continue
				}
				d = 1
			}
			c := conns[key]
			if c == nil {
				c = &conn{}
				conns[key] = c
			}
			me, other := &c.s[d], &c.s[1-d]
			if !me.known {
				me.base, me.known = seg.Seq, true
				if seg.Flags&decode.FlagSYN != 0 {
					me.base++ // the SYN's sequence number carries no data
				}
			}
			if seg.Flags&decode.FlagACK != 0 && other.known {
				ack := int64(int32(seg.Ack - other.base))
				if !me.ackSeen || ack > me.acked {
					me.acked, me.ackSeen = ack, true
				}
			}
			if seg.PayloadLen == 0 {
				continue
			}
			start := int64(int32(seg.Seq - me.base))
			if seg.Flags&decode.FlagSYN != 0 {
				start++
			}
			me.sentEnd = max(me.sentEnd, start+int64(seg.PayloadLen))
			segs := data[key]
			if segs == nil {
				segs = &[2][]WireSeg{}
				data[key] = segs
			}
			segs[d] = append(segs[d], WireSeg{Off: start, End: start + int64(seg.PayloadLen), Ns: seg.TsNs})
			if other.sentEnd > 0 && (!me.ackSeen || me.acked < other.sentEnd) {
				out[key] = true
			}
		}
		if err := src.Close(); err != nil {
			return nil, fmt.Errorf("read wire: %w", err)
		}
	}
	return &Wire{Overlap: out, Data: data}, nil
}
