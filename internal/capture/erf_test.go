package capture

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestERFFile looks closely at the first record of trex_sfr2-0-ex.erf:
// type 2 (Ethernet), flags 0x04, rlen 88, wlen 64 for a 58-byte frame (IPv4
// total length 44), i.e. wlen = frame padded to 60 + 4-byte FCS.
func TestERFFile(t *testing.T) {
	src, err := Open(filepath.Join(pcapDir, "trex_sfr2-0-ex.erf"))
	require.NoError(t, err)
	defer func() { require.NoError(t, src.Close()) }()
	got, err := readAll(t, src)
	require.ErrorIs(t, err, io.EOF)
	require.Len(t, got, 4250)
	first := got[0]
	require.Equal(t, int64(10_000_000), first.TsNs)
	require.Equal(t, 60, first.OrigLen)
	require.Len(t, first.Data, 60, "FCS and record padding dropped")
	require.Equal(t, []byte{0x10, 0x10, 0x10, 0x10, 0x10, 0x10}, first.Data[:6], "dst MAC right after the 2-byte pad")
	require.Equal(t, []byte{0x08, 0x00, 0x45}, first.Data[12:15])
	ifaces := map[int]int{}
	for _, p := range got {
		ifaces[p.Iface]++
	}
	require.Equal(t, map[int]int{0: 2320, 1: 1930}, ifaces, "flags 0x04 / 0x05")
	require.Equal(t, Stats{Format: FormatERF, Packets: 4250, Bytes: statsOf(t, src).Bytes}, statsOf(t, src))
}

// TestERFRecords covers the record types and extension headers.
func TestERFRecords(t *testing.T) {
	ts := uint64(1_700_000_000)<<32 | 1<<31 // .5 s
	const tsNs = 1_700_000_000_500_000_000
	eth := append([]byte{0, 0}, payload(1, 64)...) // pad + 60-byte frame + FCS
	tests := []struct {
		name string
		rec  []byte
		want []gotPkt // nil: skipped
	}{
		{
			name: "ethernet",
			rec:  erfRec(ts, erfTypeETH, 0x06, 64, 0, eth),
			want: []gotPkt{{payload(1, 60), tsNs, 60, LinkEthernet, 2}},
		},
		{
			name: "color ethernet with two extension headers",
			rec:  erfRec(ts, erfTypeColorETH, 0x03, 64, 2, eth),
			want: []gotPkt{{payload(1, 60), tsNs, 60, LinkEthernet, 3}},
		},
		{
			// A snapped record's alignment padding cannot be told from
			// data; it is returned, as Wireshark does.
			name: "ethernet snapped before the FCS",
			rec:  erfRec(ts, erfTypeDSMColorETH, 0, 1518, 0, eth[:42]),
			want: []gotPkt{{append(payload(1, 40), 0, 0, 0, 0, 0, 0), tsNs, 1514, LinkEthernet, 0}},
		},
		{
			name: "ethernet with wlen 0",
			rec:  erfRec(ts, erfTypeColorHashETH, 0, 0, 0, eth[:42]),
			want: []gotPkt{{append(payload(1, 40), 0, 0, 0, 0, 0, 0), tsNs, 46, LinkEthernet, 0}},
		},
		{
			name: "ipv4",
			rec:  erfRec(ts, erfTypeIPv4, 0, 21, 0, payload(2, 21)),
			want: []gotPkt{{payload(2, 21), tsNs, 21, LinkIPv4, 0}},
		},
		{
			name: "ipv6 with extension header",
			rec:  erfRec(ts, erfTypeIPv6, 1, 45, 1, payload(3, 45)),
			want: []gotPkt{{payload(3, 45), tsNs, 45, LinkIPv6, 1}},
		},
		{
			name: "hdlc passed whole",
			rec:  erfRec(ts, 1, 0, 8, 0, payload(4, 8)),
			want: []gotPkt{{erfRec(ts, 1, 0, 8, 0, payload(4, 8)), tsNs, 24, LinkERF, 0}},
		},
		{name: "pad skipped", rec: erfRec(ts, erfTypePad, 0, 0, 0, payload(5, 30))},
		{name: "meta skipped", rec: erfRec(ts, erfTypeMeta, 0, 0, 1, payload(6, 30))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := openBytes(t, tc.rec, Options{Format: FormatERF})
			got, err := readAll(t, src)
			require.ErrorIs(t, err, io.EOF)
			require.Equal(t, tc.want, got)
			if tc.want == nil {
				require.Equal(t, int64(1), statsOf(t, src).Skipped)
			}
		})
	}
}

