package catalog

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/abt-dev/abt/internal/partition"
	"github.com/abt-dev/abt/schema"
)

// Pinned is a snapshot whose files a reader can read for as long as it
// needs, whatever writers do meanwhile (see Open). Pinned, the reader holds
// the files open: a writer that retires a file (compaction, a
// replacement) removes its name, but the file stays readable to whoever
// holds it. An engine that opens files by path (DuckDB) reads them through
// Dir: one symbolic link per file, at the file's archive-relative path
// under its published name (Hive partition directories included), pointing
// at /proc/self/fd/<n>.
type Pinned struct {
	*Snapshot
	// Dir holds the links ("" when InPlace).
	Dir string
	// Held is false when there were more files than the process may hold
	// open: the links then point at the files' paths in the archive, and a
	// compaction running meanwhile can fail the reader.
	Held bool
	// InPlace: no writer was retiring files, and none will until Close:
	// the files are read at their archive paths, without links.
	InPlace bool

	release func() // ends an in-place read
	ownDir  bool   // Dir was made by Open: Close removes it

	root  string
	open  []*os.File
	limit int
	dirs  map[string]bool // directories of links made
}

// fdReserve is how many file descriptors pinning leaves to the rest of the
// process (DuckDB's own reads, output, the runtime).
const fdReserve = 1024

// Pin takes a snapshot of the selected files (Take), checks every file's
// footer (CheckFooter), and links each into dir, which must be empty and
// private to the caller. A file that disappears between listing and opening
// (retired by a writer) makes it list again.
func Pin(root, dir string, sel Selection) (*Pinned, error) {
	return pin(root, dir, sel, fdLimit())
}

// pin is Pin with a limit on the files held open.
func pin(root, dir string, sel Selection, limit int) (*Pinned, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("archive %s: %w", root, err)
	}
	for range maxTakeAttempts {
		snap, err := Take(abs, sel)
		if err != nil {
			return nil, err
		}
		p := &Pinned{Snapshot: snap, Dir: dir, root: abs, limit: limit}
		n := 0
		for _, fs := range snap.Files {
			n += len(fs)
		}
		p.Held = n <= p.limit
		err = p.pinAll()
		if err == nil {
			return p, nil
		}
		p.Close()
		if rerr := clearDir(dir); rerr != nil {
			return nil, rerr
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("archive %s: files kept changing while they were being opened", root)
}

func (p *Pinned) pinAll() error {
	tables := make([]string, 0, len(p.Files))
	for t := range p.Files {
		tables = append(tables, t)
	}
	slices.Sort(tables)
	var all []*File
	for _, t := range tables {
		for i := range p.Files[t] {
			all = append(all, &p.Files[t][i])
		}
	}
	opened := make([]*os.File, len(all))
	errs := make([]error, len(all))
	eachParallel(len(all), func(i int) { opened[i], errs[i] = openChecked(all[i]) })
	var err error
	for i, f := range all {
		switch {
		case err != nil || errs[i] != nil:
			err = cmp.Or(err, errs[i])
			if opened[i] != nil {
				_ = opened[i].Close()
			}
		default:
			err = p.link(opened[i], f.Path, f.Rel())
		}
	}
	return err
}

// pinWorkers is how many files Pin opens and checks at once.
const pinWorkers = 8

// openChecked opens a listed file, notes its size and checks its footer.
func openChecked(f *File) (*os.File, error) {
	file, err := os.Open(f.Path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", f.Path, err)
	}
	st, err := file.Stat()
	if err != nil {
		return nil, errors.Join(fmt.Errorf("stat %s: %w", f.Path, err), file.Close())
	}
	f.Size = st.Size()
	if err := CheckFooter(file, *f); err != nil {
		return nil, errors.Join(err, file.Close())
	}
	return file, nil
}

// link makes the link for an open file (taking it over) at rel under Dir.
func (p *Pinned) link(file *os.File, path, rel string) error {
	target := path
	if p.Held && len(p.open) < p.limit {
		p.open = append(p.open, file)
		target = "/proc/self/fd/" + strconv.Itoa(int(file.Fd()))
	} else {
		if err := file.Close(); err != nil {
			return fmt.Errorf("close %s: %w", path, err)
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(p.root, target)
		}
	}
	at := filepath.Join(p.Dir, rel)
	if err := p.mkdir(filepath.Dir(at)); err != nil {
		return fmt.Errorf("pin %s: %w", path, err)
	}
	if err := os.Symlink(target, at); err != nil {
		return fmt.Errorf("pin %s: %w", path, err)
	}
	return nil
}

// mkdir makes a directory of links (and its parents) once.
func (p *Pinned) mkdir(dir string) error {
	if p.dirs[dir] {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if p.dirs == nil {
		p.dirs = map[string]bool{}
	}
	p.dirs[dir] = true
	return nil
}

// Path returns where a file of the snapshot is read from (its link, or
// itself when InPlace).
func (p *Pinned) Path(f File) string {
	if p.InPlace {
		return f.Path
	}
	return filepath.Join(p.Dir, f.Rel())
}

// Open gives a reader the selected files of the archive at root for as
// long as it reads them, whatever writers do meanwhile. When no writer is
// retiring files (partition.ReadInPlace), it reads them in place and
// writers that would retire files wait until Close; otherwise it pins them
// (Pin) into a new private directory under pinParent ("" for PinDir).
// Either way every file's footer is checked (CheckFooter).
func Open(root string, sel Selection, pinParent string) (*Pinned, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("archive %s: %w", root, err)
	}
	if release, ok := partition.ReadInPlace(filepath.Join(abs, MetaDir)); ok {
		p, err := inPlace(abs, sel)
		if err != nil {
			release()
			return nil, err
		}
		p.release = release
		return p, nil
	}
	dir := ""
	if pinParent == "" {
		dir, err = PinDir()
	} else {
		dir, err = os.MkdirTemp(pinParent, "pins-")
	}
	if err != nil {
		return nil, fmt.Errorf("pin directory: %w", err)
	}
	p, err := Pin(abs, dir, sel)
	if err != nil {
		return nil, errors.Join(err, RemovePinDir(dir))
	}
	p.ownDir = true
	return p, nil
}

// eachParallel calls fn(i) for i in [0, n) on up to pinWorkers goroutines
// (opening and checking files waits on the file system: a few workers
// overlap it), and returns when every call has.
func eachParallel(n int, fn func(i int)) {
	var wg sync.WaitGroup
	var next atomic.Int64
	for range min(pinWorkers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				fn(i)
			}
		}()
	}
	wg.Wait()
}

