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

// queueRing is the Reader's queue: a ring of queued records, oldest first,
// so that neither taking from its front nor adding at its back moves the
// others (a slice moved down as it is taken from cost a third of a log's
// reading when many records waited).
type queueRing struct {
	buf  []queued // len a power of two, or 0
	head int      // index of the front in buf
	n    int      // records queued
}

// at returns the i-th record from the front.
func (q *queueRing) at(i int) *queued { return &q.buf[(q.head+i)&(len(q.buf)-1)] }

// pushBack adds x at the back and returns it.
func (q *queueRing) pushBack(x queued) *queued {
	if q.n == len(q.buf) { // full: the front is at head, the back before it
		buf := make([]queued, max(16, 2*len(q.buf)))
		k := copy(buf, q.buf[q.head:])
		copy(buf[k:], q.buf[:q.head])
		q.buf, q.head = buf, 0
	}
	p := q.at(q.n)
	*p = x
	q.n++
	return p
}

// popFront drops the front; when the ring empties after a long wait, its
// room larger than maxIdleQueue records is given back.
func (q *queueRing) popFront() {
	*q.at(0) = queued{} // drop the Conn pointers
	q.head = (q.head + 1) & (len(q.buf) - 1)
	q.n--
	if q.n == 0 {
		q.head = 0
		if len(q.buf) > maxIdleQueue {
			q.buf = nil
		}
	}
}

// push queues a decided record.
func (r *Reader) push(rec ingest.Record) {
	r.qbytes += queuedCost(r.queue.pushBack(queued{rec: rec}))
}

// pushWaiting queues c's ADU rec, whose ThinkToPeer awaits c's next line.
func (r *Reader) pushWaiting(rec ingest.Record, c *readConn) {
	c.waiting = true
	c.waitPos = r.qbase + int64(r.queue.n)
	r.qbytes += queuedCost(r.queue.pushBack(queued{rec: rec, conn: c}))
}

// queuedAt returns the record at position pos (Reader.qbase counts).
func (r *Reader) queuedAt(pos int64) *queued { return r.queue.at(int(pos - r.qbase)) }

// waitingFront returns the connection whose ADU, at the queue's front,
// waits for its next line; nil when the front is decided or there is none.
func (r *Reader) waitingFront() *readConn {
	if r.queue.n == 0 {
		return nil
	}
	return r.queue.at(0).conn
}

// ready reports whether the queue's head can be returned.
func (r *Reader) ready() bool {
	return r.queue.n > 0 && r.queue.at(0).conn == nil
}

// overBudget reports whether the queue holds more than its budget.
func (r *Reader) overBudget() bool {
	return r.budget >= 0 && r.qbytes > r.budget
}

// pop moves the queue's head to *rec.
func (r *Reader) pop(rec *ingest.Record) {
	q := r.queue.at(0)
	*rec = q.rec
	r.qbytes -= queuedCost(q)
	r.queue.popFront()
	r.qbase++
}

// maxIdleQueue is the most records' room the queue keeps once it is empty.
const maxIdleQueue = 1 << 16

// decide gives c's waiting ADU its ThinkToPeer.
func (r *Reader) decide(c *readConn, peer bool) {
	q := r.queuedAt(c.waitPos)
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
	return r.queuedAt(c.waitPos).rec.Dir
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
