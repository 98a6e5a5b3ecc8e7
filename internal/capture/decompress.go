package capture

import (
	"bufio"
	"bytes"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
	gzip "github.com/klauspost/pgzip"
)

// zstdMaxWindow bounds the zstd window (and so the decoder's memory). 128 MiB
// is what `zstd --long` uses by default; larger windows are refused.
const zstdMaxWindow = 128 << 20

var (
	magicGzip = []byte{0x1f, 0x8b}
	magicZstd = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// DecompressError is a fault of an input's compression layer: a corrupt
// gzip or zstd stream, a bad gzip header, a checksum or size mismatch, a
// stream cut short, bytes after the last member or frame that do not start
// another, or a read error of the file underneath.
//
// Offset is a byte offset in the compressed file: how many bytes of it the
// decompressor had consumed when it reported the fault. The fault lies at
// or just before it: in the gzip header or trailer (10 and 8 bytes) or the
// zstd frame header or block just read, or in the deflate data read last
// (the deflate decoder reads byte by byte, so it stops where the data stops
// making sense, though a flipped bit can decode as valid data for a while
// before that). For a file cut short, Offset is the file's length. It
// counts the whole file, across gzip members and zstd frames.
type DecompressError struct {
	Compression string // "gzip" or "zstd"
	Offset      int64  // bytes of the compressed file consumed when the fault was reported
	Err         error  // the decompressor's (or the file's) error
}

// Error formats the fault as "decompress gzip at byte offset N of the file:
// cause".
func (e *DecompressError) Error() string {
	return fmt.Sprintf("decompress %s at byte offset %d of the file: %v", e.Compression, e.Offset, e.Err)
}

// Unwrap returns the underlying cause.
func (e *DecompressError) Unwrap() error { return e.Err }

// Decompress returns a reader of r's content, decompressed when r starts
// with a gzip (1f 8b; concatenated members allowed) or zstd (28 b5 2f fd;
// concatenated frames allowed) magic number, and which compression that
// was ("gzip", "zstd", or "" for r's content as it is). It is how Open
// reads compressed captures, for readers of other compressed inputs.
//
// Every error of the compression layer, from Decompress (a bad gzip header)
// or from Read, is or wraps a *DecompressError naming the offset in r at
// which it was detected; Read returns io.EOF only at the clean end of the last
// member or frame. Close releases the decompressor; it does not close r.
//
// Limitations: zstd frames with a window above 128 MiB are refused (that
// bounds the decoder's memory). Content decoded just before a fault may be
// lost with it: pgzip decompresses ahead in 1 MiB blocks and drops the
// block in which deflate data turns out corrupt, good bytes before the
// fault included; zstd returns nothing of a block that fails to decode,
// nor of a frame's last block when the frame's checksum fails. Content cut
// short is returned up to the cut.
func Decompress(r io.Reader) (io.ReadCloser, string, error) {
	d, comp, release, err := decompress(newBufReader(r))
	if err != nil {
		return nil, comp, err
	}
	return &decompressed{Reader: d, release: release}, comp, nil
}

// decompressed is what Decompress returns.
type decompressed struct {
	io.Reader
	release func()
}

// Close releases the decompressor.
func (d *decompressed) Close() error {
	d.release()
	return nil
}

// decompress looks at the leading bytes of raw for a compression magic
// number and returns the stream to read: a decompressor reading raw, or raw
// itself. release frees the decompressor (a no-op for raw).
//
// raw doubles as the counter of compressed bytes consumed: its off is the
// offset of the next byte it hands out. The gzip decompressor reads it
// through a bufio.Reader (klauspost/compress/flate has a fast path for
// *bufio.Reader, about a third quicker than single ReadByte calls), so
// what it has consumed is raw.off less what that buffer still holds. The
// gzip decompressor runs on its own goroutine; the counts are read (by
// decompressReader) only once it has returned an error, which pgzip hands
// over on a channel after its last read, so the read is ordered after
// every write without an atomic per byte. zstd with concurrency 1 decodes
// on the caller's goroutine, reading whole blocks.
func decompress(raw *bufReader) (r io.Reader, compression string, release func(), err error) {
	head, err := raw.peekUpTo(len(magicZstd))
	if err != nil {
		return nil, "", nil, fmt.Errorf("read magic: %w", err)
	}
	switch {
	case bytes.HasPrefix(head, magicGzip):
		br := bufio.NewReaderSize(raw, gzipReadSize)
		consumed := func() int64 { return raw.off - int64(br.Buffered()) }
		// pgzip decompresses ahead of the reader on its own goroutine.
		zr, err := gzip.NewReader(br)
		if err == io.EOF {
			err = io.ErrUnexpectedEOF // the magic number was there: the header is cut short
		}
		if err != nil {
			return nil, "gzip", nil, fmt.Errorf("open gzip stream: %w", &DecompressError{Compression: "gzip", Offset: consumed(), Err: err})
		}
		// gzip's Close only repeats the stream's read error, which Read has
		// already returned; there is nothing else to release.
		return &decompressReader{r: zr, consumed: consumed, compression: "gzip"}, "gzip", func() { _ = zr.Close() }, nil
	case bytes.HasPrefix(head, magicZstd):
		zr, err := zstd.NewReader(raw, zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxWindow(zstdMaxWindow))
		if err != nil {
			// Only bad options fail here; the stream is read later.
			return nil, "zstd", nil, &DecompressError{Compression: "zstd", Offset: raw.off, Err: err}
		}
		return &decompressReader{r: zr, consumed: func() int64 { return raw.off }, compression: "zstd"}, "zstd", zr.Close, nil
	}
	return raw, "", func() {}, nil
}

// gzipReadSize is the size of the buffer between the file and the gzip
// decompressor.
const gzipReadSize = 32 << 10

// decompressReader turns a decompressor's errors (other than io.EOF) into
// *DecompressError with the compressed offset.
type decompressReader struct {
	r           io.Reader
	consumed    func() int64 // compressed bytes consumed; see decompress on when it may be called
	compression string
}

func (d *decompressReader) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	if err != nil && err != io.EOF {
		err = &DecompressError{Compression: d.compression, Offset: d.consumed(), Err: err}
	}
	return n, err
}
