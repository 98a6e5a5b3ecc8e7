package ingest_test

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/capture"
	"github.com/abt-dev/abt/internal/decode"
	"github.com/abt-dev/abt/internal/flood"
	"github.com/abt-dev/abt/internal/ingest"
	"github.com/abt-dev/abt/internal/synthcap"
)

// infer runs one engine (workers 1) or a Sharded of n workers, fed by
// feed, and returns every record written (END records with their
// summaries copied) and the counters.
func infer(t testing.TB, opts ingest.Options, workers int, feed func(ingest.Inferrer, *decode.Decoder)) ([]ingest.Record, ingest.Stats) {
	t.Helper()
	var recs []ingest.Record
	inf, err := ingest.Start(opts, workers, ingest.SinkFunc(func(r *ingest.Record) error {
		c := *r
		if r.Conn != nil {
			s := *r.Conn
			c.Conn = &s
		}
		recs = append(recs, c)
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	var dec decode.Decoder
	feed(inf, &dec)
	if err := inf.Finish(); err != nil {
		t.Fatal(err)
	}
	return recs, inf.Stats()
}

// inferAll runs the captures, in order, through infer.
func inferAll(t *testing.T, opts ingest.Options, workers int, paths ...string) ([]ingest.Record, ingest.Stats) {
	t.Helper()
	return infer(t, opts, workers, func(inf ingest.Inferrer, dec *decode.Decoder) {
		for _, p := range paths {
			src, err := capture.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := inf.Feed(context.Background(), src, dec, nil); err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			src.Close()
		}
	})
}

// sameRecords reports the first difference between two record streams.
func sameRecords(a, b []ingest.Record) error {
	for i := range min(len(a), len(b)) {
		if !reflect.DeepEqual(a[i], b[i]) {
			return fmt.Errorf("record %d differs:\n  one engine: %+v\n  workers:    %+v", i, a[i], b[i])
		}
	}
	if len(a) != len(b) {
		return fmt.Errorf("%d records from one engine, %d from the workers", len(a), len(b))
	}
	return nil
}

// TestShardedSameRecords runs every bundled capture, each alone and all of
// them as one run (years apart and out of order between files), and a
// campus-like capture, through one engine and through 2, 3 and 4 workers
// (each capture alone: 3):
// the records must be the same, in the same order, with the same counters
// apart from the peaks (a sum over workers).
func TestShardedSameRecords(t *testing.T) {
	captures, err := filepath.Glob("../../testdata/pcaps/*")
	if err != nil || len(captures) < 40 {
		t.Fatalf("bundled captures: %v (%d)", err, len(captures))
	}
	campus := filepath.Join(t.TempDir(), "campus.pcap")
	spec := synthcap.DefaultCampus()
	spec.Web, spec.Plain, spec.Mail = 1200, 300, 100
	var buf bytes.Buffer
	if err := spec.Write(&buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(campus, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	runs := [][]string{captures, {campus}}
	for _, c := range captures {
		runs = append(runs, []string{c})
	}
	opts := ingest.DefaultOptions()
	opts.TrackPartial = true
	total := 0
	for _, paths := range runs {
		name := filepath.Base(paths[0])
		if len(paths) > 1 {
			name = "all bundled captures"
		}
		want, ws := inferAll(t, opts, 1, paths...)
		total += len(want)
		workers := []int{2, 3, 4}
		if len(paths) == 1 && paths[0] != campus {
			workers = []int{3} // each capture alone: they were all together with each number
		}
		for _, n := range workers {
			got, gs := inferAll(t, opts, n, paths...)
			if err := sameRecords(want, got); err != nil {
				t.Fatalf("%s, %d workers: %v", name, n, err)
			}
			ws.PeakConns, gs.PeakConns, ws.PeakMemory, gs.PeakMemory = 0, 0, 0, 0
			if ws != gs {
				t.Errorf("%s, %d workers: counters differ:\n  one engine: %+v\n  workers:    %+v", name, n, ws, gs)
			}
		}
	}
	if total < 100000 {
		t.Errorf("only %d records compared", total)
	}
	t.Logf("%d records compared", total)
}

// TestShardedProgress: a Sharded's progress points are Engine.Feed's: the
// same packet counts, each with the same clock and the same records
// written by then; and a cancel at one stops both at the same point.
func TestShardedProgress(t *testing.T) {
	path := filepath.Join(pcapDir, "zeek_echo-connections.pcap.gz") // 82,582 packets: 5 progress points
	type point struct {
		packets, now int64
		records      int
	}
	run := func(workers, cancelAt int) ([]point, error) {
		var recs int
		inf, err := ingest.Start(ingest.DefaultOptions(), workers, ingest.SinkFunc(func(*ingest.Record) error {
			recs++
			return nil
		}))
		require.NoError(t, err)
		src, err := capture.Open(path)
		require.NoError(t, err)
		defer src.Close()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var dec decode.Decoder
		var points []point
		feedErr := inf.Feed(ctx, src, &dec, func(n int64) {
			now, _ := inf.Now()
			points = append(points, point{n, now, recs})
			if len(points) == cancelAt {
				cancel()
			}
		})
		require.NoError(t, inf.Finish())
		points = append(points, point{-1, 0, recs}) // what Finish wrote
		return points, feedErr
	}
	want, err := run(1, 0)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(want), 4)
	for _, n := range []int{2, 4} {
		got, err := run(n, 0)
		require.NoError(t, err)
		require.Equal(t, want, got, "%d workers", n)
	}
	wantCut, err := run(1, 2)
	require.ErrorIs(t, err, context.Canceled)
	gotCut, err := run(3, 2)
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, wantCut, gotCut, "cancelled at the second point")
	require.Less(t, wantCut[len(wantCut)-1].records, want[len(want)-1].records)
	require.Eventually(t, workersGone, 5*time.Second, 10*time.Millisecond, "the workers and the reader ended")
}

// TestShardedSinkError: the sink's error ends Feed, Finish returns it, and
// every goroutine ends.
func TestShardedSinkError(t *testing.T) {
	boom := errors.New("disk full")
	n := 0
	s, err := ingest.NewSharded(ingest.DefaultOptions(), 3, ingest.SinkFunc(func(*ingest.Record) error {
		if n++; n == 1000 {
			return boom
		}
		return nil
	}))
	require.NoError(t, err)
	src, err := capture.Open(filepath.Join(pcapDir, "zeek_echo-connections.pcap.gz"))
	require.NoError(t, err)
	defer src.Close()
	var dec decode.Decoder
	require.ErrorIs(t, s.Feed(context.Background(), src, &dec, nil), boom)
	require.ErrorIs(t, s.Finish(), boom)
	require.Equal(t, 1000, n, "nothing written after the error")
	require.Eventually(t, workersGone, 5*time.Second, 10*time.Millisecond, "the workers and the reader ended")
}

// workersGone reports whether no goroutine of Sharded or of Feed's reader
// runs.
func workersGone() bool {
	buf := make([]byte, 1<<20)
	st := string(buf[:runtime.Stack(buf, true)])
	return !strings.Contains(st, "feedReader") && !strings.Contains(st, "(*worker).run")
}

// TestShardedFloodBudget floods 150,000 SYNs among 200 real connections at
// 2 and 4 workers sharing an 8 MiB budget: the half-open entries, and only
// they, are shed, each ended once; every real connection's records are
// exact; the output stays in time order; and the workers' accounts
// together stay within the budget.
func TestShardedFloodBudget(t *testing.T) {
	const syns, real = 150_000, 200
	path, fs := writeFlood(t, flood.Spec{SYNs: syns, Real: real})
	const budget = 8 << 20
	opts := ingest.DefaultOptions()
	opts.MemoryBudget = budget
	want, _ := inferAll(t, ingest.DefaultOptions(), 1, path) // no budget: nothing shed
	realClients := map[netip.AddrPort]bool{}
	for _, c := range fs.Real {
		realClients[c.Client] = true
	}
	// Each real connection's records, without the times at which they
	// were written (the budget changes when held records are released)
	// and numbers (counted among the flood's).
	realOnly := func(recs []ingest.Record) map[netip.AddrPort][]ingest.Record {
		out := map[netip.AddrPort][]ingest.Record{}
		for _, r := range recs {
			if realClients[r.Client] {
				r.ConnID, r.TsNs = 0, 0
				out[r.Client] = append(out[r.Client], r)
			}
		}
		return out
	}
	for _, n := range []int{2, 4} {
		got, st := inferAll(t, opts, n, path)
		ends := map[ingest.EndReason]int{}
		for i, r := range got {
			if i > 0 && r.TsNs < got[i-1].TsNs {
				t.Fatalf("%d workers: record %d at %d after one at %d", n, i, r.TsNs, got[i-1].TsNs)
			}
			if r.Kind == ingest.KindEND && !realClients[r.Client] {
				ends[r.Reason]++
			}
		}
		require.Equal(t, syns, ends[ingest.EndEvicted]+ends[ingest.EndEOF], "%d workers: every flood SYN ended once", n)
		require.Equal(t, uint64(ends[ingest.EndEvicted]), st.EvictedHalfOpen)
		require.Equal(t, st.Evicted, st.EvictedHalfOpen, "no established connection shed")
		require.Greater(t, st.EvictedHalfOpen, uint64(syns/2))
		require.LessOrEqual(t, st.PeakMemory, int64(budget), "%d workers' accounts together", n)
		require.Equal(t, realOnly(want), realOnly(got), "%d workers: the real connections", n)
		t.Logf("%d workers: %d half-open entries shed, peak accounts %d bytes", n, st.EvictedHalfOpen, st.PeakMemory)
	}
}

// FuzzShardedSame runs arbitrary captures (seeded from the bundled ones:
// out of order, outlying times, odd link types) through one engine and
// through 2 and 3 workers: the same records and counters. Nothing is shed
// at these sizes, so nothing may differ.
func FuzzShardedSame(f *testing.F) {
	addCaptureSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64<<10 {
			return
		}
		src, err := capture.OpenReader("fuzz", bytes.NewReader(data))
		if err != nil {
			return
		}
		src.Close()
		opts := ingest.DefaultOptions()
		opts.TrackPartial = len(data)%2 == 1
		run := func(workers int) ([]ingest.Record, ingest.Stats) {
			recs, st := infer(t, opts, workers, func(inf ingest.Inferrer, dec *decode.Decoder) {
				src, err := capture.OpenReader("fuzz", bytes.NewReader(data))
				if err != nil {
					t.Fatal(err)
				}
				defer src.Close()
				_ = inf.Feed(context.Background(), src, dec, nil) // a malformed capture may stop early
			})
			st.PeakConns, st.PeakMemory = 0, 0
			return recs, st
		}
		want, ws := run(1)
		for _, n := range []int{2, 3} {
			got, gs := run(n)
			if err := sameRecords(want, got); err != nil {
				t.Fatalf("%d workers: %v", n, err)
			}
			if ws != gs {
				t.Fatalf("%d workers: counters differ:\n  one engine: %+v\n  workers:    %+v", n, ws, gs)
			}
		}
	})
}

// TestShardedMergeBudget: one worker holds an ADU for the whole input (its
// sender's FIN closed it and the other side never replies; Hold is an
// hour) while the other worker's 3,000 connections come and go. One engine
// would release the held ADU early when its reorder stage outgrew its
// share; a worker holding nothing else never does, and the merge's queue
// of the other worker's records, which the held one keeps back, must stay
// within its share of the budget: its oldest records are written early and
// counted. The output stays in time order, and every record is there, as
// one engine without a budget writes them but for their times.
func TestShardedMergeBudget(t *testing.T) {
	server := netip.MustParseAddrPort("192.0.2.1:80")
	client := func(worker, from int) (netip.AddrPort, int) {
		for p := from; ; p++ {
			c := netip.AddrPortFrom(netip.MustParseAddr("198.51.100.7"), uint16(p))
			s := decode.Segment{Src: c.Addr(), Dst: server.Addr(), SrcPort: c.Port(), DstPort: server.Port()}
			if ingest.ShardOf(&s, 2) == worker {
				return c, p + 1
			}
		}
	}
	const ms = int64(time.Millisecond)
	t0 := time.Date(2024, 3, 2, 10, 0, 0, 0, time.UTC).UnixNano()
	held, port := client(0, 10000)
	// The held connection: the handshake, then a request closed by its
	// sender's FIN, answered by an ACK only.
	segs := synthcap.Exchange(t0, held, server, 0, 0, false)[:3]
	segs = append(segs,
		synthcap.Segment{Ns: t0 + 3*ms, Src: held, Dst: server, Seq: 1000, Ack: 5000, Flags: synthcap.FlagPSH | synthcap.FlagACK | synthcap.FlagFIN, Payload: 100},
		synthcap.Segment{Ns: t0 + 4*ms, Src: server, Dst: held, Seq: 5000, Ack: 1101, Flags: synthcap.FlagACK})
	const conns = 3000
	for i := range conns {
		var c netip.AddrPort
		c, port = client(1, port)
		segs = append(segs, synthcap.Exchange(t0+int64(time.Second)+int64(i)*10*ms, c, server, 100, 200, true)...)
	}
	pcap, err := synthcap.Capture(segs)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "held.pcap")
	require.NoError(t, os.WriteFile(path, pcap, 0o644))

	opts := ingest.DefaultOptions()
	opts.Hold = time.Hour
	want, _ := inferAll(t, opts, 1, path) // no budget: nothing written early
	opts.MemoryBudget = ingest.MinMemoryBudget
	got, st := inferAll(t, opts, 2, path)
	require.Greater(t, st.WrittenEarly, uint64(conns), "the merge wrote early")
	require.Zero(t, st.HeldEarly, "the worker holding the ADU holds nothing else")
	for i := 1; i < len(got); i++ {
		require.GreaterOrEqual(t, got[i].TsNs, got[i-1].TsNs, "record %d", i)
	}
	byConn := func(recs []ingest.Record) []ingest.Record {
		out := slices.Clone(recs)
		for i := range out {
			out[i].TsNs = 0
		}
		slices.SortStableFunc(out, func(a, b ingest.Record) int { return cmp.Compare(a.ConnID, b.ConnID) })
		return out
	}
	require.Len(t, got, len(want))
	require.Equal(t, byConn(want), byConn(got))
	t.Logf("%d records, %d written early", len(got), st.WrittenEarly)
}
