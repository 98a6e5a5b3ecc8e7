package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/abt-dev/abt/internal/adutext"
)

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
// captures (false); a run takes one kind only. Standard input is taken as
// a capture.
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
		return false, &usageError{fmt.Errorf("%s is an adudump text log but %s is a capture: archive them in separate runs", logs[0], caps[0])}
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
