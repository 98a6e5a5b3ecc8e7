package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"
)

// TestDamagedInputErrors runs the program on damaged captures and adudump
// logs, plain, gzip and zstd: cut short, flipped bytes in the headers and
// the compressed stream, a bad trailer, garbage appended. Each run exits 1
// with one error line on standard error that names the file and a byte
// offset; a fault of the compression layer names its offset in the
// compressed file ("decompress gzip at byte offset N of the file").
func TestDamagedInputErrors(t *testing.T) {
	capture, err := os.ReadFile(filepath.Join(pcapDir, "zeek_tcp_handshake-reorder.pcap"))
	require.NoError(t, err)
	log, err := os.ReadFile(filepath.Join("testdata", "golden", "zeek_smtp.pcap.adu"))
	require.NoError(t, err)
	inputs := []struct {
		name string
		data []byte
	}{
		{"c.pcap", capture},
		{"c.pcap.gz", gzipData(t, capture)},
		{"c.pcap.zst", zstdData(t, capture)},
		{"l.adu.gz", gzipData(t, log)},
		{"l.adu.zst", zstdData(t, log)},
	}
	reOffset := regexp.MustCompile(`byte offset \d+`)
	reCompressed := regexp.MustCompile(`decompress (?:gzip|zstd) at byte offset \d+ of the file: `)
	dir := t.TempDir()
	var runs, fails, lineErrs, noOffset, noCompressed int
	defer func() {
		t.Logf("%d runs on damaged inputs: %d exited 1 (%d at a malformed log line); %d errors without a byte offset, %d compression faults without the offset in the compressed file",
			runs, fails, lineErrs, noOffset, noCompressed)
	}()
	for _, in := range inputs {
		n := len(in.data)
		damaged := map[string][]byte{
			"cut-header": in.data[:10],
			"cut-middle": in.data[:n/2],
			"cut-end":    in.data[:n-1],
			"garbage":    append(bytes.Clone(in.data), "garbage!!!!!"...),
		}
		for _, at := range []int{2, 3, 4, 5, 12, n / 3, n - 4} {
			b := bytes.Clone(in.data)
			b[at] ^= 0xa5
			damaged[fmt.Sprintf("flip%d", at)] = b
		}
		for name, data := range damaged {
			t.Run(in.name+"/"+name, func(t *testing.T) {
				path := filepath.Join(dir, name+"-"+in.name)
				require.NoError(t, os.WriteFile(path, data, 0o600))
				code, _, stderr := runCmd(t, nil, "-q", "--format", "adudump", path)
				runs++
				if code == 0 {
					return // the damage happened to leave a valid input
				}
				fails++
				compressed := reCompressed.MatchString(stderr)
				fault := strings.Contains(stderr, "decompress ") || strings.Contains(stderr, "gzip") || strings.Contains(stderr, "zstd")
				lineErr := regexp.MustCompile(regexp.QuoteMeta(path) + `:\d+: `).MatchString(stderr)
				switch {
				case lineErr:
					lineErrs++
				case !reOffset.MatchString(stderr):
					noOffset++
				case fault && !compressed:
					noCompressed++
				}
				require.Equal(t, 1, code, stderr)
				require.Equal(t, 1, strings.Count(stderr, "\n"), "one error line: %s", stderr)
				require.Contains(t, stderr, path)
				if lineErr && strings.Contains(in.name, ".adu") {
					return // a malformed line: the file and line number
				}
				require.Regexp(t, reOffset, stderr)
				if fault {
					require.True(t, compressed, "no offset in the compressed file: %s", stderr)
				}
			})
		}
	}
}

func gzipData(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, err := w.Write(b)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

func zstdData(t *testing.T, b []byte) []byte {
	t.Helper()
	w, err := zstd.NewWriter(nil)
	require.NoError(t, err)
	defer func() { require.NoError(t, w.Close()) }()
	return w.EncodeAll(b, nil)
}
