package live

import (
	"errors"
	"io"
	"math"
	"slices"
	"sync/atomic"
	"time"

	"github.com/abt-dev/abt/internal/capture"
)

// With a fanout group (Options.Fanout) the kernel spreads the frames over
// several sockets by a hash of their flow, each with a ring of its own and
// a goroutine that reads it (a ring reader, on Linux). The merge puts
// their frames back into one stream in time order, which is what every
// reader of a capture.Source expects: each ring's frames come in the order
// of their times, and a frame is passed on once no ring can still give an
// earlier one.

// frame is a frame a ring reader copied out of its ring.
type frame struct {
	ts      int64 // ns
	origLen int
	iface   int // place in the interfaces named
	off, n  int // its bytes in the batch's data
}

// frameBatch is what a ring reader hands the merge: frames in the order
// its ring gave them; then, when idle is not 0, the time (ns, wall clock)
// at which a poll found nothing after them; or, when err is not nil, the
// ring's end. (A poll that finds nothing when the reader has no frame is
// not a batch: the reader stores its time in the ring's idle time, so that
// a quiet ring takes none of the batches it may have in flight.)
type frameBatch struct {
	ring   int
	data   []byte
	frames []frame
	idle   int64
	err    error
}

// mergeSlack is how far before an empty poll a frame may still come out
// of a ring: the kernel hands over a block of the ring when it is full or
// blockTimeout after its first frame, so a frame that arrived just before
// the poll can be handed over after it.
const mergeSlack = 2 * int64(blockTimeout)

// merger merges the rings' batches, which arrive on in, into one stream.
// Batches it is done with go back to their ring reader on free[ring].
// idleAt[ring] is the time of the ring's last empty poll without a frame
// before it, set after the ring's batches before it were sent; wake says
// that one changed.
type merger struct {
	in     <-chan *frameBatch
	free   []chan *frameBatch
	idleAt []atomic.Int64
	wake   <-chan struct{}
	queues [][]*frameBatch // per ring: batches with frames still to pass on
	pos    []int           // per ring: the next frame of its first batch
	// mark, per ring: no frame earlier than this (ns) is still to come
	// from it (0: nothing known yet).
	mark []int64
	poll time.Duration // ErrIdle after a poll without a frame or ErrIdle
	// lastActive is when (ns, wall clock) the merge opened, or last passed
	// on an ErrIdle, or last took frames from a ring.
	lastActive int64
	tick       int64  // the time of the last ErrIdle
	ended      []bool // per ring: its reader ended (io.EOF, or its error)
	err        error  // the first ring's error (not io.EOF)
	now        func() time.Time
}

func newMerger(in <-chan *frameBatch, free []chan *frameBatch, idleAt []atomic.Int64, wake <-chan struct{},
	poll time.Duration) *merger {
	n := len(free)
	m := &merger{in: in, free: free, idleAt: idleAt, wake: wake, queues: make([][]*frameBatch, n), pos: make([]int, n),
		mark: make([]int64, n), ended: make([]bool, n), poll: poll, now: time.Now}
	m.lastActive = m.now().UnixNano()
	return m
}

// next fills p with the next frame in time order (its bytes copied into
// buf, which p.Data then is); capture.ErrIdle when no frame came for a
// poll interval (nor since the last ErrIdle) and none waits; a ring's error once the frames before it are passed
// on (a socket that fails ends the capture); or io.EOF when every ring
// ended so.
func (m *merger) next(p *capture.Packet, buf []byte, link capture.LinkType) error {
	for {
		k, ok := m.ready()
		if !ok {
			// Only then what has arrived: while frames flow, marks
			// read earlier are low enough (they only grow).
			m.drain()
			k, ok = m.ready()
		}
		if ok {
			b := m.queues[k][0]
			f := b.frames[m.pos[k]]
			p.Data = append(buf[:0], b.data[f.off:f.off+f.n]...)
			p.TsNs, p.OrigLen, p.Link, p.Iface = f.ts, f.origLen, link, f.iface
			m.mark[k] = max(m.mark[k], f.ts)
			if m.pos[k]++; m.pos[k] == len(b.frames) {
				m.done(k) // b goes back to its reader: not to be read after
			}
			return nil
		}
		if m.empty() && (m.err != nil || !slices.Contains(m.ended, false)) {
			if m.err != nil {
				return m.err
			}
			return io.EOF
		}
		if now := m.now().UnixNano(); m.empty() && now-m.lastActive >= int64(m.poll) {
			if t := m.low(); t > m.tick {
				m.lastActive, m.tick = now, t
				p.Data, p.TsNs = p.Data[:0], t
				return capture.ErrIdle
			}
		}
		select {
		case b := <-m.in:
			m.add(b)
		case <-m.wake:
		}
	}
}

// ready returns the ring whose next frame is the earliest of all, if no
// ring without a frame waiting can still give an earlier one.
func (m *merger) ready() (int, bool) {
	best, ts := -1, int64(0)
	for k, q := range m.queues {
		if len(q) > 0 {
			if t := q[0].frames[m.pos[k]].ts; best < 0 || t < ts {
				best, ts = k, t
			}
		}
	}
	if best < 0 {
		return 0, false
	}
	for k, q := range m.queues {
		if len(q) == 0 && m.mark[k] < ts && m.err == nil {
			return 0, false
		}
	}
	return best, true
}

// drain takes the rings' idle times, then the batches that have arrived,
// without waiting. (In that order: the batches a ring sent before its idle
// time are in the channel by the time the time is read.)
func (m *merger) drain() {
	for k := range m.idleAt {
		if t := m.idleAt[k].Load(); t != 0 {
			m.mark[k] = max(m.mark[k], t-mergeSlack)
		}
	}
	for {
		select {
		case b := <-m.in:
			m.add(b)
		default:
			return
		}
	}
}

// add takes a batch from a ring reader.
func (m *merger) add(b *frameBatch) {
	if b.err != nil {
		// No frame is to come from the ring after b's.
		m.ended[b.ring] = true
		if !errors.Is(b.err, io.EOF) && m.err == nil {
			m.err = b.err
		}
	}
	if len(b.frames) > 0 {
		m.queues[b.ring] = append(m.queues[b.ring], b)
		m.lastActive = m.now().UnixNano()
		return
	}
	m.idle(b)
	m.free[b.ring] <- b
}

// done is ring k's first batch passed on: its empty poll counts now, and
// it goes back to its reader.
func (m *merger) done(k int) {
	b := m.queues[k][0]
	m.queues[k] = m.queues[k][1:]
	m.pos[k] = 0
	m.idle(b)
	m.free[k] <- b
}

// idle moves ring b.ring's mark to b's empty poll, or past every time
// when b was its last.
func (m *merger) idle(b *frameBatch) {
	if b.err != nil {
		m.mark[b.ring] = math.MaxInt64
	}
	if b.idle != 0 {
		m.mark[b.ring] = max(m.mark[b.ring], b.idle-mergeSlack)
	}
}

// empty reports whether no frame waits.
func (m *merger) empty() bool {
	for _, q := range m.queues {
		if len(q) > 0 {
			return false
		}
	}
	return true
}

// low is the time before which no ring can still give a frame (0 when a
// ring has not said).
func (m *merger) low() int64 {
	lo := m.mark[0]
	for _, t := range m.mark[1:] {
		lo = min(lo, t)
	}
	return lo
}
