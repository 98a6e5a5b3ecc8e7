package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/abt-dev/abt/internal/adutext"
	"github.com/abt-dev/abt/internal/archive"
	"github.com/abt-dev/abt/internal/capture"
	"github.com/abt-dev/abt/internal/capture/live"
	"github.com/abt-dev/abt/internal/cli"
	"github.com/abt-dev/abt/internal/decode"
	"github.com/abt-dev/abt/internal/ingest"
	"github.com/abt-dev/abt/internal/jsonl"
	"github.com/abt-dev/abt/internal/rollup"
	"github.com/abt-dev/abt/schema"
)

// recordWriter is a text output format.
type recordWriter interface {
	ingest.Sink
	Flush() error
}

// countingReader counts the bytes read from a file, for progress.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// sink is where records go: a text writer or the archive, each on a
// goroutine of its own (an ingest.Relay; archive.Async).
type sink struct {
	text  recordWriter
	relay *ingest.Relay // in front of text
	arch  *archive.Async
}

func (s *sink) Record(r *ingest.Record) error {
	if s.arch != nil {
		return s.arch.Record(r)
	}
	return s.relay.Record(r)
}

// run state shared by the input loops.
type runState struct {
	ctx     context.Context
	o       *options
	eo      ingest.Options
	eng     ingest.Inferrer
	dec     decode.Decoder
	sink    *sink
	prog    *progress
	stdin   io.Reader
	stderr  io.Writer
	msg     *messages
	inputs  []schema.Input
	logs    bool
	logRecs int64
	logSet  adutext.ReaderStats
	logSpan [2]int64 // first and last record time of logs
	nextID  uint64   // conn id offset for consecutive logs

	liveSrc   liveSource // adu2parquet live: the capture
	liveStats live.Stats // adu2parquet live: the capture's counters
	stopped   bool       // adu2parquet live: stopped by a signal
}

// ingestMain runs the inference over every input and writes the records.
func ingestMain(ctx context.Context, o *options, stdin io.Reader, stdout, stderr io.Writer) error {
	eo, err := o.engineOptions()
	if err != nil {
		return err
	}
	defer setMemoryLimit(softMemoryLimit(eo.MemoryBudget, o.format == "parquet"))()
	stopProfiles, err := startProfiles(o.cpuProfile, o.traceFile, o.memProfile)
	if err != nil {
		return &usageError{err}
	}
	defer func() {
		if err := stopProfiles(); err != nil {
			fmt.Fprintf(stderr, "adu2parquet: %v\n", err)
		}
	}()
	start := time.Now()
	logs, err := inputKinds(o.inputs)
	if err != nil {
		return err
	}
	inputs := len(o.inputs)
	if o.ifaces != nil {
		inputs = 1
	}
	st := &runState{ctx: ctx, o: o, eo: eo, stdin: stdin, stderr: stderr, logs: logs, sink: &sink{},
		prog: newProgress(stderr, !o.quiet, inputs), logSpan: [2]int64{ingest.NoTime, ingest.NoTime}}
	st.msg = newMessages(stderr, o.logFormat, st.prog.clear)

	if o.ifaces != nil {
		// The interfaces first: a mistyped one is no run in the archive.
		if st.liveSrc, err = openLive(o.ifaces, live.Options{SnapLen: o.snapLen, RingBytes: int(o.ring), Filter: o.filter}); err != nil {
			return st.msg.logged(err)
		}
		defer st.liveSrc.Close()
	}
	if o.format == "parquet" {
		a, err := openArchive(o, st.msg)
		if err != nil {
			return st.msg.logged(err)
		}
		st.sink.arch = archive.NewAsync(a)
	} else if o.format == "jsonl" {
		st.sink.text = jsonl.NewWriter(stdout)
	} else {
		st.sink.text = adutext.NewWriter(stdout)
	}
	if st.eng, err = ingest.Start(eo, o.workers, st.sink); err != nil {
		return &usageError{err}
	}
	if st.sink.text != nil {
		st.sink.relay = ingest.NewRelay(st.sink.text, nil)
	}

	var feedErr error
	if o.ifaces != nil {
		feedErr = st.feedLive()
		// A signal is how a live run ends: what follows it is not cut short.
		ctx = context.WithoutCancel(ctx)
	}
	for _, in := range o.inputs {
		var err error
		if logs {
			err = st.feedLog(in)
		} else {
			err = st.feedCapture(in)
		}
		if err != nil {
			feedErr = err
			break
		}
	}
	st.prog.done()
	// Whatever happened, what was inferred before it is written.
	finErr := st.eng.Finish()
	var sum archive.Summary
	var outErr error
	if st.sink.arch != nil {
		status := archive.StatusComplete
		if feedErr != nil {
			status = "failed: " + feedErr.Error()
		}
		if errors.Is(feedErr, context.Canceled) {
			status = archive.StatusInterrupted
		}
		sum, outErr = st.sink.arch.Close(st.runInfo(status))
		if outErr == nil && o.rollup && sum.ADUs > 0 {
			// The engine and the writers are done: give their memory back
			// to the system before DuckDB, whose memory the Go runtime does
			// not see, takes its own.
			debug.FreeOSMemory()
			// The days this sensor's run wrote; current ones are skipped.
			outErr = refreshRollups(ctx, o.out, rollup.UpdateOptions{Sensor: st.sink.arch.Sensor()}, o.quiet, stderr)
		}
	} else {
		outErr = st.sink.relay.Close()
		if err := st.sink.text.Flush(); outErr == nil {
			outErr = err
		}
	}
	if !o.quiet {
		if st.msg.structured() {
			st.logSummary(sum, time.Since(start), outErr)
		} else {
			printSummary(stderr, st, sum, time.Since(start), outErr)
		}
	}
	if errors.Is(feedErr, context.Canceled) || errors.Is(outErr, context.Canceled) {
		return st.msg.logged(st.interrupted(sum, feedErr, finErr, outErr))
	}
	return st.msg.logged(joinDistinct(feedErr, finErr, outErr))
}

