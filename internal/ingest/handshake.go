package ingest

import (
	"github.com/abt-dev/abt/internal/decode"
)

const (
	flagsSynOnly = decode.FlagSYN
	flagsSynAck  = decode.FlagSYN | decode.FlagACK
)

// synKind classifies the SYN/ACK/RST/FIN bits that matter to the handshake.
func synKind(f uint8) uint8 {
	return f & (decode.FlagSYN | decode.FlagACK | decode.FlagRST | decode.FlagFIN)
}

// create makes a table entry for a segment of an unknown 4-tuple.
func (e *Engine) create(k key, srcIsA bool, s *decode.Segment) *conn {
	c := e.alloc(k)
	c.sum.FirstNs, c.sum.LastNs = s.TsNs, s.TsNs
	c.sum.RTTNs, c.sum.AckRTTNs = -1, -1
	c.sum.C2S.WScale, c.sum.S2C.WScale = -1, -1
	switch synKind(s.Flags) {
	case flagsSynOnly:
		c.clientIsA = srcIsA
		if !e.admit(c) {
			return nil
		}
		c.state = stSynSent
		c.lastDir = DirC2S
		c.sum.Handshake = HandshakeSYN
		e.newConnID(c)
		e.stats.Conns++
		e.touch(&e.embryonic, c)
		c.sum.SynNs = s.TsNs
		e.clientSYN(c, s)
		count(&c.sum.C2S, s)
		r := e.connRecord(c, KindSYN, s.TsNs, DirC2S)
		e.emit(&r)
		if s.PayloadLen > 0 { // TCP Fast Open: data on the SYN
			e.grow(c)
			e.data(c, DirC2S, s)
		}
		return c
	case flagsSynAck:
		c.clientIsA = !srcIsA
		if !e.admit(c) {
			return nil
		}
		c.state = stSynAck
		c.lastDir = DirS2C
		c.sum.Handshake = HandshakeSYNACK
		e.newConnID(c)
		e.stats.Conns++
		e.stats.ConnsSynAck++
		e.touch(&e.embryonic, c)
		e.serverSYNACK(c, s)
		count(&c.sum.S2C, s)
		// The SYN was missed: the SYN-ACK's ack field names the client's ISN.
		c.setISN(DirC2S, s.Ack-1)
		return c
	}
	// No handshake seen: skipped (or tracked as partial from its first data
	// segment). Roles are guessed: the side on a well-known (< 1024) or
	// registered port is the server; otherwise the receiver of this segment.
	c.sum.Partial = true
	if serverIsSrc(s.SrcPort, s.DstPort) {
		c.clientIsA = !srcIsA
	} else {
		c.clientIsA = srcIsA
	}
	c.state = stIgnored
	e.touch(&e.ignored, c)
	if e.opts.InboundOnly && e.connLabel(c) != LabelIn {
		c.sum.Partial = false // filtered: never tracked, even as partial
		e.stats.SkippedFilter++
		e.stats.SegsUntracked++
		return nil
	}
	if e.opts.TrackPartial && s.PayloadLen > 0 && s.Flags&(decode.FlagSYN|decode.FlagRST) == 0 {
		e.startPartial(c, srcIsA, s)
		return c
	}
	e.stats.SkippedNoSYN++
	e.stats.SegsUntracked++
	return nil
}

// serverIsSrc guesses, for a connection whose handshake was not seen,
// whether the segment's source is the server.
func serverIsSrc(sp, dp uint16) bool {
	switch {
	case sp < 1024 && dp >= 1024:
		return true
	case dp < 1024 && sp >= 1024:
		return false
	case sp < 49152 && dp >= 49152:
		return true
	}
	return false
}

// admit applies the locality label and the inbound-only filter to a new
// connection; a filtered one becomes an ignored entry.
func (e *Engine) admit(c *conn) bool {
	c.sum.Label = e.connLabel(c)
	if e.opts.InboundOnly && c.sum.Label != LabelIn {
		c.state = stIgnored
		e.touch(&e.ignored, c)
		e.stats.SkippedFilter++
		e.stats.SegsUntracked++
		return false
	}
	return true
}

