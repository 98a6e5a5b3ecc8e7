package capture

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const pcapDir = "../../testdata/pcaps"

// parseCapinfosTime parses capinfos' "2006-01-02 15:04:05.999999999" (UTC).
func parseCapinfosTime(t *testing.T, s string) int64 {
	t.Helper()
	tm, err := time.Parse("2006-01-02 15:04:05.999999999", s)
	require.NoError(t, err)
	return tm.UnixNano()
}

// TestRealCaptures checks every file in testdata/pcaps against capinfos
// (tshark 4.0.17) figures recorded in /work/shared/pcaps/README.md: packet
// count, earliest and latest timestamp (capinfos' "first" and "last" are
// the minimum and maximum, which matters for files not in time order) and
// link type.
func TestRealCaptures(t *testing.T) {
	tests := []struct {
		file        string
		pkts        int
		first, last string
		link        LinkType
		format      Format
	}{
		{"ppa_ftp-crack.pcap", 19730, "2002-06-18 06:12:11.002335", "2002-06-18 06:12:55.605088", LinkEthernet, FormatPcap},
		{"zeek_echo-connections.pcap.gz", 82582, "2021-07-25 14:57:00.686470", "2021-07-25 14:57:07.180797", LinkEthernet, FormatPcap},
		{"mercury_emix.pcap", 7133, "2003-12-12 14:59:33.519870", "2025-10-03 05:38:27.215257", LinkEthernet, FormatPcap},
		{"slips_test-cc-capture-1.pcap", 7931, "2024-02-08 15:16:39.842117", "2024-02-08 15:27:44.919692", LinkEthernet, FormatPcap},
		{"gopacket_cip.pcap", 26068, "2015-01-13 13:01:35.133213", "2015-01-13 13:04:29.092641", LinkEthernet, FormatPcap},
		{"evilfingers_TCP_CONNECT_SCAN.pcap", 9924, "2009-01-03 19:20:35.577706", "2009-01-03 19:21:31.623725", LinkEthernet, FormatPcap},
		{"chrissanders_synscan.pcapng", 2011, "2010-07-04 20:24:16.274870", "2010-07-04 20:24:39.360213", LinkEthernet, FormatPcapNG},
		{"evilfingers_xscan_capture.pcap", 12014, "2009-01-16 15:41:42.195265", "2009-01-16 15:47:30.679866", LinkEthernet, FormatPcap},
		{"zeek_http_1000-requests-one-dropped-response.pcap.gz", 4102, "2023-08-25 10:03:42.217493", "2023-08-25 10:03:42.840777", LinkEthernet, FormatPcap},
		{"pcapplusplus_example.pcap", 4631, "2013-05-02 20:20:33.491822", "2013-05-02 20:20:49.137582", LinkEthernet, FormatPcap},
		{"zeek_http_bro.org.pcap", 751, "2014-01-14 17:04:01.819644", "2014-01-14 17:04:19.311698", LinkEthernet, FormatPcap},
		{"chrissanders_http_espn.pcapng", 956, "2010-04-07 17:29:29.782934", "2010-04-07 17:29:31.830416", LinkEthernet, FormatPcapNG},
		{"pcapplusplus_4KHttpRequests.pcap", 385, "2014-10-19 19:12:11.455999", "2014-10-19 19:22:08.657978", LinkEthernet, FormatPcap},
		{"retina_tls_ciphers.pcap", 1095, "2013-09-15 21:52:16.725950", "2013-09-15 21:52:17.696039", LinkEthernet, FormatPcap},
		{"ndpi_netflix.pcap", 1793, "2017-01-13 14:50:30.789585", "2017-01-13 14:52:00.726362", LinkEthernet, FormatPcap},
		{"ndpi_reddit.pcap", 1942, "2020-11-13 18:21:24.451133", "2020-11-13 18:21:38.602574", LinkEthernet, FormatPcap},
		{"suricata_tls-subjectaltname.pcap", 3138, "2022-03-17 08:38:48.746977", "2022-03-17 08:40:24.310013", LinkEthernet, FormatPcap},
		{"zeek_smtp.pcap", 125, "2009-10-05 06:06:07.492060", "2015-07-25 13:43:20.217854", LinkEthernet, FormatPcap},
		{"zeek_ssh.pcap", 1797, "2011-12-16 21:35:33.493287", "2015-01-12 05:45:28.379372", LinkEthernet, FormatPcap},
		{"slips_malicious-ssh-bruteforce.pcap", 1178, "2026-03-22 22:47:16.918162", "2026-03-22 22:47:29.740033", LinkEthernet, FormatPcap},
		{"zeek_ftp_ipv6.pcap", 136, "2012-02-15 17:42:57.822004", "2012-02-15 17:43:24.589723", LinkEthernet, FormatPcap},
		{"suricata_output-eve-ftp-data.pcap", 1350, "2013-06-17 21:58:19.036212", "2013-06-17 21:59:57.531737", LinkEthernet, FormatPcap},
		{"arkime_wireshark-retrans.pcap", 108, "2009-11-24 00:51:49.119790", "2009-11-24 00:52:19.991813", LinkEthernet, FormatPcap},
		{"zeek_tcp_handshake-reorder.pcap", 14, "2013-03-07 21:42:06.939084", "2013-03-07 21:42:07.080972", LinkEthernet, FormatPcap},
		{"suricata_syn_retransmit_with_ts.pcap", 254, "2018-10-27 01:40:30.000524", "2018-10-27 01:40:32.000140", LinkEthernet, FormatPcap},
		{"zeek_tcp_timestamp_snap96.pcap", 878, "2018-08-06 19:56:00.505285", "2018-08-06 19:56:01.054417", LinkEthernet, FormatPcap},
		{"tcpflow_simson_snap40.pcap", 303, "2011-09-17 14:28:23.732117", "2011-09-17 14:28:29.655058", LinkEthernet, FormatPcap},
		{"pcapplusplus_sll.pcap", 518, "2016-06-14 21:17:47.790511", "2016-06-14 21:18:38.808423", LinkLinuxSLL, FormatPcap},
		{"suricata_decode-sll2-02.pcap", 159, "2025-01-09 00:11:23.613927", "2025-01-09 00:11:23.634085", LinkLinuxSLL2, FormatPcap},
		{"pcapplusplus_raw_ip.pcap", 100, "2006-05-13 20:23:15.526632", "2017-03-07 00:54:37.767141", LinkRaw, FormatPcap},
		{"gopacket_test_loopback.pcap", 24, "2013-01-06 17:22:32.275121", "2013-01-06 17:22:32.508959", LinkNull, FormatPcap},
		{"zeek_http-qinq-0.pcap", 14, "2013-03-07 21:42:06.869344", "2013-03-07 21:42:07.080972", LinkEthernet, FormatPcap},
		{"zeek_vlan-collisions.pcap", 42, "2013-03-07 21:42:06.869344", "2013-03-07 21:42:07.180972", LinkEthernet, FormatPcap},
		{"pcapplusplus_nanosecs_big_endian.pcap", 10, "2025-12-22 00:05:26.167647291", "2025-12-22 00:05:26.168451894", LinkEthernet, FormatPcap},
		{"pcapplusplus_four_ipv6_http_streams.pcap", 81, "2006-05-13 20:23:15.526632", "2006-05-13 20:23:19.429522", LinkRaw, FormatPcap},
		{"trex_sfr2-0-ex.erf", 4250, "1970-01-01 00:00:00.010000000", "1970-01-01 00:00:10.474999999", LinkEthernet, FormatERF},
		{"trex_Oracle.pcap", 302, "1970-01-01 00:00:00.000000", "1970-01-01 00:00:03.818929", LinkEthernet, FormatPcap},
		{"zeek_irc-dcc-send.pcapng", 1184, "2025-07-28 20:48:29.964970", "2025-07-28 20:51:19.839923", LinkEthernet, FormatPcapNG},
		{"zeek_telnet-long-line-no-eol.pcapng.gz", 13987, "2026-06-11 20:29:00.995116", "2026-06-11 20:29:03.572583", LinkEthernet, FormatPcapNG},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			src, err := Open(filepath.Join(pcapDir, tc.file))
			require.NoError(t, err)
			defer func() { require.NoError(t, src.Close()) }()
			var p Packet
			n, minTs, maxTs, bytesSum := 0, int64(math.MaxInt64), int64(math.MinInt64), int64(0)
			for {
				err := src.Next(&p)
				if errors.Is(err, io.EOF) {
					break
				}
				require.NoError(t, err)
				n++
				minTs, maxTs = min(minTs, p.TsNs), max(maxTs, p.TsNs)
				bytesSum += int64(len(p.Data))
				require.Equal(t, tc.link, p.Link, "packet %d", n)
				require.LessOrEqual(t, len(p.Data), p.OrigLen, "packet %d", n)
			}
			require.Equal(t, tc.pkts, n)
			require.Equal(t, parseCapinfosTime(t, tc.first), minTs, "earliest timestamp")
			require.Equal(t, parseCapinfosTime(t, tc.last), maxTs, "latest timestamp")
			st := statsOf(t, src)
			require.Equal(t, tc.format, st.Format)
			require.Equal(t, int64(n), st.Packets)
			require.Equal(t, bytesSum, st.Bytes)
			require.Equal(t, strings.HasSuffix(tc.file, ".gz"), st.Compression == "gzip")
			require.Zero(t, st.TsClamped)
		})
	}
}

