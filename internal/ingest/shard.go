package ingest

import (
	"context"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"sync"

	"github.com/abt-dev/abt/internal/capture"
	"github.com/abt-dev/abt/internal/decode"
)

// MaxWorkers is the most workers a Sharded runs.
const MaxWorkers = 64

// Sharded runs the inference on several workers, each an Engine holding
// the connections whose endpoints hash to it (both directions of a
// connection go to one worker), and merges their records into the output
// one Engine would write: the same records in the same order, byte for
// byte, while no worker sheds entries for its share of the memory budget.
//
// Every worker sees every segment's time (its clock, the time-jump checks
// and the timeouts run on all segments) and processes only its own
// connections' segments. What couples connections in one engine is done by
// the merge instead:
//   - release: a record may be written once no held record anywhere can
//     precede it, so each worker reports, after every segment, the time up
//     to which it could write (its watermark) and passes on its records up
//     to it; the merge writes, after each segment, the records up to the
//     least of the workers' watermarks, in the reorder stage's order (time,
//     segment, connection, order), and restamps against its own output;
//   - connection ids: a worker numbers a connection by the segment that
//     began it, the merge renumbers them densely in that order;
//   - the end of input: each worker writes Finish's three runs in their
//     order, the merge merges them.
//
// One goroutine reads and decodes (as Feed does), the workers each run on
// a goroutine of their own, a batch of ProgressEvery packets at a time, and
// the merge runs on the caller's goroutine a batch behind them.
type Sharded struct {
	workers []*worker
	wg      sync.WaitGroup

	m merger

	// As of the last batch merged.
	now, first int64
	seen       bool
	conns      int

	stats    Stats // once finished
	finished bool
}

// worker is one of Sharded's engines and its goroutine.
type worker struct {
	idx  int
	eng  *Engine
	in   chan *feedBatch    // batches to process; nil: finish
	out  chan *shardBatch   // what each batch gave
	free chan *shardBatch   // results the merge is done with
	fin  chan []shardRecord // Finish's runs, in chunks
}

// shardBatch is what a worker's processing of one batch gave the merge.
type shardBatch struct {
	first   uint64        // the step (segment number) of steps[0]
	steps   []int64       // the worker's watermark after each step
	fwd     []shardRecord // records passed on, in the order of their step (at)
	created []uint64      // connections begun, by id
	now     int64
	firstTs int64
	seen    bool
	conns   int
}

// shardRecord is a record a worker passes on: released at step at during
// the input, or in one of Finish's runs (phase) at place ref.
type shardRecord struct {
	ref   readyRef
	at    uint64
	phase uint8
	rec   Record
}

// shardState is a worker engine's side of the exchange with the merge.
type shardState struct {
	steps   []int64
	fwd     []shardRecord
	created []uint64

	phase uint8    // which of Finish's runs records belong to (phaseRun: none)
	key   readyRef // their place, for INC and END records
	chunk []shardRecord
	fin   chan []shardRecord
}

// finChunk is how many records a worker sends the merge at once in Finish.
const finChunk = 256

// forward passes a released record on to the merge.
func (s *shardState) forward(ref readyRef, r *Record, at uint64) {
	if s.phase == phaseRun {
		s.fwd = append(s.fwd, shardRecord{ref: ref, at: at, rec: *r})
		return
	}
	if s.phase != phaseHeld {
		ref = s.key
	}
	if s.chunk == nil {
		s.chunk = make([]shardRecord, 0, finChunk)
	}
	s.chunk = append(s.chunk, shardRecord{ref: ref, phase: s.phase, rec: *r})
	if len(s.chunk) == finChunk {
		s.fin <- s.chunk
		s.chunk = nil
	}
}

