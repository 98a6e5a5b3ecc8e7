package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/abt-dev/abt/internal/adutext"
	"github.com/abt-dev/abt/internal/capture"
	"github.com/abt-dev/abt/internal/decode"
	"github.com/abt-dev/abt/internal/ingest"
	"github.com/abt-dev/abt/internal/jsonl"
)

// recordWriter is an output format.
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

// ingestMain runs the inference over every input and writes the records.
func ingestMain(ctx context.Context, o *options, stdin io.Reader, stdout, stderr io.Writer) error {
	eo, err := o.engineOptions()
	if err != nil {
		return err
	}
	start := time.Now()
	var w recordWriter = adutext.NewWriter(stdout)
	if o.format == "jsonl" {
		w = jsonl.NewWriter(stdout)
	}
	eng, err := ingest.New(eo, w)
	if err != nil {
		return &usageError{err}
	}
	var dec decode.Decoder
	prog := newProgress(stderr, !o.quiet)
	var capStats []capture.Stats

	var feedErr error
	for _, in := range o.inputs {
		st, err := feedInput(ctx, eng, &dec, in, stdin, prog)
		capStats = append(capStats, st)
		if err != nil {
			feedErr = err
			break
		}
	}
	prog.done()
	// Whatever happened, what was inferred before it is written.
	finErr := eng.Finish()
	flushErr := w.Flush()
	if !o.quiet {
		printSummary(stderr, o.inputs, capStats, &dec.Stats, eng, time.Since(start))
	}
	return errors.Join(feedErr, finErr, flushErr)
}

// feedInput opens one input and feeds it to the engine.
func feedInput(ctx context.Context, eng *ingest.Engine, dec *decode.Decoder, name string, stdin io.Reader, prog *progress) (capture.Stats, error) {
	var (
		r    io.Reader
		size int64 = -1
	)
	if name == "-" {
		r = stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			return capture.Stats{}, fmt.Errorf("open input: %w", err)
		}
		defer f.Close() // read-only: a close error loses nothing
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			size = fi.Size()
		}
		r = f
	}
	cr := &countingReader{r: r}
	src, err := capture.OpenReader(name, cr)
	if err != nil {
		return capture.Stats{}, err
	}
	defer src.Close()
	prog.start(name, size, &cr.n)
	err = eng.Feed(ctx, src, dec, func(int64) { prog.update(eng.Conns()) })
	var st capture.Stats
	if sr, ok := src.(capture.StatsReporter); ok {
		st = sr.Stats()
	}
	return st, err
}
