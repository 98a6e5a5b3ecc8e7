package capture

import (
	"bytes"
	"encoding/binary"
	"io"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPcapNGBlocks reads a hand-built two-section file in both byte orders
// (and with the second section in the other order): interfaces with
// different link types and time resolutions, EPB, obsolete PB, SPB, an
// unknown block and a Name Resolution Block that must be skipped.
func TestPcapNGBlocks(t *testing.T) {
	other := map[binary.AppendByteOrder]binary.AppendByteOrder{
		binary.LittleEndian: binary.BigEndian, binary.BigEndian: binary.LittleEndian,
	}
	tests := []struct {
		name   string
		first  binary.AppendByteOrder
		second binary.AppendByteOrder
	}{
		{"le", binary.LittleEndian, binary.LittleEndian},
		{"be", binary.BigEndian, binary.BigEndian},
		{"le then be", binary.LittleEndian, other[binary.LittleEndian]},
		{"be then le", binary.BigEndian, other[binary.BigEndian]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, o2 := tc.first, tc.second
			u64 := func(v int64) []byte { return o.AppendUint64(nil, uint64(v)) }
			in := bytes.Join([][]byte{
				ngSHB(o),
				ngIDB(o, LinkEthernet, 0), // 0: µs default
				ngIDB(o, LinkRaw, 64, ngOpt(o, optTsresol, []byte{9})), // 1: ns, snaplen 64
				ngIDB(o, LinkLinuxSLL, 0, ngOpt(o, optTsresol, []byte{0x80 | 10}), // 2: 2^-10 s
					ngOpt(o, optTsoffset, u64(1000))), // +1000 s
				ngEPB(o, 0, 1_500_000, payload(1, 60), 60),
				ngBlock(o, 0x0bad, payload(2, 13)),                       // unknown: skipped
				ngEPB(o, 1, 2_000_000_007, payload(3, 100), 1500),        // caplen > snaplen 64
				ngBlock(o, 4, o.AppendUint16(nil, 0)),                    // NRB: skipped
				ngEPB(o, 2, 3<<10|512, payload(4, 40), 40),               // 3.5 s + 1000 s
				ngSPB(o, 80, payload(5, 80)),                             // iface 0, borrowed time
				ngPB(o, 1, 7, payload(6, 30), 20),                        // caplen > origlen
				ngSHB(o2),                                                // new section
				ngIDB(o2, LinkIPv6, 0, ngOpt(o2, optTsresol, []byte{3})), // global iface 3, ms
				ngEPB(o2, 0, 42, payload(7, 48), 48),
			}, nil)
			src := openBytes(t, in, Options{})
			got, err := readAll(t, src)
			require.ErrorIs(t, err, io.EOF)
			want := []gotPkt{
				{payload(1, 60), 1_500_000_000, 60, LinkEthernet, 0},
				{payload(3, 100), 2_000_000_007, 1500, LinkRaw, 1},
				{payload(4, 40), 1003_500_000_000, 40, LinkLinuxSLL, 2},
				{payload(5, 80), 1003_500_000_000, 80, LinkEthernet, 0},
				{payload(6, 30), 7, 30, LinkRaw, 1},
				{payload(7, 48), 42_000_000, 48, LinkIPv6, 3},
			}
			require.Equal(t, want, got)
			require.Equal(t, Stats{
				Format: FormatPcapNG, Packets: 6, Bytes: 60 + 100 + 40 + 80 + 30 + 48,
				SnapLenExceeded: 1, OrigLenRaised: 1, SPBTimeBorrowed: 1, Skipped: 2,
			}, statsOf(t, src))
		})
	}
}

