package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const pcapDir = "../../testdata/pcaps"

// runCmd runs the program with args and returns exit status, stdout, stderr.
func runCmd(t *testing.T, stdin []byte, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, bytes.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// goldenCaptures are the small bundled captures whose records are frozen
// under testdata/golden. Their byte totals are checked against tcptrace
// and tshark by internal/ingest's oracle test; the golden files freeze the
// boundaries and times, and were reviewed by hand when first written.
var goldenCaptures = []string{
	"arkime_wireshark-retrans.pcap",
	"gopacket_test_loopback.pcap",
	"pcapplusplus_four_ipv6_http_streams.pcap",
	"pcapplusplus_nanosecs_big_endian.pcap",
	"pcapplusplus_pcapng-example.pcapng",
	"pcapplusplus_raw_ip.pcap",
	"pcapplusplus_sll.pcap",
	"suricata_decode-sll2-02.pcap",
	"suricata_syn_retransmit_with_ts.pcap",
	"trex_Oracle.pcap",
	"trex_sfr2-0-ex.erf",
	"zeek_ftp_ipv6.pcap",
	"zeek_http-qinq-0.pcap",
	"zeek_smtp.pcap",
	"zeek_tcp_handshake-reorder.pcap",
	"zeek_tcp_timestamp_snap96.pcap",
	"zeek_vlan-collisions.pcap",
}

func TestGolden(t *testing.T) {
	for _, name := range goldenCaptures {
		for _, format := range []string{"adudump", "jsonl"} {
			t.Run(name+"/"+format, func(t *testing.T) {
				path := filepath.Join(pcapDir, name)
				code, out, stderr := runCmd(t, nil, "-q", "--format", format, path)
				require.Equal(t, 0, code, stderr)
				require.Empty(t, stderr)
				ext := map[string]string{"adudump": ".adu", "jsonl": ".jsonl"}[format]
				golden := filepath.Join("testdata", "golden", name+ext)
				if *update {
					require.NoError(t, os.WriteFile(golden, []byte(out), 0o644))
				}
				want, err := os.ReadFile(golden)
				require.NoError(t, err)
				require.Equal(t, string(want), out)
				// Same input, same options: byte-identical output.
				_, again, _ := runCmd(t, nil, "-q", "--format", format, path)
				require.Equal(t, out, again)
			})
		}
	}
}

// TestEveryCapture runs every bundled capture through the program: none
// fails, panics or hangs, and the summary accounts for its packets.
func TestEveryCapture(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(pcapDir, "*"))
	require.NoError(t, err)
	require.Len(t, files, 40)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			code, _, stderr := runCmd(t, nil, "--format", "adudump", f)
			require.Equal(t, 0, code, stderr)
			require.Contains(t, stderr, "adu2parquet: 1 input(s), ")
		})
	}
}

func TestUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		err  string
	}{
		{"no input", []string{"--format", "adudump"}, 2, "requires at least 1 arg"},
		{"archive flag with text output", []string{"--format", "adudump", "--out", "x", "y"}, 2, "--out applies to --format parquet only"},
		{"unknown flag", []string{"--bogus", "x"}, 2, "unknown flag"},
		{"bad format", []string{"--format", "xml", "x"}, 2, "--format \"xml\""},
		{"bad local net", []string{"--local-net", "10.0.0.0/99", "x"}, 2, "--local-net"},
		{"inbound without local net", []string{"--inbound-only", "x"}, 2, "inbound-only needs"},
		{"bad quiet time", []string{"--quiet-time", "0s", "x"}, 2, `--quiet-time "0s": must be a positive duration`},
		{"missing file", []string{"--format", "adudump", "/nonexistent.pcap"}, 1, "open input"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := runCmd(t, nil, tc.args...)
			require.Equal(t, tc.code, code, stderr)
			require.Contains(t, stderr, tc.err)
			require.Empty(t, out)
			if tc.code == 2 {
				require.Equal(t, 1, strings.Count(stderr, "adu2parquet: "), "one error line")
			}
		})
	}
}

