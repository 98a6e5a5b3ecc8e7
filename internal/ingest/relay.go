package ingest

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/semaphore"
)

// RelayBatchRecords is how many records a Relay hands its goroutine at a
// time: enough that the hand-over costs nothing per record.
const RelayBatchRecords = 4096

// relayMaxRecords bounds the records on their way to a Relay's goroutine
// (184 bytes each: about 6 MiB): the engine runs ahead of the sink by at
// most this much, a rounding error of the memory budget.
const relayMaxRecords = 8 * RelayBatchRecords

// relayMaxOps bounds the calls queued for a Relay's goroutine. They are
// mostly ticks (one per ProgressEvery packets) with a few records each,
// which must not hold the engine back while the sink is busy: a thousand
// of them are 16 M packets.
const relayMaxOps = 1024

// Relay passes records to a sink on a goroutine of its own, so that what
// the sink does (formatting text, building and sorting the archive's rows)
// overlaps the inference that makes the records, on another core. Tick
// calls, in order with the records, the function given to NewRelay (the
// archive publishes the hours that packet time has passed): the sink sees
// the calls a single goroutine would make, in the same order, so it writes
// the same bytes.
//
// Record and Tick return at once unless relayMaxRecords records are
// already on their way; the first error of the sink or the tick function
// comes back from a later Record or Tick and from Close, and after it the
// relay's goroutine only drops what comes. A Relay is used by one
// goroutine.
type Relay struct {
	sink  Sink
	tick  func(int64) error
	batch []Record // being filled; RelayBatchRecords long
	ops   chan relayOp
	room  *semaphore.Weighted // records on their way
	free  chan []Record
	done  chan struct{}

	failedOnce atomic.Bool // err is set: read on every Record, without a lock
	mu         sync.Mutex
	err        error // the first error of the relay's goroutine
}

// relayOp is records to pass, then optionally a tick.
type relayOp struct {
	recs  []Record
	tick  bool
	nowNs int64
}

// NewRelay starts a relay to sink; tick, if not nil, is what Tick calls.
// Close ends it.
func NewRelay(sink Sink, tick func(nowNs int64) error) *Relay {
	r := &Relay{
		sink: sink,
		tick: tick,
		ops:  make(chan relayOp, relayMaxOps),
		room: semaphore.NewWeighted(relayMaxRecords),
		free: make(chan []Record, relayMaxRecords/RelayBatchRecords+1),
		done: make(chan struct{}),
	}
	r.batch = r.newBatch()
	go r.loop()
	return r
}

// Record queues a copy of rec for the sink.
func (r *Relay) Record(rec *Record) error {
	if err := r.failed(); err != nil {
		return err
	}
	r.batch = append(r.batch, *rec)
	if len(r.batch) == RelayBatchRecords {
		r.send(relayOp{})
	}
	return nil
}

// Tick queues a call of the tick function with nowNs, after the records
// queued before.
func (r *Relay) Tick(nowNs int64) error {
	if err := r.failed(); err != nil {
		return err
	}
	r.send(relayOp{tick: true, nowNs: nowNs})
	return nil
}

// Close waits until the sink has every record queued and returns the
// first error of the relay's goroutine. The Relay must not be used
// afterwards.
func (r *Relay) Close() error {
	if len(r.batch) > 0 {
		r.send(relayOp{})
	}
	close(r.ops)
	<-r.done
	return r.failed()
}

// send hands op, with the records of the current batch, to the relay's
// goroutine. A full batch goes as it is; a partial one (a tick comes every
// few thousand packets) as a copy of its records, so that what waits in
// the queue is the records and not the batch's room.
func (r *Relay) send(op relayOp) {
	n := len(r.batch)
	_ = r.room.Acquire(context.Background(), int64(n)) // never fails without a deadline
	switch {
	case n == RelayBatchRecords:
		op.recs, r.batch = r.batch, r.newBatch()
	case n > 0:
		op.recs = slices.Clone(r.batch)
		clear(r.batch)
		r.batch = r.batch[:0]
	}
	r.ops <- op
}

// newBatch returns an empty batch, a recycled one when there is one.
func (r *Relay) newBatch() []Record {
	select {
	case b := <-r.free:
		return b
	default:
		return make([]Record, 0, RelayBatchRecords)
	}
}

// failed returns the relay goroutine's first error, if any.
func (r *Relay) failed() error {
	if !r.failedOnce.Load() {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// loop is the relay's goroutine: it makes the calls in order until the
// first error, and after it only drains the queue.
func (r *Relay) loop() {
	defer close(r.done)
	var err error
	for op := range r.ops {
		for i := 0; err == nil && i < len(op.recs); i++ {
			err = r.sink.Record(&op.recs[i])
		}
		if err == nil && op.tick && r.tick != nil {
			err = r.tick(op.nowNs)
		}
		if err != nil {
			r.mu.Lock()
			if r.err == nil {
				r.err = err
				r.failedOnce.Store(true)
			}
			r.mu.Unlock()
		}
		r.room.Release(int64(len(op.recs)))
		clear(op.recs) // END records own their summaries
		if cap(op.recs) == RelayBatchRecords {
			select {
			case r.free <- op.recs[:0]:
			default:
			}
		}
	}
}
