package ingest

import (
	"github.com/abt-dev/abt/internal/decode"
)

// maxRSTGap is how far beyond the data seen a RST's sequence number may lie
// and still be taken to mean that the skipped bytes were sent (and missed by
// the monitor): three full-size segments, as the original tool allowed.
const maxRSTGap = 3 * 1460

// open handles a segment of an established connection: acknowledgement
// tracking, then RST, data, FIN in that order.
func (e *Engine) open(c *conn, d Dir, s *decode.Segment) {
	x, y := c.flow(d), c.flow(d.Reverse())
	if s.Flags&decode.FlagACK != 0 && y.seq.valid {
		if a := y.seq.off(s.Ack); !x.ackedValid || a > x.acked {
			x.acked, x.ackedValid = a, true
		}
	}
	if s.Flags&decode.FlagRST != 0 {
		e.rst(c, d, s)
		return
	}
	if x.closed {
		// Data or a FIN after this side's FIN: a retransmission.
		if s.PayloadLen > 0 {
			st := c.dstats(d)
			st.RexmtPkts++
			st.RexmtBytes += uint64(s.PayloadLen)
		}
		return
	}
	if s.PayloadLen > 0 {
		e.data(c, d, s)
	}
	if s.Flags&decode.FlagFIN != 0 {
		e.fin(c, d, s)
	}
}

// data applies the ADU boundary rules to a data-bearing segment from d.
func (e *Engine) data(c *conn, d Dir, s *decode.Segment) {
	x, y := c.flow(d), c.flow(d.Reverse())
	ts := s.TsNs
	seq := s.Seq
	if s.Flags&decode.FlagSYN != 0 {
		seq++ // data on a SYN (TCP Fast Open) follows the SYN's own number
	}
	if !x.seq.valid {
		x.seq.init(seq)
	}
	prev := x.seq.next
	r := x.seq.cover(x.seq.off(seq), s.PayloadLen)
	if r.anomaly {
		// Not plausibly this direction's byte stream: close what is open
		// and carry on from this segment rather than stall.
		e.stats.SeqAnomalies++
		if x.active {
			e.closeADU(c, d, prev, -1, ts, false, false)
		}
		x.seq.resync(seq)
		r = x.seq.cover(x.seq.off(seq), s.PayloadLen)
	}
	st := c.dstats(d)
	if r.gapBytes > 0 {
		e.charge(c) // the gap may be its first hole
	}
	st.MissedBytes += r.gapBytes
	st.MissedBytes -= min(st.MissedBytes, r.filled)
	if r.rexmtBytes > 0 {
		st.RexmtPkts++
		st.RexmtBytes += r.rexmtBytes
	}
	if r.newBytes == 0 {
		// A retransmission or a late filler: it moves no boundary, but it
		// shows the sender busy, so a retransmission timeout shorter than
		// the quiet time never splits an ADU.
		if x.active {
			x.lastDataNs = max(x.lastDataNs, ts)
		}
		return
	}
	switch {
	case x.active && ts-x.lastDataNs > e.quiet:
		// Quiet-time split, sequential or concurrent alike.
		e.closeADU(c, d, prev, ts-x.lastDataNs, ts, false, false)
		e.openADU(x, prev, ts)
	case x.active:
	case c.sum.Concurrent:
		e.openADU(x, prev, ts)
	default:
		e.openADU(x, prev, ts)
		switch {
		case y.active:
			if e.concurrencyTest(c, d, s) {
				e.becomeConcurrent(c, d, ts)
			} else {
				e.closeADU(c, d.Reverse(), y.seq.next, ts-y.lastDataNs, ts, false, true)
			}
		case y.closed:
			e.resolveThink(c, d.Reverse(), ts)
		}
	}
	// max: a segment older than the last one (input not time-ordered) must
	// not move the ADU's last data time backwards.
	x.lastDataNs = max(x.lastDataNs, ts)
}