// runtimeReserve is what a run holds besides the engine's state, in the Go
// runtime's reckoning: readers' and writers' buffers, the records on their
// way to the archive's goroutine (ingest.Relay: a few MiB), an archive's
// rows being sorted (partition.SortBytes per open part, and per part
// waiting for its table's publisher), the runtime's own.
const runtimeReserve = 64 << 20

// archiveLimitFloor is the least soft memory limit of a run writing the
// archive: publishing a part buffers a row group's columns (about 120 MiB
// for 256 Ki connections rows) besides the rows being sorted, whatever the
// engine's budget, and a limit below what is live makes the collector run
// without pause.
const archiveLimitFloor = 256 << 20

// softMemoryLimit is the Go runtime's soft memory limit for an engine
// memory budget (0: none, no limit): the budget, half as much again for
// garbage not yet collected, and runtimeReserve; at least
// archiveLimitFloor with the archive. Without a limit the collector lets
// the heap grow to twice what is live, so a full budget would show as
// twice its size in resident memory.
func softMemoryLimit(budget int64, archive bool) int64 {
	if budget == 0 {
		return 0
	}
	limit := budget + budget/2 + runtimeReserve
	if archive {
		limit = max(limit, archiveLimitFloor)
	}
	return limit
}

// setMemoryLimit sets the Go runtime's soft memory limit to limit bytes
// (0: leave it) unless the environment set one (GOMEMLIMIT), and returns
// the function that restores the previous limit.
func setMemoryLimit(limit int64) func() {
	prev := debug.SetMemoryLimit(-1)
	if limit == 0 || prev != math.MaxInt64 {
		return func() {}
	}
	debug.SetMemoryLimit(limit)
	return func() { debug.SetMemoryLimit(prev) }
}

