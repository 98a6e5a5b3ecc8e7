package live

import (
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gopacket/gopacket/afpacket"
	"golang.org/x/net/bpf"
)

// Ring readers' batches: up to batchFrames frames, passed on once full,
// once batchSpan of packet time is in it, or at an empty poll (every
// ringPoll of silence); batchPool per ring at most, so that a reader the
// merge does not keep up with stops reading and its ring (the kernel)
// holds the rest, or drops and counts it.
const (
	batchFrames = 1024
	batchSpan   = int64(5 * time.Millisecond)
	batchPool   = 8
	ringPoll    = 20 * time.Millisecond
)

// fanout is the sockets of a fanout group and their readers.
type fanout struct {
	tps   []*afpacket.TPacket
	merge *merger
	stop  chan struct{}
	wg    sync.WaitGroup
	// what the readers read, summed over the rings, and each ring's frames
	packets, bytes, foreign atomic.Uint64
	perRing                 []atomic.Uint64
	// each ring's last empty poll without a frame before it (merger.idleAt)
	idleAt []atomic.Int64
	wake   chan struct{}
}

// fanoutID picks a group id at random: sockets that join an id share its
// frames, so two sensors on one host must not pick the same. (A group of
// another program, bound otherwise, refuses our sockets: openFanout then
// picks again.)
func fanoutID() uint16 {
	var b [2]byte
	_, _ = rand.Read(b[:])
	return uint16(b[0])<<8 | uint16(b[1])
}

// openFanout opens o.Fanout sockets in a fanout group, each with its share
// of o.RingBytes, and starts their readers.
func openFanout(s *Source, o Options, prog []bpf.RawInstruction) (*fanout, error) {
	if o.Fanout > MaxFanout {
		return nil, fmt.Errorf("live capture: fanout %d: at most %d sockets", o.Fanout, MaxFanout)
	}
	f := &fanout{stop: make(chan struct{}), perRing: make([]atomic.Uint64, o.Fanout),
		idleAt: make([]atomic.Int64, o.Fanout), wake: make(chan struct{}, 1)}
	in := make(chan *frameBatch, o.Fanout*batchPool)
	free := make([]chan *frameBatch, o.Fanout)
	id := fanoutID()
	for k := range o.Fanout {
		tp, err := s.socket(o, o.RingBytes/o.Fanout, ringPoll, prog)
		if err == nil {
			// Hash mode with defragmentation: a fragmented packet's
			// fragments go to one socket.
			err = tp.SetFanout(afpacket.FanoutHashWithDefrag, id)
			for try := 0; k == 0 && errors.Is(err, syscall.EINVAL) && try < 8; try++ {
				id = fanoutID() // another program's group
				err = tp.SetFanout(afpacket.FanoutHashWithDefrag, id)
			}
			if err != nil {
				tp.Close()
				err = fmt.Errorf("live capture on %s: fanout: %w", s.name, err)
			}
		}
		if err != nil {
			for _, tp := range f.tps {
				tp.Close()
			}
			return nil, err
		}
		f.tps = append(f.tps, tp)
		free[k] = make(chan *frameBatch, batchPool)
	}
	f.merge = newMerger(in, free, f.idleAt, f.wake, o.Poll)
	for k, tp := range f.tps {
		r := &ringReader{ring: k, tp: tp, src: s, f: f, in: in, free: free[k], snap: o.SnapLen}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			r.run()
		}()
	}
	return f, nil
}

// close stops the readers (each within a poll), then closes the sockets.
func (f *fanout) close() {
	close(f.stop)
	f.wg.Wait()
	for _, tp := range f.tps {
		tp.Close()
	}
}

// ringReader reads one socket of a fanout group into batches for the
// merge.
type ringReader struct {
	ring int
	tp   *afpacket.TPacket
	src  *Source
	f    *fanout
	in   chan<- *frameBatch
	free chan *frameBatch
	snap int
	made int // batches allocated
}

func (r *ringReader) run() {
	for {
		b := r.batch()
		if b == nil {
			return
		}
		for !r.fill(b) {
			// A poll found nothing, and b has no frame: say so without
			// sending b.
			r.f.idleAt[r.ring].Store(time.Now().UnixNano())
			select {
			case r.f.wake <- struct{}{}:
			default:
			}
			select {
			case <-r.f.stop:
				return
			default:
			}
		}
		select {
		case r.in <- b:
		case <-r.f.stop:
			return
		}
		if b.err != nil {
			return
		}
	}
}

// batch returns an empty batch: one the merge gave back, or a new one
// while the ring has fewer than batchPool; nil when the source closes.
func (r *ringReader) batch() *frameBatch {
	var b *frameBatch
	select {
	case b = <-r.free:
	default:
		if r.made < batchPool {
			r.made++
			b = &frameBatch{ring: r.ring, data: make([]byte, 0, batchFrames*r.snap), frames: make([]frame, 0, batchFrames)}
		} else {
			select {
			case b = <-r.free:
			case <-r.f.stop:
				return nil
			}
		}
	}
	b.data, b.frames, b.idle, b.err = b.data[:0], b.frames[:0], 0, nil
	return b
}

// fill reads frames into b until it is full, spans batchSpan, or a poll
// finds nothing after them, or the socket fails (b.err): true when b is to
// be sent, false when a poll found nothing and b has no frame. (The source
// closing is seen when b is sent, within a batch or a poll.)
func (r *ringReader) fill(b *frameBatch) bool {
	for len(b.frames) < batchFrames {
		data, ci, err := r.tp.ZeroCopyReadPacketData()
		switch {
		case errors.Is(err, afpacket.ErrTimeout):
			if len(b.frames) == 0 {
				return false
			}
			b.idle = time.Now().UnixNano()
			return true
		case err != nil:
			b.err = fmt.Errorf("live capture on %s: %w", r.src.name, err)
			return true
		}
		place, ok := r.src.ifaces[ci.InterfaceIndex]
		if !ok {
			r.f.foreign.Add(1) // read before the filter was attached
			continue
		}
		r.f.packets.Add(1)
		r.f.perRing[r.ring].Add(1)
		r.f.bytes.Add(uint64(ci.Length))
		n := min(len(data), r.snap)
		b.frames = append(b.frames, frame{ts: ci.Timestamp.UnixNano(), origLen: ci.Length, iface: place, off: len(b.data), n: n})
		b.data = append(b.data, data[:n]...)
		if b.frames[len(b.frames)-1].ts-b.frames[0].ts >= batchSpan {
			return true
		}
	}
	return true
}
