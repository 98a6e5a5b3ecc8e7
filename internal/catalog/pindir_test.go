package catalog

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestSweepPinDirs: a pin directory whose process ended without removing
// it is removed by the next PinDir's sweep; one whose process lives, one
// just made without its owner file yet, and this process's own are not.
func TestSweepPinDirs(t *testing.T) {
	parent := t.TempDir()
	mk := func(name string) string {
		d := filepath.Join(parent, name)
		require.NoError(t, os.Mkdir(d, 0o700))
		require.NoError(t, os.WriteFile(filepath.Join(d, "link"), nil, 0o600))
		return d
	}

	// Held by a live process: a child that locks the owner file with
	// flock(1) and sleeps.
	live := mk(pinDirPrefix + "live")
	require.NoError(t, os.WriteFile(filepath.Join(live, pinOwnerFile), nil, 0o600))
	if _, err := exec.LookPath("flock"); err != nil {
		t.Skip("flock(1) not installed")
	}
	child := exec.Command("flock", "--exclusive", filepath.Join(live, pinOwnerFile), "sleep", "60")
	require.NoError(t, child.Start())
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })
	// Wait until the child holds the lock.
	deadline := time.Now().Add(10 * time.Second)
	for !lockedByOther(t, filepath.Join(live, pinOwnerFile)) {
		require.True(t, time.Now().Before(deadline), "flock(1) never took the lock")
		time.Sleep(10 * time.Millisecond)
	}

	// Its owner is gone: an owner file nobody locks.
	dead := mk(pinDirPrefix + "dead")
	require.NoError(t, os.WriteFile(filepath.Join(dead, pinOwnerFile), nil, 0o600))
	// No owner file: fresh (being made) and old (an older version's).
	fresh := mk(pinDirPrefix + "fresh")
	old := mk(pinDirPrefix + "old")
	past := time.Now().Add(-2 * pinDirMinAge)
	require.NoError(t, os.Chtimes(old, past, past))
	// Not a pin directory at all.
	other := mk("other-dir")
	require.NoError(t, os.Chtimes(other, past, past))

	sweepPinDirs(parent)
	require.DirExists(t, live)
	require.NoDirExists(t, dead)
	require.DirExists(t, fresh)
	require.NoDirExists(t, old)
	require.DirExists(t, other)

	// This process's own directory survives the sweep, and RemovePinDir
	// removes it.
	t.Setenv("TMPDIR", parent)
	d, err := PinDir()
	require.NoError(t, err)
	sweepPinDirs(filepath.Dir(d))
	require.DirExists(t, d)
	require.FileExists(t, filepath.Join(d, pinOwnerFile))
	require.NoError(t, RemovePinDir(d))
	require.NoDirExists(t, d)
}

// lockedByOther reports whether another process holds path's flock.
func lockedByOther(t *testing.T, path string) bool {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	defer f.Close()
	return flockNB(f) != nil
}

// TestPinDirSweptWhileMade: another process's sweep that finds a new pin
// directory's owner file before its lock takes the directory for a dead
// process's and removes it; PinDir notices (the owner file it locked is no
// longer the one at its path) and makes another, which exists. (The race
// failed TestTextRoundTrip once under a parallel test load: "stat
// /dev/shm/abt-pins-…: no such file or directory".)
func TestPinDirSweptWhileMade(t *testing.T) {
	var swept []string
	beforePinLock = func(dir string) {
		if len(swept) == 0 {
			// As another process would: open the owner file, lock it, remove
			// the directory, let go.
			f, err := os.OpenFile(filepath.Join(dir, pinOwnerFile), os.O_RDWR, 0)
			require.NoError(t, err)
			require.NoError(t, flockNB(f))
			require.NoError(t, os.RemoveAll(dir))
			require.NoError(t, f.Close())
			swept = append(swept, dir)
		}
	}
	t.Cleanup(func() { beforePinLock = nil })
	d, err := PinDir()
	require.NoError(t, err)
	require.Len(t, swept, 1)
	require.NotEqual(t, swept[0], d)
	require.DirExists(t, d)
	require.NoError(t, RemovePinDir(d))
}
