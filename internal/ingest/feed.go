package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/abt-dev/abt/internal/capture"
	"github.com/abt-dev/abt/internal/decode"
)

// FeedProgress is called by Feed every ProgressEvery packets, and when a
// live source had no packet (capture.ErrIdle), with the packets read.
type FeedProgress func(packets int64)

// ProgressEvery is how often (in packets) Feed checks for cancellation and
// reports progress.
const ProgressEvery = 1 << 14

// feedBatches is how many batches of decoded segments may wait for the
// engine: the reader runs ahead of it by at most that many times
// ProgressEvery packets.
const feedBatches = 2

// Feed reads every packet of src, decodes it with dec and processes the TCP
// segments. It returns nil when src is exhausted; the source's error (a
// *capture.FormatError for malformed input) when it stops early, after
// processing every packet before the fault; ctx.Err() when cancelled; or
// the sink's error. It does not call Finish: several sources can feed one
// engine, as consecutive files of one capture do.
//
// Reading and decoding run on a goroutine of their own, a few batches of
// ProgressEvery packets ahead of the engine at most (src and dec are that
// goroutine's until Feed returns, which waits for it); the engine processes
// the segments, and calls progress and checks ctx, at the same packets as
// if it read them itself: before each packet whose number is a multiple of
// ProgressEvery. A live source that returns capture.ErrIdle when its poll
// found no packet gives the engine a tick of its clock at that time (an
// idle connection times out, an hour can close), and a progress point and
// a check for cancellation, however quiet the link. When the engine stops early (cancelled, the sink's
// error), Feed waits for a read under way to return: a source that can
// block (standard input) should return on cancellation, as adu2parquet's
// does.
func (e *Engine) Feed(ctx context.Context, src capture.Source, dec *decode.Decoder, progress FeedProgress) error {
	r := startFeedReader(src, dec, 1)
	defer r.close()
	for b := range r.out {
		for i := range b.segs {
			if err := e.process(&b.segs[i], segOwn); err != nil {
				return err
			}
		}
		if b.tick != 0 {
			if err := e.process(&decode.Segment{TsNs: b.tick}, segTick); err != nil {
				return err
			}
		}
		if b.checkpoint() {
			if err := ctx.Err(); err != nil {
				return err
			}
			if progress != nil {
				progress(b.progress)
			}
		}
		if b.err != nil {
			return feedError(b.err, src)
		}
		r.recycle(b)
	}
	return nil // not reached: the reader's last batch carries its error
}

// feedError is what Feed returns for the error that ended its source: nil
// at its end.
func feedError(err error, src capture.Source) error {
	var fe *capture.FormatError
	switch {
	case errors.Is(err, io.EOF):
		return nil
	case errors.As(err, &fe):
		return err // already names the file and offset
	}
	return fmt.Errorf("read %s: %w", src.Name(), err)
}

// startFeedReader starts reading and decoding src on a goroutine of its
// own, for shards workers (see shardOf).
func startFeedReader(src capture.Source, dec *decode.Decoder, shards int) *feedReader {
	r := &feedReader{src: src, dec: dec, shards: shards, out: make(chan *feedBatch, feedBatches),
		free: make(chan *feedBatch, 2*feedBatches+2), stop: make(chan struct{})}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer close(r.out)
		r.run()
	}()
	return r
}

// close stops the reader and waits for it.
func (r *feedReader) close() {
	close(r.stop)
	for range r.out { // let the reader see stop
	}
	r.wg.Wait()
}

// recycle gives a batch the consumer is done with back to the reader.
func (r *feedReader) recycle(b *feedBatch) {
	b.segs, b.owners, b.progress, b.tick = b.segs[:0], b.owners[:0], 0, 0
	select {
	case r.free <- b:
	default:
	}
}

// feedBatch is what Feed's reader hands the engine: the TCP segments of the
// packets read since the last batch; then, when progress is not 0, the
// progress point before packet number progress; when tick is not 0, the
// time at which a live source had no packet (capture.ErrIdle), a progress
// point after the progress packets read; or, when err is not nil, the
// source's end (io.EOF) or fault.
type feedBatch struct {
	tick     int64
	segs     []decode.Segment
	owners   []uint8 // with several workers, the worker of each segment
	progress int64
	err      error
}

// feedReader is Feed's reading goroutine.
type feedReader struct {
	src    capture.Source
	dec    *decode.Decoder
	shards int
	wg     sync.WaitGroup
	out    chan *feedBatch
	free   chan *feedBatch
	stop   chan struct{}
}

// run reads and decodes until the source ends or Feed stops listening.
func (r *feedReader) run() {
	var (
		pkt capture.Packet
		seg decode.Segment
		n   int64
	)
	b := r.batch()
	for {
		if err := r.src.Next(&pkt); errors.Is(err, capture.ErrIdle) {
			// A live source's poll ended without a packet: pass on what
			// was read and the time, so that the engine's clock moves and
			// Feed checks for cancellation however quiet the link.
			b.tick, b.progress = pkt.TsNs, n
			if !r.send(b) {
				return
			}
			b = r.batch()
			continue
		} else if err != nil {
			b.err = err
			r.send(b)
			return
		}
		n++
		if n%ProgressEvery == 0 {
			b.progress = n
			if !r.send(b) {
				return
			}
			b = r.batch()
		}
		if r.dec.Decode(&pkt, &seg) == decode.OK {
			b.segs = append(b.segs, seg)
			if r.shards > 1 {
				b.owners = append(b.owners, shardOf(&seg, r.shards))
			}
		}
	}
}

// send hands b to the engine; false when Feed has returned.
func (r *feedReader) send(b *feedBatch) bool {
	select {
	case r.out <- b:
		return true
	case <-r.stop:
		return false
	}
}

// batch returns an empty batch, a recycled one when there is one.
func (r *feedReader) batch() *feedBatch {
	select {
	case b := <-r.free:
		return b
	default:
		return &feedBatch{segs: make([]decode.Segment, 0, ProgressEvery)}
	}
}

// checkpoint reports whether Feed checks for cancellation and reports
// progress after b.
func (b *feedBatch) checkpoint() bool { return b.progress > 0 || b.tick != 0 }
