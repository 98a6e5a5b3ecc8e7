package partition

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/abt-dev/abt/internal/failpoint"
)

// PendingFile is a file being written under a temporary name in its final
// directory. Publish makes it visible under its final name atomically and
// durably; Cleanup removes it if it was not published. Defer Cleanup right
// after creating one: it is a no-op after a successful Publish.
type PendingFile struct {
	f         *os.File
	w         *bufio.Writer
	tmp       string
	final     string
	published bool
	size      int64
}

// pendingBuffer is a pending file's write buffer: large enough to turn
// parquet-go's small writes into few system calls, small enough not to
// matter when a run opens thousands of parts (a 1 MiB buffer was most of
// the bytes allocated on scattered captures).
const pendingBuffer = 64 << 10

// MkdirSynced creates dir and its missing parents, syncing each parent it
// adds an entry to, so that a directory made for a part survives a crash
// as surely as the part linked into it (the part's own directory is synced
// when it is published).
func MkdirSynced(dir string) error {
	if st, err := os.Stat(dir); err == nil && st.IsDir() {
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := MkdirSynced(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil // made meanwhile by another writer
		}
		return fmt.Errorf("create partition directory: %w", err)
	}
	return SyncDir(parent)
}

// PartMode is the permission of published files: read-only for everyone.
const PartMode = 0o444

// CreatePending creates the directory of final if needed and a temporary
// file beside final. It fails if final already exists: published files
// are never replaced.
func CreatePending(final string) (*PendingFile, error) {
	dir := filepath.Dir(final)
	if err := MkdirSynced(dir); err != nil {
		return nil, err
	}
	if _, err := os.Lstat(final); err == nil {
		return nil, fmt.Errorf("create %s: %w", final, os.ErrExist)
	}
	tmp := filepath.Join(dir, tmpName(filepath.Base(final)))
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create temporary part: %w", err)
	}
	return &PendingFile{f: f, w: bufio.NewWriterSize(f, pendingBuffer), tmp: tmp, final: final}, nil
}

// Write appends to the file.
func (p *PendingFile) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.size += int64(n)
	if err != nil {
		return n, fmt.Errorf("write %s: %w", p.tmp, err)
	}
	return n, nil
}

// Size returns the number of bytes written so far.
func (p *PendingFile) Size() int64 { return p.size }

// Final returns the name the file is published under.
func (p *PendingFile) Final() string { return p.final }

// Publish flushes, syncs and closes the file, renames it to its final name
// and syncs the directory, in that order: after a crash at any point the
// final name either does not exist or names the whole file.
func (p *PendingFile) Publish() error {
	if p.published {
		return nil
	}
	if err := p.w.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", p.tmp, err)
	}
	// Published files are never modified: read-only, so that nothing
	// opening one by path (a reader's pinned link included) can write it.
	if err := p.f.Chmod(PartMode); err != nil {
		return fmt.Errorf("chmod %s: %w", p.tmp, err)
	}
	if err := p.f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", p.tmp, err)
	}
	if err := p.f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", p.tmp, err)
	}
	p.f = nil
	// Link rather than rename so an existing final name is never replaced.
	if err := os.Link(p.tmp, p.final); err != nil {
		return fmt.Errorf("publish %s: %w", p.final, err)
	}
	p.published = true
	failpoint.Inject("publish-after-link")
	if err := os.Remove(p.tmp); err != nil {
		return fmt.Errorf("publish %s: %w", p.final, err)
	}
	return SyncDir(filepath.Dir(p.final))
}

// Cleanup closes and removes the temporary file unless it was published.
func (p *PendingFile) Cleanup() error {
	if p.published {
		return nil
	}
	var err error
	if p.f != nil {
		err = p.f.Close()
		p.f = nil
	}
	if rerr := os.Remove(p.tmp); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		err = errors.Join(err, fmt.Errorf("remove %s: %w", p.tmp, rerr))
	}
	return err
}

// SyncDir fsyncs a directory so that entries created, renamed or removed in
// it survive a crash.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	err = d.Sync()
	return errors.Join(wrapErr("sync directory "+dir, err), d.Close())
}

func wrapErr(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}
