// Package catalog decides which files of an archive a reader sees, and lets
// a reader hold on to them while it reads.
//
// What a reader sees is decided by file names and by one small file, the
// archive's state (<root>/_abt/state.json):
//
//   - a published part (part-<run>-<seq>.parquet) is seen unless its run
//     was replaced by a committed run (the state's replacements);
//   - an uncommitted part (.part-<run>-<seq>.parquet.uncommitted, written by
//     a run that replaces others) is seen only once its run has committed,
//     that is, once the state lists it;
//   - rows of a replaced run inside a merged (compacted) file are left out
//     by the reader (Snapshot.Hidden lists the runs).
//
// A run that replaces others commits by writing the state in one rename:
// at that instant every reader switches from the old runs to the new one.
// The new run's files are then renamed and the old runs' removed, hour by
// hour (package archive), and the replacement leaves the state. Readers
// take their file list between two reads of the state's generation
// (Take), so a list never mixes the rules of two states.
//
// Writers serialise their decisions (recovery, refusing inputs, commits)
// with the archive lock (Lock). Readers never lock and never write.
package catalog

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"

	"github.com/abt-dev/abt/internal/partition"
)

// MetaDir is the archive's directory for its own bookkeeping (journal,
// state, staging space). Hive-style readers skip names starting with '_'.
const MetaDir = "_abt"

// stateFile is the state's name under MetaDir.
const stateFile = "state.json"

// lockFile is the archive lock's name under MetaDir.
const lockFile = "lock"

// State is the archive's visibility state.
type State struct {
	// Generation counts the state's changes; a reader compares it before
	// and after listing files.
	Generation uint64 `json:"generation"`
	// Replacements are the committed replacements whose files have not all
	// been renamed and removed yet.
	Replacements []Replacement `json:"replacements,omitempty"`
}

// Replacement is a committed run that replaces earlier runs.
type Replacement struct {
	// Run is the replacing run: its uncommitted parts are seen.
	Run string `json:"run"`
	// Replaces are the runs it replaced: their rows are not seen.
	Replaces []string `json:"replaces"`
	// Committed is when it committed (RFC 3339, wall clock).
	Committed string `json:"committed"`
}

// Hidden returns the runs whose rows readers must not see, sorted.
func (s State) Hidden() []string {
	var out []string
	for _, r := range s.Replacements {
		out = append(out, r.Replaces...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Shown reports whether the uncommitted parts of run are seen (the run has
// committed).
func (s State) Shown(run string) bool {
	for _, r := range s.Replacements {
		if r.Run == run {
			return true
		}
	}
	return false
}

// Committed reports whether run is a committed replacement still in the
// state, and returns it.
func (s State) Committed(run string) (Replacement, bool) {
	for _, r := range s.Replacements {
		if r.Run == run {
			return r, true
		}
	}
	return Replacement{}, false
}

// Hides reports whether a run's rows are hidden (it was replaced).
func (s State) Hides(run string) bool {
	for _, r := range s.Replacements {
		if slices.Contains(r.Replaces, run) {
			return true
		}
	}
	return false
}

// StatePath returns the state file of the archive at root.
func StatePath(root string) string { return filepath.Join(root, MetaDir, stateFile) }

// ReadState reads the archive's state; an archive without one has the
// zero state.
func ReadState(root string) (State, error) {
	var s State
	b, err := os.ReadFile(StatePath(root))
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("read archive state: %w", err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("read archive state %s: %w", StatePath(root), err)
	}
	return s, nil
}

// WriteState replaces the archive's state with s, its generation one more
// than the current one, durably and atomically (a reader reads the old
// state or the new one). The caller holds the archive lock.
func WriteState(root string, s State) (State, error) {
	cur, err := ReadState(root)
	if err != nil {
		return s, err
	}
	s.Generation = cur.Generation + 1
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return s, fmt.Errorf("write archive state: %w", err)
	}
	dir := filepath.Join(root, MetaDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return s, fmt.Errorf("write archive state: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".state-*.tmp")
	if err != nil {
		return s, fmt.Errorf("write archive state: %w", err)
	}
	_, err = tmp.Write(append(b, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	err = errors.Join(err, tmp.Close())
	if err == nil {
		err = os.Rename(tmp.Name(), StatePath(root))
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return s, fmt.Errorf("write archive state: %w", err)
	}
	return s, partition.SyncDir(dir)
}

// RemoveStateTemps removes temporary state files a writer killed in
// WriteState left. The caller holds the archive lock.
func RemoveStateTemps(root string) {
	tmps, _ := filepath.Glob(filepath.Join(root, MetaDir, ".state-*.tmp"))
	for _, t := range tmps {
		_ = os.Remove(t)
	}
}

// ArchiveLock is the held archive lock.
type ArchiveLock struct{ f *os.File }

// Lock takes the archive lock, waiting for it: writers hold it while they
// recover the archive, decide whether an input may be archived and start
// their run, and while they commit. It is an flock on <root>/_abt/lock, so
// it is released when its holder dies.
func Lock(root string) (*ArchiveLock, error) {
	dir := filepath.Join(root, MetaDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("lock archive: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock archive: %w", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("lock archive %s: %w", f.Name(), err), f.Close())
	}
	return &ArchiveLock{f: f}, nil
}

// Unlock releases the lock. It may be called more than once.
func (l *ArchiveLock) Unlock() {
	if l != nil && l.f != nil {
		_ = l.f.Close()
		l.f = nil
	}
}
