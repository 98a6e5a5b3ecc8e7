package ingest_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/capture"
	"github.com/abt-dev/abt/internal/decode"
	"github.com/abt-dev/abt/internal/ingest"
	"github.com/abt-dev/abt/internal/synthcap"
)

// idleSource is a live link as a capture.Source: its packets, then a poll
// that finds none every second (capture.ErrIdle) for ticks seconds, then
// io.EOF (ticks < 0: never).
type idleSource struct {
	capture.Source
	ticks, done int
	last        int64
}

func (s *idleSource) Next(p *capture.Packet) error {
	if s.Source != nil {
		err := s.Source.Next(p)
		switch {
		case err == nil:
			s.last = p.TsNs
			return nil
		case !errors.Is(err, io.EOF):
			return err
		}
		s.Source = nil
	}
	if s.ticks >= 0 && s.done == s.ticks {
		return io.EOF
	}
	s.done++
	p.TsNs = s.last + int64(s.done)*int64(time.Second)
	return capture.ErrIdle
}

func (s *idleSource) Name() string { return "live" }
func (s *idleSource) Close() error { return nil }

// quietLink is a capture of one connection that exchanges a request and a
// response at t0 and then falls silent.
func quietLink(t *testing.T) []byte {
	t.Helper()
	c, srv := netip.MustParseAddrPort("198.51.100.7:40000"), netip.MustParseAddrPort("192.0.2.1:80")
	t0 := time.Date(2024, 3, 2, 10, 0, 0, 0, time.UTC).UnixNano()
	pcap, err := synthcap.Capture(synthcap.Exchange(t0, c, srv, 100, 300, false))
	require.NoError(t, err)
	return pcap
}

// TestIdleTicks: on a live source that falls silent, the polls that find
// no packet move the engine's clock: the connection ends as idle at its
// idle timeout, during Feed, with its open ADU, as it would if a packet
// had come; progress is reported at each poll, and no tick counts as a
// segment. Two and three workers write the same records.
func TestIdleTicks(t *testing.T) {
	pcap := quietLink(t)
	opts := ingest.DefaultOptions()
	opts.IdleTimeout = 10 * time.Second
	run := func(workers, ticks int) ([]ingest.Record, ingest.Stats, int) {
		var points int
		recs, st := infer(t, opts, workers, func(inf ingest.Inferrer, dec *decode.Decoder) {
			src, err := capture.OpenReader("live", bytes.NewReader(pcap))
			require.NoError(t, err)
			require.NoError(t, inf.Feed(context.Background(), &idleSource{Source: src, ticks: ticks}, dec,
				func(int64) { points++ }))
		})
		return recs, st, points
	}
	recs, st, points := run(1, 20)
	require.Equal(t, 20, points, "a progress point at each empty poll")
	require.Equal(t, uint64(6), st.Segments, "ticks are no segments")
	require.Zero(t, st.TimeBackwards)
	end := recs[len(recs)-1]
	require.Equal(t, ingest.KindEND, end.Kind)
	require.Equal(t, ingest.EndIdle, end.Reason, "ended by the clock the polls moved, not at the end of input")
	require.Equal(t, end.Conn.LastNs+int64(opts.IdleTimeout), end.TsNs)
	for _, n := range []int{2, 3} {
		got, gs, _ := run(n, 20)
		require.NoError(t, sameRecords(recs, got), "%d workers", n)
		st.PeakConns, gs.PeakConns, st.PeakMemory, gs.PeakMemory = 0, 0, 0, 0
		require.Equal(t, st, gs, "%d workers", n)
	}

	// Without the polls' clock the connection is open until the input ends.
	recs, _, _ = run(1, 0)
	require.Equal(t, ingest.EndEOF, recs[len(recs)-1].Reason)
}

// TestIdleCancel: a live source that never ends and has nothing to read is
// still stopped by cancellation, at its next empty poll, with one engine
// or with workers.
func TestIdleCancel(t *testing.T) {
	pcap := quietLink(t)
	for _, workers := range []int{1, 3} {
		inf, err := ingest.Start(ingest.DefaultOptions(), workers, ingest.SinkFunc(func(*ingest.Record) error { return nil }))
		require.NoError(t, err)
		src, err := capture.OpenReader("live", bytes.NewReader(pcap))
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		polls := 0
		var dec decode.Decoder
		err = inf.Feed(ctx, &idleSource{Source: src, ticks: -1}, &dec, func(int64) {
			if polls++; polls == 5 {
				cancel()
			}
		})
		require.ErrorIs(t, err, context.Canceled, "%d workers", workers)
		require.Equal(t, 5, polls, "%d workers: stopped at the poll after the cancel", workers)
		require.NoError(t, inf.Finish())
		cancel()
	}
	require.Eventually(t, workersGone, 5*time.Second, 10*time.Millisecond, "the workers and the reader ended")
}
