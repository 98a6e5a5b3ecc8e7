package ingest_test

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/capture"
	"github.com/abt-dev/abt/internal/decode"
	"github.com/abt-dev/abt/internal/ingest"
)

// progressPoint is what a progress callback sees: the packet count, the
// engine's clock and the records written so far.
type progressPoint struct {
	packets, now int64
	records      int
}

// feedSequential is the reference: Feed's loop as it was before reading
// moved to a goroutine of its own, reading, decoding and processing one
// packet at a time and reporting progress before every ProgressEvery-th
// packet.
func feedSequential(t *testing.T, e *ingest.Engine, src capture.Source, dec *decode.Decoder, progress func(int64)) {
	t.Helper()
	var (
		pkt capture.Packet
		seg decode.Segment
		n   int64
	)
	for {
		err := src.Next(&pkt)
		if errors.Is(err, io.EOF) {
			return
		}
		require.NoError(t, err)
		n++
		if n%ingest.ProgressEvery == 0 {
			progress(n)
		}
		if dec.Decode(&pkt, &seg) == decode.OK {
			require.NoError(t, e.Process(&seg))
		}
	}
}

// TestFeedAsSequential: Feed, reading on a goroutine of its own, gives the
// records, the decoder's counts and the progress points (each with the
// engine's clock and the records written by then) of the sequential loop.
func TestFeedAsSequential(t *testing.T) {
	path := filepath.Join(pcapDir, "zeek_echo-connections.pcap.gz") // 82,582 packets: 5 progress points
	run := func(feed func(*ingest.Engine, capture.Source, *decode.Decoder, func(int64))) ([]ingest.Record, []progressPoint, decode.Stats) {
		var recs []ingest.Record
		e, err := ingest.New(ingest.DefaultOptions(), ingest.SinkFunc(func(r *ingest.Record) error {
			recs = append(recs, *r)
			return nil
		}))
		require.NoError(t, err)
		src, err := capture.Open(path)
		require.NoError(t, err)
		defer src.Close()
		var dec decode.Decoder
		var points []progressPoint
		feed(e, src, &dec, func(n int64) {
			now, _ := e.Now()
			points = append(points, progressPoint{n, now, len(recs)})
		})
		require.NoError(t, e.Finish())
		return recs, points, dec.Stats
	}
	wantRecs, wantPoints, wantStats := run(func(e *ingest.Engine, src capture.Source, dec *decode.Decoder, p func(int64)) {
		feedSequential(t, e, src, dec, p)
	})
	gotRecs, gotPoints, gotStats := run(func(e *ingest.Engine, src capture.Source, dec *decode.Decoder, p func(int64)) {
		require.NoError(t, e.Feed(context.Background(), src, dec, p))
	})
	require.GreaterOrEqual(t, len(wantPoints), 3)
	require.Equal(t, wantPoints, gotPoints)
	require.Equal(t, wantStats, gotStats)
	require.Equal(t, len(wantRecs), len(gotRecs))
	require.Equal(t, wantRecs, gotRecs)
}

// TestFeedCancelled: a cancelled context stops Feed at its next progress
// point with the context's error, and its reader goroutine ends with it.
func TestFeedCancelled(t *testing.T) {
	e, err := ingest.New(ingest.DefaultOptions(), ingest.SinkFunc(func(*ingest.Record) error { return nil }))
	require.NoError(t, err)
	src, err := capture.Open(filepath.Join(pcapDir, "zeek_echo-connections.pcap.gz"))
	require.NoError(t, err)
	defer src.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var dec decode.Decoder
	var calls int
	err = e.Feed(ctx, src, &dec, func(int64) {
		calls++
		cancel()
	})
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, 1, calls, "stopped at the progress point after the cancel")
	require.Eventually(t, readerGone, 5*time.Second, 10*time.Millisecond, "the reader goroutine ended")
}

// TestFeedSinkError: the sink's error ends Feed at once, and its reader
// with it.
func TestFeedSinkError(t *testing.T) {
	boom := errors.New("disk full")
	e, err := ingest.New(ingest.DefaultOptions(), ingest.SinkFunc(func(*ingest.Record) error { return boom }))
	require.NoError(t, err)
	src, err := capture.Open(filepath.Join(pcapDir, "zeek_echo-connections.pcap.gz"))
	require.NoError(t, err)
	defer src.Close()
	var dec decode.Decoder
	require.ErrorIs(t, e.Feed(context.Background(), src, &dec, nil), boom)
	require.Eventually(t, readerGone, 5*time.Second, 10*time.Millisecond, "the reader goroutine ended")
}

// readerGone reports whether no goroutine runs Feed's reader.
func readerGone() bool {
	buf := make([]byte, 1<<20)
	return !strings.Contains(string(buf[:runtime.Stack(buf, true)]), "feedReader")
}
