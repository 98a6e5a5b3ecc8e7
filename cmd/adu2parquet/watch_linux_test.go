//go:build linux

package main

import (
	"errors"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// createWatch counts the files created in a directory (inotify IN_CREATE)
// until stopped.
type createWatch struct {
	fd       int
	done     chan struct{}
	wg       sync.WaitGroup
	creates  int
	overflow bool
}

// watchCreates starts counting the files created in dir; ok is false where
// the platform cannot watch.
func watchCreates(t *testing.T, dir string) (w *createWatch, ok bool) {
	t.Helper()
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	require.NoError(t, err)
	_, err = unix.InotifyAddWatch(fd, dir, unix.IN_CREATE)
	require.NoError(t, err)
	w = &createWatch{fd: fd, done: make(chan struct{})}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for {
			select {
			case <-w.done:
				w.drain(t)
				return
			default:
			}
			if !w.drain(t) {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	return w, true
}

// drain reads the pending events; false when there were none.
func (w *createWatch) drain(t *testing.T) bool {
	var buf [64 << 10]byte
	n, err := unix.Read(w.fd, buf[:])
	if errors.Is(err, unix.EAGAIN) || n <= 0 {
		return false
	}
	require.NoError(t, err)
	for off := 0; off+unix.SizeofInotifyEvent <= n; {
		ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
		if ev.Mask&unix.IN_Q_OVERFLOW != 0 {
			w.overflow = true
		}
		if ev.Mask&unix.IN_CREATE != 0 {
			w.creates++
		}
		off += unix.SizeofInotifyEvent + int(ev.Len)
	}
	return true
}

// stop ends the watch and returns the files created; an overflowed queue
// (more events than the kernel keeps) counts as too many to count.
func (w *createWatch) stop() (creates int, overflow bool) {
	close(w.done)
	w.wg.Wait()
	_ = unix.Close(w.fd)
	return w.creates, w.overflow
}