func TestHelp(t *testing.T) {
	code, out, _ := runCmd(t, nil, "--help")
	require.Equal(t, 0, code)
	require.Contains(t, out, "Examples:")
	require.Contains(t, out, "--quiet-time")
}

// lastPacketEnd returns the byte offset just past the last whole packet of
// a classic pcap, and the offset of the record header before it.
func pcapBoundaries(t *testing.T, b []byte) []int {
	t.Helper()
	require.Equal(t, []byte{0xd4, 0xc3, 0xb2, 0xa1}, b[:4], "little-endian µs pcap")
	var ends []int
	for off := 24; off+16 <= len(b); {
		n := int(binary.LittleEndian.Uint32(b[off+8:]))
		off += 16 + n
		if off <= len(b) {
			ends = append(ends, off)
		}
	}
	return ends
}

// TestTruncatedInput cuts a capture in the middle of a packet: the error
// names the file and the byte offset of the cut record, the exit status is
// 1, and the records inferred before the fault are written exactly as for
// the same capture cut cleanly before that packet.
func TestTruncatedInput(t *testing.T) {
	full, err := os.ReadFile(filepath.Join(pcapDir, "trex_Oracle.pcap"))
	require.NoError(t, err)
	ends := pcapBoundaries(t, full)
	cut := ends[150] // the 151st packet ends here
	dir := t.TempDir()
	clean := filepath.Join(dir, "clean.pcap")
	torn := filepath.Join(dir, "torn.pcap")
	require.NoError(t, os.WriteFile(clean, full[:cut], 0o644))
	require.NoError(t, os.WriteFile(torn, full[:cut+30], 0o644))

	code, want, stderr := runCmd(t, nil, "-q", "--format", "adudump", clean)
	require.Equal(t, 0, code, stderr)
	code, got, stderr := runCmd(t, nil, "-q", "--format", "adudump", torn)
	require.Equal(t, 1, code)
	require.Contains(t, stderr, torn+": byte offset "+itoa(cut)+" (packet 152)")
	require.Equal(t, want, got)
	require.Contains(t, got, "ADU: ")
}

func TestBadMagic(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "notes.txt")
	require.NoError(t, os.WriteFile(bad, []byte("this is not a capture, just some text\n"), 0o644))
	code, out, stderr := runCmd(t, nil, "--format", "adudump", bad)
	require.Equal(t, 1, code)
	require.Empty(t, out)
	require.Contains(t, stderr, bad+": byte offset 0")
}

// TestStdinAndSeveralInputs reads a capture from standard input, and checks
// that two consecutive halves of a capture give the records of the whole.
func TestStdinAndSeveralInputs(t *testing.T) {
	full, err := os.ReadFile(filepath.Join(pcapDir, "trex_Oracle.pcap"))
	require.NoError(t, err)
	code, want, stderr := runCmd(t, nil, "-q", "--format", "adudump", filepath.Join(pcapDir, "trex_Oracle.pcap"))
	require.Equal(t, 0, code, stderr)

	code, got, stderr := runCmd(t, full, "-q", "--format", "adudump", "-")
	require.Equal(t, 0, code, stderr)
	require.Equal(t, want, got)

	ends := pcapBoundaries(t, full)
	mid := ends[100]
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.pcap"), filepath.Join(dir, "b.pcap")
	require.NoError(t, os.WriteFile(a, full[:mid], 0o644))
	require.NoError(t, os.WriteFile(b, append(append([]byte{}, full[:24]...), full[mid:]...), 0o644))
	code, got, stderr = runCmd(t, nil, "-q", "--format", "adudump", a, b)
	require.Equal(t, 0, code, stderr)
	require.Equal(t, want, got)
}

func itoa(n int) string { return strconv.Itoa(n) }
