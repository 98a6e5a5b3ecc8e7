package ingest

// Records are decided out of time order: an ADU held back for revision is
// stamped with the time it was decided, which is earlier than records other
// connections decide meanwhile. The engine therefore passes every record
// through a small reorder stage: a min-heap of decided records keyed by
// (TsNs, arrival), released only once no held record can come out earlier
// (the watermark is the oldest held record's time, or the current packet
// time when nothing is held).

// minHeap is a binary min-heap ordered by less. It is written here rather
// than taken from container/heap, which boxes every element in an interface
// and would allocate per record.
type minHeap[T any] struct {
	items []T
	less  func(a, b *T) bool
}

func (h *minHeap[T]) len() int { return len(h.items) }

// top returns the smallest element; the heap must not be empty.
func (h *minHeap[T]) top() *T { return &h.items[0] }

func (h *minHeap[T]) push(x T) {
	h.items = append(h.items, x)
	i := len(h.items) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(&h.items[i], &h.items[p]) {
			break
		}
		h.items[i], h.items[p] = h.items[p], h.items[i]
		i = p
	}
}

// pop removes the smallest element.
func (h *minHeap[T]) pop() {
	n := len(h.items) - 1
	var zero T
	h.items[0] = h.items[n]
	h.items[n] = zero
	h.items = h.items[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && h.less(&h.items[r], &h.items[l]) {
			m = r
		}
		if !h.less(&h.items[m], &h.items[i]) {
			break
		}
		h.items[i], h.items[m] = h.items[m], h.items[i]
		i = m
	}
}

// readyRef orders one record of the slab: by time; records of one time by
// the step (segment) that queued them; within a step by connection, then
// in the order queued. Within a step the order of connections is their
// ConnID's, not the order the engine's lists happened to visit them in
// (expiry, release of held records), so that an engine that saw only some
// of the connections would order their records the same way.
type readyRef struct {
	ts   int64
	step uint64
	conn uint64
	seq  uint64
	idx  int32
}

func refLess(a, b *readyRef) bool {
	switch {
	case a.ts != b.ts:
		return a.ts < b.ts
	case a.step != b.step:
		return a.step < b.step
	case a.conn != b.conn:
		return a.conn < b.conn
	}
	return a.seq < b.seq
}

// readyHeap is a priority queue of records ordered by (TsNs, arrival). The
// records live in a slab and the queue moves only small references, since
// a Record is a couple of hundred bytes.
//
// Most records are decided in time order, so those go to a FIFO and only
// records that come out of order (released held records) pay for the heap.
type readyHeap struct {
	refs minHeap[readyRef] // out-of-order part
	fifo []readyRef        // in-order part: fifo[head:] is non-decreasing
	head int
	slab []Record
	free []int32
	seq  uint64
	ends int // queued records carrying a connection summary (END)
}

func (h *readyHeap) push(r *Record, step uint64) {
	h.seq++
	h.pushRef(r, readyRef{ts: r.TsNs, step: step, conn: r.ConnID, seq: h.seq})
}

// pushRef queues r at the place ref gives it (its idx is ignored).
func (h *readyHeap) pushRef(r *Record, ref readyRef) {
	var idx int32
	if n := len(h.free); n > 0 {
		idx = h.free[n-1]
		h.free = h.free[:n-1]
	} else {
		h.slab = append(h.slab, Record{})
		idx = int32(len(h.slab) - 1)
	}
	h.slab[idx] = *r
	if r.Conn != nil {
		h.ends++
	}
	ref.idx = idx
	if n := len(h.fifo); n == h.head || !refLess(&ref, &h.fifo[n-1]) {
		if h.head == n && n > 0 {
			h.fifo, h.head = h.fifo[:0], 0
		}
		h.fifo = append(h.fifo, ref)
		return
	}
	if h.refs.less == nil {
		h.refs.less = refLess
	}
	h.refs.push(ref)
}

func (h *readyHeap) len() int { return h.refs.len() + len(h.fifo) - h.head }

// fromFIFO reports whether the smallest record is the FIFO's head.
func (h *readyHeap) fromFIFO() bool {
	if h.head == len(h.fifo) {
		return false
	}
	return h.refs.len() == 0 || refLess(&h.fifo[h.head], h.refs.top())
}

// top returns the smallest record's place; the queue must not be empty.
func (h *readyHeap) top() *readyRef {
	if h.fromFIFO() {
		return &h.fifo[h.head]
	}
	return h.refs.top()
}

// pop removes the smallest record into out and returns its place.
func (h *readyHeap) pop(out *Record) readyRef {
	var ref readyRef
	if h.fromFIFO() {
		ref = h.fifo[h.head]
		h.head++
		if h.head == len(h.fifo) {
			h.fifo, h.head = h.fifo[:0], 0
		} else if h.head > 1024 && h.head*2 > len(h.fifo) {
			n := copy(h.fifo, h.fifo[h.head:])
			h.fifo, h.head = h.fifo[:n], 0
		}
	} else {
		ref = *h.refs.top()
		h.refs.pop()
	}
	h.take(ref.idx, out)
	return ref
}

// trim gives back the queue's room when it is empty and its room costs more
// than keep bytes (after a burst).
func (h *readyHeap) trim(keep int64) {
	if h.len() == 0 && h.bytes() > keep {
		*h = readyHeap{refs: minHeap[readyRef]{less: refLess}, seq: h.seq}
	}
}

// take moves slab entry idx into out and frees it.
func (h *readyHeap) take(idx int32, out *Record) {
	*out = h.slab[idx]
	if out.Conn != nil {
		h.ends--
	}
	h.slab[idx] = Record{}
	h.free = append(h.free, idx)
}

// bytes is the queue's cost in the engine's memory account: its room, and
// the summaries of the END records in it.
func (h *readyHeap) bytes() int64 {
	return int64(cap(h.slab))*costRecord + int64(cap(h.fifo)+cap(h.refs.items))*costRef +
		int64(cap(h.free))*costSlabIndex + int64(h.ends)*costSummary
}

// heldEntry points at a connection whose oldest held record has time ts.
// Entries go stale when the connection's holdings change; gen tells.
type heldEntry struct {
	ts  int64
	c   *conn
	gen uint32
	id  uint64
}

func heldLess(a, b *heldEntry) bool { return a.ts < b.ts }

// valid reports whether e still describes its connection's holdings.
func (e *heldEntry) valid() bool {
	x := e.c.x
	return e.c.id == e.id && x != nil && x.heapGen == e.gen && (len(x.pending) > 0 || e.c.state == stReset)
}
