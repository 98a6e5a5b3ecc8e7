package synthcap

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/capture"
	"github.com/abt-dev/abt/internal/decode"
)

// TestCampus: the capture is deterministic, in time order, every packet
// a TCP segment the decoder reads, and it has what Campus promises to the
// round-trip test of adudump text: connections to each server, SYN
// retries, connections begun at a SYN-ACK, RSTs, and data on both sides of
// midnight (a day and an hour boundary).
func TestCampus(t *testing.T) {
	spec := Campus{Seed: 3, Web: 60, Plain: 20, Mail: 10, Span: 100 * time.Second}
	var a, b bytes.Buffer
	require.NoError(t, spec.Write(&a))
	require.NoError(t, spec.Write(&b))
	require.Equal(t, a.Bytes(), b.Bytes(), "same Campus, same bytes")

	src, err := capture.OpenReader("campus", bytes.NewReader(a.Bytes()))
	require.NoError(t, err)
	defer src.Close()
	var (
		dec                     decode.Decoder
		seg                     decode.Segment
		prev                    int64
		syns, synacks, rsts     int
		before, after           int // data segments before and after midnight
		synsBySrc               = map[netip.AddrPort]int{}
		servers                 = map[uint16]bool{}
		midnight                = time.Date(2024, 3, 2, 0, 0, 0, 0, time.UTC).UnixNano()
		packets, payload, bytes int64
	)
	for {
		var p capture.Packet
		err := src.Next(&p)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		require.Equal(t, decode.OK, dec.Decode(&p, &seg), "packet %d", packets)
		require.GreaterOrEqual(t, seg.TsNs, prev, "packet %d in time order", packets)
		require.GreaterOrEqual(t, seg.TsNs, CampusStart.UnixNano())
		prev = seg.TsNs
		packets++
		payload += int64(seg.PayloadLen)
		bytes += int64(p.OrigLen)
		switch {
		case seg.Flags&decode.FlagSYN != 0 && seg.Flags&decode.FlagACK == 0:
			syns++
			synsBySrc[netip.AddrPortFrom(seg.Src, seg.SrcPort)]++
			servers[seg.DstPort] = true
		case seg.Flags&decode.FlagSYN != 0:
			synacks++
		case seg.Flags&decode.FlagRST != 0:
			rsts++
		case seg.PayloadLen > 0 && seg.TsNs < midnight:
			before++
		case seg.PayloadLen > 0:
			after++
		}
	}
	require.Equal(t, 1+spec.Web+spec.Plain+spec.Mail, synacks, "one SYN-ACK per connection (the one at midnight too)")
	require.Less(t, len(synsBySrc), synacks, "some SYNs missed: connections begun at a SYN-ACK")
	require.Greater(t, syns, len(synsBySrc), "some SYNs retried")
	require.Len(t, servers, 3)
	require.Positive(t, rsts)
	require.Positive(t, before)
	require.Positive(t, after)
	require.Equal(t, bytes-payload, packets*54, "header-only frames: the IP length carries the payload")

	require.Error(t, Campus{Web: -1, Span: time.Second}.Write(io.Discard))
	require.Error(t, Campus{Web: 1}.Write(io.Discard), "no span")
}
