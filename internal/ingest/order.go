package ingest

// Records are decided out of time order: an ADU held back for revision is
// stamped with the time it was decided, which is earlier than records other
// connections decide meanwhile. The engine therefore passes every record
// through a small reorder stage: a min-heap of decided records keyed by
// (TsNs, arrival), released only once no held record can come out earlier
// (the watermark is the oldest held record's time, or the current packet
// time when nothing is held).

// readyRef orders one record of the slab.
type readyRef struct {
	ts  int64
	seq uint64
	idx int32
}

// readyHeap is a binary min-heap of records ordered by (TsNs, arrival). The
// records live in a slab and the heap moves only small references, since a
// Record is a few hundred bytes. It is written by hand because
// container/heap boxes every element in an interface, which would allocate
// per record.
//
// Most records are decided in time order, so those go to a FIFO and only
// records that come out of order (released held records) pay for the heap.
type readyHeap struct {
	refs []readyRef // heap part
	fifo []readyRef // in-order part: fifo[head:] is non-decreasing
	head int
	slab []Record
	free []int32
	seq  uint64
}

func (h *readyHeap) less(i, j int) bool {
	a, b := &h.refs[i], &h.refs[j]
	if a.ts != b.ts {
		return a.ts < b.ts
	}
	return a.seq < b.seq
}

func (h *readyHeap) push(r *Record) {
	var idx int32
	if n := len(h.free); n > 0 {
		idx = h.free[n-1]
		h.free = h.free[:n-1]
	} else {
		h.slab = append(h.slab, Record{})
		idx = int32(len(h.slab) - 1)
	}
	h.slab[idx] = *r
	h.seq++
	ref := readyRef{ts: r.TsNs, seq: h.seq, idx: idx}
	if n := len(h.fifo); n == h.head || h.fifo[n-1].ts <= r.TsNs {
		if h.head == n && n > 0 {
			h.fifo, h.head = h.fifo[:0], 0
		}
		h.fifo = append(h.fifo, ref)
		return
	}
	h.refs = append(h.refs, ref)
	i := len(h.refs) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(i, p) {
			break
		}
		h.refs[i], h.refs[p] = h.refs[p], h.refs[i]
		i = p
	}
}

func (h *readyHeap) len() int { return len(h.refs) + len(h.fifo) - h.head }

// fromFIFO reports whether the smallest record is the FIFO's head.
func (h *readyHeap) fromFIFO() bool {
	if h.head == len(h.fifo) {
		return false
	}
	if len(h.refs) == 0 {
		return true
	}
	f, r := &h.fifo[h.head], &h.refs[0]
	return f.ts < r.ts || (f.ts == r.ts && f.seq < r.seq)
}

// topTs returns the smallest record's time; the queue must not be empty.
func (h *readyHeap) topTs() int64 {
	if h.fromFIFO() {
		return h.fifo[h.head].ts
	}
	return h.refs[0].ts
}

// pop removes the smallest record into out.
func (h *readyHeap) pop(out *Record) {
	if h.fromFIFO() {
		idx := h.fifo[h.head].idx
		h.head++
		if h.head == len(h.fifo) {
			h.fifo, h.head = h.fifo[:0], 0
		} else if h.head > 1024 && h.head*2 > len(h.fifo) {
			n := copy(h.fifo, h.fifo[h.head:])
			h.fifo, h.head = h.fifo[:n], 0
		}
		h.take(idx, out)
		return
	}
	h.take(h.refs[0].idx, out)
	n := len(h.refs) - 1
	h.refs[0] = h.refs[n]
	h.refs = h.refs[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			break
		}
		h.refs[i], h.refs[m] = h.refs[m], h.refs[i]
		i = m
	}
}

// take moves slab entry idx into out and frees it.
func (h *readyHeap) take(idx int32, out *Record) {
	*out = h.slab[idx]
	h.slab[idx] = Record{}
	h.free = append(h.free, idx)
}

// heldEntry points at a connection whose oldest held record has time ts.
// Entries go stale when the connection's holdings change; gen tells.
type heldEntry struct {
	ts  int64
	c   *conn
	gen uint32
	id  uint64
}

// heldHeap is a min-heap of heldEntry by ts, with lazy deletion.
type heldHeap struct{ items []heldEntry }

func (h *heldHeap) push(e heldEntry) {
	h.items = append(h.items, e)
	i := len(h.items) - 1
	for i > 0 {
		p := (i - 1) / 2
		if h.items[p].ts <= h.items[i].ts {
			break
		}
		h.items[i], h.items[p] = h.items[p], h.items[i]
		i = p
	}
}

func (h *heldHeap) pop() {
	n := len(h.items) - 1
	h.items[0] = h.items[n]
	h.items[n] = heldEntry{}
	h.items = h.items[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && h.items[r].ts < h.items[l].ts {
			m = r
		}
		if h.items[i].ts <= h.items[m].ts {
			break
		}
		h.items[i], h.items[m] = h.items[m], h.items[i]
		i = m
	}
}

// valid reports whether e still describes its connection's holdings.
func (e *heldEntry) valid() bool {
	return e.c.id == e.id && e.c.heapGen == e.gen && (len(e.c.pending) > 0 || e.c.state == stReset)
}
