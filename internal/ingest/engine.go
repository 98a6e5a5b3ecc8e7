package ingest

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"time"

	"github.com/abt-dev/abt/internal/decode"
)

// closedLinger is how long an ended connection's key is remembered, so that
// its late packets (the final ACK, retransmitted FINs, RSTs answering them)
// are recognised and counted instead of looking like new partial
// connections. 60 s is twice Linux's TIME_WAIT MSL.
const closedLinger = int64(60 * time.Second)

// Sink receives the engine's records in time order. The *Record is only
// valid during the call (its Conn summary, on END records, may be kept).
// An error stops the engine: Process and Finish return it.
type Sink interface {
	Record(r *Record) error
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(r *Record) error

// Record calls f(r).
func (f SinkFunc) Record(r *Record) error { return f(r) }

// Engine infers a-b-t records from a time-ordered stream of TCP segments in
// one pass with bounded state. It is not safe for concurrent use; shard by
// connection (flow hash of the 4-tuple) to use several cores.
type Engine struct {
	opts Options
	sink Sink

	quiet, hold, idle, hsTimeout int64 // ns

	table map[key]*conn
	// Lists ordered by last activity, one per kind of entry, so that idle
	// sweeps look only at list heads and eviction sheds the cheapest first.
	ignored, embryonic, established, resetting, closed connList

	// Recycled entries and bodies, at most maxFree of each.
	freeConns  []*conn
	freeBodies []*connBody

	mem memAccount // the engine's account of its memory (memory.go)

	nextID uint64
	now    int64 // latest packet time seen
	first  int64 // first packet time
	seen   bool

	ready   readyHeap
	held    minHeap[heldEntry] // connections holding records, by oldest held time (stale entries skipped)
	out     Record
	scratch []heldADU

	// la is the look-ahead segment: each segment is processed when the
	// next one arrives, so that an isolated timestamp far off the stream's
	// clock (a capture-tool glitch) can be recognised and clamped instead
	// of expiring every connection.
	la     decode.Segment
	haveLA bool

	lastOut int64 // time of the last record written

	stats Stats
	err   error
}

// maxClockJump is how far a single segment's timestamp may stray from the
// clock, in either direction, before it is checked against its neighbour.
const maxClockJump = int64(time.Hour)

// New returns an engine that sends its records to sink.
func New(opts Options, sink Sink) (*Engine, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("ingest options: %w", err)
	}
	nets := make([]netip.Prefix, len(opts.LocalNets))
	for i, p := range opts.LocalNets {
		nets[i] = p.Masked()
	}
	opts.LocalNets = nets
	return &Engine{
		opts:      opts,
		sink:      sink,
		quiet:     int64(opts.QuietTime),
		hold:      int64(opts.Hold),
		idle:      int64(opts.IdleTimeout),
		hsTimeout: int64(opts.HandshakeTimeout),
		table:     make(map[key]*conn, min(opts.MaxConns, initialSlots)),
		held:      minHeap[heldEntry]{less: heldLess},
		lastOut:   math.MinInt64,
		mem:       newMemAccount(opts, min(opts.MaxConns, initialSlots)),
	}, nil
}

// Stats returns a copy of the counters.
func (e *Engine) Stats() Stats {
	s := e.stats
	return s
}

// Conns returns the number of entries in the connection table.
func (e *Engine) Conns() int { return len(e.table) }

// Now returns the engine's clock: the latest packet time seen (ns), and
// false before the first packet. Records decided later may still be dated
// up to Options.Hold earlier.
func (e *Engine) Now() (int64, bool) { return e.now, e.seen }

// First returns the time of the first packet processed (ns), and false
// before it.
func (e *Engine) First() (int64, bool) { return e.first, e.seen }

// Process consumes one segment. Segments must come in capture order; a
// segment older than one already seen is processed at its own time but
// cannot move the engine's clock back.
func (e *Engine) Process(s *decode.Segment) error {
	if e.err != nil {
		return e.err
	}
	if !e.haveLA {
		e.la, e.haveLA = *s, true
		return nil
	}
	cur := e.la
	e.la = *s
	return e.step(&cur, s.TsNs)
}