// NewSharded returns n workers (2 to MaxWorkers) with the options' limits
// divided between them: MaxConns, and MemoryBudget's shares (the table's
// among the workers; the reorder stage's between the workers and the
// merge, which holds records some worker's older held one keeps back).
func NewSharded(opts Options, n int, sink Sink) (*Sharded, error) {
	if n < 2 || n > MaxWorkers {
		return nil, fmt.Errorf("ingest options: workers must be 2 to %d, not %d", MaxWorkers, n)
	}
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("ingest options: %w", err)
	}
	wo := opts
	wo.MaxConns = (opts.MaxConns + n - 1) / n
	s := &Sharded{m: merger{out: newOutput(sink), ids: make(map[uint64]uint64), queues: make([]readyHeap, n)}}
	mem := newMemAccount(wo, min(wo.MaxConns, initialSlots))
	if budget := opts.MemoryBudget; budget > 0 {
		queue := budget / queueShareDiv
		mem.tableShare = max((budget-queue)/int64(n), 1)
		mem.queueShare = max(queue/2/int64(n), 1)
		s.m.budget = max(queue/2, 1)
		// The map's initial room is charged from the start: at most a
		// quarter of the worker's share (a small budget among many workers).
		mem.slots = max(min(mem.slots, int(mem.tableShare/4/costSlot)), 1)
	}
	for i := range n {
		eng := newEngine(wo, nil, mem)
		eng.shard = &shardState{}
		w := &worker{idx: i, eng: eng, in: make(chan *feedBatch, feedBatches),
			out: make(chan *shardBatch, feedBatches), free: make(chan *shardBatch, feedBatches+1),
			fin: make(chan []shardRecord, 2)}
		eng.shard.fin = w.fin
		s.workers = append(s.workers, w)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			w.run()
		}()
	}
	return s, nil
}

// run processes batches until told to finish (a nil batch) or closed.
func (w *worker) run() {
	e := w.eng
	for b := range w.in {
		if b == nil {
			e.finishInput()
			w.out <- w.result()
			e.finishConns()
			if c := e.shard.chunk; len(c) > 0 {
				w.fin <- c
			}
			close(w.fin)
			e.release()
			return
		}
		// A worker's engine has no sink: no error.
		for i := range b.segs {
			k := segOther
			if int(b.owners[i]) == w.idx {
				k = segOwn
			}
			e.process(&b.segs[i], k)
		}
		if b.tick != 0 {
			e.process(&decode.Segment{TsNs: b.tick}, segTick)
		}
		w.out <- w.result()
	}
}

// result hands the merge what the engine passed on since the last result.
func (w *worker) result() *shardBatch {
	var r *shardBatch
	select {
	case r = <-w.free:
	default:
		r = &shardBatch{}
	}
	e, st := w.eng, w.eng.shard
	r.first = e.steps - uint64(len(st.steps)) + 1
	r.steps, st.steps = st.steps, r.steps[:0]
	r.fwd, st.fwd = st.fwd, r.fwd[:0]
	r.created, st.created = st.created, r.created[:0]
	r.now, r.firstTs, r.seen, r.conns = e.now, e.first, e.seen, len(e.table)
	return r
}

// shardOf returns the worker (of n) of the connection segment s belongs
// to: a hash of the connection's key, the same for both directions.
func shardOf(s *decode.Segment, n int) uint8 {
	k, _ := makeKey(s.Src, s.Dst, s.SrcPort, s.DstPort)
	h := k.ahi*0x9e3779b97f4a7c15 ^ bits.RotateLeft64(k.alo*0xc2b2ae3d27d4eb4f, 17) ^
		bits.RotateLeft64(k.bhi*0x165667b19e3779f9, 31) ^ bits.RotateLeft64(k.blo*0xd6e8feb86659fd93, 47) ^
		(uint64(k.pa)<<16|uint64(k.pb))*0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	hi, _ := bits.Mul64(h, uint64(n))
	return uint8(hi)
}

