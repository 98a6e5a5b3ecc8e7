package ingest

import "slices"

// An ADU record is decided as soon as a boundary is seen, but it is held for
// up to Options.Hold before release, because later segments can show the
// decision was wrong: a connection found concurrent re-joins the pieces the
// sequential rule cut (refold), and an ADU closed by its sender's FIN learns
// its think time when the other side replies (resolveThink).

// holdADU queues p on c, releasing at once when holding is disabled or the
// connection holds too many records.
func (e *Engine) holdADU(c *conn, p *pendingADU) {
	if e.hold == 0 {
		e.releaseRecord(c, &p.rec)
		return
	}
	c.pending = append(c.pending, *p)
	if len(c.pending) == 1 {
		e.trackHeld(c)
	}
	if len(c.pending) > e.opts.MaxPending {
		e.releasePending(c, len(c.pending)-e.opts.MaxPending)
		e.trackHeld(c)
	}
}

// trackHeld registers c's oldest held record with the engine's held heap.
func (e *Engine) trackHeld(c *conn) {
	c.heapGen++
	switch {
	case c.state == stReset && len(c.pending) > 0:
		e.held.push(heldEntry{ts: min(c.pending[0].rec.TsNs, c.rstNs), c: c, gen: c.heapGen, id: c.id})
	case c.state == stReset:
		e.held.push(heldEntry{ts: c.rstNs, c: c, gen: c.heapGen, id: c.id})
	case len(c.pending) > 0:
		e.held.push(heldEntry{ts: c.pending[0].rec.TsNs, c: c, gen: c.heapGen, id: c.id})
	}
}

// releasePending releases c's n oldest held records.
func (e *Engine) releasePending(c *conn, n int) {
	if n <= 0 {
		return
	}
	for i := 0; i < n; i++ {
		p := &c.pending[i]
		if p.needThink {
			e.stats.HeldExpired++
		}
		e.releaseRecord(c, &p.rec)
	}
	m := copy(c.pending, c.pending[n:])
	clear(c.pending[m:])
	c.pending = c.pending[:m]
	c.heapGen++
}

// releaseRecord numbers an ADU or INC record and queues it for output.
func (e *Engine) releaseRecord(c *conn, r *Record) {
	if r.TsNs < c.lastRelNs {
		// Keep a connection's ADUs in ordinal order through the time-ordered
		// output even when the input is not time-ordered.
		r.TsNs = c.lastRelNs
		e.stats.RecordsRestamped++
	}
	c.lastRelNs = r.TsNs
	r.Ordinal = c.ordinal
	c.ordinal++
	switch {
	case r.Dir == DirC2S && c.lastADU != DirC2S:
		c.sum.Exchanges++
	case r.Dir == DirS2C && c.lastADU == DirNone:
		c.sum.Exchanges++ // the server spoke first: an epoch with an empty request
	}
	c.lastADU = r.Dir
	c.flow(r.Dir).stats.ADUs++
	e.emit(r)
}

// releaseHeld releases every held record older than the hold time.
func (e *Engine) releaseHeld() {
	for e.held.len() > 0 {
		top := *e.held.top()
		if !top.valid() {
			e.held.pop()
			continue
		}
		if e.now-top.ts <= e.hold {
			return
		}
		e.held.pop()
		c := top.c
		if c.state == stReset && e.now-c.rstNs > e.hold {
			// The grace after the RST is over: in-flight data has arrived.
			e.end(c, EndRST, c.sum.LastNs, c.rstDir)
			continue
		}
		n := 0
		for n < len(c.pending) && e.now-c.pending[n].rec.TsNs > e.hold {
			n++
		}
		e.releasePending(c, max(n, 1))
		e.trackHeld(c)
	}
}

// refold re-reads c's held ADU pieces with the concurrent rules once the
// connection is known to be concurrent: consecutive pieces in one direction
// separated by no more than the quiet time are one ADU; a think time is the
// same-direction idle gap; a direction's last piece re-joins (or becomes
// again) that direction's open ADU.
func (e *Engine) refold(c *conn) {
	e.stats.Refolds++
	out := e.scratch[:0]
	for _, d := range [2]Dir{DirC2S, DirS2C} {
		var cur pendingADU
		have := false
		for i := range c.pending {
			p := c.pending[i]
			if p.rec.Dir != d {
				continue
			}
			switch {
			case !have:
				cur, have = p, true
			case p.rec.FirstNs-cur.rec.LastNs <= e.quiet:
				e.stats.MergedPieces++
				cur.endOff = p.endOff
				cur.rec.Size = cur.endOff - cur.startOff
				cur.rec.LastNs = p.rec.LastNs
				cur.rec.TsNs = p.rec.TsNs
				cur.needThink = p.needThink
			default:
				out = append(out, e.concPiece(cur, p.rec.FirstNs))
				cur = p
			}
		}
		if !have {
			continue
		}
		x := c.flow(d)
		switch {
		case x.active && x.aduFirstNs-cur.rec.LastNs <= e.quiet:
			e.stats.MergedPieces++
			x.aduStart = cur.startOff
			x.aduFirstNs = cur.rec.FirstNs
		case x.active:
			out = append(out, e.concPiece(cur, x.aduFirstNs))
		case !x.closed && cur.endOff == x.seq.next:
			// Nothing sent since: under the concurrent rules this ADU is
			// still open, waiting for a quiet gap.
			x.active = true
			x.aduStart = cur.startOff
			x.aduFirstNs = cur.rec.FirstNs
		default:
			cur.rec.Concurrent = true
			cur.rec.ThinkToPeer = false
			cur.rec.ThinkNs = -1
			cur.needThink = false
			out = append(out, cur)
		}
	}
	slices.SortStableFunc(out, func(a, b pendingADU) int { return cmpInt64(a.rec.TsNs, b.rec.TsNs) })
	c.pending = append(c.pending[:0], out...)
	e.scratch = out[:0]
	e.trackHeld(c)
}

// concPiece finalises a held piece as a concurrent ADU whose direction
// resumed at next.
func (e *Engine) concPiece(p pendingADU, next int64) pendingADU {
	p.rec.Concurrent = true
	p.rec.ThinkToPeer = false
	p.rec.ThinkNs = next - p.rec.LastNs
	p.rec.TsNs = next
	p.needThink = false
	return p
}