// TestPcapngExampleQuirks reads pcapplusplus_pcapng-example.pcapng: two
// interfaces (Ethernet "lo" with if_tsresol 9, Linux SLL "any" without),
// snaplen 128 on the second. Wireshark dates the SLL packets in the year
// 586524: their raw timestamps are near 2^64 microseconds. We clamp those.
func TestPcapngExampleQuirks(t *testing.T) {
	src, err := Open(filepath.Join(pcapDir, "pcapplusplus_pcapng-example.pcapng"))
	require.NoError(t, err)
	defer func() { require.NoError(t, src.Close()) }()
	pkts, err := readAll(t, src)
	require.ErrorIs(t, err, io.EOF)
	require.Len(t, pkts, 159)

	perIface := map[int]int{}
	for i, p := range pkts {
		perIface[p.Iface]++
		switch p.Iface {
		case 0:
			require.Equal(t, LinkEthernet, p.Link, "packet %d", i+1)
			require.Less(t, p.TsNs, int64(math.MaxInt64), "packet %d", i+1)
		case 1:
			require.Equal(t, LinkLinuxSLL, p.Link, "packet %d", i+1)
			require.Equal(t, int64(math.MaxInt64), p.TsNs, "packet %d", i+1)
			require.LessOrEqual(t, len(p.Data), 128, "packet %d", i+1)
		default:
			t.Fatalf("packet %d on interface %d", i+1, p.Iface)
		}
	}
	require.Positive(t, perIface[0])
	require.Positive(t, perIface[1])
	// First packet: ts 0x13bdd5ad_865023e9 ns.
	require.Equal(t, int64(0x13bdd5ad865023e9), pkts[0].TsNs)
	require.Equal(t, "2015-01-29T10:39:58.578402281Z", time.Unix(0, pkts[0].TsNs).UTC().Format(time.RFC3339Nano))
	// The last SLL packet was cut at the 128-byte snap length.
	last := pkts[len(pkts)-1]
	require.Equal(t, 128, len(last.Data))
	require.Equal(t, 1444, last.OrigLen)

	st := statsOf(t, src)
	require.Equal(t, int64(perIface[1]), st.TsClamped)
	require.Positive(t, st.Skipped, "the ISB is skipped")
}

