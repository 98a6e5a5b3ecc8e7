package ingest

import (
	"cmp"
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
// one pass with bounded state. It is not safe for concurrent use; Sharded
// runs several, one per core, with the same output.
type Engine struct {
	opts Options
	out  output // where released records go (not used by a worker of Sharded)

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
	steps  uint64 // steps taken: segments, and ticks (segTick)
	now    int64  // latest packet time seen
	first  int64  // first packet time
	seen   bool

	ready   readyHeap
	held    minHeap[heldEntry] // connections holding records, by oldest held time (stale entries skipped)
	rec     Record             // the record being written
	scratch []heldADU

	// la is the look-ahead segment: each segment is processed when the
	// next one arrives, so that an isolated timestamp far off the stream's
	// clock (a capture-tool glitch) can be recognised and clamped instead
	// of expiring every connection.
	la     decode.Segment
	haveLA bool
	laKind segKind

	shard *shardState // set on a worker of Sharded
	due   int64       // a worker's nextDue

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
	return newEngine(opts, sink, newMemAccount(opts, min(opts.MaxConns, initialSlots))), nil
}

// newEngine returns an engine with the memory account mem, whose slots
// are the connection table's initial room. opts are valid.
func newEngine(opts Options, sink Sink, mem memAccount) *Engine {
	nets := make([]netip.Prefix, len(opts.LocalNets))
	for i, p := range opts.LocalNets {
		nets[i] = p.Masked()
	}
	opts.LocalNets = nets
	return &Engine{
		opts:      opts,
		out:       newOutput(sink),
		quiet:     int64(opts.QuietTime),
		hold:      int64(opts.Hold),
		idle:      int64(opts.IdleTimeout),
		hsTimeout: int64(opts.HandshakeTimeout),
		table:     make(map[key]*conn, mem.slots),
		held:      minHeap[heldEntry]{less: heldLess},
		mem:       mem,
	}
}

// Stats returns a copy of the counters.
func (e *Engine) Stats() Stats {
	s := e.stats
	s.Records = e.out.records
	s.RecordsRestamped += e.out.restamped
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
func (e *Engine) Process(s *decode.Segment) error { return e.process(s, segOwn) }

// segKind is what a step of the engine processes.
type segKind uint8

const (
	segOwn   segKind = iota // a segment of the engine's connections
	segOther                // another worker's segment (Sharded): its time only
	segTick                 // no segment: the time a live source had none at (capture.ErrIdle)
)

// process consumes one segment of kind k (of which a segOther or segTick
// has only its time). The engine's clock, the time-jump checks and the
// timeouts run at every kind, so that a worker of Sharded keeps the clock
// of one engine, and an idle link's connections time out on the wall
// clock.
func (e *Engine) process(s *decode.Segment, k segKind) error {
	if e.err != nil {
		return e.err
	}
	if k == segTick && !e.seen && (!e.haveLA || e.laKind == segTick) {
		return nil // no clock before the first packet
	}
	if !e.haveLA {
		e.la, e.laKind, e.haveLA = *s, k, true
		return nil
	}
	cur, curKind := e.la, e.laKind
	if k == segOwn {
		e.la = *s
	} else {
		e.la.TsNs = s.TsNs // the other fields are not read
	}
	e.laKind = k
	return e.step(&cur, curKind, s.TsNs)
}

// step processes one segment of kind k; nextTs is the time of the segment
// after it. For other kinds than segOwn only the time is used: the clock
// moves and connections time out as at any segment.
func (e *Engine) step(s *decode.Segment, k segKind, nextTs int64) error {
	e.steps++
	tick := k == segTick
	if !tick {
		e.stats.Segments++
	}
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
			if !tick {
				e.stats.TimeOutliers++
			}
			s.TsNs = e.now
		}
	}
	if !e.seen {
		e.first = s.TsNs
	}
	if !e.seen || s.TsNs > e.now {
		e.now = s.TsNs
		e.seen = true
	} else if s.TsNs < e.now && !tick {
		e.stats.TimeBackwards++
	}
	if e.shard != nil && k != segOwn && e.now <= e.due {
		// Another worker's segment, and nothing times out or is released
		// at this time: only the watermark can have moved. (What follows
		// would do the same, reading every list's head to find nothing to
		// do.)
		if w := e.watermark(); e.ready.len() == 0 || e.ready.top().ts > w {
			e.shard.steps = append(e.shard.steps, w)
			return e.err
		}
	}
	e.expire()
	if k == segOwn {
		e.dispatch(s)
	}
	e.releaseHeld()
	e.drain(false)
	e.enforce()
	if e.shard != nil {
		e.shard.steps = append(e.shard.steps, e.watermark())
		e.due = e.nextDue()
	}
	return e.err
}

