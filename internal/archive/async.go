package archive

import (
	"sync"

	"github.com/abt-dev/abt/internal/ingest"
)

// AsyncBatchRecords is how many engine records Async passes to its
// goroutine at a time: large enough that the hand-over costs nothing per
// record, small enough (about 1 MiB) that the records in flight are a
// rounding error of the memory budget.
const AsyncBatchRecords = 4096

// asyncQueueBatches is how many full batches may wait for the archive's
// goroutine before Record blocks: the engine runs ahead of the writer by
// at most this much, and the records in flight stay bounded.
const asyncQueueBatches = 4

// Async runs an Archive on a goroutine of its own, so that turning records
// into rows, sorting, encoding and compressing them overlaps the inference
// that makes them, on another core. The calls are the Archive's, made in
// the same order on the archive's goroutine, so the archive it writes is
// the one the Archive would write called directly, file for file.
//
// Record and Advance return at once; an error of the archive's goroutine
// comes back from a later Record or Advance and from Close (the archive's
// own errors are sticky, so none is lost). Like Archive, Async is used by
// one goroutine.
type Async struct {
	a     *Archive
	batch *asyncBatch
	ops   chan *asyncBatch
	free  chan *asyncBatch
	done  chan struct{}

	mu  sync.Mutex
	err error // the first error of the archive's goroutine
}

// asyncBatch is records to write, then optionally an Advance.
type asyncBatch struct {
	recs    []ingest.Record
	advance bool
	nowNs   int64
}

// NewAsync starts a's goroutine. Close ends it.
func NewAsync(a *Archive) *Async {
	w := &Async{
		a:    a,
		ops:  make(chan *asyncBatch, asyncQueueBatches),
		free: make(chan *asyncBatch, asyncQueueBatches+2),
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
	w.batch.recs = append(w.batch.recs, *r)
	if len(w.batch.recs) == AsyncBatchRecords {
		w.send()
	}
	return nil
}

// Advance queues Archive.Advance(nowNs) after the records queued before.
func (w *Async) Advance(nowNs int64) error {
	if err := w.failed(); err != nil {
		return err
	}
	w.batch.advance, w.batch.nowNs = true, nowNs
	w.send()
	return nil
}

// Close waits for the queued records and calls Archive.Close.
func (w *Async) Close(info RunInfo) (Summary, error) {
	if len(w.batch.recs) > 0 {
		w.send()
	}
	close(w.ops)
	<-w.done
	return w.a.Close(info)
}

// send hands the current batch to the archive's goroutine.
func (w *Async) send() {
	w.ops <- w.batch
	w.batch = w.newBatch()
}

// newBatch returns an empty batch, a recycled one when there is one.
func (w *Async) newBatch() *asyncBatch {
	select {
	case b := <-w.free:
		return b
	default:
		return &asyncBatch{recs: make([]ingest.Record, 0, AsyncBatchRecords)}
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
	for b := range w.ops {
		for i := 0; err == nil && i < len(b.recs); i++ {
			err = w.a.Record(&b.recs[i])
		}
		if err == nil && b.advance {
			err = w.a.Advance(b.nowNs)
		}
		if err != nil {
			w.mu.Lock()
			if w.err == nil {
				w.err = err
			}
			w.mu.Unlock()
		}
		clear(b.recs) // END records own their summaries
		b.recs, b.advance = b.recs[:0], false
		select {
		case w.free <- b:
		default:
		}
	}
}

// RunID is the run's id (Archive.RunID).
func (w *Async) RunID() string { return w.a.RunID() }

// Sensor is the run's sensor (Archive.Sensor).
func (w *Async) Sensor() string { return w.a.Sensor() }
