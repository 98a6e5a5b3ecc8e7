// Package pipeline runs a collection: its sources (packet captures,
// adudump text logs, or a live link) through the inference engine into
// its output (the archive, or text on a writer), with the run's clock
// (hours are published as packet time passes them, and on a quiet link as
// the wall clock of its empty polls does), its cancellation (a signal),
// its progress points, and the figures that make its row in the runs
// table. adu2parquet parses flags, wires them to a Config and presents
// what a Run reports; files and links share everything else.
//
// A Run is used by one goroutine: Start, then Feed once, then Finish.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"

	"github.com/abt-dev/abt/internal/adutext"
	"github.com/abt-dev/abt/internal/archive"
	"github.com/abt-dev/abt/internal/capture/live"
	"github.com/abt-dev/abt/internal/decode"
	"github.com/abt-dev/abt/internal/ingest"
	"github.com/abt-dev/abt/schema"
)

// TextWriter is a text output format (adudump text, JSON Lines).
type TextWriter interface {
	ingest.Sink
	Flush() error
}

// Config is what a run reads, how, and where its records go.
type Config struct {
	// Inputs are the files to read, in order ("-" is Stdin); all captures
	// or all adudump text logs. Empty when Link is set.
	Inputs []string
	// Stdin is what the input "-" reads.
	Stdin io.Reader
	// Link is the live link to read instead of files (package live), and
	// LinkName its name in the runs table (see LinkName).
	Link     LinkSource
	LinkName string

	// Engine and Workers are the inference's options (ingest.Start).
	Engine  ingest.Options
	Workers int
	// SkipMalformed skips and counts malformed lines of text logs instead
	// of stopping at the first.
	SkipMalformed bool

	// Archive, when set, is the archive the run writes (its Root, Sensor,
	// Grace, Replace, Producer, Logf; the run's inputs are Inputs or
	// Link). Otherwise the records go to Text.
	Archive *archive.Options
	Text    TextWriter

	// Disk watches the archive's free space during a live run.
	Disk DiskLimits

	// Say tells the operator something (a disk running full, say): a
	// sentence and its figures as log/slog attributes. Nil: nothing.
	Say func(level slog.Level, sentence string, attrs ...any)
	// OnInput is called when an input begins: its name, its size in bytes
	// (-1: unknown, and always for a link) and the count of its bytes read
	// so far, which the feeding goroutine updates.
	OnInput func(name string, size int64, read *atomic.Int64)
	// OnProgress is called at each progress point (every
	// ingest.ProgressEvery packets or log records, and at each empty poll
	// of a quiet link), on the feeding goroutine.
	OnProgress func(Point)
}

// Point is the run at a progress point.
type Point struct {
	Conns int // entries in the connection table (0 for logs)
	// A link's figures (zero for files): packets read, packets the kernel
	// and the interfaces dropped, ADU records written so far.
	Packets, Drops, IfaceDrops, ADUs int64
}

// Errors of Start that are the caller's to correct (a usage error).
var (
	// ErrMixedInputs: some inputs are text logs and others captures.
	ErrMixedInputs = errors.New("captures and adudump text logs in one run")
	// ErrEngineOptions: the engine refused its options.
	ErrEngineOptions = errors.New("engine options")
)

// Run is one run: its engine, its output and what it has read.
type Run struct {
	cfg  Config
	logs bool // the inputs are adudump text logs

	eng   ingest.Inferrer
	dec   decode.Decoder
	arch  *archive.Async
	relay *ingest.Relay // in front of cfg.Text

	inputs  []schema.Input
	logRecs int64
	logSet  adutext.ReaderStats
	logSpan [2]int64 // first and last record time of logs
	nextID  uint64   // conn id offset for consecutive logs

	linkStats live.Stats
	stopped   bool        // a signal ended the link's run
	hours     hourCounter // the link's counters by hour
}

// Start classifies the inputs, opens the archive (fingerprinting the
// inputs, recovering the archive) or the text output, and starts the
// engine. On error nothing is left open.
func Start(cfg Config) (*Run, error) {
	r := &Run{cfg: cfg, logSpan: [2]int64{ingest.NoTime, ingest.NoTime}}
	var err error
	if r.logs, err = inputKinds(cfg.Inputs); err != nil {
		return nil, err
	}
	if cfg.Archive != nil {
		a, err := openArchive(cfg)
		if err != nil {
			return nil, err
		}
		r.arch = archive.NewAsync(a)
	}
	if r.eng, err = ingest.Start(cfg.Engine, cfg.Workers, r); err != nil {
		if r.arch != nil {
			r.arch.Abort()
		}
		return nil, fmt.Errorf("%w: %w", ErrEngineOptions, err)
	}
	if r.arch == nil {
		r.relay = ingest.NewRelay(cfg.Text, nil)
	}
	return r, nil
}