// nextDue is the latest time the clock can reach with nothing timing out
// (expire) and no held record or RST grace due (releaseHeld): until a
// segment changes the lists or the held records.
func (e *Engine) nextDue() int64 {
	due := int64(math.MaxInt64)
	for _, l := range [...]struct {
		c       *conn
		timeout int64
	}{{e.closed.head, closedLinger}, {e.ignored.head, e.idle}, {e.embryonic.head, e.hsTimeout},
		{e.resetting.head, e.idle}, {e.established.head, e.idle}} {
		if l.c != nil {
			due = min(due, addSat(l.c.activeNs, l.timeout))
		}
	}
	for e.held.len() > 0 {
		top := e.held.top()
		if !top.valid() {
			e.held.pop()
			continue
		}
		due = min(due, addSat(top.ts, e.hold)) // for a RST's grace too: ts is at most the RST's
		break
	}
	return due
}

// addSat returns a+b (b >= 0), or math.MaxInt64 when that overflows.
func addSat(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// dispatch processes segment s of the connection it belongs to.
func (e *Engine) dispatch(s *decode.Segment) {
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
			e.stats.SkippedNoSYN-- // counted when the entry was made; tracked after all
			e.startPartial(c, srcIsA, s)
		} else {
			e.stats.SegsUntracked++
			e.touch(&e.ignored, c)
		}
	default:
		e.segment(c, srcIsA, s)
	}
}

// Finish ends the input: open ADUs become INC records, open connections get
// END records with reason eof, and every held record is released. The
// engine must not be used afterwards.
//
// The records it writes come in three runs, each in an order that depends
// on each connection alone (so that Sharded, merging its workers' runs,
// writes them in the same order): every held record and every record
// waiting in the reorder stage, by their place in it (time, step,
// connection, order); then the INC records, by the time of the ADU's last
// data, connection and direction; then the END records, by the
// connection's last packet and id.
func (e *Engine) Finish() error {
	if e.err != nil {
		return e.err
	}
	e.finishInput()
	if e.err == nil {
		e.finishConns()
	}
	e.release()
	return e.err
}

// finishInput processes the look-ahead segment, the input's last.
func (e *Engine) finishInput() {
	if e.haveLA {
		e.haveLA = false
		e.step(&e.la, e.laKind, e.la.TsNs)
	}
}

// Phases of Finish's output (see Finish), for Sharded's merge of the
// workers' runs; phaseRun is the input's.
const (
	phaseRun uint8 = iota
	phaseHeld
	phaseINC
	phaseEND
)

// finishConns writes Finish's three runs of records.
func (e *Engine) finishConns() {
	e.finPhase(phaseHeld, readyRef{})
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
	e.drain(true)
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
			return cmp.Compare(a.c.id, b.c.id)
		}
		return int(a.d) - int(b.d)
	})
	for _, x := range incs {
		f := x.c.flow(x.d)
		e.finPhase(phaseINC, readyRef{ts: f.lastDataNs, conn: x.c.id, seq: uint64(x.d)})
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
		return cmp.Compare(a.id, b.id)
	})
	for _, c := range open {
		e.finPhase(phaseEND, readyRef{ts: c.sum.LastNs, conn: c.id})
		e.end(c, EndEOF, e.now, DirNone)
		e.drain(true)
	}
	e.drain(true)
}

