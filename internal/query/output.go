package query

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/abt-dev/abt/internal/partition"
)

// Output is a result file being written under a temporary name beside its
// final path, so that a failed query leaves no half-written file there:
// Publish replaces the path with it atomically and durably, Discard
// removes it. Defer Discard right after CreateOutput; it is a no-op after
// Publish. An Output is not safe for concurrent use.
//
// Limitations: a process killed before Publish leaves the temporary file
// (".NAME.tmp-RANDOM" in the path's directory) behind.
type Output struct {
	f         *os.File
	tmp, path string
	published bool
}

// CreateOutput creates a temporary file in path's directory, which must
// exist, with the permissions os.Create gives (0666 less the umask).
func CreateOutput(path string) (*Output, error) {
	f, tmp, err := createTemp(path)
	if err != nil {
		return nil, err
	}
	return &Output{f: f, tmp: tmp, path: path}, nil
}

// createTemp creates ".BASE.tmp-RANDOM" beside path, exclusively.
func createTemp(path string) (*os.File, string, error) {
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, "", fmt.Errorf("create output: %w", err)
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp-"+hex.EncodeToString(rnd[:]))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		return nil, "", fmt.Errorf("create output: %w", err)
	}
	return f, tmp, nil
}

// Write writes to the temporary file.
func (o *Output) Write(b []byte) (int, error) {
	n, err := o.f.Write(b)
	if err != nil {
		return n, fmt.Errorf("write output: %w", err)
	}
	return n, nil
}

// Publish syncs and closes the temporary file, renames it to the path
// (replacing any file there) and syncs the directory, in that order:
// after a crash the path names either the old file or the whole new one.
func (o *Output) Publish() error {
	if o.published {
		return nil
	}
	if err := o.f.Sync(); err != nil {
		return fmt.Errorf("sync output: %w", err)
	}
	err := o.f.Close()
	o.f = nil
	if err != nil {
		return fmt.Errorf("close output: %w", err)
	}
	if err := os.Rename(o.tmp, o.path); err != nil {
		return fmt.Errorf("publish output: %w", err)
	}
	o.published = true
	return partition.SyncDir(filepath.Dir(o.path))
}

// Discard closes and removes the temporary file unless it was published.
func (o *Output) Discard() error {
	if o.published {
		return nil
	}
	var err error
	if o.f != nil {
		err = o.f.Close()
		o.f = nil
	}
	return errors.Join(err, removeIfExists(o.tmp))
}

// publishFile moves src, a finished file, to dst atomically and durably:
// it syncs src and renames it to dst, then syncs dst's directory. When the
// rename would cross file systems (src is in DuckDB's temporary directory,
// under $TMPDIR) it copies src into an Output beside dst instead. On
// error dst is untouched; src is the caller's to remove.
func publishFile(src, dst string) error {
	if err := syncFile(src); err != nil {
		return err
	}
	err := os.Rename(src, dst)
	switch {
	case err == nil:
		return partition.SyncDir(filepath.Dir(dst))
	case errors.Is(err, syscall.EXDEV):
		return copyFile(src, dst)
	}
	return fmt.Errorf("publish output: %w", err)
}

// copyFile copies src to dst through an Output.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("publish output: %w", err)
	}
	defer in.Close() // read only
	out, err := CreateOutput(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		return errors.Join(fmt.Errorf("publish output: %w", err), out.Discard())
	}
	return errors.Join(out.Publish(), out.Discard())
}

// syncFile fsyncs the file at path.
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("sync output: %w", err)
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync output: %w", err)
	}
	return nil
}

// removeIfExists removes path; a missing path is no error.
func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return nil
}