// startPartial begins tracking a connection whose handshake was not seen,
// at its first data segment.
func (e *Engine) startPartial(c *conn, srcIsA bool, s *decode.Segment) {
	e.ignored.remove(c)
	c.state = stEstablished
	c.sum.Handshake = HandshakeNone
	e.newConnID(c)
	e.stats.Conns++
	e.stats.ConnsPartial++
	e.touch(&e.established, c)
	e.grow(c)
	d := c.dirOf(srcIsA)
	c.flow(d).seq.init(s.Seq)
	if s.Flags&decode.FlagACK != 0 {
		c.flow(d.Reverse()).seq.init(s.Ack)
	}
	c.sum.EstablishedNs = s.TsNs
	r := e.connRecord(c, KindPART, s.TsNs, d)
	e.emit(&r)
	e.segment(c, srcIsA, s)
}

// clientSYN records a (possibly repeated) SYN from the client.
func (e *Engine) clientSYN(c *conn, s *decode.Segment) {
	c.sum.SynAttempts++
	c.synNs = s.TsNs
	synFrom(c, DirC2S, s, c.sum.SynAttempts == 1)
}

// serverSYNACK records a (possibly repeated) SYN-ACK from the server.
func (e *Engine) serverSYNACK(c *conn, s *decode.Segment) {
	c.sum.SynAckAttempts++
	c.synAckNs = s.TsNs
	synFrom(c, DirS2C, s, c.sum.SynAckAttempts == 1)
}

// synFrom takes side d's ISN and SYN options from its SYN or SYN-ACK.
func synFrom(c *conn, d Dir, s *decode.Segment, first bool) {
	if first || c.isn[d-1] != s.Seq {
		// A new ISN restarts the attempt: data sent with the old one is void.
		c.setISN(d, s.Seq)
		if c.x != nil {
			c.flow(d).active = false
		}
	}
	st := c.dstats(d)
	if s.MSS != 0 {
		st.MSS = s.MSS
	}
	if s.WScale >= 0 {
		st.WScale = s.WScale
	}
}

// connRecord builds a connection-level record.
func (e *Engine) connRecord(c *conn, k Kind, ts int64, d Dir) Record {
	client, server := c.endpoints()
	return Record{Kind: k, TsNs: ts, ConnID: c.id, Client: client, Server: server, Dir: d, Label: c.sum.Label, ThinkNs: -1, AckRTTNs: -1}
}

// establish completes the handshake at segment s (SEQ record).
func (e *Engine) establish(c *conn, s *decode.Segment, d Dir, ackLeg bool) {
	e.grow(c)
	c.state = stEstablished
	e.touch(&e.established, c)
	c.sum.EstablishedNs = s.TsNs
	r := e.connRecord(c, KindSEQ, s.TsNs, d)
	if ackLeg && c.synAckNs != 0 {
		c.sum.AckRTTNs = s.TsNs - c.synAckNs
		r.AckRTTNs = c.sum.AckRTTNs
	}
	e.emit(&r)
}

