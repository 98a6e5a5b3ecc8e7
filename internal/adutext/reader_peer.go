package adutext

// The Reader's output queue, and the decision it waits for: whether a
// sequential ADU's think time ended at the other side's data
// (ingest.Record.ThinkToPeer; after a request, the server's response time)
// or at a quiet-time split of its own side. adudump text does not print
// it; the connection's next ADU, INC or CONC line shows it (see Reader).
//
// A record whose decision waits stays in the queue, and so does every
// record read after it, so that records come out in line order (the order
// an ingest.Sink expects). A waiting ADU is decided when its connection's
// next line comes: usually soon, since the line that printed the think time
// was written when the next ADU began, and the next line comes when that
// one ends. The queue's memory is bounded (ReaderOptions.QueueBudget); past
// it the oldest waiting ADU is released with the likelier reading (ended by
// the other side) and counted.
//
// Rejected: returning the records behind a waiting ADU at once and the ADU
// later. The output would leave line (time) order, which the archive
// tolerates but the text and JSON Lines writers would print as it comes.

import (
	"unsafe"

	"github.com/abt-dev/abt/internal/ingest"
)

// queued is a record in the Reader's queue.
type queued struct {
	rec ingest.Record
	// conn is set while rec is an ADU whose ThinkToPeer awaits conn's next
	// line.
	conn *readConn
}

// queuedCost is what a queued record holds in memory: the slot, and an END
// record's summary.
func queuedCost(q *queued) int64 {
	n := int64(unsafe.Sizeof(queued{}))
	if q.rec.Conn != nil {
		n += int64(unsafe.Sizeof(ingest.ConnSummary{}))
	}
	return n
}

// push queues a decided record.
func (r *Reader) push(rec ingest.Record) {
	r.queue = append(r.queue, queued{rec: rec})
	r.qbytes += queuedCost(&r.queue[len(r.queue)-1])
}

// pushWaiting queues c's ADU rec, whose ThinkToPeer awaits c's next line.
func (r *Reader) pushWaiting(rec ingest.Record, c *readConn) {
	c.waiting = true
	c.waitPos = r.qbase + int64(len(r.queue))
	r.queue = append(r.queue, queued{rec: rec, conn: c})
	r.qbytes += queuedCost(&r.queue[len(r.queue)-1])
}

// ready reports whether the queue's head can be returned.
func (r *Reader) ready() bool {
	return r.qhead < len(r.queue) && r.queue[r.qhead].conn == nil
}

// overBudget reports whether the queue holds more than its budget.
func (r *Reader) overBudget() bool {
	return r.budget >= 0 && r.qbytes > r.budget
}

// pop moves the queue's head to *rec.
func (r *Reader) pop(rec *ingest.Record) {
	q := &r.queue[r.qhead]
	*rec = q.rec
	r.qbytes -= queuedCost(q)
	*q = queued{} // drop the Conn pointer
	r.qhead++
	switch {
	case r.qhead == len(r.queue):
		r.qbase += int64(r.qhead)
		r.queue, r.qhead = r.queue[:0], 0
		if cap(r.queue) > maxIdleQueue {
			// A long wait is over: give its room back.
			r.queue = nil
		}
	case r.qhead >= minCompact && 2*r.qhead >= len(r.queue):
		n := copy(r.queue, r.queue[r.qhead:])
		clear(r.queue[n:])
		r.queue = r.queue[:n]
		r.qbase += int64(r.qhead)
		r.qhead = 0
	}
}

// The queue moves its records down once this many have been returned
// from its front (and they are at least half of it), and drops a backing
// array larger than maxIdleQueue records when it empties.
const (
	minCompact   = 4096
	maxIdleQueue = 1 << 16
)

// decide gives c's waiting ADU its ThinkToPeer.
func (r *Reader) decide(c *readConn, peer bool) {
	q := &r.queue[c.waitPos-r.qbase]
	q.rec.ThinkToPeer = peer
	q.conn = nil
	c.waiting = false
}

// guess decides c's waiting ADU without evidence: ended by the other side,
// by far the commoner reading (a reply, or the next request after the
// client's think time), and the one the Reader gave every such ADU before
// it could tell.
func (r *Reader) guess(c *readConn) {
	r.stats.PeerGuessed++
	r.decide(c, true)
}

// waitDir is the direction of c's waiting ADU.
func (r *Reader) waitDir(c *readConn) ingest.Dir {
	return r.queue[c.waitPos-r.qbase].rec.Dir
}

// decideByADU decides c's waiting ADU, if any, at c's next ADU or INC line,
// in direction d: the think time ended at the other side's data when the
// next ADU is the other side's; a quiet-time split is followed by the same
// side's next ADU.
func (r *Reader) decideByADU(c *readConn, d ingest.Dir) {
	if c.waiting {
		r.decide(c, d != r.waitDir(c))
	}
}

// decideByCONC decides c's waiting ADU, if any, at a CONC line whose
// segment came from d (ingest.DirNone: an undirected CNC line). Concurrency
// is found when a side starts an ADU while the other side's is open. If
// the waiting ADU's think time ended at the other side's data, that side's
// ADU began there and is still open (its line would have come first), so
// the side that starts one is the waiting ADU's. If it was a quiet-time
// split, the waiting ADU's side went on with a new ADU, and it is the other
// side that starts one.
func (r *Reader) decideByCONC(c *readConn, d ingest.Dir) {
	switch {
	case !c.waiting:
	case d == ingest.DirNone:
		r.guess(c)
	default:
		r.decide(c, d == r.waitDir(c))
	}
}
