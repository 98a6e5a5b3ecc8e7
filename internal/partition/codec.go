package partition

import (
	"sync"

	kzstd "github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/compress/zstd"
)

// zstdCodec is parquet-go's zstd codec (same encoder options, same bytes)
// with its encoders kept for the life of the process instead of in a
// sync.Pool. A zstd encoder allocates 16 MiB of history on first use, and
// sync.Pool drops its contents at every other garbage collection: with a
// part published every few milliseconds (connections scattered over
// years, each in an hour of its own) the garbage of the parts set a
// collection going every few dozen parts, and each one made the next
// parts build new encoders. One codec per level is shared by every writer
// of the process; decoding is parquet-go's.
type zstdCodec struct {
	zstd.Codec
	mu   sync.Mutex
	free []*kzstd.Encoder // at most maxFreeEncoders
}

// maxFreeEncoders bounds the encoders kept per level: files are written
// one at a time per writer, and a process has a few writers.
const maxFreeEncoders = 4

var (
	codecsMu sync.Mutex
	codecs   = map[zstd.Level]*zstdCodec{}
)

// zstdCodecOf returns the process's codec of a zstd level.
func zstdCodecOf(level zstd.Level) compress.Codec {
	codecsMu.Lock()
	defer codecsMu.Unlock()
	c := codecs[level]
	if c == nil {
		c = &zstdCodec{Codec: zstd.Codec{Level: level}}
		codecs[level] = c
	}
	return c
}

// Encode compresses src into dst, as zstd.Codec.Encode does.
func (c *zstdCodec) Encode(dst, src []byte) ([]byte, error) {
	c.mu.Lock()
	var e *kzstd.Encoder
	if n := len(c.free); n > 0 {
		e, c.free = c.free[n-1], c.free[:n-1]
	}
	c.mu.Unlock()
	if e == nil {
		// The options of parquet-go v0.32.0's zstd.Codec.
		var err error
		e, err = kzstd.NewWriter(nil, kzstd.WithEncoderConcurrency(zstd.DefaultConcurrency),
			kzstd.WithEncoderLevel(c.Level), kzstd.WithZeroFrames(true), kzstd.WithEncoderCRC(false))
		if err != nil {
			return dst[:0], err
		}
	}
	out := e.EncodeAll(src, dst[:0])
	c.mu.Lock()
	if len(c.free) < maxFreeEncoders {
		c.free = append(c.free, e)
	}
	c.mu.Unlock()
	return out, nil
}
