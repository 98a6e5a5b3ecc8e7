package archive

import (
	"github.com/abt-dev/abt/internal/ingest"
	"github.com/abt-dev/abt/schema"
)

// Async runs an Archive on a goroutine of its own (an ingest.Relay), so
// that turning records into rows and sorting them overlaps the inference
// that makes them, on another core (the tables' writers publish on
// goroutines of their own, partition.Options.Background). The calls are
// the Archive's, made in the same order on the relay's goroutine, so the
// archive it writes is the one the Archive would write called directly,
// file for file.
//
// Record and Advance return at once (see ingest.Relay); an error of the
// archive's goroutine comes back from a later Record or Advance and from
// Close (the archive's own errors are sticky, so none is lost). Like
// Archive, Async is used by one goroutine.
type Async struct {
	a     *Archive
	relay *ingest.Relay
}

// NewAsync starts a's goroutine. Close ends it.
func NewAsync(a *Archive) *Async {
	return &Async{a: a, relay: ingest.NewRelay(a, a.Advance)}
}

// Record queues a copy of r for Archive.Record.
func (w *Async) Record(r *ingest.Record) error { return w.relay.Record(r) }

// Advance queues Archive.Advance(nowNs) after the records queued before.
func (w *Async) Advance(nowNs int64) error { return w.relay.Tick(nowNs) }

// Close waits for the queued records and calls Archive.Close, which
// reports an error of the archive's goroutine (it is the archive's own).
func (w *Async) Close(info RunInfo) (Summary, error) {
	_ = w.relay.Close()
	return w.a.Close(info)
}

// RunID is the run's id (Archive.RunID).
func (w *Async) RunID() string { return w.a.RunID() }

// Sensor is the run's sensor (Archive.Sensor).
func (w *Async) Sensor() string { return w.a.Sensor() }

// Published says what the run has published so far; unlike the rest of
// Async it may be called from any goroutine (a metrics endpoint's).
func (w *Async) Published() Summary { return w.a.summary(nil) }

// Pause is Archive.Pause; it may be called from any goroutine.
func (w *Async) Pause(on bool) { w.a.Pause(on) }

// Abort ends the goroutine and aborts the run (Archive.Abort).
func (w *Async) Abort() {
	_ = w.relay.Close()
	w.a.Abort()
}

// AddHour is Archive.AddHour, called at once on the caller's goroutine
// (the hour log is the run's own; no record waits for it).
func (w *Async) AddHour(h schema.LinkHour) error { return w.a.AddHour(h) }
