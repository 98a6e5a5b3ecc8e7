package partition

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// Footer is what a reader checks of a part before reading it: its row count
// and its footer's key/value metadata.
type Footer struct {
	Rows int64
	KV   map[string]string
}

// footerFields are the fields of Parquet's FileMetaData that ReadFooter
// decodes; the thrift decoder skips the others (the schema and the row
// groups), which is what makes it cheap.
type footerFields struct {
	NumRows          int64             `thrift:"3,required"`
	KeyValueMetadata []format.KeyValue `thrift:"5,optional"`
}

// maxFooterBytes bounds the footer ReadFooter accepts: archive parts have
// footers of a few kB to a few hundred kB.
const maxFooterBytes = 64 << 20

// ReadFooter reads the row count and key/value metadata of the Parquet file
// open as f (named path in errors), checking both magic numbers. It reads
// the footer only, about 30 µs a file; a file that is not Parquet is a
// *CorruptError.
func ReadFooter(f *os.File, path string) (Footer, error) {
	st, err := f.Stat()
	if err != nil {
		return Footer{}, fmt.Errorf("stat %s: %w", path, err)
	}
	size := st.Size()
	if size < 12 {
		return Footer{}, &CorruptError{Path: path, Err: fmt.Errorf("%d bytes: too short for Parquet", size)}
	}
	var ends [8]byte
	if _, err := f.ReadAt(ends[:4], 0); err != nil {
		return Footer{}, fmt.Errorf("read %s: %w", path, err)
	}
	if string(ends[:4]) != "PAR1" {
		return Footer{}, &CorruptError{Path: path, Err: errors.New("no Parquet magic number at byte 0")}
	}
	if _, err := f.ReadAt(ends[:], size-8); err != nil {
		return Footer{}, fmt.Errorf("read %s: %w", path, err)
	}
	if string(ends[4:]) != "PAR1" {
		return Footer{}, &CorruptError{Path: path, Err: fmt.Errorf("no Parquet magic number at byte %d", size-4)}
	}
	n := int64(binary.LittleEndian.Uint32(ends[:4]))
	if n > size-12 || n > maxFooterBytes {
		return Footer{}, &CorruptError{Path: path, Err: fmt.Errorf("footer length %d at byte %d does not fit the file", n, size-8)}
	}
	b := make([]byte, n)
	if _, err := f.ReadAt(b, size-8-n); err != nil && !errors.Is(err, io.EOF) {
		return Footer{}, fmt.Errorf("read %s: %w", path, err)
	}
	var ff footerFields
	if err := thrift.Unmarshal(new(thrift.CompactProtocol), b, &ff); err != nil {
		return Footer{}, &CorruptError{Path: path, Err: fmt.Errorf("footer at byte %d: %w", size-8-n, err)}
	}
	out := Footer{Rows: ff.NumRows, KV: make(map[string]string, len(ff.KeyValueMetadata))}
	for _, kv := range ff.KeyValueMetadata {
		out.KV[kv.Key] = kv.Value
	}
	return out, nil
}

// LegacyEncodings reports whether the Parquet file at path has version 2
// data pages or DELTA encodings, which the archive wrote until it wrote
// only what every engine reads (see writerOptions); compaction with
// reencoding rewrites such files.
func LegacyEncodings(path string) (bool, error) {
	pf, f, err := OpenParquet(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	for _, rg := range pf.Metadata().RowGroups {
		for _, c := range rg.Columns {
			for _, e := range c.MetaData.Encoding {
				switch e {
				case format.DeltaBinaryPacked, format.DeltaLengthByteArray, format.DeltaByteArray:
					return true, nil
				}
			}
			for _, es := range c.MetaData.EncodingStats {
				if es.PageType == format.DataPageV2 {
					return true, nil
				}
			}
		}
	}
	return false, nil
}

// OpenParquet opens the Parquet file at path for its metadata (its footer:
// no page index, no bloom filters read). The caller closes the file.
func OpenParquet(path string) (*parquet.File, *os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("stat %s: %w", path, err)
	}
	pf, err := parquet.OpenFile(f, st.Size(), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		f.Close()
		return nil, nil, &CorruptError{Path: path, Err: err}
	}
	return pf, f, nil
}

// ReadRows reads every row of the Parquet file at path.
func ReadRows[T any](path string) ([]T, error) {
	pf, f, err := OpenParquet(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := parquet.NewGenericReader[T](pf)
	defer r.Close()
	rows := make([]T, pf.NumRows())
	if n, err := r.Read(rows); n != len(rows) {
		return nil, fmt.Errorf("%s: read %d of %d rows: %w", path, n, len(rows), err)
	}
	return rows, nil
}
