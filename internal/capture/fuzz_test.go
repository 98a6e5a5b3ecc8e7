package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// maxFuzzInput caps fuzz inputs so that no case spends its time on sheer
// volume (compare prometheus util/fuzzing maxInputSize).
const maxFuzzInput = 64 << 10

// maxFuzzPackets and maxFuzzStream bound the work per case: a small zstd
// input can expand to gigabytes.
const (
	maxFuzzPackets = 20000
	maxFuzzStream  = 8 << 20
)

// FuzzOpenReader feeds arbitrary bytes to OpenReader and Next. Properties: no
// panic; every error is io.EOF or a *FormatError (from Open: always a
// *FormatError) whose text names the file and a byte offset, said to be in
// the decompressed stream for compressed input; a fault of the compression
// layer also names its offset in the compressed file, which lies within
// the input; errors are sticky; a packet never has more captured than
// original bytes; for uncompressed input, fault offsets lie within the input;
// Stats agree with what Next returned.
//
// Run with a short -fuzzminimizetime (e.g. 2s): minimising a new interesting
// input of a few KiB takes the default full minute, during which the fuzzer
// reports 0 execs/s as if hung.
func FuzzOpenReader(f *testing.F) {
	seedFiles := []struct {
		name   string
		prefix int // bytes of the file to use, 0 = whole
	}{
		{"pcapplusplus_nanosecs_big_endian.pcap", 0},
		{"zeek_tcp_handshake-reorder.pcap", 0},
		{"zeek_http-qinq-0.pcap", 0},
		{"pcapplusplus_pcapng-example.pcapng", 0},
		{"gopacket_test_loopback.pcap", 4096},
		{"pcapplusplus_sll.pcap", 4096},
		{"suricata_decode-sll2-02.pcap", 4096},
		{"pcapplusplus_raw_ip.pcap", 4096},
		{"chrissanders_synscan.pcapng", 4096},
		{"trex_sfr2-0-ex.erf", 2048},
		{"zeek_http_1000-requests-one-dropped-response.pcap.gz", 4096},
	}
	for _, s := range seedFiles {
		b, err := os.ReadFile(filepath.Join(pcapDir, s.name))
		require.NoError(f, err)
		if s.prefix > 0 {
			b = b[:s.prefix]
		}
		f.Add(b)
	}
	le, be := binary.LittleEndian, binary.BigEndian
	f.Add(bytes.Join([][]byte{
		ngSHB(be), ngIDB(be, LinkRaw, 64, ngOpt(be, optTsresol, []byte{0x80 | 20}), ngOpt(be, optTsoffset, be.AppendUint64(nil, 5))),
		ngEPB(be, 0, 1<<40, payload(1, 80), 100), ngSPB(be, 30, payload(2, 30)),
		ngSHB(le), ngIDB(le, LinkEthernet, 0), ngPB(le, 0, 9, payload(3, 20), 10),
	}, nil))
	f.Add(append(erfRec(1<<32, erfTypeColorETH, 1, 64, 2, make([]byte, 66)), erfRec(1<<32, erfTypeIPv6, 2, 40, 0, payload(4, 40))...))
	pcap := buildPcap(le, magicPcapKuzn, 0, 12, []testPkt{{sec: 1, data: payload(5, 40), orig: 20}})
	f.Add(pcap)
	f.Add(zstdBytes(f, pcap))

	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > maxFuzzInput {
			t.Skip()
		}
		src, err := OpenReaderOptions("fuzz", bytes.NewReader(in), Options{maxStream: maxFuzzStream})
		if err != nil {
			fe := requireLocatedError(t, err, in)
			require.Zero(t, fe.Packet)
			return
		}
		compressed := statsOf(t, src).Compression != ""
		var p Packet
		var n int64
		for ; n < maxFuzzPackets; n++ {
			err = src.Next(&p)
			if err != nil {
				break
			}
			require.LessOrEqual(t, len(p.Data), p.OrigLen)
			require.GreaterOrEqual(t, p.Iface, 0)
		}
		if err != nil {
			require.Equal(t, err, src.Next(&p), "sticky error")
			if !errors.Is(err, io.EOF) {
				fe := requireLocatedError(t, err, in)
				require.Equal(t, n+1, fe.Packet)
				if !compressed {
					require.GreaterOrEqual(t, fe.Offset, int64(0))
					require.LessOrEqual(t, fe.Offset, int64(len(in)))
				}
			}
		}
		require.Equal(t, n, statsOf(t, src).Packets)
		require.NoError(t, src.Close())
	})
}

// requireLocatedError checks that err, from reading in, is a *FormatError
// whose text starts "fuzz: byte offset N" (plus " of the decompressed
// stream" for compressed input), and that a fault of the compression layer
// names an offset within in.
func requireLocatedError(t *testing.T, err error, in []byte) *FormatError {
	t.Helper()
	var fe *FormatError
	require.True(t, errors.As(err, &fe), "error %T: %v", err, err)
	prefix := fmt.Sprintf("fuzz: byte offset %d", fe.Offset)
	if fe.Compression != "" {
		prefix += " of the decompressed stream"
	}
	require.True(t, strings.HasPrefix(err.Error(), prefix), "error %q does not start %q", err, prefix)
	var de *DecompressError
	if errors.As(err, &de) {
		require.Equal(t, fe.Compression, de.Compression)
		require.GreaterOrEqual(t, de.Offset, int64(0))
		require.LessOrEqual(t, de.Offset, int64(len(in)))
		require.Contains(t, err.Error(), fmt.Sprintf("decompress %s at byte offset %d of the file: ", de.Compression, de.Offset))
	} else {
		require.NotRegexp(t, `(?:decompress|open) (?:gzip|zstd)`, err.Error(), "compression fault without its offset")
	}
	return fe
}