// Feed is Engine.Feed for the workers: the same segments processed, the
// same records written, progress called and ctx checked at the same
// packets.
func (s *Sharded) Feed(ctx context.Context, src capture.Source, dec *decode.Decoder, progress FeedProgress) error {
	if s.finished {
		return fmt.Errorf("ingest: Feed after Finish")
	}
	if s.m.err != nil {
		return s.m.err
	}
	r := startFeedReader(src, dec, len(s.workers))
	defer r.close()
	var inflight []*feedBatch
	collect := func(report bool) (bool, error) {
		b := inflight[0]
		inflight = inflight[1:]
		done, err := s.collect(b, src, progress, report)
		r.recycle(b)
		return done, err
	}
	// stop merges the batches in flight, the workers having processed
	// them; after a cancellation without reporting progress, as Engine.Feed
	// returns before its progress call.
	stop := func(err error) error {
		for len(inflight) > 0 {
			if _, e := collect(err == nil); err == nil {
				err = e
			}
		}
		return err
	}
	for b := range r.out {
		if n := len(inflight); n > 0 && inflight[n-1].checkpoint() {
			// The point after the last batch sent, where Engine.Feed checks
			// for cancellation: the batch is not sent, as Engine.Feed does
			// not process it.
			if err := ctx.Err(); err != nil {
				return stop(err)
			}
		}
		for _, w := range s.workers {
			w.in <- b
		}
		inflight = append(inflight, b)
		if len(inflight) < feedBatches {
			continue
		}
		if done, err := collect(true); done {
			return stop(err)
		}
	}
	return stop(nil)
}

// collect merges the workers' results for batch b and does what Feed does
// after a batch: progress (when report), and the source's end. It reports
// whether Feed is done (and with which error).
func (s *Sharded) collect(b *feedBatch, src capture.Source, progress FeedProgress, report bool) (bool, error) {
	bs := make([]*shardBatch, len(s.workers))
	for i, w := range s.workers {
		bs[i] = <-w.out
	}
	if s.m.err == nil {
		s.m.batch(bs)
	}
	s.now, s.first, s.seen, s.conns = bs[0].now, bs[0].firstTs, bs[0].seen, 0
	for i, w := range s.workers {
		s.conns += bs[i].conns
		select {
		case w.free <- bs[i]:
		default:
		}
	}
	if s.m.err != nil {
		return true, s.m.err
	}
	if b.checkpoint() && progress != nil && report {
		progress(b.progress)
	}
	if b.err != nil {
		return true, feedError(b.err, src)
	}
	return false, nil
}

// Finish is Engine.Finish for the workers. They stop; Stats may be called
// afterwards.
func (s *Sharded) Finish() error {
	if s.finished {
		return s.m.err
	}
	s.finished = true
	for _, w := range s.workers {
		w.in <- nil
	}
	bs := make([]*shardBatch, len(s.workers))
	for i, w := range s.workers {
		bs[i] = <-w.out
	}
	if s.m.err == nil {
		s.m.batch(bs)
		s.now, s.first, s.seen = bs[0].now, bs[0].firstTs, bs[0].seen
	}
	s.m.finish(s.workers)
	for _, w := range s.workers {
		for range w.fin { // what the merge did not take after an error
		}
		close(w.in)
	}
	s.wg.Wait()
	s.stats = s.sumStats()
	s.m.release()
	return s.m.err
}

// sumStats adds up the workers' counters. The clock's counters (segments,
// time outliers and backwards) are every worker's: one is taken. Peaks are
// summed, so they are at most the workers' together.
func (s *Sharded) sumStats() Stats {
	var t Stats
	for i, w := range s.workers {
		st := w.eng.Stats()
		if i == 0 {
			t.Segments, t.TimeBackwards, t.TimeOutliers = st.Segments, st.TimeBackwards, st.TimeOutliers
		}
		t.Conns += st.Conns
		t.ConnsSynAck += st.ConnsSynAck
		t.ConnsPartial += st.ConnsPartial
		t.SkippedNoSYN += st.SkippedNoSYN
		t.SkippedFilter += st.SkippedFilter
		t.SegsUntracked += st.SegsUntracked
		t.SegsAfterEnd += st.SegsAfterEnd
		t.Evicted += st.Evicted
		t.EvictedHalfOpen += st.EvictedHalfOpen
		t.EvictedSkipped += st.EvictedSkipped
		t.EvictedClosed += st.EvictedClosed
		t.HeldEarly += st.HeldEarly
		t.PeakConns += st.PeakConns
		t.PeakMemory += st.PeakMemory
		t.SeqAnomalies += st.SeqAnomalies
		t.RSTIgnored += st.RSTIgnored
		t.Ambiguous += st.Ambiguous
		t.Refolds += st.Refolds
		t.MergedPieces += st.MergedPieces
		t.HeldExpired += st.HeldExpired
		t.RecordsRestamped += st.RecordsRestamped
	}
	t.Records = s.m.out.records
	t.RecordsRestamped += s.m.out.restamped
	t.WrittenEarly = s.m.early
	return t
}

