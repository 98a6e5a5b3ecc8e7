package ingest

// Records are decided out of time order: an ADU held back for revision is
// stamped with the time it was decided, which is earlier than records other
// connections decide meanwhile. The engine therefore passes every record
// through a small reorder stage: a min-heap of decided records keyed by
// (TsNs, arrival), released only once no held record can come out earlier
// (the watermark is the oldest held record's time, or the current packet
// time when nothing is held).

type readyItem struct {
	rec Record
	seq uint64
}

// readyHeap is a binary min-heap of records ordered by (TsNs, seq). It is
// written out by hand because container/heap boxes every element in an
// interface, which would allocate per record.
type readyHeap struct {
	items []readyItem
	seq   uint64
}

func (h *readyHeap) less(i, j int) bool {
	a, b := &h.items[i], &h.items[j]
	if a.rec.TsNs != b.rec.TsNs {
		return a.rec.TsNs < b.rec.TsNs
	}
	return a.seq < b.seq
}

func (h *readyHeap) push(r *Record) {
	h.seq++
	h.items = append(h.items, readyItem{rec: *r, seq: h.seq})
	i := len(h.items) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(i, p) {
			break
		}
		h.items[i], h.items[p] = h.items[p], h.items[i]
		i = p
	}
}

func (h *readyHeap) len() int { return len(h.items) }

// top returns the smallest record; the heap must not be empty.
func (h *readyHeap) top() *Record { return &h.items[0].rec }

// pop removes the smallest record into out.
func (h *readyHeap) pop(out *Record) {
	*out = h.items[0].rec
	n := len(h.items) - 1
	h.items[0] = h.items[n]
	h.items[n] = readyItem{}
	h.items = h.items[:n]
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
		h.items[i], h.items[m] = h.items[m], h.items[i]
		i = m
	}
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
