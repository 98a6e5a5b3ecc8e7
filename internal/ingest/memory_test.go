package ingest_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/capture"
	"github.com/abt-dev/abt/internal/decode"
	"github.com/abt-dev/abt/internal/flood"
	"github.com/abt-dev/abt/internal/ingest"
)

// heapInUse returns the live heap after a full collection.
func heapInUse() int64 {
	runtime.GC()
	runtime.GC() // finalise what the first cycle swept
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// costScript is connection i of n scripted ones: its own client port and
// address, so each is a table entry of its own.
func costScript(i int) script {
	sc := newScript()
	sc.c = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 9, byte(i >> 8), byte(i)}), uint16(20000+i%40000))
	return sc
}

// TestMemoryCosts measures, for each kind of thing the engine holds, the
// Go heap it takes per item, and checks the engine's own account
// (Engine.Memory) against it: the account may over-estimate (the map's
// room is charged at its worst), but never under-estimate by more than 5%.
// The measured figures are the table of docs/inference.md ("Memory
// bound"); reproduce them with
//
//	go test ./internal/ingest -run TestMemoryCosts -v
func TestMemoryCosts(t *testing.T) {
	const n = 30000
	tests := []struct {
		name string
		// steps of connection i; us is the time of its first packet.
		steps func(us int64) []step
		// per is the number of items of the kind per connection.
		per int
	}{
		{"half-open connection (SYN seen)", func(us int64) []step {
			return []step{{us: us, c2s: true, flags: "S"}}
		}, 1},
		{"established connection", func(us int64) []step {
			return append(handshake(us), step{us: us + 40000, c2s: true, flags: "PA", seq: 1, ack: 1, n: 100})
		}, 1},
		{"closed connection's key", func(us int64) []step {
			return append(handshake(us),
				step{us: us + 40000, c2s: true, flags: "FA", seq: 1, ack: 1},
				step{us: us + 40100, flags: "FA", seq: 1, ack: 2})
		}, 1},
		{"established connection with a hole", func(us int64) []step {
			return append(handshake(us),
				step{us: us + 40000, c2s: true, flags: "PA", seq: 1, ack: 1, n: 100},
				step{us: us + 40100, c2s: true, flags: "PA", seq: 1101, ack: 1, n: 100})
		}, 1},
		{"established connection holding 8 ADUs", func(us int64) []step {
			// Four exchanges, then a fifth request: every ADU but the last
			// is decided, and held.
			steps := handshake(us)
			for k := uint32(0); k < 4; k++ {
				steps = append(steps,
					step{us: us + 40000 + int64(k)*1000, c2s: true, flags: "PA", seq: 1 + 10*k, ack: 1 + 20*k, n: 10},
					step{us: us + 40500 + int64(k)*1000, flags: "PA", seq: 1 + 20*k, ack: 11 + 10*k, n: 20})
			}
			return append(steps, step{us: us + 44000, c2s: true, flags: "PA", seq: 41, ack: 81, n: 10})
		}, 1},
	}
	perConn := map[string]float64{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := ingest.DefaultOptions()
			opts.MemoryBudget = 0
			before := heapInUse()
			e, err := ingest.New(opts, ingest.SinkFunc(func(*ingest.Record) error { return nil }))
			require.NoError(t, err)
			// Connections start 10 µs apart: all live at once, nothing
			// times out, nothing is released from the hold (1 s).
			for i := range n {
				sc := costScript(i)
				for _, st := range tc.steps(int64(i) * 10) {
					s := sc.seg(st)
					require.NoError(t, e.Process(&s))
				}
			}
			// Everything after the held records waits behind them; the
			// reorder stage is not what is measured.
			m := e.Memory()
			heap := heapInUse() - before
			account := m.Entries + m.Held
			conns := e.Conns() // the last segment waits in the engine's look-ahead
			measured := float64(heap-m.Queued) / float64(conns)
			perConn[tc.name] = measured
			t.Logf("%s: %.0f bytes per connection on the heap, %.0f in the engine's account (%.0f held)",
				tc.name, measured, float64(account)/float64(conns), float64(m.Held)/float64(conns))
			require.GreaterOrEqual(t, conns, n-1)
			require.GreaterOrEqual(t, float64(account), 0.95*float64(heap-m.Queued), "the account under-estimates")
			require.LessOrEqual(t, float64(account), 1.4*float64(heap-m.Queued), "the account over-estimates")
			runtime.KeepAlive(e)
		})
	}
	if len(perConn) == len(tests) {
		t.Logf("a hole set: %.0f bytes", perConn["established connection with a hole"]-perConn["established connection"])
		t.Logf("a held ADU record: %.0f bytes", (perConn["established connection holding 8 ADUs"]-perConn["established connection"])/8)
	}
}

// TestMemoryAccountIsExact checks the account's running sums against a
// recount of every entry after each segment of a busy capture, with a
// budget small enough that entries are shed and held records released
// early all along.
func TestMemoryAccountIsExact(t *testing.T) {
	opts := ingest.DefaultOptions()
	opts.MemoryBudget = ingest.MinMemoryBudget
	e, err := ingest.New(opts, ingest.SinkFunc(func(*ingest.Record) error { return nil }))
	require.NoError(t, err)
	pkts, _ := loadPackets(t)
	var dec decode.Decoder
	var seg decode.Segment
	for i := range pkts {
		if dec.Decode(&pkts[i].pkt, &seg) != decode.OK {
			continue
		}
		require.NoError(t, e.Process(&seg))
		if i%97 == 0 {
			require.NoError(t, ingest.AuditMemory(e), "after packet %d", i)
		}
		require.LessOrEqual(t, e.Memory().Total(), opts.MemoryBudget, "after packet %d: %+v", i, e.Memory())
	}
	require.NoError(t, e.Finish())
	st := e.Stats()
	require.NotZero(t, st.Evicted, "the budget binds")
	require.NotZero(t, st.HeldEarly, "the budget binds")
}

