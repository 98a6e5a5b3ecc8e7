package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/term"
)

// progress draws a one-line progress indicator on standard error when it
// is a terminal, at most four times a second (and at once for each new
// input). With several inputs the line starts with which one is being
// read: "[2/5] day2.pcap: ...".
type progress struct {
	w       io.Writer
	on      bool
	inputs  int // how many inputs the run reads
	index   int // which one is being read, from 1
	name    string
	size    int64
	read    *atomic.Int64
	last    time.Time
	started time.Time
	drawn   bool
}

// newProgress returns the progress of a run reading inputs inputs, drawn
// on w if enabled and w is a terminal.
func newProgress(w io.Writer, enabled bool, inputs int) *progress {
	on := false
	if f, ok := w.(*os.File); ok && enabled && term.IsTerminal(int(f.Fd())) {
		on = true
	}
	return &progress{w: w, on: on, inputs: inputs}
}

// start begins the next input: name, its size in bytes (-1: unknown), and
// the count of its bytes read so far.
func (p *progress) start(name string, size int64, read *atomic.Int64) {
	p.index++
	p.name, p.size, p.read = name, size, read
	p.started = time.Now()
	p.last = time.Time{}
}

func (p *progress) update(conns int) {
	if !p.on || time.Since(p.last) < 250*time.Millisecond {
		return
	}
	p.show(p.line(p.read.Load(), time.Since(p.started), conns))
}

// status draws line as the progress line (a live run's status), at most
// four times a second.
func (p *progress) status(line func(elapsed time.Duration) string) {
	if !p.on || time.Since(p.last) < 250*time.Millisecond {
		return
	}
	p.show(line(time.Since(p.started)))
}

func (p *progress) show(line string) {
	p.last = time.Now()
	fmt.Fprint(p.w, "\r\x1b[K"+line)
	p.drawn = true
}

// clear erases the progress line, before a message is written under it
// (the next update draws it again).
func (p *progress) clear() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.drawn = false
	}
}

// line is the progress line after read bytes in elapsed time.
func (p *progress) line(read int64, elapsed time.Duration, conns int) string {
	var b strings.Builder
	if p.inputs > 1 {
		fmt.Fprintf(&b, "[%d/%d] ", p.index, p.inputs)
	}
	mb := float64(read) / 1e6
	rate := mb / max(elapsed.Seconds(), 1e-9)
	if p.size > 0 {
		fmt.Fprintf(&b, "%s: %3.0f%%  %.0f MB  %.0f MB/s  %d connections", p.name, 100*float64(read)/float64(p.size), mb, rate, conns)
	} else {
		fmt.Fprintf(&b, "%s: %.0f MB  %.0f MB/s  %d connections", p.name, mb, rate, conns)
	}
	return b.String()
}

func (p *progress) done() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}
