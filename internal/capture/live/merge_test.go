package live

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/capture"
)

// TestMerge feeds the merge three rings' frames as ring readers do: each
// ring's in time order, in batches of random sizes, some ending in an
// empty poll, sent from goroutines of their own at random moments; one
// ring is quiet for long stretches. Every frame comes out once, with its
// bytes, in time order, none before an idle tick the merge gave; then the
// rings' end.
func TestMerge(t *testing.T) {
	for seed := range uint64(20) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 1))
			const rings = 3
			in := make(chan *frameBatch, rings*batchPool)
			free := make([]chan *frameBatch, rings)
			var want []int64
			streams := make([][]int64, rings)
			for k := range rings {
				free[k] = make(chan *frameBatch, batchPool)
				ts := int64(1e18)
				for range 200 + rng.IntN(300) {
					gap := rng.Int64N(int64(time.Millisecond))
					if k == 2 && rng.IntN(20) == 0 {
						gap = int64(time.Second) // the quiet ring
					}
					ts += gap
					streams[k] = append(streams[k], ts)
					want = append(want, ts)
				}
			}
			idleAt := make([]atomic.Int64, rings)
			wake := make(chan struct{}, 1)
			for k := range rings {
				go feedRing(k, streams[k], in, free[k], &idleAt[k], wake, rand.New(rand.NewPCG(seed, uint64(k)+2)))
			}
			m := newMerger(in, free, idleAt, wake, time.Hour)
			var got []int64
			var p capture.Packet
			buf := make([]byte, 64)
			tick := int64(0)
			for {
				err := m.next(&p, buf, capture.LinkEthernet)
				if errors.Is(err, io.EOF) {
					break
				}
				if errors.Is(err, capture.ErrIdle) {
					require.Greater(t, p.TsNs, tick, "each idle tick later than the one before")
					if len(got) > 0 {
						require.GreaterOrEqual(t, p.TsNs, got[len(got)-1]-mergeSlack)
					}
					tick = p.TsNs
					continue
				}
				require.NoError(t, err)
				require.GreaterOrEqual(t, p.TsNs, tick, "no frame before an idle tick")
				require.Equal(t, fmt.Sprint(p.TsNs), string(p.Data), "the frame's own bytes")
				got = append(got, p.TsNs)
			}
			require.True(t, slices.IsSorted(got), "in time order")
			slices.Sort(want)
			require.Equal(t, want, got, "every frame once")
		})
	}
}

// feedRing is a ring reader of frames at times ts: batches of random sizes
// (at most batchPool of them in flight), a third ending in an empty poll
// at the next frame's time, and between some an empty poll without a
// frame (idleAt), then io.EOF.
func feedRing(ring int, ts []int64, in chan<- *frameBatch, free chan *frameBatch, idleAt *atomic.Int64,
	wake chan struct{}, rng *rand.Rand) {
	made := 0
	batch := func() *frameBatch {
		if made < batchPool {
			made++
			return &frameBatch{ring: ring}
		}
		b := <-free
		b.data, b.frames, b.idle, b.err = b.data[:0], b.frames[:0], 0, nil
		return b
	}
	for i := 0; i < len(ts); {
		b := batch()
		for n := 1 + rng.IntN(40); n > 0 && i < len(ts); n-- {
			s := fmt.Sprint(ts[i])
			b.frames = append(b.frames, frame{ts: ts[i], off: len(b.data), n: len(s)})
			b.data = append(b.data, s...)
			i++
		}
		if rng.IntN(3) == 0 && i < len(ts) {
			b.idle = ts[i] // nothing before the next frame
		}
		if rng.IntN(4) == 0 {
			time.Sleep(time.Duration(rng.IntN(200)) * time.Microsecond)
		}
		in <- b
		if rng.IntN(5) == 0 && i < len(ts) {
			idleAt.Store(ts[i])
			select {
			case wake <- struct{}{}:
			default:
			}
		}
	}
	b := batch()
	b.err = io.EOF
	in <- b
}

// TestMergeIdle: rings that only report empty polls give capture.ErrIdle
// once a poll interval passed without a frame or an ErrIdle, at the time before which none can give a frame
// (the earliest ring's poll, less the slack), and never a time twice.
func TestMergeIdle(t *testing.T) {
	in := make(chan *frameBatch, 4)
	free := []chan *frameBatch{make(chan *frameBatch, 4), make(chan *frameBatch, 4)}
	idleAt := make([]atomic.Int64, 2)
	wake := make(chan struct{}, 1)
	clock := time.Unix(1000, 0)
	m := newMerger(in, free, idleAt, wake, 250*time.Millisecond)
	m.now = func() time.Time { return clock }
	m.lastActive = clock.Add(-time.Second).UnixNano()
	poll := func(ring int, at time.Duration) {
		idleAt[ring].Store(clock.Add(at).UnixNano())
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	var p capture.Packet
	poll(0, 0)
	poll(1, -10*time.Millisecond)
	require.ErrorIs(t, m.next(&p, nil, capture.LinkEthernet), capture.ErrIdle)
	require.Equal(t, clock.Add(-10*time.Millisecond).UnixNano()-mergeSlack, p.TsNs, "the earlier ring's poll, less the slack")

	// Within the poll interval: no ErrIdle, the merge waits for a frame.
	clock = clock.Add(100 * time.Millisecond)
	poll(0, 0)
	in <- &frameBatch{ring: 0, frames: []frame{{ts: clock.UnixNano(), n: 1}}, data: []byte{'x'}}
	poll(1, 30*time.Millisecond)
	require.NoError(t, m.next(&p, nil, capture.LinkEthernet))
	require.Equal(t, clock.UnixNano(), p.TsNs)

	// A poll interval after the frame: ErrIdle.
	clock = clock.Add(300 * time.Millisecond)
	poll(0, 0)
	poll(1, 0)
	require.ErrorIs(t, m.next(&p, nil, capture.LinkEthernet), capture.ErrIdle)
	require.Equal(t, clock.UnixNano()-mergeSlack, p.TsNs)
}
