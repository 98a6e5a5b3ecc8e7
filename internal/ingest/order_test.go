package ingest_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/decode"
	"github.com/abt-dev/abt/internal/ingest"
)

// TestTiesByConnection: records of equal time queued by one segment's step
// come out in the order of their connections' ConnIDs, not in the order
// the engine's lists visit the connections. Two half-open connections
// whose SYNs share a time expire at the same step with the same END time;
// the first one's SYN was retransmitted (at that time too), which moved it
// behind the second in the list of half-open connections.
func TestTiesByConnection(t *testing.T) {
	opts := ingest.DefaultOptions()
	var recs []ingest.Record
	e, err := ingest.New(opts, ingest.SinkFunc(func(r *ingest.Record) error {
		recs = append(recs, *r)
		return nil
	}))
	require.NoError(t, err)
	srv := netip.MustParseAddrPort("1.2.3.4:443")
	syn := func(us int64, port uint16) {
		s := decode.Segment{TsNs: (base + us) * 1000, Src: client.Addr(), SrcPort: port, Dst: srv.Addr(), DstPort: srv.Port(),
			Seq: 1000, Flags: decode.FlagSYN, WScale: -1}
		require.NoError(t, e.Process(&s))
	}
	syn(0, 1001)
	syn(0, 1002)
	syn(0, 1001) // retransmitted: 1001 is now the most recently active
	later := (opts.HandshakeTimeout + time.Second).Microseconds()
	syn(later, 2001) // its step expires both
	syn(later+1, 2002)
	require.NoError(t, e.Finish())

	var ends []ingest.Record
	for _, r := range recs {
		if r.Kind == ingest.KindEND && r.Reason == ingest.EndIdle {
			ends = append(ends, r)
		}
	}
	require.Len(t, ends, 2)
	require.Equal(t, ends[0].TsNs, ends[1].TsNs, "a tie")
	require.Equal(t, []uint16{1001, 1002}, []uint16{ends[0].Client.Port(), ends[1].Client.Port()})
	require.Less(t, ends[0].ConnID, ends[1].ConnID)
}