// step processes one segment; nextTs is the time of the segment after it.
func (e *Engine) step(s *decode.Segment, nextTs int64) error {
	e.stats.Segments++
	if s.TsNs == math.MaxInt64 || s.TsNs == math.MinInt64 {
		// The reader's mark for a timestamp it could not represent.
		e.stats.TimeOutliers++
		switch {
		case e.seen:
			s.TsNs = e.now
		case nextTs != math.MaxInt64 && nextTs != math.MinInt64:
			s.TsNs = nextTs
		default:
			s.TsNs = 0
		}
	}
	if e.seen {
		jumpsAhead := s.TsNs-e.now > maxClockJump && s.TsNs-nextTs > maxClockJump
		jumpsBack := e.now-s.TsNs > maxClockJump && nextTs-s.TsNs > maxClockJump
		if jumpsAhead || jumpsBack {
			e.stats.TimeOutliers++
			s.TsNs = e.now
		}
	}
	if !e.seen {
		e.first = s.TsNs
	}
	if !e.seen || s.TsNs > e.now {
		e.now = s.TsNs
		e.seen = true
	} else if s.TsNs < e.now {
		e.stats.TimeBackwards++
	}
	e.expire()

	k, srcIsA := makeKey(s.Src, s.Dst, s.SrcPort, s.DstPort)
	c := e.table[k]
	switch {
	case c == nil:
		e.create(k, srcIsA, s)
	case c.state == stClosed:
		if s.Flags&(decode.FlagSYN|decode.FlagACK|decode.FlagRST) == decode.FlagSYN && !c.sameSYN(srcIsA, s) {
			e.drop(c)
			e.create(k, srcIsA, s)
		} else {
			e.stats.SegsAfterEnd++
		}
	case c.state == stIgnored:
		if e.opts.TrackPartial && c.sum.Partial && s.PayloadLen > 0 && s.Flags&(decode.FlagSYN|decode.FlagRST) == 0 {
			e.startPartial(c, srcIsA, s)
		} else {
			e.stats.SegsUntracked++
			e.ignored.touch(c)
		}
	default:
		e.segment(c, srcIsA, s)
	}
	e.releaseHeld()
	e.drain(false)
	e.enforce()
	return e.err
}

// Finish ends the input: open ADUs become INC records, open connections get
// END records with reason eof, and every held record is released. The
// engine must not be used afterwards.
func (e *Engine) Finish() error {
	if e.err != nil {
		return e.err
	}
	if e.haveLA {
		e.haveLA = false
		if err := e.step(&e.la, e.la.TsNs); err != nil {
			return err
		}
	}
	// Connections in their grace period after a RST end as reset.
	for c := e.resetting.head; c != nil; c = e.resetting.head {
		e.end(c, EndRST, c.sum.LastNs, c.x.rstDir)
	}
	var open []*conn
	for _, l := range []*connList{&e.embryonic, &e.established} {
		for c := l.head; c != nil; c = c.next {
			open = append(open, c)
		}
	}
	// Held records first: they are older than anything decided now.
	e.releaseAll(open)
	type inc struct {
		c *conn
		d Dir
	}
	var incs []inc
	for _, c := range open {
		for _, d := range []Dir{DirC2S, DirS2C} {
			if c.x != nil && c.flow(d).active {
				incs = append(incs, inc{c, d})
			}
		}
	}
	slices.SortFunc(incs, func(a, b inc) int {
		la, lb := a.c.flow(a.d).lastDataNs, b.c.flow(b.d).lastDataNs
		switch {
		case la != lb:
			return cmpInt64(la, lb)
		case a.c.id != b.c.id:
			return cmpInt64(int64(a.c.id), int64(b.c.id))
		}
		return int(a.d) - int(b.d)
	})
	for _, x := range incs {
		f := x.c.flow(x.d)
		p := e.aduHeld(x.c, x.d, f.seq.next, -1, e.now)
		r := e.aduRecord(x.c, &p)
		r.Kind = KindINC
		f.active = false
		e.releaseRecord(x.c, &r)
		e.drain(true) // nothing is held any more: each record goes out at once
	}
	slices.SortFunc(open, func(a, b *conn) int {
		if a.sum.LastNs != b.sum.LastNs {
			return cmpInt64(a.sum.LastNs, b.sum.LastNs)
		}
		return cmpInt64(int64(a.id), int64(b.id))
	})
	for _, c := range open {
		e.end(c, EndEOF, e.now, DirNone)
		e.drain(true)
	}
	e.drain(true)
	e.release()
	return e.err
}