// TestCompressed reads gzip- and zstd-wrapped pcap and pcapng built here and
// expects exactly the packets of the plain input, with the compression
// detected by magic (the name says nothing).
func TestCompressed(t *testing.T) {
	pkts := []testPkt{{sec: 1, frac: 2, data: payload(1, 60)}, {sec: 3, frac: 4, data: payload(2, 1500)}}
	le := binary.LittleEndian
	pcap := buildPcap(le, magicPcapUs, 65535, LinkEthernet, pkts)
	ng := bytes.Join([][]byte{
		ngSHB(le), ngIDB(le, LinkRaw, 0),
		ngEPB(le, 0, 1_000_002, payload(1, 60), 60), ngEPB(le, 0, 3_000_004, payload(2, 1500), 1500),
	}, nil)
	tests := []struct {
		name        string
		plain       []byte
		compression string
		compress    func(testing.TB, []byte) []byte
	}{
		{"pcap/gzip", pcap, "gzip", gzipBytes},
		{"pcap/zstd", pcap, "zstd", zstdBytes},
		{"pcapng/gzip", ng, "gzip", gzipBytes},
		{"pcapng/zstd", ng, "zstd", zstdBytes},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want, err := readAll(t, openBytes(t, tc.plain, Options{}))
			require.ErrorIs(t, err, io.EOF)
			require.Len(t, want, 2)
			src := openBytes(t, tc.compress(t, tc.plain), Options{})
			got, err := readAll(t, src)
			require.ErrorIs(t, err, io.EOF)
			require.Equal(t, want, got)
			require.Equal(t, tc.compression, statsOf(t, src).Compression)
		})
	}
}

// TestCompressedTruncated cuts a gzip stream short: the error is a
// FormatError wrapping io.ErrUnexpectedEOF at an offset in the decompressed
// stream, after the packets that were complete.
func TestCompressedTruncated(t *testing.T) {
	var pkts []testPkt
	for i := range 50 {
		pkts = append(pkts, testPkt{sec: uint32(i), data: payload(i, 1000)})
	}
	plain := buildPcap(binary.LittleEndian, magicPcapUs, 65535, LinkEthernet, pkts)
	// Flush after every 1000 bytes so that a cut stream still yields the
	// packets before the cut (one deflate block would yield nothing).
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	for chunk := range slices.Chunk(plain, 1000) {
		_, err := w.Write(chunk)
		require.NoError(t, err)
		require.NoError(t, w.Flush())
	}
	require.NoError(t, w.Close())
	z := buf.Bytes()
	got, err := readAll(t, openBytes(t, z[:len(z)/2], Options{}))
	fe := requireFormatError(t, err, int64(24+len(got)*1016), int64(len(got)+1))
	require.ErrorIs(t, fe, io.ErrUnexpectedEOF)
	require.NotEmpty(t, got)
}

