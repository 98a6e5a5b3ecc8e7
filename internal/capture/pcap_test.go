package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPcapVariants reads the same packets written in both byte orders with
// microsecond, nanosecond and Kuznetzov (24-byte record header) magics.
func TestPcapVariants(t *testing.T) {
	pkts := []testPkt{
		{sec: 1700000000, frac: 123456, data: payload(1, 60)},
		{sec: 1700000001, frac: 999999, data: payload(2, 1514)},
		{sec: 4294967295, frac: 999999, data: payload(3, 1)}, // year 2106
	}
	tests := []struct {
		name   string
		order  binary.AppendByteOrder
		magic  uint32
		fracNs int64 // ns per fraction unit
	}{
		{"le/us", binary.LittleEndian, magicPcapUs, 1000},
		{"be/us", binary.BigEndian, magicPcapUs, 1000},
		{"le/ns", binary.LittleEndian, magicPcapNs, 1},
		{"be/ns", binary.BigEndian, magicPcapNs, 1},
		{"le/kuznetzov", binary.LittleEndian, magicPcapKuzn, 1000},
		{"be/kuznetzov", binary.BigEndian, magicPcapKuzn, 1000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := openBytes(t, buildPcap(tc.order, tc.magic, 65535, LinkLinuxSLL2, pkts), Options{})
			got, err := readAll(t, src)
			require.ErrorIs(t, err, io.EOF)
			require.Len(t, got, len(pkts))
			for i, p := range pkts {
				require.Equal(t, gotPkt{
					Data:    p.data,
					TsNs:    int64(p.sec)*1e9 + int64(p.frac)*tc.fracNs,
					OrigLen: len(p.data),
					Link:    LinkLinuxSLL2,
				}, got[i], "packet %d", i+1)
			}
			require.Equal(t, Stats{Format: FormatPcap, Packets: 3, Bytes: 60 + 1514 + 1}, statsOf(t, src))
		})
	}
}

// TestPcapLeniency covers the sloppy-writer cases that are accepted and
// counted, and the limits that are not.
func TestPcapLeniency(t *testing.T) {
	big := payload(9, MaxPcapRecord+1)
	tests := []struct {
		name     string
		snaplen  uint32
		pkt      testPkt
		wantOrig int
		wantErr  error // nil: packet accepted
		want     Stats
	}{
		{
			name: "caplen above snaplen", snaplen: 96, pkt: testPkt{data: payload(1, 200)},
			wantOrig: 200, want: Stats{SnapLenExceeded: 1},
		},
		{
			name: "snaplen zero is unset", snaplen: 0, pkt: testPkt{data: payload(1, 200)},
			wantOrig: 200,
		},
		{
			name: "caplen above origlen", snaplen: 65535, pkt: testPkt{data: payload(1, 100), orig: 60},
			wantOrig: 100, want: Stats{OrigLenRaised: 1},
		},
		{
			name: "caplen at the absolute cap", snaplen: 65535, pkt: testPkt{data: big[:MaxPcapRecord]},
			wantOrig: MaxPcapRecord, want: Stats{SnapLenExceeded: 1},
		},
		{
			name: "caplen above the absolute cap", snaplen: 65535, pkt: testPkt{data: big},
			wantErr: ErrAbsurdLength,
		},
		{
			name: "huge snaplen raises the cap", snaplen: 1 << 20, pkt: testPkt{data: big},
			wantOrig: len(big),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := openBytes(t, buildPcap(binary.LittleEndian, magicPcapUs, tc.snaplen, LinkEthernet, []testPkt{tc.pkt}), Options{})
			got, err := readAll(t, src)
			if tc.wantErr != nil {
				require.Empty(t, got)
				fe := requireFormatError(t, err, 24, 1)
				require.ErrorIs(t, fe, tc.wantErr)
				require.ErrorContains(t, fe, "absurd length")
				return
			}
			require.ErrorIs(t, err, io.EOF)
			require.Len(t, got, 1)
			require.Equal(t, tc.pkt.data, got[0].Data)
			require.Equal(t, tc.wantOrig, got[0].OrigLen)
			st := statsOf(t, src)
			require.Equal(t, tc.want.SnapLenExceeded, st.SnapLenExceeded)
			require.Equal(t, tc.want.OrigLenRaised, st.OrigLenRaised)
		})
	}
}

// TestPcapAbsurdAfterGoodPackets checks offset and packet index of a bad
// record that follows good ones.
func TestPcapAbsurdAfterGoodPackets(t *testing.T) {
	b := buildPcap(binary.BigEndian, magicPcapNs, 65535, LinkEthernet, []testPkt{
		{data: payload(1, 10)}, {data: payload(2, 20)}, {data: payload(3, 30)},
	})
	bad := 24 + 16 + 10 + 16 + 20
	binary.BigEndian.PutUint32(b[bad+8:], 0xfffffff0) // third caplen
	got, err := readAll(t, openBytes(t, b, Options{}))
	require.Len(t, got, 2)
	fe := requireFormatError(t, err, int64(bad), 3)
	require.ErrorIs(t, fe, ErrAbsurdLength)
	require.Equal(t, "test: byte offset 86 (packet 3): capture: absurd length: captured length 4294967280 exceeds 262144", fe.Error())
}

// BenchmarkPcapNext measures framing speed on the largest pcap in testdata,
// read from memory, plain and compressed (compressed in the benchmark
// setup). pkts/s counts packets returned by Next.
func BenchmarkPcapNext(b *testing.B) {
	plain, err := os.ReadFile(filepath.Join(pcapDir, "gopacket_cip.pcap"))
	require.NoError(b, err)
	inputs := []struct {
		compr string
		data  []byte
	}{
		{"none", plain},
		{"gzip", gzipBytes(b, plain)},
		{"zstd", zstdBytes(b, plain)},
	}
	for _, in := range inputs {
		b.Run("compr="+in.compr, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(plain)))
			var pkts int64
			var p Packet
			for b.Loop() {
				src, err := OpenReader("bench", bytes.NewReader(in.data))
				if err != nil {
					b.Fatal(err)
				}
				for {
					err := src.Next(&p)
					if err != nil {
						if !errors.Is(err, io.EOF) {
							b.Fatal(err)
						}
						break
					}
					pkts++
				}
				if err := src.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(pkts)/b.Elapsed().Seconds(), "pkts/s")
		})
	}
}