// TestPcapNGSPBSnaplen: an SPB's captured length is min(origlen, snaplen,
// what the block holds).
func TestPcapNGSPBSnaplen(t *testing.T) {
	o := binary.LittleEndian
	in := bytes.Join([][]byte{
		ngSHB(o), ngIDB(o, LinkEthernet, 50),
		ngSPB(o, 1500, payload(1, 50)), // cut by snaplen
		ngSPB(o, 10, payload(2, 12)),   // padded beyond origlen
	}, nil)
	got, err := readAll(t, openBytes(t, in, Options{}))
	require.ErrorIs(t, err, io.EOF)
	require.Equal(t, []gotPkt{
		{payload(1, 50), 0, 1500, LinkEthernet, 0},
		{payload(2, 10), 0, 10, LinkEthernet, 0},
	}, got)
}

// TestPcapNGBadBlocks corrupts a small valid file in one place each and
// checks the error's offset, packet index and message.
func TestPcapNGBadBlocks(t *testing.T) {
	o := binary.LittleEndian
	shb, idb := ngSHB(o), ngIDB(o, LinkEthernet, 0)
	epb1, epb2 := ngEPB(o, 0, 1, payload(1, 10), 10), ngEPB(o, 0, 2, payload(2, 20), 20)
	good := bytes.Join([][]byte{shb, idb, epb1, epb2}, nil)
	offIDB := len(shb)
	offEPB1 := offIDB + len(idb)
	offEPB2 := offEPB1 + len(epb1)
	tests := []struct {
		name     string
		corrupt  func(b []byte) []byte
		openFail bool  // the error comes from Open
		off      int64 // expected FormatError offset
		pkt      int64
		wantPkts int
		msg      string
	}{
		{
			name:    "length not multiple of 4",
			corrupt: func(b []byte) []byte { o.PutUint32(b[offEPB2+4:], uint32(len(epb2)+2)); return b },
			off:     int64(offEPB2), pkt: 2, wantPkts: 1, msg: "not a multiple of 4",
		},
		{
			name:    "length below 12",
			corrupt: func(b []byte) []byte { o.PutUint32(b[offEPB1+4:], 8); return b },
			off:     int64(offEPB1), pkt: 1, msg: "below minimum 12",
		},
		{
			name:    "absurd length",
			corrupt: func(b []byte) []byte { o.PutUint32(b[offEPB2+4:], 1<<30); return b },
			off:     int64(offEPB2), pkt: 2, wantPkts: 1, msg: "absurd length",
		},
		{
			name:    "trailer mismatch",
			corrupt: func(b []byte) []byte { o.PutUint32(b[offEPB2+len(epb2)-4:], 12); return b },
			off:     int64(offEPB2), pkt: 2, wantPkts: 1, msg: "trailing block length 12 does not match",
		},
		{
			name:    "trailer mismatch on skipped block",
			corrupt: func(b []byte) []byte { return append(b, o.AppendUint32(ngBlock(o, 99, nil)[:8], 13)...) },
			off:     int64(len(good)), pkt: 3, wantPkts: 2, msg: "trailing block length 13 does not match 12",
		},
		{
			name:    "IDB trailer mismatch",
			corrupt: func(b []byte) []byte { o.PutUint32(b[offEPB1-4:], 0); return b },
			off:     int64(offIDB), pkt: 1, msg: "trailing block length 0",
		},
		{
			name:    "unknown interface",
			corrupt: func(b []byte) []byte { o.PutUint32(b[offEPB2+8:], 1); return b },
			off:     int64(offEPB2), pkt: 2, wantPkts: 1, msg: "packet on interface 1, section has 1",
		},
		{
			name:    "caplen overruns block",
			corrupt: func(b []byte) []byte { o.PutUint32(b[offEPB1+20:], 13); return b },
			off:     int64(offEPB1), pkt: 1, msg: "captured length 13 overruns block",
		},
		{
			name: "IDB option overruns block",
			corrupt: func(b []byte) []byte {
				return bytes.Join([][]byte{shb, ngIDB(o, 1, 0, o.AppendUint32(o.AppendUint16(nil, 9), 99))}, nil)
			},
			off: int64(offIDB), pkt: 1, msg: "interface option 9 of length 99 overruns block",
		},
		{
			name:     "bad byte-order magic",
			corrupt:  func(b []byte) []byte { b[8] = 0; return b },
			openFail: true, off: 0, pkt: 0, msg: "bad byte-order magic 00 3c 2b 1a",
		},
		{
			name:     "bad version",
			corrupt:  func(b []byte) []byte { o.PutUint16(b[12:], 2); return b },
			openFail: true, off: 0, pkt: 0, msg: "unsupported pcapng version 2.0",
		},
		{
			name:    "second SHB bad",
			corrupt: func(b []byte) []byte { s := ngSHB(o); s[9] = 0; return append(b, s...) },
			off:     int64(len(good)), pkt: 3, wantPkts: 2, msg: "bad byte-order magic",
		},
		{
			name:    "SPB before IDB",
			corrupt: func(b []byte) []byte { return append(bytes.Clone(shb), ngSPB(o, 4, payload(1, 4))...) },
			off:     int64(offIDB), pkt: 1, msg: "simple packet block before any interface",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.corrupt(bytes.Clone(good))
			src, err := OpenReader("ng", bytes.NewReader(in))
			var got []gotPkt
			if !tc.openFail {
				require.NoError(t, err)
				got, err = readAll(t, src)
			}
			fe := requireFormatError(t, err, tc.off, tc.pkt)
			require.ErrorContains(t, fe, tc.msg)
			require.Len(t, got, tc.wantPkts)
		})
	}
}

