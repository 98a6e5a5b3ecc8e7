package cli

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestByteSize(t *testing.T) {
	tests := []struct {
		name, in string
		want     int64
		str      string
		err      bool
	}{
		{"bare bytes", "1048576", 1 << 20, "1MiB", false},
		{"binary", "256MiB", 256 << 20, "256MiB", false},
		{"binary lower case and space", "2 gib", 2 << 30, "2GiB", false},
		{"decimal", "500MB", 500_000_000, "500000000B", false},
		{"kilo", "64KiB", 64 << 10, "64KiB", false},
		{"bytes unit", "4096B", 4096, "4KiB", false},
		{"zero", "0", 0, "0B", false},
		{"negative", "-1MiB", 0, "", true},
		{"fraction", "1.5GiB", 0, "", true},
		{"unknown unit", "3 parsecs", 0, "", true},
		{"unit only", "MiB", 0, "", true},
		{"overflow", "9000000TiB", 0, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b ByteSize
			err := b.Set(tc.in)
			if tc.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, int64(b))
			require.Equal(t, tc.str, b.String())
		})
	}
}
