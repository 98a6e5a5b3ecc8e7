package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"

	"github.com/abt-dev/abt/internal/adutext"
	"github.com/abt-dev/abt/internal/archive"
	"github.com/abt-dev/abt/internal/capture"
	"github.com/abt-dev/abt/internal/ingest"
	"github.com/abt-dev/abt/schema"
)

// countingReader counts the bytes read from an input, for progress.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// started tells the caller that an input begins.
func (r *Run) started(name string, size int64, read *atomic.Int64) {
	if r.cfg.OnInput != nil {
		r.cfg.OnInput(name, size, read)
	}
}

// point tells the caller where the run is.
func (r *Run) point(p Point) {
	if r.cfg.OnProgress != nil {
		r.cfg.OnProgress(p)
	}
}

// feedCapture reads one packet capture into the engine.
func (r *Run) feedCapture(ctx context.Context, name string) error {
	var (
		rd   io.Reader
		size int64 = -1
	)
	var stdinFP *archive.StreamFingerprint
	if name == "-" {
		rd = newCtxReader(ctx, r.cfg.Stdin)
		if r.arch != nil {
			// Standard input is identified as it is read (see
			// archive.Input).
			stdinFP = &archive.StreamFingerprint{}
			rd = io.TeeReader(rd, stdinFP)
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
		rd = f
	}
	cr := &countingReader{r: rd}
	in := schema.Input{Name: name}
	defer func() { r.inputs = append(r.inputs, in) }()
	src, err := capture.OpenReader(name, cr)
	if err != nil {
		return err
	}
	defer src.Close()
	r.started(name, size, &cr.n)
	var advErr error
	err = r.eng.Feed(ctx, src, &r.dec, func(int64) {
		r.point(Point{Conns: r.eng.Conns()})
		if now, ok := r.eng.Now(); ok && advErr == nil {
			advErr = r.advance(now)
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
		if _, derr := io.Copy(io.Discard, rd); derr == nil {
			in.Fingerprint = stdinFP.Sum()
		}
	}
	return err
}

// feedLog reads one adudump text log straight into the output: its
// records are already inferred.
func (r *Run) feedLog(ctx context.Context, name string) error {
	f, err := adutext.OpenLog(name)
	if err != nil {
		return err
	}
	defer f.Close()
	in := schema.Input{Name: name, Format: "adudump"}
	defer func() { r.inputs = append(r.inputs, in) }()
	cr := &countingReader{r: f}
	size := int64(-1)
	if fi, err := os.Stat(name); err == nil && name != "-" && fi.Mode().IsRegular() {
		size = fi.Size()
	}
	r.started(name, size, &cr.n)
	rd := adutext.NewReader(name, cr, r.logOptions())
	var rec ingest.Record
	base := r.nextID
	var n int64
	for {
		err := rd.Next(&rec)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			r.addLogStats(rd.Stats(), &in, cr.n.Load())
			return err
		}
		// Connection ids restart in each log; keep them unique in the run.
		rec.ConnID += base
		r.nextID = max(r.nextID, rec.ConnID)
		if r.logSpan[0] == ingest.NoTime {
			r.logSpan[0] = rec.TsNs
		}
		r.logSpan[1] = max(r.logSpan[1], rec.TsNs)
		if err := r.Record(&rec); err != nil {
			return err
		}
		r.logRecs++
		if n++; n%ingest.ProgressEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			r.point(Point{})
			if err := r.advance(r.logSpan[1]); err != nil {
				return err
			}
		}
	}
	r.addLogStats(rd.Stats(), &in, cr.n.Load())
	return nil
}

// logOptions are the reader's options of a run reading adudump text logs.
// The engine's quiet time is the one the logs were made with; the records
// waiting for their connection's next line get a quarter of the memory
// budget, as the engine's reorder stage does (the engine itself does not
// run on logs).
func (r *Run) logOptions() adutext.ReaderOptions {
	eo := r.cfg.Engine
	budget := int64(-1)
	if eo.MemoryBudget > 0 {
		budget = max(eo.MemoryBudget/4, 1)
	}
	return adutext.ReaderOptions{SkipMalformed: r.cfg.SkipMalformed, LocalNets: eo.LocalNets,
		QuietTime: eo.QuietTime, QueueBudget: budget, MaxConns: eo.MaxConns}
}

func (r *Run) addLogStats(s adutext.ReaderStats, in *schema.Input, bytes int64) {
	in.Packets, in.Bytes = s.Lines, bytes
	in.Fingerprint, _ = fingerprintOf(in.Name)
	r.logSet.Lines += s.Lines
	r.logSet.Records += s.Records
	r.logSet.Conns += s.Conns
	r.logSet.Malformed += s.Malformed
	r.logSet.TimeBackwards += s.TimeBackwards
	r.logSet.UntimedINC += s.UntimedINC
	r.logSet.EndsSynthesized += s.EndsSynthesized
	r.logSet.PeerGuessed += s.PeerGuessed
	r.logSet.QueueReleased += s.QueueReleased
	r.logSet.Evicted += s.Evicted
}

func fingerprintOf(name string) (string, error) {
	if name == "-" {
		return "", nil
	}
	return archive.Fingerprint(name)
}

// recordTypes are the line types that open an adudump text log.
var recordTypes = [][]byte{[]byte("SYN:"), []byte("SAK:"), []byte("RTT:"), []byte("SEQ:"), []byte("CNC:"),
	[]byte("CONC:"), []byte("PART:"), []byte("ADU:"), []byte("INC:"), []byte("END:"), []byte("#")}

// isLog reports whether an input's (decompressed) content starts like an
// adudump text log rather than a capture. An empty input, or one that
// starts with 8 bytes of blank space, is a log: no capture format starts
// so, and adudump text is empty when a capture has no TCP connection.
func isLog(path string) (bool, error) {
	if _, err := os.Stat(path); err != nil {
		return false, fmt.Errorf("open input: %w", err)
	}
	f, err := adutext.OpenLog(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	head := make([]byte, 8)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	head = bytes.TrimLeft(head[:n], " \t\r\n")
	if len(head) == 0 {
		return true, nil
	}
	for _, t := range recordTypes {
		if bytes.HasPrefix(head, t) {
			return true, nil
		}
	}
	return false, nil
}

// inputKinds tells whether the inputs are adudump text logs (true) or
// captures (false); a run takes one kind only (ErrMixedInputs). Standard
// input is taken as a capture.
func inputKinds(inputs []string) (bool, error) {
	var logs, caps []string
	for _, in := range inputs {
		if in == "-" {
			caps = append(caps, in)
			continue
		}
		l, err := isLog(in)
		if err != nil {
			return false, err
		}
		if l {
			logs = append(logs, in)
		} else {
			caps = append(caps, in)
		}
	}
	if len(logs) > 0 && len(caps) > 0 {
		return false, fmt.Errorf("%w: %s is an adudump text log but %s is a capture: archive them in separate runs",
			ErrMixedInputs, logs[0], caps[0])
	}
	return len(logs) > 0, nil
}

// ctxReader reads r in a goroutine of its own, so that a Read waiting for
// input returns as soon as ctx is cancelled (a signal) even when r blocks
// (a quiet pipe on standard input). The goroutine itself stays blocked in
// r until input comes or the process exits.
type ctxReader struct {
	ctx  context.Context
	full chan ctxChunk
	free chan []byte
	cur  ctxChunk
	off  int
}

type ctxChunk struct {
	b   []byte
	err error
}

// ctxReaderBuffers and ctxReaderSize: the goroutine reads ahead at most
// this many buffers of this size.
const (
	ctxReaderBuffers = 4
	ctxReaderSize    = 256 << 10
)

func newCtxReader(ctx context.Context, r io.Reader) *ctxReader {
	c := &ctxReader{ctx: ctx, full: make(chan ctxChunk, ctxReaderBuffers), free: make(chan []byte, ctxReaderBuffers)}
	for range ctxReaderBuffers {
		c.free <- make([]byte, ctxReaderSize)
	}
	go func() {
		for {
			var b []byte
			select {
			case b = <-c.free:
			case <-ctx.Done():
				return
			}
			n, err := r.Read(b)
			c.full <- ctxChunk{b[:n], err}
			if err != nil {
				return
			}
		}
	}()
	return c
}

// Read implements io.Reader.
func (c *ctxReader) Read(p []byte) (int, error) {
	for c.off == len(c.cur.b) {
		if c.cur.err != nil {
			return 0, c.cur.err
		}
		if c.cur.b != nil {
			c.free <- c.cur.b[:cap(c.cur.b)]
		}
		select {
		case c.cur = <-c.full:
			c.off = 0
		case <-c.ctx.Done():
			c.cur = ctxChunk{err: c.ctx.Err()}
			return 0, c.cur.err
		}
	}
	n := copy(p, c.cur.b[c.off:])
	c.off += n
	return n, nil
}
