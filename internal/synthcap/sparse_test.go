package synthcap

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/capture"
)

// TestSparse: the capture is deterministic, holds PacketsPerConn packets
// per connection, in time order (also when connections overlap), all
// within the range.
func TestSparse(t *testing.T) {
	from := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		span time.Duration
	}{
		{name: "years", span: 3 * 365 * 24 * time.Hour},
		{name: "overlapping", span: 100 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Sparse{Conns: 500, From: from, To: from.Add(tc.span), Seed: 7}
			var a, b bytes.Buffer
			require.NoError(t, s.Write(&a))
			require.NoError(t, s.Write(&b))
			require.Equal(t, a.Bytes(), b.Bytes(), "same Sparse, same bytes")

			src, err := capture.OpenReader("sparse", bytes.NewReader(a.Bytes()))
			require.NoError(t, err)
			defer src.Close()
			var n int
			prev := int64(-1)
			for {
				var p capture.Packet
				err := src.Next(&p)
				if errors.Is(err, io.EOF) {
					break
				}
				require.NoError(t, err)
				require.GreaterOrEqual(t, p.TsNs, prev, "packet %d in time order", n)
				require.GreaterOrEqual(t, p.TsNs, s.From.UnixNano())
				require.Less(t, p.TsNs, s.To.Add(time.Second).UnixNano())
				prev = p.TsNs
				n++
			}
			require.Equal(t, s.Conns*PacketsPerConn, n)
		})
	}
	require.Error(t, Sparse{Conns: 1, From: from, To: from}.Write(io.Discard), "empty range")
}
