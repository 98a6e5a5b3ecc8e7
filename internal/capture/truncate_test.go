package capture

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

// unit is one record or block of a hand-built capture.
type unit struct {
	data   []byte
	packet bool // yields a packet (false: skipped block, IDB, PAD ...)
}

// TestTruncatedEveryOffset cuts small captures at every byte offset. A cut
// inside the file header fails Open at offset 0; any other cut yields every
// packet that ends before the cut, then io.EOF at a record boundary or a
// FormatError wrapping io.ErrUnexpectedEOF that names the offset of the cut
// record and its packet index.
func TestTruncatedEveryOffset(t *testing.T) {
	le, be := binary.LittleEndian, binary.BigEndian
	pcapHdr := buildPcap(be, magicPcapNs, 65535, LinkEthernet, nil)
	pcapRec := func(i int) []byte {
		return buildPcap(be, magicPcapNs, 0, 0, []testPkt{{sec: uint32(i), data: payload(i, 10*i+1)}})[24:]
	}
	tests := []struct {
		name   string
		header []byte // file header: a cut inside it fails Open
		units  []unit
		opts   Options
	}{
		{
			name:   "pcap",
			header: pcapHdr,
			units:  []unit{{pcapRec(1), true}, {pcapRec(2), true}, {pcapRec(3), true}},
		},
		{
			name:   "pcapng",
			header: ngSHB(le),
			units: []unit{
				{ngIDB(le, LinkEthernet, 0, ngOpt(le, optTsresol, []byte{9})), false},
				{ngEPB(le, 0, 1, payload(1, 13), 13), true},
				{ngBlock(le, 5, payload(9, 20)), false}, // ISB: skipped
				{ngSPB(le, 7, payload(2, 7)), true},
				{ngSHB(be), false},
				{ngIDB(be, LinkRaw, 0), false},
				{ngPB(be, 0, 3, payload(3, 5), 5), true},
			},
		},
		{
			name: "erf",
			units: []unit{
				{erfRec(1<<32, erfTypeETH, 0, 64, 0, make([]byte, 66)), true},
				{erfRec(2<<32, erfTypePad, 0, 0, 0, make([]byte, 8)), false},
				{erfRec(3<<32, erfTypeIPv4, 1, 20, 1, payload(1, 20)), true},
			},
			opts: Options{Format: FormatERF},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			full := bytes.Clone(tc.header)
			for _, u := range tc.units {
				full = append(full, u.data...)
			}
			want, err := readAll(t, openBytes(t, full, tc.opts))
			require.ErrorIs(t, err, io.EOF)

			for cut := range len(full) {
				src, err := OpenReaderOptions("cut", bytes.NewReader(full[:cut]), tc.opts)
				if cut < len(tc.header) || (cut == 0 && tc.opts.Format == FormatAuto) {
					fe := requireFormatError(t, err, 0, 0)
					if cut >= 4 {
						require.ErrorIs(t, fe, io.ErrUnexpectedEOF, "cut at %d", cut)
					}
					continue
				}
				require.NoError(t, err, "cut at %d", cut)
				got, err := readAll(t, src)
				require.NoError(t, src.Close())

				// Find the unit the cut falls in.
				start, pkts := len(tc.header), 0
				for _, u := range tc.units {
					if start+len(u.data) > cut {
						break
					}
					start += len(u.data)
					if u.packet {
						pkts++
					}
				}
				require.Len(t, got, pkts, "cut at %d", cut)
				if pkts > 0 {
					require.Equal(t, want[:pkts], got, "cut at %d", cut)
				}
				if start == cut {
					require.ErrorIs(t, err, io.EOF, "cut at %d", cut)
					continue
				}
				fe := requireFormatError(t, err, int64(start), int64(pkts+1))
				require.ErrorIs(t, fe, io.ErrUnexpectedEOF, "cut at %d", cut)
			}
		})
	}
}
