package capture

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestNextDoesNotAllocate shows that Next allocates nothing per packet once
// the buffer has grown, for every format, plain and compressed.
func TestNextDoesNotAllocate(t *testing.T) {
	const n = 3000 // > AllocsPerRun's 1000 runs + warm-up
	le := binary.LittleEndian
	var pkts []testPkt
	ng := [][]byte{ngSHB(le), ngIDB(le, LinkEthernet, 0)}
	var erf [][]byte
	for i := range n {
		data := payload(i, 60+i%1400)
		pkts = append(pkts, testPkt{sec: uint32(i), data: data})
		ng = append(ng, ngEPB(le, 0, uint64(i), data, uint32(len(data))))
		erf = append(erf, erfRec(uint64(i)<<32, erfTypeETH, 0, uint16(len(data)+4), 0, append([]byte{0, 0}, data...)))
	}
	pcap := buildPcap(le, magicPcapUs, 65535, LinkEthernet, pkts)
	tests := []struct {
		name string
		in   []byte
	}{
		{"pcap", pcap},
		{"pcapng", bytes.Join(ng, nil)},
		{"erf", bytes.Join(erf, nil)},
		{"pcap/gzip", gzipBytes(t, pcap)},
		{"pcap/zstd", zstdBytes(t, pcap)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := openBytes(t, tc.in, Options{})
			var p Packet
			for range 100 { // let the buffer reach its steady size
				require.NoError(t, src.Next(&p))
			}
			var err error
			allocs := testing.AllocsPerRun(1000, func() { err = src.Next(&p) })
			require.NoError(t, err)
			require.Zero(t, allocs)
		})
	}
}