// concurrencyTest reports whether a segment from d that starts a new ADU
// while the other side's ADU is open shows unacknowledged data in both
// directions at once: it does not acknowledge all the data the other side
// sent, and it carries data the other side has not acknowledged.
func (e *Engine) concurrencyTest(c *conn, d Dir, s *decode.Segment) bool {
	x, y := c.flow(d), c.flow(d.Reverse())
	if s.Flags&decode.FlagACK == 0 || !y.seq.valid {
		e.ambiguous(c)
		return false
	}
	ack := y.seq.off(s.Ack)
	if ack > int64(y.seq.next) {
		// It acknowledges bytes the monitor never saw: the evidence is
		// incomplete; keep the sequential reading.
		e.ambiguous(c)
		return false
	}
	unackedOther := ack < int64(y.seq.next)
	unackedThis := !y.ackedValid || int64(x.seq.next) > y.acked
	return unackedOther && unackedThis
}

func (e *Engine) ambiguous(c *conn) {
	e.stats.Ambiguous++
	c.sum.Ambiguous++
}

// openADU starts an ADU in flow x at offset start.
func (e *Engine) openADU(x *flow, start uint64, ts int64) {
	x.active = true
	x.aduStart = start
	x.aduFirstNs = ts
}

// aduHeld describes flow d's open ADU ending at offset end, decided at ts
// with think time think (-1: unknown).
func (e *Engine) aduHeld(c *conn, d Dir, end uint64, think, ts int64) heldADU {
	x := c.flow(d)
	if think < -1 {
		think = 0 // a segment older than the ADU's last one closed it
	}
	return heldADU{tsNs: ts, firstNs: x.aduFirstNs, lastNs: max(x.lastDataNs, x.aduFirstNs), thinkNs: think,
		startOff: x.aduStart, endOff: end, dir: d, concurrent: c.sum.Concurrent}
}

// aduRecord builds the ADU record p describes.
func (e *Engine) aduRecord(c *conn, p *heldADU) Record {
	r := e.connRecord(c, KindADU, p.tsNs, p.dir)
	r.Size = p.size()
	r.Concurrent = p.concurrent
	r.ThinkNs = p.thinkNs
	r.ThinkToPeer = p.thinkToPeer
	r.FirstNs = p.firstNs
	r.LastNs = p.lastNs
	return r
}

// closeADU ends flow d's open ADU at offset end and holds its record; peer
// says the think time ends at the other side's data.
func (e *Engine) closeADU(c *conn, d Dir, end uint64, think, ts int64, needThink, peer bool) {
	p := e.aduHeld(c, d, end, think, ts)
	p.needThink = needThink
	p.thinkToPeer = peer && p.thinkNs >= 0
	c.flow(d).active = false
	e.holdADU(c, &p)
}

// becomeConcurrent marks c concurrent at a segment from d and re-reads the
// held pieces with the concurrent rules.
func (e *Engine) becomeConcurrent(c *conn, d Dir, ts int64) {
	c.sum.Concurrent = true
	c.sum.ConcurrentNs = ts
	r := e.connRecord(c, KindCONC, ts, d)
	e.emit(&r)
	e.refold(c)
}

// resolveThink gives the ADU that d's FIN closed its think time, now that
// the other side answered at ts.
func (e *Engine) resolveThink(c *conn, d Dir, ts int64) {
	pending := c.x.pending
	for i := len(pending) - 1; i >= 0; i-- {
		p := &pending[i]
		if p.dir == d && p.needThink {
			p.thinkNs = max(ts-p.lastNs, 0)
			p.thinkToPeer = true
			p.needThink = false
			return
		}
	}
}

// fin handles a FIN from d (after any data it carried).
func (e *Engine) fin(c *conn, d Dir, s *decode.Segment) {
	x, y := c.flow(d), c.flow(d.Reverse())
	st := c.dstats(d)
	st.FIN = true
	if x.seq.valid {
		finOff := x.seq.off(s.Seq) + int64(s.PayloadLen)
		prev := x.seq.next
		if gap := x.seq.advanceTo(finOff); gap > 0 {
			// Bytes before the FIN that the monitor never saw.
			st.MissedBytes += gap
			if !x.active {
				e.openADU(x, prev, s.TsNs)
				x.lastDataNs = s.TsNs
			}
			e.charge(c) // the gap may be its first hole
		}
	}
	x.closed = true
	if c.state == stReset {
		return
	}
	if x.active {
		// The sender can say no more: this ADU is complete. In a sequential
		// connection its think time is the wait for the other side's reply,
		// which may still come.
		e.closeADU(c, d, x.seq.next, -1, s.TsNs, !c.sum.Concurrent && !y.closed, false)
	}
	if y.closed {
		e.end(c, EndFIN, s.TsNs, d)
	}
}