// Stats returns the workers' counters added up, once finished; before,
// only the records written so far.
func (s *Sharded) Stats() Stats {
	if s.finished {
		return s.stats
	}
	return Stats{Records: s.m.out.records, RecordsRestamped: s.m.out.restamped}
}

// Conns returns the number of entries in the workers' tables, as of the
// last batch merged.
func (s *Sharded) Conns() int { return s.conns }

// Now is Engine.Now as of the last batch merged.
func (s *Sharded) Now() (int64, bool) { return s.now, s.seen }

// First is Engine.First.
func (s *Sharded) First() (int64, bool) { return s.first, s.seen }

// merger writes the workers' records in the order one engine would.
type merger struct {
	out    output
	queues []readyHeap // per worker, records passed on that no watermark has reached yet
	budget int64       // bytes the queues may hold (MemoryBudget's); 0: no limit
	early  uint64      // records written before the watermark reached them, for budget

	ids    map[uint64]uint64 // worker id (step that began the connection) → dense id
	nextID uint64
	order  []uint64        // scratch: a batch's new connections
	pos    []int           // scratch: per worker, the next record passed on
	run    [][]shardRecord // scratch: per worker, its records of the step being merged
	rec    Record
	err    error
}

// batch merges the workers' results of one batch of segments: step by
// step, their records join the merge's reorder stage and those up to the
// least of the workers' watermarks are written.
func (m *merger) batch(bs []*shardBatch) {
	m.order = m.order[:0]
	for _, b := range bs {
		m.order = append(m.order, b.created...)
	}
	slices.Sort(m.order)
	for _, id := range m.order {
		m.nextID++
		m.ids[id] = m.nextID
	}
	m.pos = slices.Grow(m.pos[:0], len(bs))[:len(bs)]
	clear(m.pos)
	if len(m.run) != len(bs) {
		m.run = make([][]shardRecord, len(bs))
	}
	first := bs[0].first
	for k := range bs[0].steps {
		at, w := first+uint64(k), int64(math.MaxInt64)
		for i, b := range bs {
			// The worker's records of this step: a run of them, in their
			// order (one drain) unless the budget made it drain twice.
			p, end, sorted := m.pos[i], m.pos[i], true
			for ; end < len(b.fwd) && b.fwd[end].at == at; end++ {
				if end > p && refLess(&b.fwd[end].ref, &b.fwd[end-1].ref) {
					sorted = false
				}
			}
			m.run[i] = b.fwd[p:end]
			if !sorted {
				for j := range m.run[i] {
					m.queues[i].pushRef(&m.run[i][j].rec, m.run[i][j].ref)
				}
				m.run[i] = nil
			}
			m.pos[i] = end
			w = min(w, b.steps[k])
		}
		// Write what the watermark reached, from the queues and, without
		// queueing them, the runs.
		for m.err == nil {
			q, r := m.least()
			switch {
			case r >= 0 && m.run[r][0].ref.ts <= w:
				m.write(&m.run[r][0].rec)
				m.run[r] = m.run[r][1:]
				continue
			case r < 0 && q != nil && q.top().ts <= w:
				q.pop(&m.rec)
				m.write(&m.rec)
				continue
			}
			break
		}
		for i, run := range m.run {
			for j := range run {
				m.queues[i].pushRef(&run[j].rec, run[j].ref)
			}
			m.run[i] = nil
		}
		if m.budget > 0 && m.queued() > m.budget {
			// Some worker's held record keeps the others' back for long:
			// write the oldest, as one engine releases its held records
			// early when its reorder stage outgrows its share.
			for m.err == nil && m.queued() > m.budget/2 {
				q, _ := m.least()
				q.pop(&m.rec)
				m.write(&m.rec)
				m.early++
			}
		}
	}
	for i := range m.queues {
		m.queues[i].trim(keepQueueBytes / int64(len(m.queues)))
	}
}

