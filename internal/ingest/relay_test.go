package ingest_test

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/ingest"
)

// relayLog is a sink and tick function that log what they are given.
type relayLog struct{ calls []int64 } // a record's ConnID, or -nowNs for a tick

func (l *relayLog) Record(r *ingest.Record) error {
	l.calls = append(l.calls, int64(r.ConnID))
	return nil
}
func (l *relayLog) tick(now int64) error { l.calls = append(l.calls, -now); return nil }

// TestRelayOrder: the sink and the tick function get, through a Relay,
// exactly the calls made on it, in their order: full batches, partial
// batches cut by ticks, ticks with no record between, the last partial
// batch at Close.
func TestRelayOrder(t *testing.T) {
	var want relayLog
	got := &relayLog{}
	r := ingest.NewRelay(got, got.tick)
	id := uint64(0)
	record := func(n int) {
		for range n {
			id++
			rec := ingest.Record{Kind: ingest.KindADU, ConnID: id}
			require.NoError(t, want.Record(&rec))
			require.NoError(t, r.Record(&rec))
		}
	}
	tick := func(now int64) {
		require.NoError(t, want.tick(now))
		require.NoError(t, r.Tick(now))
	}
	record(3*ingest.RelayBatchRecords + 17)
	tick(1)
	tick(2)
	record(5)
	tick(3)
	record(ingest.RelayBatchRecords)
	record(40)
	require.NoError(t, r.Close())
	require.Equal(t, want.calls, got.calls)
}

// failingSink fails at its n-th record and counts the records it gets.
type failingSink struct {
	n, got int
}

var errSinkFull = errors.New("disk full")

func (s *failingSink) Record(*ingest.Record) error {
	s.got++
	if s.got == s.n {
		return errSinkFull
	}
	return nil
}

// TestRelayError: the sink's first error comes back from a later Record or
// Tick and from Close, and the sink gets no record after it.
func TestRelayError(t *testing.T) {
	s := &failingSink{n: 10}
	r := ingest.NewRelay(s, nil)
	var err error
	for i := 0; err == nil && i < 1_000_000; i++ {
		err = r.Record(&ingest.Record{Kind: ingest.KindADU})
		if err == nil && i%1000 == 0 {
			err = r.Tick(int64(i))
		}
	}
	require.ErrorIs(t, err, errSinkFull)
	require.ErrorIs(t, r.Close(), errSinkFull)
	require.Equal(t, 10, s.got)
}

// blockingSink blocks every record until release is closed.
type blockingSink struct{ release chan struct{} }

func (s *blockingSink) Record(*ingest.Record) error { <-s.release; return nil }

// TestRelayBounded: while the sink is stuck, Record stops returning once a
// bounded number of records is on the way (8 batches, and the batch being
// filled, and the one the sink is in).
func TestRelayBounded(t *testing.T) {
	s := &blockingSink{release: make(chan struct{})}
	r := ingest.NewRelay(s, nil)
	var queued atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 40 * ingest.RelayBatchRecords {
			_ = r.Record(&ingest.Record{Kind: ingest.KindADU})
			queued.Add(1)
		}
	}()
	// Wait until the producer stops making progress.
	last := int64(-1)
	for n := queued.Load(); n != last; n = queued.Load() {
		last = n
		time.Sleep(50 * time.Millisecond)
	}
	require.LessOrEqual(t, last, int64(10*ingest.RelayBatchRecords), "records accepted while the sink is stuck")
	close(s.release)
	<-done
	require.NoError(t, r.Close())
}
