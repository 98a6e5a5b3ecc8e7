package archive

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestStreamFingerprint: the fingerprint of bytes read once equals the
// file's, whatever the size (around the head and tail spans) and however
// the bytes arrive.
func TestStreamFingerprint(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{0, 1, fingerprintSpan - 1, fingerprintSpan, fingerprintSpan + 1, 2*fingerprintSpan - 7,
		2 * fingerprintSpan, 2*fingerprintSpan + 13, 5*fingerprintSpan + 12345} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		path := filepath.Join(t.TempDir(), "in")
		require.NoError(t, os.WriteFile(path, data, 0o644))
		want, err := Fingerprint(path)
		require.NoError(t, err)
		for _, chunk := range []int{1 << 20, 4096, 777, 3 * fingerprintSpan} {
			if chunk < 4096 && size > 3*fingerprintSpan {
				continue // slow and adds nothing
			}
			var s StreamFingerprint
			for p := data; len(p) > 0; {
				n := min(chunk, len(p))
				_, _ = s.Write(p[:n])
				p = p[n:]
			}
			require.Equal(t, want, s.Sum(), "size %d, chunks of %d", size, chunk)
		}
	}
}