// least returns the queue whose first record comes first (nil when all
// are empty), or, when the first of the current step's runs comes before
// it, that run's worker (else -1). Each worker's records mostly come in
// order, so its queue is mostly a FIFO (see readyHeap).
func (m *merger) least() (*readyHeap, int) {
	var best *readyRef
	var bq *readyHeap
	br := -1
	for i := range m.queues {
		q := &m.queues[i]
		if q.len() > 0 && (best == nil || refLess(q.top(), best)) {
			best, bq = q.top(), q
		}
	}
	for i, run := range m.run {
		if len(run) > 0 && (best == nil || refLess(&run[0].ref, best)) {
			best, br = &run[0].ref, i
		}
	}
	return bq, br
}

// queued is what the records waiting in the queues cost.
func (m *merger) queued() int64 {
	n := 0
	for i := range m.queues {
		n += m.queues[i].len()
	}
	return int64(n) * (costRecord + costRef)
}

// write writes r with its dense connection id.
func (m *merger) write(r *Record) {
	id := r.ConnID
	r.ConnID = m.ids[id]
	if r.Kind == KindEND {
		delete(m.ids, id)
	}
	if err := m.out.write(r); err != nil && m.err == nil {
		m.err = err
	}
}

// finish merges the workers' runs of Finish (see Engine.Finish) with the
// records still in the merge's reorder stage, which belong to the first.
func (m *merger) finish(ws []*worker) {
	type source struct {
		ch    chan []shardRecord
		chunk []shardRecord
	}
	srcs := make([]source, len(ws))
	for i, w := range ws {
		srcs[i].ch = w.fin
	}
	head := func(s *source) *shardRecord {
		for len(s.chunk) == 0 {
			c, ok := <-s.ch
			if !ok {
				return nil
			}
			s.chunk = c
		}
		return &s.chunk[0]
	}
	for m.err == nil {
		// The merge's own queues first: their records are of Finish's first
		// run, and none of theirs can precede them.
		q, _ := m.least()
		best := -1
		var bestRef *readyRef
		bestPhase := phaseHeld
		if q != nil {
			bestRef = q.top()
		}
		for i := range srcs {
			h := head(&srcs[i])
			if h == nil {
				continue
			}
			if bestRef == nil || h.phase < bestPhase || (h.phase == bestPhase && refLess(&h.ref, bestRef)) {
				best, bestRef, bestPhase = i, &h.ref, h.phase
			}
		}
		switch {
		case bestRef == nil:
			return
		case best < 0:
			q.pop(&m.rec)
			m.write(&m.rec)
		default:
			s := &srcs[best]
			m.rec = s.chunk[0].rec
			s.chunk = s.chunk[1:]
			m.write(&m.rec)
		}
	}
}

// release lets go of the merge's state once finished.
func (m *merger) release() {
	m.queues = nil
	m.ids = nil
	m.order, m.pos = nil, nil
}

// Inferrer is the inference over one stream of segments: an Engine, or a
// Sharded set of engines writing the same records.
type Inferrer interface {
	// Feed reads, decodes and processes every packet of src (Engine.Feed).
	Feed(ctx context.Context, src capture.Source, dec *decode.Decoder, progress FeedProgress) error
	// Finish ends the input (Engine.Finish).
	Finish() error
	// Stats returns the counters (Engine.Stats).
	Stats() Stats
	// Conns returns the number of entries in the connection table.
	Conns() int
	// Now returns the clock (Engine.Now).
	Now() (int64, bool)
	// First returns the first packet's time (Engine.First).
	First() (int64, bool)
}

// Start returns the inference on workers workers: one Engine for 1, a
// Sharded for more.
func Start(opts Options, workers int, sink Sink) (Inferrer, error) {
	if workers <= 1 {
		return New(opts, sink)
	}
	return NewSharded(opts, workers, sink)
}
