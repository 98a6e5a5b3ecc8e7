package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"runtime/debug"
	"time"

	"github.com/abt-dev/abt/internal/adutext"
	"github.com/abt-dev/abt/internal/archive"
	"github.com/abt-dev/abt/internal/capture/live"
	"github.com/abt-dev/abt/internal/cli"
	"github.com/abt-dev/abt/internal/jsonl"
	"github.com/abt-dev/abt/internal/metrics"
	"github.com/abt-dev/abt/internal/pipeline"
	"github.com/abt-dev/abt/internal/rollup"
)

// ingestMain runs the inference over every input, or the link, and writes
// the records: it wires the options to a pipeline.Run and presents what
// the run reports.
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
	inputs := len(o.inputs)
	if o.ifaces != nil {
		inputs = 1
	}
	prog := newProgress(stderr, !o.quiet, inputs)
	msg := newMessages(stderr, o.logFormat, prog.clear)
	cfg := pipeline.Config{Inputs: o.inputs, Stdin: stdin, Engine: eo, Workers: o.workers, SkipMalformed: o.skipMalformed,
		Say: msg.say, OnInput: prog.start}
	if o.ifaces != nil {
		// The interfaces first: a mistyped one is no run in the archive.
		src, err := openLive(o.ifaces, live.Options{SnapLen: o.snapLen, RingBytes: int(o.ring), Filter: o.filter, Fanout: o.fanout})
		if err != nil {
			return msg.logged(err)
		}
		defer src.Close()
		cfg.Link, cfg.LinkName = src, pipeline.LinkName(o.ifaces)
	}
	switch o.format {
	case "parquet":
		cfg.Archive = &archive.Options{Root: o.out, Sensor: o.sensor, Grace: o.grace, RowGroupRows: o.rowGroupRows,
			Replace: o.replace, Producer: cli.Producer("adu2parquet"), Logf: func(format string, args ...any) {
				if !o.quiet {
					msg.say(slog.LevelInfo, fmt.Sprintf(format, args...))
				}
			}}
		cfg.Disk = pipeline.DiskLimits{Root: o.out, Warn: int64(o.diskWarn), Floor: int64(o.diskFloor)}
	case "jsonl":
		cfg.Text = jsonl.NewWriter(stdout)
	default:
		cfg.Text = adutext.NewWriter(stdout)
	}
	var sensor *metrics.Sensor
	if o.ifaces != nil {
		sensor = &metrics.Sensor{Root: o.out}
		cfg.OnProgress = func(p pipeline.Point) {
			sensor.Packets.Store(p.Packets)
			sensor.Conns.Store(int64(p.Conns))
			sensor.ADUs.Store(p.ADUs)
			sensor.Drops.Store(p.Drops)
			sensor.IfaceDrops.Store(p.IfaceDrops)
			prog.status(func(elapsed time.Duration) string { return statusLine(cfg.LinkName, sensor, elapsed) })
		}
	} else {
		cfg.OnProgress = func(p pipeline.Point) { prog.update(p.Conns) }
	}
	run, err := pipeline.Start(cfg)
	if errors.Is(err, pipeline.ErrMixedInputs) || errors.Is(err, pipeline.ErrEngineOptions) {
		return &usageError{err}
	}
	if err != nil {
		return msg.logged(err)
	}
	if arch := run.Archive(); arch != nil && sensor != nil {
		sensor.Published = func() (int64, int64) {
			sum := arch.Published()
			return sum.Files, sum.ADUs
		}
	}
	var feedErr error
	if sensor != nil && o.metrics != "" {
		srv, err := metrics.Serve(o.metrics, sensor)
		if err != nil {
			feedErr = err
		} else {
			defer srv.Close()
			if !o.quiet {
				url := fmt.Sprintf("http://%s/metrics", srv.Addr())
				msg.say(slog.LevelInfo, "metrics on "+url, "url", url)
			}
		}
	}
	if feedErr == nil {
		feedErr = run.Feed(ctx)
	}
	if o.ifaces != nil {
		// A signal is how a live run ends: what follows it is not cut short.
		ctx = context.WithoutCancel(ctx)
	}
	prog.done()
	end := run.Finish(feedErr)
	sum, outErr := end.Summary, end.OutputErr
	if arch := run.Archive(); arch != nil && outErr == nil && o.rollup && sum.ADUs > 0 {
		// The engine and the writers are done: give their memory back to
		// the system before DuckDB, whose memory the Go runtime does not
		// see, takes its own.
		debug.FreeOSMemory()
		// The days this sensor's run wrote; current ones are skipped.
		outErr = refreshRollups(ctx, o.out, rollup.UpdateOptions{Sensor: arch.Sensor()}, o.quiet, stderr)
	}
	if !o.quiet {
		if msg.structured() {
			logSummary(msg, o, run, sum, time.Since(start), outErr)
		} else {
			printSummary(stderr, o, run, sum, time.Since(start), outErr)
		}
	}
	if errors.Is(feedErr, context.Canceled) || errors.Is(outErr, context.Canceled) {
		return msg.logged(interrupted(run, sum, feedErr, end.FinishErr, outErr))
	}
	return msg.logged(joinDistinct(feedErr, end.FinishErr, outErr))
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