// TestUnknownFormat feeds inputs that are no capture: the error is a
// *FormatError at offset 0 naming the first bytes.
func TestUnknownFormat(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		opts    Options
		wantMsg string
	}{
		{"empty", nil, Options{}, "empty input"},
		{"text", []byte("hello, world\n"), Options{}, "first bytes 68 65 6c 6c 6f 2c 20 77"},
		{"short", []byte{0xa1, 0xb2}, Options{}, "first bytes a1 b2"},
		{"zeros", make([]byte, 64), Options{}, "first bytes 00 00 00 00 00 00 00 00"},
		{"gif", []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00"), Options{}, "first bytes 47 49 46 38"},
		{"forced pcap", []byte("0123456789abcdefghijklmnopqrstuvwxyz"), Options{Format: FormatPcap}, "bad pcap magic 30 31 32 33"},
		{"forced pcapng", buildPcap(binary.LittleEndian, magicPcapUs, 0, LinkEthernet, nil), Options{Format: FormatPcapNG}, "bad pcapng magic d4 c3 b2 a1"},
		{"bad gzip", []byte{0x1f, 0x8b, 0x99, 0x00}, Options{}, "open gzip stream: decompress gzip at byte offset 4 of the file: unexpected EOF"},
		{"bad zstd", []byte{0x28, 0xb5, 0x2f, 0xfd, 0xff, 0xff, 0xff, 0xff}, Options{}, "decompress zstd at byte offset 5 of the file: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src, err := OpenReaderOptions("in", bytes.NewReader(tc.in), tc.opts)
			if err == nil {
				// zstd reports a bad frame header on the first read.
				_, err = readAll(t, src)
			}
			fe := requireFormatError(t, err, 0, 0)
			require.ErrorContains(t, fe, tc.wantMsg)
			require.Equal(t, "in", fe.File)
			prefix := "in: byte offset 0: "
			if fe.Compression != "" {
				prefix = "in: byte offset 0 of the decompressed stream: "
				var de *DecompressError
				require.ErrorAs(t, err, &de)
			}
			require.True(t, strings.HasPrefix(fe.Error(), prefix), fe.Error())
		})
	}
}

// TestOpenStdin reads "-" from standard input and leaves it open on Close.
func TestOpenStdin(t *testing.T) {
	in := buildPcap(binary.LittleEndian, magicPcapUs, 0, LinkEthernet, []testPkt{{data: payload(1, 10)}})
	f, err := os.CreateTemp(t.TempDir(), "stdin")
	require.NoError(t, err)
	_, err = f.Write(in)
	require.NoError(t, err)
	_, err = f.Seek(0, io.SeekStart)
	require.NoError(t, err)
	old := os.Stdin
	os.Stdin = f
	defer func() { os.Stdin = old; require.NoError(t, f.Close()) }()

	src, err := Open("-")
	require.NoError(t, err)
	require.Equal(t, "-", src.Name())
	got, err := readAll(t, src)
	require.ErrorIs(t, err, io.EOF)
	require.Len(t, got, 1)
	require.NoError(t, src.Close())
	_, err = f.Stat()
	require.NoError(t, err, "stdin must stay open")
}

func TestOpenMissingFile(t *testing.T) {
	_, err := Open(filepath.Join(t.TempDir(), "nope.pcap"))
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.ErrorContains(t, err, "open capture")
}

// TestCloseThenNext checks that Next after Close reports ErrClosed and that
// Close is idempotent.
func TestCloseThenNext(t *testing.T) {
	src, err := Open(filepath.Join(pcapDir, "zeek_http_1000-requests-one-dropped-response.pcap.gz"))
	require.NoError(t, err)
	require.Equal(t, filepath.Join(pcapDir, "zeek_http_1000-requests-one-dropped-response.pcap.gz"), src.Name())
	var p Packet
	require.NoError(t, src.Next(&p))
	require.NoError(t, src.Close())
	require.NoError(t, src.Close())
	require.ErrorIs(t, src.Next(&p), ErrClosed)
}

func TestStringers(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"ethernet", LinkEthernet.String(), "ETHERNET"},
		{"sll2", LinkLinuxSLL2.String(), "LINUX_SLL2"},
		{"erf", LinkERF.String(), "ERF"},
		{"unnamed link", LinkType(147).String(), "LINKTYPE(147)"},
		{"auto", FormatAuto.String(), "auto"},
		{"pcapng", FormatPcapNG.String(), "pcapng"},
		{"unnamed format", Format(9).String(), "format(9)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, tc.got)
		})
	}
}
