package partition

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/parquet-go/parquet-go"
)

// MergedOptions configure WriteMerged.
type MergedOptions struct {
	// Sorting is the order rows are in (recorded in the row groups'
	// metadata; WriteMerged does not sort).
	Sorting []parquet.SortingColumn
	// Metadata is written into the footer; RunIDsKey names the entry that
	// lists the runs (RunIDs) whose rows the file holds.
	Metadata  map[string]string
	RunIDsKey string
	RunIDs    []string
}

// WriteMerged writes rows, already in o.Sorting's order, as one merged
// file (the name compaction gives, part-compact-c<µs>.parquet) of hour h of
// table under root, with the archive's encoding and the footer of a
// merged file; it creates the hour's directory. The file appears whole or
// not at all. It returns the file's path.
func WriteMerged[T any](root, table, sensor string, h Hour, rows []T, o MergedOptions) (_ string, err error) {
	dir := Dir(root, table, sensor, h)
	if err := MkdirSynced(dir); err != nil {
		return "", err
	}
	final := filepath.Join(dir, mergedName(dir))
	pf, err := CreatePending(final)
	if err != nil {
		return "", err
	}
	var zero T
	opts := mergedOptions(writerOptions(parquet.SchemaOf(zero), DefaultZstdLevel, DefaultRowGroupRows,
		pageBufferSize(int64(len(rows)), DefaultPageBytes), o.Sorting, newPagePool(root, ".spill-merged-*", defaultPageMemoryBytes)),
		o.Metadata, o.RunIDsKey, o.RunIDs, h)
	defer func() { err = errors.Join(err, pf.Cleanup()) }()
	w := parquet.NewGenericWriter[T](pf, opts...)
	if _, err := w.Write(rows); err != nil {
		w.Reset(io.Discard)
		return "", fmt.Errorf("write %s: %w", final, err)
	}
	if err := w.Close(); err != nil {
		return "", fmt.Errorf("write %s: %w", final, err)
	}
	return final, pf.Publish()
}