// inPlace takes a snapshot and checks its files' footers, holding none.
func inPlace(root string, sel Selection) (*Pinned, error) {
	snap, err := Take(root, sel)
	if err != nil {
		return nil, err
	}
	p := &Pinned{Snapshot: snap, root: root, InPlace: true}
	var all []*File
	for t := range p.Files {
		for i := range p.Files[t] {
			all = append(all, &p.Files[t][i])
		}
	}
	slices.SortFunc(all, func(a, b *File) int { return strings.Compare(a.Path, b.Path) })
	errs := make([]error, len(all))
	eachParallel(len(all), func(i int) {
		var f *os.File
		if f, errs[i] = openChecked(all[i]); f != nil {
			errs[i] = f.Close()
		}
	})
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Paths returns the link paths of a table's files.
func (p *Pinned) Paths(table string) []string {
	var out []string
	for _, f := range p.Files[table] {
		out = append(out, p.Path(f))
	}
	return out
}

// Add pins one more file of the archive (a rollup, say), opened as path,
// under rel, and returns the link's path and the open file, which stays
// open until Close (the caller must not close it). A missing file is
// fs.ErrNotExist.
func (p *Pinned) Add(path, rel string) (string, *os.File, error) {
	file, err := os.Open(path)
	if err != nil {
		return "", nil, err
	}
	if p.InPlace {
		p.open = append(p.open, file)
		return path, file, nil
	}
	target := "/proc/self/fd/" + strconv.Itoa(int(file.Fd()))
	if !p.Held || len(p.open) >= p.limit {
		if target, err = filepath.Abs(path); err != nil {
			return "", nil, errors.Join(err, file.Close())
		}
	}
	p.open = append(p.open, file)
	at := filepath.Join(p.Dir, rel)
	if err := p.mkdir(filepath.Dir(at)); err != nil {
		return "", nil, fmt.Errorf("pin %s: %w", path, err)
	}
	if err := os.Symlink(target, at); err != nil {
		return "", nil, fmt.Errorf("pin %s: %w", path, err)
	}
	return at, file, nil
}

// Unpin rewrites a message that names link paths so that it names the
// files' places in the archive instead.
func (p *Pinned) Unpin(msg string) string {
	if p.Dir == "" {
		return msg
	}
	return strings.ReplaceAll(msg, p.Dir+string(filepath.Separator), p.root+string(filepath.Separator))
}

// Close releases the files, and the in-place read. Links in a directory
// Open made are removed; those of Pin stay (its caller removes Dir).
func (p *Pinned) Close() error {
	var err error
	for _, f := range p.open {
		err = errors.Join(err, f.Close())
	}
	p.open = nil
	if p.release != nil {
		p.release()
		p.release = nil
	}
	if p.ownDir {
		err = errors.Join(err, RemovePinDir(p.Dir))
		p.ownDir = false
	}
	return err
}

// CheckFooter checks that an open part's footer says it is a part of the
// table, sensor, hour and run its place in the archive says, in a schema
// version this program reads: a file in the archive that adu2parquet did
// not write there is a *partition.CorruptError naming it, never read.
func CheckFooter(file *os.File, f File) error {
	ft, err := partition.ReadFooter(file, f.Path)
	if err != nil {
		return err
	}
	want := [][2]string{
		{schema.MetaTable, f.Table},
		{schema.MetaSchemaVersion, strconv.Itoa(schema.Version)},
		{schema.MetaSensor, f.Sensor},
		{schema.MetaHour, f.Hour.String()},
	}
	for _, kv := range want {
		if got := ft.KV[kv[0]]; got != kv[1] {
			return &partition.CorruptError{Path: f.Path, Err: fmt.Errorf("footer %s = %q, want %q", kv[0], got, kv[1])}
		}
	}
	if runs := strings.Split(ft.KV[schema.MetaRunIDs], ","); f.Run != partition.CompactRun && !slices.Contains(runs, f.Run) {
		return &partition.CorruptError{Path: f.Path, Err: fmt.Errorf("footer %s = %q does not name run %s", schema.MetaRunIDs, ft.KV[schema.MetaRunIDs], f.Run)}
	}
	return nil
}

// fdLimit returns how many files a reader may hold open.
func fdLimit() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0
	}
	return max(int(min(rl.Cur, 1<<30))-fdReserve, 0)
}

// clearDir removes everything under dir, keeping dir and its owner file
// (see PinDir).
func clearDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("clear %s: %w", dir, err)
	}
	for _, e := range ents {
		if e.Name() == pinOwnerFile {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("clear %s: %w", dir, err)
		}
	}
	return nil
}
