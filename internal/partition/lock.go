package partition

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// Each hour directory has a lock file beside it (".hour=H.lock" in the date
// directory, outside the directory that compaction swaps): a writer holds it
// shared from creating a part in the hour until publishing it; compaction
// takes it exclusively, and skips the hour when a writer is in it.

func lockPath(hourDir string) string {
	return filepath.Join(filepath.Dir(hourDir), "."+filepath.Base(hourDir)+".lock")
}

// hourLock is a held lock on an hour directory.
type hourLock struct{ f *os.File }

// lockHour takes the hour's lock, shared or exclusive. With wait false it
// returns errBusy instead of blocking.
func lockHour(hourDir string, exclusive, wait bool) (*hourLock, error) {
	path := lockPath(hourDir)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create partition directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open hour lock: %w", err)
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	if !wait {
		how |= syscall.LOCK_NB
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errBusy
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return &hourLock{f: f}, nil
}

var errBusy = errors.New("partition: hour in use by a writer")

func (l *hourLock) unlock() {
	if l != nil && l.f != nil {
		_ = l.f.Close()
		l.f = nil
	}
}

// Retiring files. A writer that removes or renames files readers may be
// reading (an hour edit's swap, the replacement of a rollup) holds the
// retire lock; a reader that reads files in place, by their archive
// paths, holds it shared for its whole read. The writer first takes
// retireWantedName exclusively, then waits for retireName: a reader that
// finds either taken does not wait but pins its files (package catalog),
// so a waiting writer is never starved and a reader never blocked. Both
// files live in the archive's bookkeeping directory; readers open them
// read-only and never create them.
const (
	retireWantedName = "retire-wanted.lock"
	retireName       = "retire.lock"
)

// RetireLock is a writer's held retire lock.
type RetireLock struct{ wanted, lock *os.File }

// LockRetire takes the retire lock of the archive whose bookkeeping
// directory is dir, waiting for the readers reading in place to finish.
func LockRetire(dir string) (*RetireLock, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("retire lock: %w", err)
	}
	var files [2]*os.File
	for i, name := range []string{retireWantedName, retireName} {
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_RDWR|os.O_CREATE, 0o644)
		if err == nil {
			err = flockRetry(f, syscall.LOCK_EX)
		}
		if err != nil {
			for _, g := range files[:i] {
				_ = g.Close()
			}
			if f != nil {
				_ = f.Close()
			}
			return nil, fmt.Errorf("retire lock %s: %w", name, err)
		}
		files[i] = f
	}
	return &RetireLock{wanted: files[0], lock: files[1]}, nil
}

// Unlock releases the lock; it may be called more than once.
func (l *RetireLock) Unlock() {
	if l == nil {
		return
	}
	for _, f := range []**os.File{&l.lock, &l.wanted} {
		if *f != nil {
			_ = (*f).Close()
			*f = nil
		}
	}
}

// ReadInPlace lets a reader read the files of the archive whose
// bookkeeping directory is dir in place, without pinning them, until it
// calls release: it reports false, at once, when a writer is retiring
// files or waiting to, or when the lock files are missing (no writer of
// this version has run: the reader cannot tell).
func ReadInPlace(dir string) (release func(), ok bool) {
	wanted, err := os.Open(filepath.Join(dir, retireWantedName))
	if err != nil {
		return nil, false
	}
	defer wanted.Close()
	if syscall.Flock(int(wanted.Fd()), syscall.LOCK_SH|syscall.LOCK_NB) != nil {
		return nil, false
	}
	lock, err := os.Open(filepath.Join(dir, retireName))
	if err != nil {
		return nil, false
	}
	if syscall.Flock(int(lock.Fd()), syscall.LOCK_SH|syscall.LOCK_NB) != nil {
		_ = lock.Close()
		return nil, false
	}
	return func() { _ = lock.Close() }, true
}

// flockRetry is flock, retried when a signal interrupts the wait.
func flockRetry(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// MakeRetireLocks creates the retire lock files in dir (the archive's
// bookkeeping directory) if they are missing, so that readers can read in
// place (see ReadInPlace) before any writer has retired a file.
func MakeRetireLocks(dir string) error {
	for _, name := range []string{retireWantedName, retireName} {
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return fmt.Errorf("retire lock: %w", err)
		}
		_ = f.Close()
	}
	return nil
}
