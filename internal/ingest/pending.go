package ingest

import "slices"

// An ADU record is decided as soon as a boundary is seen, but it is held for
// up to Options.Hold before release, because later segments can show the
// decision was wrong: a connection found concurrent re-joins the pieces the
// sequential rule cut (refold), and an ADU closed by its sender's FIN learns
// its think time when the other side replies (resolveThink).

// holdADU queues p on c, releasing at once when holding is disabled or the
// connection holds too many records.
func (e *Engine) holdADU(c *conn, p *heldADU) {
	if e.hold == 0 {
		r := e.aduRecord(c, p)
		e.releaseRecord(c, &r)
		return
	}
	x := c.x
	if x.pending == nil {
		x.pending = make([]heldADU, 0, minPendingCap)
	}
	x.pending = append(x.pending, *p)
	if len(x.pending) == 1 {
		e.trackHeld(c)
	}
	if len(x.pending) > e.opts.MaxPending {
		e.releasePending(c, len(x.pending)-e.opts.MaxPending)
		e.trackHeld(c)
	}
	e.charge(c)
}

// trackHeld registers c's oldest held record with the engine's held heap.
func (e *Engine) trackHeld(c *conn) {
	x := c.x
	x.heapGen++
	switch {
	case c.state == stReset && len(x.pending) > 0:
		e.held.push(heldEntry{ts: min(x.pending[0].tsNs, x.rstNs), c: c, gen: x.heapGen, id: c.id})
	case c.state == stReset:
		e.held.push(heldEntry{ts: x.rstNs, c: c, gen: x.heapGen, id: c.id})
	case len(x.pending) > 0:
		e.held.push(heldEntry{ts: x.pending[0].tsNs, c: c, gen: x.heapGen, id: c.id})
	}
}

// releasePending releases c's n oldest held records.
func (e *Engine) releasePending(c *conn, n int) {
	if n <= 0 {
		return
	}
	x := c.x
	for i := 0; i < n; i++ {
		p := &x.pending[i]
		if p.needThink {
			e.stats.HeldExpired++
		}
		r := e.aduRecord(c, p)
		e.releaseRecord(c, &r)
	}
	m := copy(x.pending, x.pending[n:])
	clear(x.pending[m:])
	x.pending = x.pending[:m]
	if k := cap(x.pending); k > minPendingCap && m <= k/4 {
		// A burst of held records is over: give its room back.
		var kept []heldADU
		if m > 0 {
			kept = append(make([]heldADU, 0, max(minPendingCap, 2*m)), x.pending...)
		}
		x.pending = kept
	}
	x.heapGen++
	e.charge(c)
}

// releaseRecord numbers an ADU or INC record and queues it for output.
func (e *Engine) releaseRecord(c *conn, r *Record) {
	x := c.x
	if r.TsNs < x.lastRelNs {
		// Keep a connection's ADUs in ordinal order through the time-ordered
		// output even when the input is not time-ordered.
		r.TsNs = x.lastRelNs
		e.stats.RecordsRestamped++
	}
	x.lastRelNs = r.TsNs
	r.Ordinal = x.ordinal
	x.ordinal++
	switch {
	case r.Dir == DirC2S && x.lastADU != DirC2S:
		c.sum.Exchanges++
	case r.Dir == DirS2C && x.lastADU == DirNone:
		c.sum.Exchanges++ // the server spoke first: an epoch with an empty request
	}
	x.lastADU = r.Dir
	c.dstats(r.Dir).ADUs++
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
		if c.state == stReset && e.now-c.x.rstNs > e.hold {
			// The grace after the RST is over: in-flight data has arrived.
			e.end(c, EndRST, c.sum.LastNs, c.x.rstDir)
			continue
		}
		n := 0
		for n < len(c.x.pending) && e.now-c.x.pending[n].tsNs > e.hold {
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
		var cur heldADU
		have := false
		for i := range c.x.pending {
			p := c.x.pending[i]
			if p.dir != d {
				continue
			}
			switch {
			case !have:
				cur, have = p, true
			case p.firstNs-cur.lastNs <= e.quiet:
				e.stats.MergedPieces++
				cur.endOff = p.endOff
				cur.lastNs = p.lastNs
				cur.tsNs = p.tsNs
				cur.needThink = p.needThink
			default:
				out = append(out, e.concPiece(cur, p.firstNs))
				cur = p
			}
		}
		if !have {
			continue
		}
		x := c.flow(d)
		switch {
		case x.active && x.aduFirstNs-cur.lastNs <= e.quiet:
			e.stats.MergedPieces++
			x.aduStart = cur.startOff
			x.aduFirstNs = cur.firstNs
		case x.active:
			out = append(out, e.concPiece(cur, x.aduFirstNs))
		case !x.closed && cur.endOff == x.seq.next:
			// Nothing sent since: under the concurrent rules this ADU is
			// still open, waiting for a quiet gap.
			x.active = true
			x.aduStart = cur.startOff
			x.aduFirstNs = cur.firstNs
		default:
			cur.concurrent = true
			cur.thinkToPeer = false
			cur.thinkNs = -1
			cur.needThink = false
			out = append(out, cur)
		}
	}
	slices.SortStableFunc(out, func(a, b heldADU) int { return cmpInt64(a.tsNs, b.tsNs) })
	c.x.pending = append(c.x.pending[:0], out...)
	e.scratch = out[:0]
	if cap(e.scratch) > maxScratch {
		e.scratch = nil // a rare large refold: give its room back
	}
	e.trackHeld(c)
	e.charge(c)
}

// concPiece finalises a held piece as a concurrent ADU whose direction
// resumed at next.
func (e *Engine) concPiece(p heldADU, next int64) heldADU {
	p.concurrent = true
	p.thinkToPeer = false
	p.thinkNs = next - p.lastNs
	p.tsNs = next
	p.needThink = false
	return p
}
