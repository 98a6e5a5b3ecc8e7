package decode

import (
	"errors"
	"io"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/capture"
)

// maxFuzzInput caps the packet size so the fuzzer explores headers, not
// megabytes of payload.
const maxFuzzInput = 1 << 16

// seedPacketsPerFile is how many packets of each test capture seed the
// corpus, enough to cover each file's link type and first handshake.
const seedPacketsPerFile = 8

// FuzzDecode checks that Decode never panics and that its results obey the
// Segment invariants, from hand-built packets of every link type and the
// first packets of each test capture.
func FuzzDecode(f *testing.F) {
	for _, tc := range allCases() {
		f.Add(uint16(tc.link), tc.data, uint16(0))
	}
	files, err := filepath.Glob(filepath.Join(pcapDir, "*"))
	require.NoError(f, err)
	for _, path := range files {
		src, ok := openCapture(f, path)
		if !ok {
			continue
		}
		for range seedPacketsPerFile {
			data, ci, link, err := src.next()
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(f, err)
			f.Add(uint16(link), data, uint16(min(ci.Length-len(data), 0xffff)))
		}
	}
	f.Fuzz(func(t *testing.T, link uint16, data []byte, cut uint16) {
		if len(data) > maxFuzzInput {
			return
		}
		p := capture.Packet{Data: data, TsNs: 42, OrigLen: len(data) + int(cut), Link: capture.LinkType(link), Iface: 1}
		checkDecode(t, &p)
		p.OrigLen = 0 // unknown wire length takes another path
		checkDecode(t, &p)
	})
}

// checkDecode decodes p twice and checks the invariants.
func checkDecode(t *testing.T, p *capture.Packet) {
	sentinel := Segment{Seq: 1, WScale: 99}
	var d Decoder
	seg := sentinel
	r := d.Decode(p, &seg)
	require.True(t, r > NoResult && r < resultCount, "result %d out of range", r)

	seg2 := sentinel
	require.Equal(t, r, d.Decode(p, &seg2), "result not stable")
	require.Equal(t, seg, seg2, "segment not stable")
	require.Equal(t, uint64(2), d.Stats.Packets)
	require.Equal(t, uint64(2), d.Stats.Results[r])

	if r != OK {
		require.Equal(t, sentinel, seg, "seg written on %v", r)
		require.Zero(t, d.Stats.Segments)
		return
	}
	require.Equal(t, uint64(2), d.Stats.Segments)
	require.True(t, seg.Src.IsValid() && seg.Dst.IsValid(), "addresses unset")
	require.Equal(t, seg.Src.Is4(), seg.Dst.Is4(), "mixed address families")
	require.Equal(t, p.TsNs, seg.TsNs)
	require.Equal(t, p.Iface, seg.Iface)
	require.LessOrEqual(t, seg.VLAN, uint16(0x0fff))
	require.True(t, seg.WScale >= -1 && seg.WScale <= maxWScale, "wscale %d", seg.WScale)
	if seg.Flags&FlagSYN == 0 {
		require.Zero(t, seg.MSS)
		require.Equal(t, int8(-1), seg.WScale)
	}
	// The payload fits in the IP length field, or, for a zero length
	// field, in the frame.
	limit := max(65535, p.OrigLen, len(p.Data))
	require.LessOrEqual(t, int(seg.PayloadLen), limit)
}