// release lets go of the engine's state once the input is finished, so
// that what runs after it (an archive publishing its last files) does not
// hold the connection table too. Stats keep their values.
func (e *Engine) release() {
	e.table = nil
	e.ignored, e.embryonic, e.established, e.resetting, e.closed = connList{}, connList{}, connList{}, connList{}, connList{}
	e.freeConns, e.freeBodies, e.scratch = nil, nil, nil
	e.held.items = nil
	e.ready = readyHeap{}
	e.mem = newMemAccount(e.opts, 0)
}

// finEntry is a connection of Finish's open list (by index) with held
// records, keyed by the time its next one will have when released.
type finEntry struct {
	ts int64
	i  int
}

func finLess(a, b *finEntry) bool { return a.ts < b.ts || (a.ts == b.ts && a.i < b.i) }

// releaseAll releases every held record of the connections in open, in the
// order that releasing them all at once would give them in the output (by
// time, then by the connection's place in open, then by their order), but
// one at a time, writing each as soon as no other can precede it: the
// records never wait in the reorder stage all together.
func (e *Engine) releaseAll(open []*conn) {
	h := minHeap[finEntry]{less: finLess}
	next := func(c *conn) int64 { return max(c.x.pending[0].tsNs, c.x.lastRelNs) } // as releaseRecord stamps it
	for i, c := range open {
		if c.x != nil && len(c.x.pending) > 0 {
			h.push(finEntry{ts: next(c), i: i})
		}
	}
	for h.len() > 0 {
		top := *h.top()
		h.pop()
		c := open[top.i]
		e.releasePending(c, 1)
		if len(c.x.pending) > 0 {
			h.push(finEntry{ts: next(c), i: top.i})
		}
		w := int64(math.MaxInt64)
		if h.len() > 0 {
			w = h.top().ts
		}
		e.drainTo(w)
	}
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// expire ends connections whose timeouts passed at the current time.
func (e *Engine) expire() {
	now := e.now
	for c := e.closed.head; c != nil && now-c.sum.LastNs > closedLinger; c = e.closed.head {
		e.drop(c)
	}
	for c := e.ignored.head; c != nil && now-c.sum.LastNs > e.idle; c = e.ignored.head {
		e.drop(c)
	}
	for c := e.embryonic.head; c != nil && now-c.sum.LastNs > e.hsTimeout; c = e.embryonic.head {
		e.end(c, EndIdle, c.sum.LastNs+e.hsTimeout, DirNone)
	}
	for c := e.resetting.head; c != nil && now-c.sum.LastNs > e.idle; c = e.resetting.head {
		e.end(c, EndRST, c.sum.LastNs, c.x.rstDir) // normally ended by releaseHeld long before
	}
	for c := e.established.head; c != nil && now-c.sum.LastNs > e.idle; c = e.established.head {
		e.end(c, EndIdle, c.sum.LastNs+e.idle, DirNone)
	}
}

// alloc returns a zeroed conn for key k, shedding entries first if the
// table is full (Options.MaxConns) or the new entry would not fit the
// memory budget.
func (e *Engine) alloc(k key) *conn {
	if len(e.table) >= e.opts.MaxConns {
		e.shed(false)
	}
	e.makeRoom(e.mem.newEntryBytes(len(e.table)))
	var c *conn
	if n := len(e.freeConns); n > 0 {
		c = e.freeConns[n-1]
		e.freeConns = e.freeConns[:n-1]
		e.mem.free -= costConn
	} else {
		c = new(conn)
	}
	c.k = k
	e.table[k] = c
	e.mem.grew(len(e.table))
	if n := len(e.table); n > e.stats.PeakConns {
		e.stats.PeakConns = n
	}
	e.charge(c)
	return c
}

// shed frees one table entry, cheapest first: (for the memory budget only)
// the entries kept for reuse, a lingering closed key, an untracked entry,
// the longest-idle half-open connection, then (for the memory budget only)
// the records held longest, then a connection in its grace after a RST, and
// only then the longest-idle established one. It reports whether it freed
// anything.
func (e *Engine) shed(forMemory bool) bool {
	switch {
	case forMemory && e.dropRecycled():
	case e.closed.head != nil:
		e.stats.EvictedClosed++
		e.drop(e.closed.head)
	case e.ignored.head != nil:
		e.stats.EvictedSkipped++
		e.drop(e.ignored.head)
	case e.embryonic.head != nil:
		e.stats.Evicted++
		e.stats.EvictedHalfOpen++
		e.end(e.embryonic.head, EndEvicted, e.now, DirNone)
		e.dropIfClosed()
	case forMemory && e.releaseOldestHeld():
	case e.resetting.head != nil:
		c := e.resetting.head
		e.end(c, EndRST, c.sum.LastNs, c.x.rstDir)
		e.dropIfClosed()
	case e.established.head != nil:
		e.stats.Evicted++
		e.end(e.established.head, EndEvicted, e.now, DirNone)
		e.dropIfClosed()
	default:
		return false
	}
	return true
}

// dropIfClosed removes the entry end() just parked on the closed list, so
// eviction really frees memory.
func (e *Engine) dropIfClosed() {
	if e.closed.tail != nil {
		e.drop(e.closed.tail)
	}
}

// drop removes c from the table and recycles it.
func (e *Engine) drop(c *conn) {
	if c.list != nil {
		c.list.remove(c)
	}
	delete(e.table, c.k)
	e.dropBody(c)
	e.mem.entries -= int64(c.cost)
	*c = conn{} // also invalidates held-heap entries (id 0)
	if len(e.freeConns) < maxFree && !e.mem.shedding {
		e.freeConns = append(e.freeConns, c)
		e.mem.free += costConn
	}
}

// grow gives c its body (flow state) if it has none, each direction placed
// at its ISN when that is known.
func (e *Engine) grow(c *conn) {
	if c.x != nil {
		return
	}
	if n := len(e.freeBodies); n > 0 {
		c.x = e.freeBodies[n-1]
		e.freeBodies = e.freeBodies[:n-1]
		e.mem.free -= costBody + int64(cap(c.x.pending))*costHeld
	} else {
		c.x = new(connBody)
	}
	c.x.lastRelNs = math.MinInt64
	for d := DirC2S; d <= DirS2C; d++ {
		if c.isnSet&(1<<(d-1)) != 0 {
			c.flow(d).seq.init(c.isn[d-1] + 1)
		}
	}
	e.charge(c)
}

// dropBody releases c's body (at its END: a closed key needs none).
func (e *Engine) dropBody(c *conn) {
	x := c.x
	if x == nil {
		return
	}
	e.mem.held -= int64(x.heldCost)
	c.x = nil
	e.charge(c)
	pending := x.pending[:0]
	if cap(pending) > minPendingCap {
		pending = nil
	}
	*x = connBody{pending: pending}
	if len(e.freeBodies) < maxFree && !e.mem.shedding {
		e.freeBodies = append(e.freeBodies, x)
		e.mem.free += costBody + int64(cap(pending))*costHeld
	}
}

// newConnID assigns the next connection id.
func (e *Engine) newConnID(c *conn) {
	e.nextID++
	c.id = e.nextID
}

// label computes the locality label of a client→server connection.
func (e *Engine) label(client, server netip.Addr) Label {
	if len(e.opts.LocalNets) == 0 {
		return LabelUnknown
	}
	ci, si := e.isLocal(client), e.isLocal(server)
	switch {
	case ci && si:
		return LabelLocal
	case si:
		return LabelIn
	case ci:
		return LabelOut
	}
	return LabelExternal
}

// connLabel computes c's locality label.
func (e *Engine) connLabel(c *conn) Label {
	client, server := c.endpoints()
	return e.label(client.Addr(), server.Addr())
}

func (e *Engine) isLocal(a netip.Addr) bool {
	for _, p := range e.opts.LocalNets {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// emit queues a record for time-ordered release.
func (e *Engine) emit(r *Record) {
	e.ready.push(r, e.stats.Segments)
}

// drain passes released records to the sink: all of them when final,
// otherwise those no held record can precede.
func (e *Engine) drain(final bool) {
	w := e.now
	if final {
		w = math.MaxInt64
	}
	for !final && e.held.len() > 0 {
		top := e.held.top()
		if !top.valid() {
			e.held.pop()
			continue
		}
		w = min(w, top.ts)
		break
	}
	e.drainTo(w)
}

// drainTo passes the released records up to time w to the sink.
func (e *Engine) drainTo(w int64) {
	for e.ready.len() > 0 && e.err == nil {
		if e.ready.topTs() > w {
			break
		}
		e.ready.pop(&e.out)
		if e.out.TsNs < e.lastOut {
			// Decided at a segment older than a record already written (the
			// input is not time-ordered): keep the output in time order.
			e.out.TsNs = e.lastOut
			e.stats.RecordsRestamped++
		}
		e.lastOut = e.out.TsNs
		e.stats.Records[e.out.Kind]++
		if err := e.sink.Record(&e.out); err != nil {
			e.err = fmt.Errorf("write record: %w", err)
		}
	}
}
