package partition

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// Each hour directory has a lock file beside it (".hour=HH.lock" in the date
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
