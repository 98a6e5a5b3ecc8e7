package partition

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/parquet-go/parquet-go/compress/zstd"
	"github.com/stretchr/testify/require"
)

// TestZstdCodec: the codec writes the bytes parquet-go's zstd codec writes,
// at every level, and reads them back.
func TestZstdCodec(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var inputs [][]byte
	for _, n := range []int{0, 1, 100, 5000, 200 << 10} {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.IntN(16)) // compressible
		}
		inputs = append(inputs, b)
	}
	inputs = append(inputs, bytes.Repeat([]byte("10.0.0.1"), 20000))
	for _, level := range []zstd.Level{zstd.SpeedFastest, zstd.SpeedDefault, zstd.SpeedBetterCompression, zstd.SpeedBestCompression} {
		ours, theirs := zstdCodecOf(level), &zstd.Codec{Level: level}
		require.Same(t, ours, zstdCodecOf(level), "one codec per level")
		for i, in := range inputs {
			for range 2 { // a new encoder, then a kept one
				got, err := ours.Encode(nil, in)
				require.NoError(t, err)
				want, err := theirs.Encode(nil, in)
				require.NoError(t, err)
				require.Equal(t, want, got, "level %v, input %d", level, i)
				back, err := ours.Decode(nil, got)
				require.NoError(t, err)
				require.Equal(t, len(in), len(back))
				require.True(t, bytes.Equal(in, back))
			}
		}
	}
}
