package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/capture"
)

// readAll returns every packet of the capture in b.
func readAll(t *testing.T, b []byte) []capture.Packet {
	t.Helper()
	src, err := capture.OpenReader("out", bytes.NewReader(b))
	require.NoError(t, err)
	var pkts []capture.Packet
	for {
		var p capture.Packet
		err := src.Next(&p)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		p.Data = append([]byte(nil), p.Data...)
		pkts = append(pkts, p)
	}
	require.NoError(t, src.Close())
	return pkts
}

func TestWriteFrames(t *testing.T) {
	v4 := ether([]uint16{etherTypeIPv4}, ipv4Header([4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}, nil))
	sec := int64(time.Second)
	set := &inputSet{maxCapLen: len(v4), inputs: []input{
		{name: "a", minTsNs: 100 * sec, frames: []frame{
			{data: v4, origLen: 60, tsNs: 100 * sec},
			{data: v4, origLen: 60, tsNs: 102*sec + 5000},
		}},
		{name: "empty"},
		{name: "b", minTsNs: 5 * sec, frames: []frame{
			{data: v4, origLen: 60, tsNs: 7 * sec}, // out of order within the input
			{data: v4, origLen: 60, tsNs: 5 * sec},
		}},
	}}
	var out, again bytes.Buffer
	st, err := writeFrames(&out, set, 7)
	require.NoError(t, err)
	_, err = writeFrames(&again, set, 7)
	require.NoError(t, err)
	require.Equal(t, out.Bytes(), again.Bytes(), "deterministic")
	require.Equal(t, int64(7), st.Packets)
	require.Equal(t, int64(2), st.Copies)
	require.Equal(t, int64(3), st.LastCopy)

	pkts := readAll(t, out.Bytes())
	require.Len(t, pkts, 7)
	wantTs := []int64{
		100 * sec, 102*sec + 5000, // a as recorded
		105*sec + 5000, 103*sec + 5000, // b starts 1 s after a ended
		106*sec + 5000, 108*sec + 10000, // copy 1 of a
		111*sec + 10000, // copy 1 of b, cut at 7 packets
	}
	for i, p := range pkts {
		require.Equal(t, wantTs[i], p.TsNs, "packet %d", i)
		require.Equal(t, 60, p.OrigLen)
		require.Equal(t, capture.LinkEthernet, p.Link)
		wantLast := [2]byte{1, 2}
		if i >= 4 { // copy 1: key 1
			wantLast = [2]byte{0, 3}
		}
		require.Equal(t, wantLast, [2]byte{p.Data[14+15], p.Data[14+19]}, "packet %d", i)
	}
}

func TestRunDeterministic(t *testing.T) {
	in := filepath.Join("..", "..", "testdata", "pcaps", "trex_Oracle.pcap")
	dir := t.TempDir()
	var files [2][]byte
	for i := range files {
		out := filepath.Join(dir, "big.pcap")
		var stderr bytes.Buffer
		require.Equal(t, 0, run([]string{"-o", out, "-packets", "5000", in}, &stderr), stderr.String())
		require.Contains(t, stderr.String(), "5000 packets")
		b, err := os.ReadFile(out)
		require.NoError(t, err)
		files[i] = b
		require.NoFileExists(t, out+".tmp")
	}
	require.Equal(t, files[0], files[1])
	pkts := readAll(t, files[0])
	require.Len(t, pkts, 5000)
}

func TestRunUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"-o", "x"}, {"in.pcap"}, {"-o", "x", "-packets", "0", "in.pcap"}, {"-o", "x", "-max-gap", "-1s", "in.pcap"}, {"-bogus"}} {
		require.Equal(t, 2, run(args, io.Discard), "%q", args)
	}
}

func TestInputAddShortensGaps(t *testing.T) {
	sec := int64(time.Second)
	in := input{maxGapNs: 10 * sec}
	for _, ts := range []int64{100 * sec, 105 * sec, 1000 * sec, 999 * sec, 1001 * sec, 5000 * sec} {
		in.add(&capture.Packet{Data: []byte{1}, OrigLen: 1, TsNs: ts})
	}
	var got []int64
	for _, fr := range in.frames {
		got = append(got, fr.tsNs/sec)
	}
	// 105→1000 and 1001→5000 become 10 s; the step back of 1 s is kept.
	require.Equal(t, []int64{100, 105, 115, 114, 116, 126}, got)
	require.Equal(t, int64(100*sec), in.minTsNs)
	require.Equal(t, int64(2), in.gaps)
	require.Equal(t, (1000-105-10+5000-1001-10)*sec, in.cutNs)
}
