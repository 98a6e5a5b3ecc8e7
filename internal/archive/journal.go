package archive

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/abt-dev/abt/internal/catalog"
	"github.com/abt-dev/abt/internal/partition"
)

// The journal is the archive's record of runs in progress: one file per
// run under <root>/_abt/runs/, written when the run starts and removed when
// its row is in the runs table. The running process holds an exclusive
// flock on it, so another process can tell a live run from a crashed one.
// Directories starting with '_' are skipped by Hive-style readers.

// journalEntry is a run's journal file.
type journalEntry struct {
	RunID    string         `json:"run_id"`
	Sensor   string         `json:"sensor"`
	Started  string         `json:"started"`
	Inputs   []journalInput `json:"inputs"`
	Replaces []string       `json:"replaces,omitempty"` // runs this run replaces when it commits
	// Uncommitted: the run publishes its parts under uncommitted names
	// and commits at its end (it replaces runs, or has an input whose
	// fingerprint is known only once read).
	Uncommitted bool `json:"uncommitted,omitempty"`
}

type journalInput struct {
	Name        string `json:"name"`
	Fingerprint string `json:"fingerprint"`
	Link        bool   `json:"link,omitempty"` // see Input.Link
}

func journalDir(root string) string { return filepath.Join(root, catalog.MetaDir, "runs") }

func spillDir(root string) string { return filepath.Join(root, catalog.MetaDir, "spill") }

// lockedJournal is the journal of this process's run, locked.
type lockedJournal struct {
	f    *os.File
	path string
}

// createJournal writes and locks the journal of a new run.
func createJournal(root string, e *journalEntry) (*lockedJournal, error) {
	dir := journalDir(root)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create journal directory: %w", err)
	}
	path := filepath.Join(dir, e.RunID+".json")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create journal: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return nil, errors.Join(fmt.Errorf("lock journal %s: %w", path, err), f.Close())
	}
	b, _ := json.MarshalIndent(e, "", "  ")
	if _, err := f.Write(append(b, '\n')); err != nil {
		return nil, errors.Join(fmt.Errorf("write journal %s: %w", path, err), f.Close(), os.Remove(path))
	}
	if err := f.Sync(); err != nil {
		return nil, errors.Join(fmt.Errorf("sync journal %s: %w", path, err), f.Close(), os.Remove(path))
	}
	if err := partition.SyncDir(dir); err != nil {
		return nil, errors.Join(err, f.Close(), os.Remove(path))
	}
	return &lockedJournal{f: f, path: path}, nil
}

// finish removes the journal (the run is complete) and releases the lock.
func (j *lockedJournal) finish() error {
	err := removeJournal(j.path)
	return errors.Join(wrap("remove journal", err), j.f.Close(), partition.SyncDir(filepath.Dir(j.path)))
}

// release unlocks the journal and leaves it in place (the run failed before
// completing; a later run sees it as crashed).
func (j *lockedJournal) release() error { return j.f.Close() }

// journalState is a journal found on disk.
type journalState struct {
	entry journalEntry
	path  string
	live  bool // its process still holds the lock
}

// readJournals lists the journals under root and whether each is live.
func readJournals(root string) ([]journalState, error) {
	dir := journalDir(root)
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read journal directory: %w", err)
	}
	journalsListed()
	var out []journalState
	for _, de := range ents {
		if !strings.HasSuffix(de.Name(), ".json") {
			continue
		}
		path := filepath.Join(dir, de.Name())
		b, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			continue // its run completed since the directory was listed
		}
		if err != nil {
			return nil, fmt.Errorf("read journal %s: %w", path, err)
		}
		var js journalState
		js.path = path
		if err := json.Unmarshal(b, &js.entry); err != nil || js.entry.RunID == "" {
			// A journal cut short by a crash before its first sync: the run
			// never started writing.
			js.entry.RunID = strings.TrimSuffix(de.Name(), ".json")
		}
		live, gone := lockState(path)
		if gone {
			continue // likewise: a run removes its journal, then unlocks it
		}
		js.live = live
		out = append(out, js)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].entry.RunID < out[j].entry.RunID })
	return out, nil
}

// journalsListed is called once readJournals has listed the journals; a
// test sets it to let runs complete at that moment.
var journalsListed = func() {}

// isLocked reports whether another process holds the lock of the file at
// path (false when there is no such file).
func isLocked(path string) bool {
	locked, _ := lockState(path)
	return locked
}

// lockState reports whether another process holds the lock of the file at
// path, and whether the file is gone. A running run removes its journal
// before it unlocks it, so a journal seen unlocked is one whose run is no
// longer running, and one gone is one whose run completed.
func lockState(path string) (locked, gone bool) {
	f, err := os.Open(path)
	if err != nil {
		return false, errors.Is(err, os.ErrNotExist)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return true, false
	}
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false, false
}

func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}
