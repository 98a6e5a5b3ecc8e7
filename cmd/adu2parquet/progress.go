package main

import (
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/term"
)

// progress draws a one-line progress indicator on standard error when it
// is a terminal, at most four times a second.
type progress struct {
	w       io.Writer
	on      bool
	name    string
	size    int64
	read    *atomic.Int64
	last    time.Time
	started time.Time
	drawn   bool
}

func newProgress(w io.Writer, enabled bool) *progress {
	on := false
	if f, ok := w.(*os.File); ok && enabled && term.IsTerminal(int(f.Fd())) {
		on = true
	}
	return &progress{w: w, on: on}
}

func (p *progress) start(name string, size int64, read *atomic.Int64) {
	p.name, p.size, p.read = name, size, read
	p.started = time.Now()
}

func (p *progress) update(conns int) {
	if !p.on || time.Since(p.last) < 250*time.Millisecond {
		return
	}
	p.last = time.Now()
	read := p.read.Load()
	mb := float64(read) / 1e6
	rate := mb / time.Since(p.started).Seconds()
	if p.size > 0 {
		fmt.Fprintf(p.w, "\r\x1b[K%s: %3.0f%%  %.0f MB  %.0f MB/s  %d connections", p.name, 100*float64(read)/float64(p.size), mb, rate, conns)
	} else {
		fmt.Fprintf(p.w, "\r\x1b[K%s: %.0f MB  %.0f MB/s  %d connections", p.name, mb, rate, conns)
	}
	p.drawn = true
}

func (p *progress) done() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}