// TestERFBadRecords checks offsets of bad records after good ones.
func TestERFBadRecords(t *testing.T) {
	good := erfRec(1<<32, erfTypeIPv4, 0, 20, 0, payload(1, 20))
	tests := []struct {
		name string
		bad  []byte
		msg  string
	}{
		{"rlen below header", func() []byte { r := bytes.Clone(good); binary.BigEndian.PutUint16(r[10:], 15); return r }(), "record length 15 shorter than the 16-byte header"},
		{"extension headers overrun", func() []byte {
			r := bytes.Clone(good[:16])
			r[8] |= erfMoreExt
			binary.BigEndian.PutUint16(r[10:], 16)
			return r
		}(), "extension headers overrun record length 16"},
		{"no room for ethernet pad", func() []byte {
			r := bytes.Clone(good[:16])
			r[8] = erfTypeETH
			binary.BigEndian.PutUint16(r[10:], 16)
			return r
		}(), "too short for the Ethernet pad"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := bytes.Join([][]byte{good, good, tc.bad, good}, nil)
			got, err := readAll(t, openBytes(t, in, Options{}))
			require.Len(t, got, 2)
			fe := requireFormatError(t, err, int64(2*len(good)), 3)
			require.ErrorContains(t, fe, tc.msg)
		})
	}
}

// TestERFDetection exercises the heuristic that recognises ERF without a
// magic number.
func TestERFDetection(t *testing.T) {
	sec := uint64(1) << 32
	rec := func(ts uint64) []byte { return erfRec(ts, erfTypeETH, 0, 64, 0, make([]byte, 66)) }
	real, err := os.ReadFile(filepath.Join(pcapDir, "trex_sfr2-0-ex.erf"))
	require.NoError(t, err)
	tests := []struct {
		name string
		in   []byte
		erf  bool
	}{
		{"real file", real, true},
		{"real file first record only", real[:88], true},
		{"one record", rec(100 * sec), true},
		{"two records in order", append(rec(100*sec), rec(101*sec)...), true},
		{"second record 1 s earlier", append(rec(100*sec), rec(99*sec)...), true},
		{"second record 2 s earlier", append(rec(100*sec), rec(98*sec)...), false},
		{"second record 8 days later", append(rec(100*sec), rec((100+8*86400)*sec)...), false},
		{"second record implausible", append(rec(100*sec), make([]byte, 16)...), false},
		{"type 0", erfRec(0, 0, 0, 4, 0, make([]byte, 8)), false},
		{"type 30", erfRec(0, 30, 0, 4, 0, make([]byte, 8)), false},
		{"pad type", erfRec(0, erfTypePad, 0, 0, 0, make([]byte, 8)), true},
		{"zero wlen", erfRec(0, erfTypeIPv4, 0, 0, 0, make([]byte, 8)), false},
		{"ethernet without room for pad", func() []byte {
			r := erfRec(0, erfTypeETH, 0, 4, 0, nil)
			binary.BigEndian.PutUint16(r[10:], 16)
			return r[:16]
		}(), false},
		{"shorter than a header", real[:15], false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src, err := OpenReader("x", bytes.NewReader(tc.in))
			if !tc.erf {
				fe := requireFormatError(t, err, 0, 0)
				require.ErrorIs(t, fe, ErrUnknownFormat)
				return
			}
			require.NoError(t, err)
			require.Equal(t, FormatERF, statsOf(t, src).Format)
			require.NoError(t, src.Close())
		})
	}
}