// segment dispatches a segment of a tracked connection.
func (e *Engine) segment(c *conn, srcIsA bool, s *decode.Segment) {
	d := c.dirOf(srcIsA)
	count(c.dstats(d), s)
	if c.state == stReset {
		e.afterReset(c, d, s)
		return
	}
	if s.TsNs > c.sum.LastNs {
		c.sum.LastNs = s.TsNs
	}
	c.lastDir = d
	sk := synKind(s.Flags)

	switch c.state {
	case stSynSent:
		e.touch(&e.embryonic, c)
		if d == DirC2S {
			switch {
			case sk == flagsSynOnly:
				e.clientSYN(c, s)
				return
			case s.Flags&decode.FlagRST != 0:
				e.end(c, EndRST, s.TsNs, d)
				return
			case s.Flags&decode.FlagACK != 0 && s.Flags&decode.FlagSYN == 0:
				// The SYN-ACK was missed by the monitor; the client's ACK
				// names the server's ISN.
				c.setISN(DirS2C, s.Ack-1)
				e.establish(c, s, d, false)
			default:
				return
			}
		} else {
			switch {
			case sk == flagsSynAck:
				e.serverSYNACK(c, s)
				if s.Ack != c.isn[0]+1 && c.seqOf(DirC2S).next == 0 && (c.x == nil || !c.flow(DirC2S).active) {
					// Answers a SYN the monitor did not see: trust the server.
					c.setISN(DirC2S, s.Ack-1)
				}
				c.state = stSynAck
				c.sum.RTTNs = s.TsNs - c.synNs
				r := e.connRecord(c, KindRTT, s.TsNs, d)
				r.RTTNs = c.sum.RTTNs
				e.emit(&r)
				return
			case s.Flags&decode.FlagRST != 0:
				e.end(c, EndRST, s.TsNs, d)
				return
			case s.Flags&decode.FlagSYN == 0 && s.Flags&decode.FlagACK != 0 && s.PayloadLen > 0:
				// Server data although no SYN-ACK was seen: both the SYN-ACK
				// and the handshake ACK were missed.
				e.grow(c)
				c.flow(DirS2C).seq.init(s.Seq)
				e.establish(c, s, d, false)
			default:
				return
			}
		}
	case stSynAck:
		e.touch(&e.embryonic, c)
		if d == DirS2C {
			switch {
			case sk == flagsSynAck:
				e.serverSYNACK(c, s)
				return
			case s.Flags&decode.FlagRST != 0:
				e.end(c, EndRST, s.TsNs, d)
				return
			case s.Flags&decode.FlagSYN == 0 && (s.PayloadLen > 0 || s.Flags&decode.FlagFIN != 0):
				// The server is sending: it got the handshake ACK the
				// monitor missed.
				e.establish(c, s, d, false)
			default:
				return
			}
		} else {
			switch {
			case sk == flagsSynOnly && c.sum.SynAttempts == 0 && s.Seq == c.isn[0]:
				// The SYN was captured after its SYN-ACK (reordered): the
				// handshake was seen after all, but no RTT can be measured.
				c.sum.Handshake = HandshakeSYN
				c.sum.SynNs = s.TsNs
				e.clientSYN(c, s)
				r := e.connRecord(c, KindSYN, s.TsNs, d)
				e.emit(&r)
				return
			case sk == flagsSynOnly:
				e.clientSYN(c, s) // SYN-ACK lost beyond the monitor
				return
			case s.Flags&decode.FlagRST != 0:
				e.end(c, EndRST, s.TsNs, d)
				return
			case s.Flags&decode.FlagACK != 0 && s.Flags&decode.FlagSYN == 0:
				// The handshake ACK, possibly carrying data or a FIN. Its ack
				// field says which SYN-ACK ISN was real.
				if sf := c.seqOf(DirS2C); sf.off(s.Ack) != 0 && sf.next == 0 {
					c.setISN(DirS2C, s.Ack-1)
				}
				e.establish(c, s, d, true)
			default:
				return
			}
		}
	case stEstablished:
		e.touch(&e.established, c)
		if s.Flags&decode.FlagSYN != 0 {
			e.synOnOpen(c, d, s)
			return
		}
	default:
		return
	}
	e.open(c, d, s)
}

// synOnOpen handles a SYN or SYN-ACK on an established connection:
// retransmissions are absorbed; a client SYN with a new ISN means the
// 4-tuple was reused by a new connection.
func (e *Engine) synOnOpen(c *conn, d Dir, s *decode.Segment) {
	if synKind(s.Flags) != flagsSynOnly || d != DirC2S || s.Seq == c.isn[0] {
		if d == DirC2S {
			c.sum.SynAttempts++
		} else {
			c.sum.SynAckAttempts++
		}
		return
	}
	k := c.k
	srcIsA := c.clientIsA // d is DirC2S: the source is the client
	e.end(c, EndReused, s.TsNs, d)
	e.drop(c)
	e.create(k, srcIsA, s)
}

// count adds a segment to its direction's packet and byte counters.
func count(st *DirStats, s *decode.Segment) {
	st.Pkts++
	if s.PayloadLen > 0 {
		st.DataPkts++
		st.Bytes += uint64(s.PayloadLen)
	}
}