// joinDistinct joins errors, leaving out any that repeats one already
// included (a sticky error comes back from every later call).
func joinDistinct(errs ...error) error {
	var out []error
	seen := map[string]bool{}
next:
	for _, err := range errs {
		if err == nil {
			continue
		}
		for _, o := range out {
			if errors.Is(err, o) || errors.Is(o, err) {
				continue next
			}
		}
		for e := err; e != nil; e = errors.Unwrap(e) {
			if seen[e.Error()] {
				continue next
			}
		}
		for e := err; e != nil; e = errors.Unwrap(e) {
			seen[e.Error()] = true
		}
		out = append(out, err)
	}
	return errors.Join(out...)
}

// openArchive fingerprints the inputs and opens the archive for a run.
func openArchive(o *options, msg *messages) (*archive.Archive, error) {
	var ins []archive.Input
	if o.ifaces != nil {
		ins = append(ins, archive.Input{Name: liveName(o.ifaces), Link: true})
	}
	for _, name := range o.inputs {
		in := archive.Input{Name: name}
		if name != "-" {
			fp, err := archive.Fingerprint(name)
			if err != nil {
				return nil, err
			}
			in.Fingerprint = fp
		}
		ins = append(ins, in)
	}
	logf := func(format string, args ...any) {
		if !o.quiet {
			msg.say(slog.LevelInfo, fmt.Sprintf(format, args...))
		}
	}
	return archive.Open(archive.Options{
		Root: o.out, Sensor: o.sensor, Grace: o.grace, RowGroupRows: o.rowGroupRows,
		Replace: o.replace, Producer: cli.Producer("adu2parquet"), Logf: logf,
	}, ins)
}

// advance lets the archive publish the hours that packet time has passed.
func (st *runState) advance(now int64) error {
	if st.sink.arch == nil {
		return nil
	}
	return st.sink.arch.Advance(now)
}

// feedCapture reads one packet capture into the engine.
func (st *runState) feedCapture(name string) error {
	var (
		r    io.Reader
		size int64 = -1
	)
	var stdinFP *archive.StreamFingerprint
	if name == "-" {
		r = newCtxReader(st.ctx, st.stdin)
		if st.sink.arch != nil {
			// Standard input is identified as it is read (see
			// archive.Input).
			stdinFP = &archive.StreamFingerprint{}
			r = io.TeeReader(r, stdinFP)
		}
	} else {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("open input: %w", err)
		}
		defer f.Close() // read-only: a close error loses nothing
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			size = fi.Size()
		}
		r = f
	}
	cr := &countingReader{r: r}
	in := schema.Input{Name: name}
	defer func() { st.inputs = append(st.inputs, in) }()
	src, err := capture.OpenReader(name, cr)
	if err != nil {
		return err
	}
	defer src.Close()
	st.prog.start(name, size, &cr.n)
	var advErr error
	err = st.eng.Feed(st.ctx, src, &st.dec, func(int64) {
		st.prog.update(st.eng.Conns())
		if now, ok := st.eng.Now(); ok && advErr == nil {
			advErr = st.advance(now)
		}
	})
	if sr, ok := src.(capture.StatsReporter); ok {
		cs := sr.Stats()
		in.Format, in.Compression, in.Packets, in.Bytes = cs.Format.String(), cs.Compression, cs.Packets, cs.Bytes
	}
	if in.Fingerprint, _ = fingerprintOf(name); err == nil {
		err = advErr
	}
	if stdinFP != nil && !errors.Is(err, context.Canceled) {
		// Read what the capture reader left (after a malformed record,
		// say) so that the fingerprint covers the whole input.
		if _, derr := io.Copy(io.Discard, r); derr == nil {
			in.Fingerprint = stdinFP.Sum()
		}
	}
	return err
}

