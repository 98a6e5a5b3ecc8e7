package adutext

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/capture"
	"github.com/abt-dev/abt/internal/ingest"
)

// reDecompressFault is how a fault of the compression layer names its
// offset in the compressed file.
var reDecompressFault = regexp.MustCompile(`decompress (?:gzip|zstd) at byte offset (\d+) of the file: `)

// TestDamagedCompressedLogs reads gzip and zstd adudump logs (one and two
// members or frames) through OpenLog, cut at many offsets, with flipped
// bytes, a corrupt trailer or checksum, or garbage appended. No case may
// panic; each either succeeds, stops at a malformed line (a *LineError
// naming the file and line), or fails with an error naming the file and
// the fault's byte offset in the compressed file. A cut or a bad trailer
// leaves the content before it intact, so the records read are then those
// of the undamaged log, in order, and the offset is the cut (the member's
// end for a trailer).
func TestDamagedCompressedLogs(t *testing.T) {
	text := []byte(readFile(t, filepath.Join(goldenDir, "trex_Oracle.pcap.adu")))
	want, _, err := readAll(t, "log", string(text), ReaderOptions{})
	require.NoError(t, err)
	half := bytes.IndexByte(text[len(text)/2:], '\n') + len(text)/2 + 1
	logs := []struct {
		name string
		data []byte
	}{
		{"one.adu.gz", gzipLog(t, text)},
		{"two.adu.gz", append(gzipLog(t, text[:half]), gzipLog(t, text[half:])...)},
		{"one.adu.zst", zstdLog(t, text)},
		{"two.adu.zst", append(zstdLog(t, text[:half]), zstdLog(t, text[half:])...)},
	}
	dir := t.TempDir()
	cases, faults := 0, 0
	for _, lg := range logs {
		n := len(lg.data)
		type damage struct {
			name   string
			data   []byte
			intact bool  // the content before the fault is the log's
			at     int64 // compressed offset the fault must be reported at; -1: anywhere
		}
		var ds []damage
		for i := 1; i < 20; i++ {
			c := max(4, n*i/20)
			ds = append(ds, damage{fmt.Sprintf("cut%d", c), lg.data[:c], true, int64(c)})
		}
		for i := 0; i < 40; i += 4 {
			at := i + (n-40)*i/40 // the header bytes, then spread out
			b := bytes.Clone(lg.data)
			b[at] ^= 0x5a
			ds = append(ds, damage{fmt.Sprintf("flip%d", at), b, false, -1})
		}
		trailer := bytes.Clone(lg.data)
		trailer[n-1] ^= 1 // gzip ISIZE, zstd checksum
		ds = append(ds, damage{"trailer", trailer, true, int64(n)},
			damage{"garbage", append(bytes.Clone(lg.data), "garbage!!!!!"...), true, -1})
		for _, d := range ds {
			cases++
			t.Run(lg.name+"/"+d.name, func(t *testing.T) {
				path := filepath.Join(dir, lg.name)
				require.NoError(t, os.WriteFile(path, d.data, 0o600))
				got, err := readLog(t, path)
				if err == nil {
					return
				}
				var le *LineError
				if errors.As(err, &le) {
					require.Equal(t, path, le.File)
					require.False(t, d.intact, "a malformed line in intact content: %v", err)
					return
				}
				faults++
				m := reDecompressFault.FindStringSubmatch(err.Error())
				require.NotNil(t, m, "no offset in the compressed file: %v", err)
				require.Contains(t, err.Error(), path)
				var de *capture.DecompressError
				require.ErrorAs(t, err, &de)
				require.Equal(t, strconv.FormatInt(de.Offset, 10), m[1])
				require.LessOrEqual(t, de.Offset, int64(len(d.data)))
				if d.at >= 0 {
					require.Equal(t, d.at, de.Offset, "%v", err)
				}
				if d.intact && len(got) > 0 {
					require.Equal(t, want[:len(got)], got)
				}
			})
		}
	}
	t.Logf("%d damaged logs, %d stopped by a fault of the compression layer", cases, faults)
}

// readLog reads every record of the log at path through OpenLog; err is
// what ended it (nil for io.EOF).
func readLog(t *testing.T, path string) ([]ingest.Record, error) {
	t.Helper()
	f, err := OpenLog(path)
	if err != nil {
		return nil, err
	}
	defer func() { require.NoError(t, f.Close()) }()
	rd := NewReader(path, f, ReaderOptions{})
	var out []ingest.Record
	for {
		var rec ingest.Record
		if err := rd.Next(&rec); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, err
		}
		out = append(out, rec)
	}
}

func gzipLog(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, err := w.Write(b)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

func zstdLog(t *testing.T, b []byte) []byte {
	t.Helper()
	w, err := zstd.NewWriter(nil)
	require.NoError(t, err)
	defer func() { require.NoError(t, w.Close()) }()
	return w.EncodeAll(b, nil)
}
