package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDecompress reads plain, gzip and zstd inputs (several members or
// frames) through Decompress, intact and damaged: the content comes out
// whole, and each fault is a *DecompressError at the compressed offset
// where it shows.
func TestDecompress(t *testing.T) {
	a, b := payload(1, 3000), payload(2, 5000)
	whole := append(bytes.Clone(a), b...)
	gz := append(gzipBytes(t, a), gzipBytes(t, b)...)
	zs := append(zstdBytes(t, a), zstdBytes(t, b)...)
	firstGz := len(gzipBytes(t, a))
	badCRC := bytes.Clone(gz)
	badCRC[firstGz-8] ^= 1 // first member's CRC-32
	tests := []struct {
		name    string
		in      []byte
		comp    string
		content []byte // what is read before the error (or all of it)
		errAt   int64  // compressed offset of the fault; -1: none
	}{
		{"plain", whole, "", whole, -1},
		{"gzip members", gz, "gzip", whole, -1},
		{"zstd frames", zs, "zstd", whole, -1},
		{"gzip cut", gz[:len(gz)-20], "gzip", nil, int64(len(gz) - 20)},
		{"gzip cut in the second header", gz[:firstGz+4], "gzip", nil, int64(firstGz + 4)},
		{"gzip bad first CRC", badCRC, "gzip", nil, int64(firstGz)},
		{"gzip trailing garbage", append(bytes.Clone(gz), "garbage!!!"...), "gzip", nil, int64(len(gz) + 10)},
		{"zstd cut", zs[:len(zs)-1], "zstd", nil, int64(len(zs) - 1)},
		{"gzip header cut", gz[:5], "gzip", nil, 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rc, comp, err := Decompress(bytes.NewReader(tc.in))
			require.Equal(t, tc.comp, comp)
			var got []byte
			if err == nil {
				got, err = io.ReadAll(rc)
				require.NoError(t, rc.Close())
			}
			if tc.errAt < 0 {
				require.NoError(t, err)
				require.Equal(t, tc.content, got)
				return
			}
			var de *DecompressError
			require.ErrorAs(t, err, &de)
			require.Equal(t, tc.comp, de.Compression)
			require.Equal(t, tc.errAt, de.Offset, "%v", err)
			require.ErrorContains(t, err, "decompress "+tc.comp+" at byte offset ")
			require.True(t, bytes.HasPrefix(whole, got), "what is read before the fault is the content's start")
		})
	}
}

// TestTruncatedZstdHeader is a regression test: a zstd stream cut inside its
// first frame was reported as "unknown format: empty input" because the
// decompressor's io.ErrUnexpectedEOF was taken for a short stream.
func TestTruncatedZstdHeader(t *testing.T) {
	zs := zstdBytes(t, buildPcap(binary.BigEndian, magicPcapUs, 0, LinkEthernet, []testPkt{{data: payload(1, 100)}}))
	_, err := OpenReader("cut.zst", bytes.NewReader(zs[:9]))
	fe := requireFormatError(t, err, 0, 0)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	require.False(t, errors.Is(err, ErrUnknownFormat), "%v", err)
	require.Equal(t, "zstd", fe.Compression)
	require.ErrorContains(t, err, "cut.zst: byte offset 0 of the decompressed stream: read magic: decompress zstd at byte offset 9 of the file: ")
}