// openArchive fingerprints the inputs and opens the archive for a run.
func openArchive(cfg Config) (*archive.Archive, error) {
	var ins []archive.Input
	if cfg.Link != nil {
		ins = append(ins, archive.Input{Name: cfg.LinkName, Link: true})
	}
	for _, name := range cfg.Inputs {
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
	return archive.Open(*cfg.Archive, ins)
}

// Record passes an inferred record to the output (the engine's sink).
func (r *Run) Record(rec *ingest.Record) error {
	if r.arch != nil {
		return r.arch.Record(rec)
	}
	return r.relay.Record(rec)
}

// advance lets the archive publish the hours that packet time has passed.
func (r *Run) advance(now int64) error {
	if r.arch == nil {
		return nil
	}
	return r.arch.Advance(now)
}

// Feed reads the run's inputs, or its link until ctx is cancelled, which
// ends a link's run as a complete one (Stopped). A file's run stops at the
// first input that fails, or when ctx is cancelled.
func (r *Run) Feed(ctx context.Context) error {
	if r.cfg.Link != nil {
		return r.feedLink(ctx)
	}
	for _, in := range r.cfg.Inputs {
		var err error
		if r.logs {
			err = r.feedLog(ctx, in)
		} else {
			err = r.feedCapture(ctx, in)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Outcome is how a run ended.
type Outcome struct {
	// Summary is what the archive published (zero for text).
	Summary archive.Summary
	// FinishErr is the engine's error at the end of input; OutputErr the
	// output's (the archive's, or the text writer's).
	FinishErr, OutputErr error
}

// Finish ends the run whose Feed returned feedErr: whatever happened, what
// was inferred before it is written. The archive records the run as
// complete, interrupted (ctx cancelled) or failed (feedErr).
func (r *Run) Finish(feedErr error) Outcome {
	var out Outcome
	out.FinishErr = r.eng.Finish()
	if r.arch == nil {
		out.OutputErr = r.relay.Close()
		if err := r.cfg.Text.Flush(); out.OutputErr == nil {
			out.OutputErr = err
		}
		return out
	}
	var hourErr error
	if r.cfg.Link != nil {
		hourErr = r.endHours()
	}
	status := archive.StatusComplete
	if feedErr != nil {
		status = "failed: " + feedErr.Error()
	}
	if errors.Is(feedErr, context.Canceled) {
		status = archive.StatusInterrupted
	}
	out.Summary, out.OutputErr = r.arch.Close(r.runInfo(status))
	out.OutputErr = errors.Join(hourErr, out.OutputErr)
	return out
}

// runInfo gathers the run's figures for its row in the runs table.
func (r *Run) runInfo(status string) archive.RunInfo {
	info := archive.RunInfo{
		Status: status, Inputs: r.inputs, Options: r.cfg.Engine,
		FirstPacket: ingest.NoTime, LastPacket: ingest.NoTime,
		Packets: int64(r.dec.Stats.Packets), TCPSegments: int64(r.dec.Stats.Segments),
		Records: r.Records(), SetAside: r.SetAside(),
	}
	for _, in := range r.inputs {
		info.Bytes += in.Bytes
	}
	if r.cfg.Link != nil {
		drops := int64(r.linkStats.Drops)
		info.Drops = &drops
	}
	if r.logs {
		info.FirstPacket, info.LastPacket = r.logSpan[0], r.logSpan[1]
		info.Packets = r.logSet.Lines
		info.Records = []schema.Counter{{Name: "records", Value: r.logRecs}}
	} else if first, ok := r.eng.First(); ok {
		last, _ := r.eng.Now()
		info.FirstPacket, info.LastPacket = first, last
	}
	return info
}

// Logs reports whether the run reads adudump text logs.
func (r *Run) Logs() bool { return r.logs }

// Inputs are the inputs read so far, with their figures.
func (r *Run) Inputs() []schema.Input { return r.inputs }

// Decoded are the decoder's counters (captures and links).
func (r *Run) Decoded() decode.Stats { return r.dec.Stats }

// Engine are the engine's counters.
func (r *Run) Engine() ingest.Stats { return r.eng.Stats() }

// LogStats are the text logs' counters, and the records they held.
func (r *Run) LogStats() (adutext.ReaderStats, int64) { return r.logSet, r.logRecs }

// LinkStats are the link's counters (zero for files).
func (r *Run) LinkStats() live.Stats { return r.linkStats }

// Stopped reports whether a signal ended the link's run.
func (r *Run) Stopped() bool { return r.stopped }

// Archive is the archive the run writes; nil with text output.
func (r *Run) Archive() *archive.Async { return r.arch }