// TestSYNFloodMemoryBudget floods 150,000 SYNs (at 100,000 a second, from
// as many sources) at an engine with an 8 MiB and a 2 MiB budget while 200
// real connections, whose ADUs are known by construction, come and go: the
// engine's account stays within the budget after every segment, and so
// does the Go heap; the half-open entries, and only they, are shed (all
// but the few thousand the budget holds), each counted once; and every
// real connection's records are there, exact.
func TestSYNFloodMemoryBudget(t *testing.T) {
	const syns, real = 150_000, 200
	path, fs := writeFlood(t, flood.Spec{SYNs: syns, Real: real})
	for _, budget := range []int64{8 << 20, 2 << 20} {
		t.Run(fmt.Sprintf("budget=%dMiB", budget>>20), func(t *testing.T) {
			floodWithin(t, path, fs, budget)
		})
	}
}

// writeFlood writes the flood capture of spec into the test's directory.
func writeFlood(t *testing.T, spec flood.Spec) (string, flood.Summary) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "flood.pcap")
	f, err := os.Create(path)
	require.NoError(t, err)
	bw := bufio.NewWriter(f)
	fs, err := flood.Write(bw, spec)
	require.NoError(t, err)
	require.NoError(t, bw.Flush())
	require.NoError(t, f.Close())
	return path, fs
}

// floodWithin runs TestSYNFloodMemoryBudget's capture at one budget.
func floodWithin(t *testing.T, path string, fs flood.Summary, budget int64) {
	const syns, real = 150_000, 200
	realClients := map[netip.AddrPort]int{}
	for i, c := range fs.Real {
		realClients[c.Client] = i
	}
	got := make([][]ingest.Record, real)
	ends := map[ingest.EndReason]int{} // flood connections' END records, by reason
	opts := ingest.DefaultOptions()
	opts.MemoryBudget = budget
	e, err := ingest.New(opts, ingest.SinkFunc(func(r *ingest.Record) error {
		if i, ok := realClients[r.Client]; ok {
			got[i] = append(got[i], *r)
		} else if r.Kind == ingest.KindEND {
			ends[r.Reason]++
		}
		return nil
	}))
	require.NoError(t, err)

	src, err := capture.Open(path)
	require.NoError(t, err)
	defer src.Close()
	base := heapInUse()
	var (
		dec decode.Decoder
		pkt capture.Packet
		seg decode.Segment
	)
	for n := 1; ; n++ {
		err := src.Next(&pkt)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		require.Equal(t, decode.OK, dec.Decode(&pkt, &seg))
		require.NoError(t, e.Process(&seg))
		require.LessOrEqual(t, e.Memory().Total(), budget, "engine's account after packet %d", n)
		if n%20000 == 0 {
			// The records kept by this test are a few hundred kB.
			require.LessOrEqual(t, heapInUse()-base, budget*5/4, "heap after packet %d", n)
		}
	}
	require.NoError(t, e.Finish())
	st := e.Stats()
	t.Logf("%d half-open entries shed, %d left at the end, %d held records released early, peak account %d bytes",
		st.EvictedHalfOpen, ends[ingest.EndEOF], st.HeldEarly, st.PeakMemory)

	// Shed: half-open entries only, each once, all but those the budget
	// holds at the end (the flood lasts 1.5 s: none times out).
	require.Equal(t, syns, ends[ingest.EndEvicted]+ends[ingest.EndEOF], "every flood SYN ended once")
	require.Equal(t, uint64(ends[ingest.EndEvicted]), st.EvictedHalfOpen)
	require.Equal(t, st.Evicted, st.EvictedHalfOpen, "no established connection shed")
	require.Less(t, int64(ends[ingest.EndEOF]), budget/ingest.EntryCost(), "no more half-open entries than the budget holds")
	require.Greater(t, int64(ends[ingest.EndEOF]), budget/4/ingest.EntryCost(), "the budget is used")
	require.LessOrEqual(t, st.PeakMemory, budget)

	// The real connections, exactly.
	for i, c := range fs.Real {
		recs := got[i]
		require.Len(t, recs, 3+len(c.ADUs)+1, "connection %v", c.Client)
		require.Equal(t, []ingest.Kind{ingest.KindSYN, ingest.KindRTT, ingest.KindSEQ},
			[]ingest.Kind{recs[0].Kind, recs[1].Kind, recs[2].Kind})
		for k, want := range c.ADUs {
			r := recs[3+k]
			dir := ingest.DirS2C
			if want.C2S {
				dir = ingest.DirC2S
			}
			require.Equal(t, ingest.KindADU, r.Kind)
			require.Equal(t, []any{dir, want.Size, want.FirstNs, want.LastNs, want.ThinkNs, want.ThinkNs >= 0, uint32(k)},
				[]any{r.Dir, r.Size, r.FirstNs, r.LastNs, r.ThinkNs, r.ThinkToPeer, r.Ordinal}, "connection %v ADU %d", c.Client, k)
		}
		end := recs[len(recs)-1]
		require.Equal(t, ingest.KindEND, end.Kind)
		require.Equal(t, ingest.EndFIN, end.Reason)
	}
}