// finPhase tells a worker of Sharded which of Finish's runs the records it
// writes next belong to, and (for INC and END records) their place in it.
func (e *Engine) finPhase(phase uint8, key readyRef) {
	if e.shard != nil {
		e.shard.phase, e.shard.key = phase, key
	}
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
// records, keyed by the time its next one will have when released and the
// connection's id.
type finEntry struct {
	ts int64
	id uint64
	i  int
}

func finLess(a, b *finEntry) bool { return a.ts < b.ts || (a.ts == b.ts && a.id < b.id) }

// releaseAll releases every held record of the connections in open, in the
// order that releasing them all at once would give them in the reorder
// stage (by time, then connection, then their order: they are all of one
// step), but one at a time, writing each as soon as no other can precede
// it: the records never wait in the reorder stage all together.
func (e *Engine) releaseAll(open []*conn) {
	h := minHeap[finEntry]{less: finLess}
	next := func(c *conn) int64 { return max(c.x.pending[0].tsNs, c.x.lastRelNs) } // as releaseRecord stamps it
	for i, c := range open {
		if c.x != nil && len(c.x.pending) > 0 {
			h.push(finEntry{ts: next(c), id: c.id, i: i})
		}
	}
	for h.len() > 0 {
		top := *h.top()
		h.pop()
		c := open[top.i]
		e.releasePending(c, 1)
		if len(c.x.pending) > 0 {
			h.push(finEntry{ts: next(c), id: c.id, i: top.i})
		}
		if h.len() == 0 {
			break // drain(true) follows
		}
		// What the next release will queue: this step, after every record
		// queued so far.
		nx := h.top()
		e.drainBefore(readyRef{ts: nx.ts, step: e.steps, conn: nx.id, seq: math.MaxUint64})
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

// expire ends connections whose timeouts passed at the current time. A
// timeout runs from the entry's last activity on the engine's clock
// (conn.activeNs), which orders each list, so that whether an entry has
// timed out depends on the entry alone and not on the entries before it:
// an engine holding only some of the connections (a worker of Sharded)
// ends each of them at the same packet as one holding all.
func (e *Engine) expire() {
	now := e.now
	for c := e.closed.head; c != nil && now-c.activeNs > closedLinger; c = e.closed.head {
		e.drop(c)
	}
	for c := e.ignored.head; c != nil && now-c.activeNs > e.idle; c = e.ignored.head {
		e.drop(c)
	}
	for c := e.embryonic.head; c != nil && now-c.activeNs > e.hsTimeout; c = e.embryonic.head {
		e.end(c, EndIdle, c.sum.LastNs+e.hsTimeout, DirNone)
	}
	for c := e.resetting.head; c != nil && now-c.activeNs > e.idle; c = e.resetting.head {
		e.end(c, EndRST, c.sum.LastNs, c.x.rstDir) // normally ended by releaseHeld long before
	}
	for c := e.established.head; c != nil && now-c.activeNs > e.idle; c = e.established.head {
		e.end(c, EndIdle, c.sum.LastNs+e.idle, DirNone)
	}
}

// touch moves c to the back of list l (its list of entries by activity),
// from whichever list it was on, at the current time.
func (e *Engine) touch(l *connList, c *conn) {
	c.activeNs = e.now
	l.touch(c)
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

// newConnID assigns the next connection id. A worker of Sharded numbers
// a connection by the step (the input's segment) that began it, which the
// merge of the workers' records turns into the same dense numbering.
func (e *Engine) newConnID(c *conn) {
	if e.shard != nil {
		c.id = e.steps
		e.shard.created = append(e.shard.created, c.id)
		return
	}
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
	e.ready.push(r, e.steps)
}

// drain passes released records to the sink: all of them when final,
// otherwise those no held record can precede.
func (e *Engine) drain(final bool) {
	if final {
		e.drainTo(math.MaxInt64)
	} else {
		e.drainTo(e.watermark())
	}
}

// watermark is the time up to which released records can be written: the
// clock, or the oldest held record's time when older.
func (e *Engine) watermark() int64 {
	for e.held.len() > 0 {
		top := e.held.top()
		if !top.valid() {
			e.held.pop()
			continue
		}
		return min(e.now, top.ts)
	}
	return e.now
}

// drainTo passes the released records up to time w to the sink.
func (e *Engine) drainTo(w int64) {
	for e.ready.len() > 0 && e.err == nil && e.ready.top().ts <= w {
		e.put(e.ready.pop(&e.rec))
	}
}

// drainBefore passes the released records that come before place k to the
// sink.
func (e *Engine) drainBefore(k readyRef) {
	for e.ready.len() > 0 && e.err == nil && refLess(e.ready.top(), &k) {
		e.put(e.ready.pop(&e.rec))
	}
}

// put writes e.rec, which left the reorder stage from place ref; a worker
// of Sharded passes it on to the merge instead.
func (e *Engine) put(ref readyRef) {
	if e.shard != nil {
		e.shard.forward(ref, &e.rec, e.steps)
		return
	}
	e.err = e.out.write(&e.rec)
}

// output writes records in time order: a record decided at a segment older
// than one already written (the input is not time-ordered) is written at
// the time of the last one, and counted.
type output struct {
	sink      Sink
	last      int64 // time of the last record written
	records   [KindPART + 1]uint64
	restamped uint64
}

func newOutput(sink Sink) output { return output{sink: sink, last: math.MinInt64} }

// write passes r to the sink.
func (o *output) write(r *Record) error {
	if r.TsNs < o.last {
		r.TsNs = o.last
		o.restamped++
	}
	o.last = r.TsNs
	o.records[r.Kind]++
	if err := o.sink.Record(r); err != nil {
		return fmt.Errorf("write record: %w", err)
	}
	return nil
}