// TestPcapngTsNs checks the overflow-safe timestamp conversion.
func TestPcapngTsNs(t *testing.T) {
	tests := []struct {
		name    string
		ts      uint64
		res     uint8
		offset  int64
		want    int64
		clamped bool
	}{
		{"us default", 1_700_000_000_123_456, 6, 0, 1_700_000_000_123_456_000, false},
		{"ns", 1_700_000_000_123_456_789, 9, 0, 1_700_000_000_123_456_789, false},
		{"seconds", 5, 0, 0, 5_000_000_000, false},
		{"ps truncates", 1_234_567, 12, 0, 1_234, false},
		{"10^-28", math.MaxUint64, 28, 0, 1, false},
		{"10^-29 and below", math.MaxUint64, 29, 0, 0, false},
		{"10^-127", math.MaxUint64, 127, 0, 0, false},
		{"2^-0", 3, 0x80, 0, 3_000_000_000, false},
		{"2^-10", 3<<10 | 512, 0x80 | 10, 0, 3_500_000_000, false},
		{"2^-30", 1 << 30, 0x80 | 30, 0, 1_000_000_000, false},
		{"2^-64", 1 << 63, 0x80 | 64, 0, 500_000_000, false},
		{"2^-100", math.MaxUint64, 0x80 | 100, 0, 0, false},
		{"2^-127", math.MaxUint64, 0xff, 0, 0, false},
		{"us overflow", 0xffffffff_e1e21eca, 6, 0, math.MaxInt64, true},
		{"seconds overflow", math.MaxUint64, 0, 0, math.MaxInt64, true},
		{"2^-0 overflow", 1 << 40, 0x80, 0, math.MaxInt64, true},
		{"ns above int64", 1 << 63, 9, 0, math.MaxInt64, true},
		{"ns at int64 max", math.MaxInt64, 9, 0, math.MaxInt64, false},
		{"offset", 1, 0, 100, 101_000_000_000, false},
		{"negative offset", 1, 0, -100, -99_000_000_000, false},
		{"offset overflow", math.MaxInt64, 9, 1, math.MaxInt64, true},
		{"huge offset", 0, 6, math.MaxInt64, math.MaxInt64, true},
		{"huge negative offset", 0, 6, math.MinInt64, math.MinInt64, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, clamped := pcapngTsNs(tc.ts, tc.res, tc.offset)
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.clamped, clamped)
		})
	}
}
