package archive

import (
	"context"
	"slices"
	"sync"

	"golang.org/x/sync/semaphore"

	"github.com/abt-dev/abt/internal/ingest"
)

// AsyncBatchRecords is how many engine records Async passes to its
// goroutine at a time: enough that the hand-over costs nothing per record.
const AsyncBatchRecords = 4096

// asyncMaxRecords bounds the records on their way to the archive's
// goroutine (184 bytes each: about 6 MiB): the engine runs ahead of the
// writer by at most this much, a rounding error of the memory budget.
const asyncMaxRecords = 8 * AsyncBatchRecords

// asyncMaxOps bounds the calls queued for the archive's goroutine. They
// are mostly Advances (one per ingest.ProgressEvery packets) with a few
// records each, which must not hold the engine back while the writer is
// busy: a thousand of them are 16 M packets.
const asyncMaxOps = 1024

// Async runs an Archive on a goroutine of its own, so that turning records
// into rows and sorting them overlaps the inference that makes them, on
// another core (the tables' writers publish on goroutines of their own,
// partition.Options.Background). The calls are the Archive's, made in the
// same order on the archive's goroutine, so the archive it writes is the
// one the Archive would write called directly, file for file.
//
// Record and Advance return at once unless asyncMaxRecords records are
// already on their way; an error of the archive's goroutine comes back
// from a later Record or Advance and from Close (the archive's own errors
// are sticky, so none is lost). Like Archive, Async is used by one
// goroutine.
type Async struct {
	a     *Archive
	batch []ingest.Record // being filled; AsyncBatchRecords long
	ops   chan asyncOp
	room  *semaphore.Weighted // records on their way
	free  chan []ingest.Record
	done  chan struct{}

	mu  sync.Mutex
	err error // the first error of the archive's goroutine
}

// asyncOp is records to write, then optionally an Advance.
type asyncOp struct {
	recs    []ingest.Record
	advance bool
	nowNs   int64
}

// NewAsync starts a's goroutine. Close ends it.
func NewAsync(a *Archive) *Async {
	w := &Async{
		a:    a,
		ops:  make(chan asyncOp, asyncMaxOps),
		room: semaphore.NewWeighted(asyncMaxRecords),
		free: make(chan []ingest.Record, asyncMaxRecords/AsyncBatchRecords+1),
		done: make(chan struct{}),
	}
	w.batch = w.newBatch()
	go w.loop()
	return w
}

// Record queues a copy of r for Archive.Record.
func (w *Async) Record(r *ingest.Record) error {
	if err := w.failed(); err != nil {
		return err
	}
	w.batch = append(w.batch, *r)
	if len(w.batch) == AsyncBatchRecords {
		w.send(asyncOp{})
	}
	return nil
}

// Advance queues Archive.Advance(nowNs) after the records queued before.
func (w *Async) Advance(nowNs int64) error {
	if err := w.failed(); err != nil {
		return err
	}
	w.send(asyncOp{advance: true, nowNs: nowNs})
	return nil
}

// Close waits for the queued records and calls Archive.Close.
func (w *Async) Close(info RunInfo) (Summary, error) {
	if len(w.batch) > 0 {
		w.send(asyncOp{})
	}
	close(w.ops)
	<-w.done
	return w.a.Close(info)
}

// send hands op, with the records of the current batch, to the archive's
// goroutine. A full batch goes as it is; a partial one (an Advance comes
// every few thousand packets) as a copy of its records, so that what waits
// in the queue is the records and not the batch's room.
func (w *Async) send(op asyncOp) {
	n := len(w.batch)
	_ = w.room.Acquire(context.Background(), int64(n)) // never fails without a deadline
	switch {
	case n == AsyncBatchRecords:
		op.recs, w.batch = w.batch, w.newBatch()
	case n > 0:
		op.recs = slices.Clone(w.batch)
		clear(w.batch)
		w.batch = w.batch[:0]
	}
	w.ops <- op
}

// newBatch returns an empty batch, a recycled one when there is one.
func (w *Async) newBatch() []ingest.Record {
	select {
	case b := <-w.free:
		return b
	default:
		return make([]ingest.Record, 0, AsyncBatchRecords)
	}
}

// failed returns the archive goroutine's first error, if any.
func (w *Async) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// loop is the archive's goroutine: it makes the calls in order until the
// first error, and after it only drains the queue (the Archive keeps the
// error for Close).
func (w *Async) loop() {
	defer close(w.done)
	var err error
	for op := range w.ops {
		for i := 0; err == nil && i < len(op.recs); i++ {
			err = w.a.Record(&op.recs[i])
		}
		if err == nil && op.advance {
			err = w.a.Advance(op.nowNs)
		}
		if err != nil {
			w.mu.Lock()
			if w.err == nil {
				w.err = err
			}
			w.mu.Unlock()
		}
		w.room.Release(int64(len(op.recs)))
		clear(op.recs) // END records own their summaries
		if cap(op.recs) == AsyncBatchRecords {
			select {
			case w.free <- op.recs[:0]:
			default:
			}
		}
	}
}

// RunID is the run's id (Archive.RunID).
func (w *Async) RunID() string { return w.a.RunID() }

// Sensor is the run's sensor (Archive.Sensor).
func (w *Async) Sensor() string { return w.a.Sensor() }