// feedLog reads one adudump text log straight into the sink: its records
// are already inferred.
func (st *runState) feedLog(name string) error {
	f, err := adutext.OpenLog(name)
	if err != nil {
		return err
	}
	defer f.Close()
	in := schema.Input{Name: name, Format: "adudump"}
	defer func() { st.inputs = append(st.inputs, in) }()
	cr := &countingReader{r: f}
	size := int64(-1)
	if fi, err := os.Stat(name); err == nil && name != "-" && fi.Mode().IsRegular() {
		size = fi.Size()
	}
	st.prog.start(name, size, &cr.n)
	rd := adutext.NewReader(name, cr, st.logOptions())
	var rec ingest.Record
	base := st.nextID
	var n int64
	for {
		err := rd.Next(&rec)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			st.addLogStats(rd.Stats(), &in, cr.n.Load())
			return err
		}
		// Connection ids restart in each log; keep them unique in the run.
		rec.ConnID += base
		st.nextID = max(st.nextID, rec.ConnID)
		if st.logSpan[0] == ingest.NoTime {
			st.logSpan[0] = rec.TsNs
		}
		st.logSpan[1] = max(st.logSpan[1], rec.TsNs)
		if err := st.sink.Record(&rec); err != nil {
			return err
		}
		st.logRecs++
		if n++; n%ingest.ProgressEvery == 0 {
			if err := st.ctx.Err(); err != nil {
				return err
			}
			st.prog.update(0)
			if err := st.advance(st.logSpan[1]); err != nil {
				return err
			}
		}
	}
	st.addLogStats(rd.Stats(), &in, cr.n.Load())
	return nil
}

// logOptions are the reader's options of a run reading adudump text logs.
// --quiet-time is the quiet time the logs were made with; the records
// waiting for their connection's next line get a quarter of
// --memory-budget, as the engine's reorder stage does (the engine itself
// does not run on logs).
func (st *runState) logOptions() adutext.ReaderOptions {
	budget := int64(-1)
	if st.eo.MemoryBudget > 0 {
		budget = max(st.eo.MemoryBudget/4, 1)
	}
	return adutext.ReaderOptions{SkipMalformed: st.o.skipMalformed, LocalNets: st.eo.LocalNets,
		QuietTime: st.eo.QuietTime, QueueBudget: budget, MaxConns: st.eo.MaxConns}
}

func (st *runState) addLogStats(s adutext.ReaderStats, in *schema.Input, bytes int64) {
	in.Packets, in.Bytes = s.Lines, bytes
	in.Fingerprint, _ = fingerprintOf(in.Name)
	st.logSet.Lines += s.Lines
	st.logSet.Records += s.Records
	st.logSet.Conns += s.Conns
	st.logSet.Malformed += s.Malformed
	st.logSet.TimeBackwards += s.TimeBackwards
	st.logSet.UntimedINC += s.UntimedINC
	st.logSet.EndsSynthesized += s.EndsSynthesized
	st.logSet.PeerGuessed += s.PeerGuessed
	st.logSet.QueueReleased += s.QueueReleased
	st.logSet.Evicted += s.Evicted
}

func fingerprintOf(name string) (string, error) {
	if name == "-" {
		return "", nil
	}
	return archive.Fingerprint(name)
}

// runInfo gathers the run's figures for its row in the runs table.
func (st *runState) runInfo(status string) archive.RunInfo {
	es := st.eng.Stats()
	info := archive.RunInfo{
		Status: status, Inputs: st.inputs, Options: st.eo,
		FirstPacket: ingest.NoTime, LastPacket: ingest.NoTime,
		Packets: int64(st.dec.Stats.Packets), TCPSegments: int64(st.dec.Stats.Segments),
		Records: recordCounters(&es), SetAside: setAsideCounters(&st.dec.Stats, &es, &st.logSet, &st.liveStats),
	}
	for _, in := range st.inputs {
		info.Bytes += in.Bytes
	}
	if st.o.ifaces != nil {
		drops := int64(st.liveStats.Drops)
		info.Drops = &drops
	}
	if st.logs {
		info.FirstPacket, info.LastPacket = st.logSpan[0], st.logSpan[1]
		info.Packets = st.logSet.Lines
		info.Records = []schema.Counter{{Name: "records", Value: st.logRecs}}
	} else if first, ok := st.eng.First(); ok {
		last, _ := st.eng.Now()
		info.FirstPacket, info.LastPacket = first, last
	}
	return info
}
