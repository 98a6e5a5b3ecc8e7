package export

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/klauspost/pgzip"
)

// gzFile is a gzip'd file of a data set being written: a table as CSV,
// the tmix vectors, the adudump text.
type gzFile struct {
	name string // relative to the data set
	f    *os.File
	gz   *pgzip.Writer
}

// createGz creates dir/name, which must not exist.
func createGz(dir, name string) (*gzFile, error) {
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return &gzFile{name: name, f: f, gz: pgzip.NewWriter(f)}, nil
}

// Write compresses p into the file.
func (g *gzFile) Write(p []byte) (int, error) { return g.gz.Write(p) }

// close ends the compressed stream, syncs and closes the file, and returns
// its size; after an error of the caller's, abort instead.
func (g *gzFile) close() (int64, error) {
	err := g.gz.Close()
	if err == nil {
		err = g.f.Sync()
	}
	var size int64
	if err == nil {
		var st os.FileInfo
		if st, err = g.f.Stat(); err == nil {
			size = st.Size()
		}
	}
	if cerr := g.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("export: %s: %w", g.name, err)
	}
	return size, nil
}

// abort closes the file after an error (the data set's directory is
// removed whole).
func (g *gzFile) abort() { g.f.Close() }
