package synthcap_test

import (
	"bytes"
	"context"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/capture"
	"github.com/abt-dev/abt/internal/decode"
	"github.com/abt-dev/abt/internal/ingest"
	"github.com/abt-dev/abt/internal/synthcap"
)

// TestExchange: the engine reads an Exchange as what it says: a handshake,
// a request and a response of the sizes given, then an END by FIN, or one
// at the end of input when the connection stays open.
func TestExchange(t *testing.T) {
	c, s := netip.MustParseAddrPort("198.51.100.7:40000"), netip.MustParseAddrPort("192.0.2.1:80")
	for _, closed := range []bool{true, false} {
		pcap, err := synthcap.Capture(synthcap.Exchange(1e18, c, s, 123, 4567, closed))
		require.NoError(t, err)
		var kinds []ingest.Kind
		var sizes []uint64
		var end ingest.EndReason
		e, err := ingest.New(ingest.DefaultOptions(), ingest.SinkFunc(func(r *ingest.Record) error {
			kinds = append(kinds, r.Kind)
			switch r.Kind {
			case ingest.KindADU, ingest.KindINC:
				sizes = append(sizes, r.Size)
			case ingest.KindEND:
				end = r.Reason
			}
			return nil
		}))
		require.NoError(t, err)
		src, err := capture.OpenReader("exchange", bytes.NewReader(pcap))
		require.NoError(t, err)
		var dec decode.Decoder
		require.NoError(t, e.Feed(context.Background(), src, &dec, nil))
		require.NoError(t, e.Finish())
		require.Equal(t, []ingest.Kind{ingest.KindSYN, ingest.KindRTT, ingest.KindSEQ}, kinds[:3])
		require.Equal(t, []uint64{123, 4567}, sizes)
		want := ingest.EndFIN
		if !closed {
			want = ingest.EndEOF
		}
		require.Equal(t, want, end, "closed %v", closed)
	}
}
