package archive

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/parquet-go/parquet-go"

	"github.com/abt-dev/abt/internal/partition"
	"github.com/abt-dev/abt/schema"
)

// part is a file of the archive: a published part, or an uncommitted one.
type part struct {
	path   string
	table  string
	sensor string
	hour   partition.Hour
	run    string // the run that wrote it, or partition.CompactRun
	// uncommitted: published under its uncommitted name by a run that
	// commits at its end.
	uncommitted bool
}

// tempFile is a temporary file left in a partition directory.
type tempFile struct {
	path string
	run  string
}

// scan lists the archive's parts (published and uncommitted) and temporary
// files.
func scan(root string) (parts []part, temps []tempFile, err error) {
	for _, table := range schema.Tables {
		top := filepath.Join(root, table)
		err := filepath.WalkDir(top, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) && path == top {
					return fs.SkipDir
				}
				return err
			}
			if d.IsDir() {
				return nil
			}
			name := d.Name()
			if run, ok := partition.IsTemp(name); ok {
				temps = append(temps, tempFile{path, run})
				return nil
			}
			run, ok := partition.PartRun(name)
			uncommitted := false
			if !ok {
				if run, _, uncommitted = partition.IsUncommitted(name); !uncommitted {
					return nil // not ours: left alone (and not read)
				}
			}
			tb, sensor, h, err := partition.ParseDir(root, filepath.Dir(path))
			if err != nil {
				return &CorruptError{Path: path, Err: errors.New("a part outside any <table>/sensor=/date=/hour= directory")}
			}
			parts = append(parts, part{path: path, table: tb, sensor: sensor, hour: h, run: run, uncommitted: uncommitted})
			return nil
		})
		if err != nil && !errors.Is(err, fs.SkipDir) {
			return nil, nil, fmt.Errorf("scan archive: %w", err)
		}
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].path < parts[j].path })
	return parts, temps, nil
}

// CorruptError reports a file in the archive that is not a readable part of
// the table it sits in.
type CorruptError = partition.CorruptError

// openPart opens a published part and checks that its footer says it
// belongs to the table, in a schema version this program reads.
func openPart(path, table string) (*os.File, *parquet.File, error) {
	return partition.OpenPart(path, map[string]string{
		schema.MetaTable:         table,
		schema.MetaSchemaVersion: strconv.Itoa(schema.Version),
	})
}

// readRows reads every row of a part of the given table.
func readRows[T any](path, table string) ([]T, error) {
	f, pf, err := openPart(path, table)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := parquet.NewGenericReader[T](pf)
	defer r.Close()
	rows := make([]T, pf.NumRows())
	n, err := r.Read(rows)
	if err != nil && n != len(rows) {
		return nil, &CorruptError{Path: path, Err: err}
	}
	return rows[:n], nil
}

// partRuns returns the runs whose rows a part holds.
func partRuns(p part) ([]string, error) {
	if p.run != partition.CompactRun {
		return []string{p.run}, nil
	}
	f, pf, err := openPart(p.path, p.table)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	v, _ := pf.Lookup(schema.MetaRunIDs)
	if v == "" {
		return nil, nil
	}
	return strings.Split(v, ","), nil
}
