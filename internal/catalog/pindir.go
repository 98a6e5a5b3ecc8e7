package catalog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// pinDirPrefix begins the name of every private directory PinDir makes.
const pinDirPrefix = "abt-pins-"

// pinOwnerFile is the file in a pin directory that its process holds
// locked (flock) for as long as it uses the directory: the kernel releases
// the lock when the process ends, however it ends, so a directory whose
// lock can be taken belongs to no one.
const pinOwnerFile = ".owner"

// pinDirMinAge is how old a pin directory without an owner file must be
// before another process removes it: a new directory has none for the
// moment between its creation and its lock.
const pinDirMinAge = time.Minute

// shmDir is Linux's memory file system for shared memory, world-writable.
const shmDir = "/dev/shm"

// pinOwners holds the locked owner files of this process's pin
// directories, by directory.
var pinOwners = struct {
	sync.Mutex
	m map[string]*os.File
}{m: map[string]*os.File{}}

// PinDir makes a private directory (mode 0700) for a reader's links: in
// /dev/shm when it is there (a memory file system: the thousands of
// directories and links of a month's range cost a few milliseconds there,
// ten times less than on disk), else in the system's temporary directory.
// The process holds it (see pinOwnerFile) until RemovePinDir removes it;
// first PinDir removes the pin directories that processes killed before
// they could remove theirs left behind.
func PinDir() (string, error) {
	parents := []string{os.TempDir()}
	if st, err := os.Stat(shmDir); err == nil && st.IsDir() {
		parents = []string{shmDir, os.TempDir()}
	}
	for _, p := range parents {
		sweepPinDirs(p)
	}
	var err error
	for _, p := range parents {
		// Another process's sweep may take a new directory for a dead
		// one's (ownPinDir): make another.
		for range pinDirTries {
			var d string
			if d, err = os.MkdirTemp(p, pinDirPrefix); err != nil {
				break
			}
			if err = ownPinDir(d); err != nil {
				_ = os.RemoveAll(d)
				continue
			}
			return d, nil
		}
	}
	return "", fmt.Errorf("pin directory: %w", err)
}

// pinDirTries is how many directories PinDir makes in one parent before it
// tries the next.
const pinDirTries = 4

// beforePinLock, when set (tests), runs between the creation of a pin
// directory's owner file and its lock.
var beforePinLock func(dir string)

// ownPinDir creates dir's owner file and locks it for this process. Between
// the two, another process's sweep (sweepPinDirs) may find the file
// unlocked, take the directory for a dead process's and remove it, and let
// go of its lock before this one takes it: so after locking, the owner
// file must still be the one at its path.
func ownPinDir(dir string) error {
	path := filepath.Join(dir, pinOwnerFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if beforePinLock != nil {
		beforePinLock(dir)
	}
	if err := flockNB(f); err != nil {
		f.Close()
		return fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	held, err1 := f.Stat()
	there, err2 := os.Stat(path)
	if err1 != nil || err2 != nil || !os.SameFile(held, there) {
		f.Close()
		return fmt.Errorf("pin directory %s: removed by another process's sweep while it was made", dir)
	}
	pinOwners.Lock()
	pinOwners.m[dir] = f
	pinOwners.Unlock()
	return nil
}

// RemovePinDir removes a directory PinDir made, and lets go of it.
func RemovePinDir(dir string) error {
	pinOwners.Lock()
	f := pinOwners.m[dir]
	delete(pinOwners.m, dir)
	pinOwners.Unlock()
	err := os.RemoveAll(dir)
	if f != nil {
		err = errors.Join(err, f.Close())
	}
	return err
}

// sweepPinDirs removes the pin directories under parent that no process
// holds: those whose owner file can be locked, and those without one that
// are older than pinDirMinAge (made by a version without owner files, or
// killed between the directory and its lock). Only this user's
// directories can be opened, and what cannot be is left alone.
func sweepPinDirs(parent string) {
	ents, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), pinDirPrefix) {
			continue
		}
		dir := filepath.Join(parent, e.Name())
		pinOwners.Lock()
		_, ours := pinOwners.m[dir]
		pinOwners.Unlock()
		if ours {
			continue
		}
		f, err := os.OpenFile(filepath.Join(dir, pinOwnerFile), os.O_RDWR, 0)
		if errors.Is(err, os.ErrNotExist) {
			if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > pinDirMinAge {
				_ = os.RemoveAll(dir)
			}
			continue
		}
		if err != nil {
			continue
		}
		if flockNB(f) == nil {
			_ = os.RemoveAll(dir)
		}
		f.Close()
	}
}

// flockNB takes f's exclusive flock without waiting.
func flockNB(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}