// rst handles a RST from d: the connection ends.
func (e *Engine) rst(c *conn, d Dir, s *decode.Segment) {
	x := c.flow(d)
	if x.seq.valid {
		delta := x.seq.off(s.Seq) - int64(x.seq.next)
		if delta < -maxJump || delta > maxJump {
			e.stats.RSTIgnored++
			return
		}
		if s.PayloadLen > 0 && !x.closed {
			e.data(c, d, s)
			delta = 0
		}
		if delta > 1 && delta <= maxRSTGap && x.active {
			c.dstats(d).MissedBytes += x.seq.advanceTo(x.seq.off(s.Seq))
			e.charge(c) // the gap may be its first hole
		}
	}
	c.dstats(d).RST = true
	x.closed = true
	if e.hold == 0 {
		e.end(c, EndRST, s.TsNs, d)
		return
	}
	// The peer may have data in flight that it sent before the RST reached
	// it; the monitor still sees it, and its application did send it. Keep
	// counting the peer's data for the hold time, then END.
	c.state = stReset
	c.x.rstNs, c.x.rstDir = s.TsNs, d
	e.touch(&e.resetting, c)
	e.trackHeld(c)
}

// afterReset handles a segment of a connection in its grace period after a
// RST: only the peer's data and FIN still count.
func (e *Engine) afterReset(c *conn, d Dir, s *decode.Segment) {
	x := c.flow(d)
	if x.closed || (s.PayloadLen == 0 && s.Flags&decode.FlagFIN == 0) || s.Flags&(decode.FlagRST|decode.FlagSYN) != 0 {
		e.stats.SegsAfterEnd++
		return
	}
	c.sum.LastNs = max(c.sum.LastNs, s.TsNs)
	if s.PayloadLen > 0 {
		e.data(c, d, s)
	}
	if s.Flags&decode.FlagFIN != 0 {
		c.dstats(d).FIN = true
		x.closed = true
		if x.active {
			e.closeADU(c, d, x.seq.next, -1, s.TsNs, false, false)
		}
	}
}

// end closes c at time ts: held records are released, open ADUs are
// reported without think time, and an END record follows. The entry stays
// in the table as a closed key for closedLinger; its body is released.
func (e *Engine) end(c *conn, reason EndReason, ts int64, d Dir) {
	if ts < c.sum.LastNs {
		ts = c.sum.LastNs
	}
	if c.x != nil {
		e.releasePending(c, len(c.x.pending))
		first, second := DirC2S, DirS2C
		if c.flow(DirS2C).lastDataNs < c.flow(DirC2S).lastDataNs {
			first, second = second, first
		}
		for _, dd := range [2]Dir{first, second} {
			if f := c.flow(dd); f.active {
				p := e.aduHeld(c, dd, f.seq.next, -1, ts)
				r := e.aduRecord(c, &p)
				f.active = false
				e.releaseRecord(c, &r)
			}
		}
	}
	c.sum.End = reason
	c.sum.EndNs = ts
	sum := new(ConnSummary)
	*sum = c.sum
	if c.x != nil {
		sum.C2S.UniqueBytes = c.flow(DirC2S).seq.next
		sum.S2C.UniqueBytes = c.flow(DirS2C).seq.next
	}
	if d == DirNone {
		d = c.lastDir
	}
	r := e.connRecord(c, KindEND, ts, d)
	r.Conn = sum
	r.Reason = reason
	e.emit(&r)
	c.state = stClosed
	e.dropBody(c)
	c.sum.LastNs = ts // the closed key lingers from the END on
	e.touch(&e.closed, c)
}
