package main

import (
	"bytes"
	"context"
	"io"
	"sync"
	"testing"
	"time"
)

// startLive runs adu2parquet live on a1 into out (with args) on a
// goroutine of its own; stop cancels it (as SIGTERM does) and returns its
// exit status.
func startLive(t *testing.T, out string, args ...string) (*lockedBuffer, func() int) {
	t.Helper()
	return startLiveOn(t, "a1", out, args...)
}

// startLiveOn is startLive on interface iface.
func startLiveOn(t *testing.T, iface, out string, args ...string) (*lockedBuffer, func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	stderr := &lockedBuffer{}
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, append([]string{"live", "-i", iface, "--out", out, "--sensor", testSensor, "--rollup=false"}, args...),
			nil, io.Discard, stderr)
	}()
	return stderr, func() int {
		cancel()
		select {
		case c := <-code:
			return c
		case <-time.After(5 * time.Second):
			t.Fatal("live did not stop within 5 s of the cancel")
			return -1
		}
	}
}

// lockedBuffer is a bytes.Buffer safe for a writer and a reader on two
// goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
