package live

import (
	"bufio"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/bpf"

	"github.com/abt-dev/abt/internal/capture"
)

// The tests' resolver: no name server, a few names.
func init() {
	lookupHost = func(name string) ([]netip.Addr, error) {
		switch name {
		case "localhost":
			return []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")}, nil
		case "v4only.test":
			return []netip.Addr{netip.MustParseAddr("10.0.2.15")}, nil
		case "two.test":
			return []netip.Addr{netip.MustParseAddr("::ffff:10.0.2.15"), netip.MustParseAddr("2001:470:4867:99::21")}, nil
		}
		return nil, errors.New("no such host in the tests")
	}
}

// TestFilterHostName: a host name is any of its addresses: it keeps the
// frames the filter written with them keeps, on the bundled captures that
// have those addresses.
func TestFilterHostName(t *testing.T) {
	for name, same := range map[string]string{
		"host two.test":         "host 10.0.2.15 or host 2001:470:4867:99::21",
		"src host two.test":     "src host 10.0.2.15 or src host 2001:470:4867:99::21",
		"ip host two.test":      "ip host 10.0.2.15",
		"ip6 dst host two.test": "ip6 dst host 2001:470:4867:99::21",
		"host localhost or tcp": "host 127.0.0.1 or host ::1 or tcp",
		"not host v4only.test":  "not host 10.0.2.15",
	} {
		for _, c := range []string{"zeek_http_bro.org.pcap", "zeek_ftp_ipv6.pcap"} {
			fs := captureFrames(t, c)
			a, b := Matching(t, name, fs), Matching(t, same, fs)
			require.Equal(t, b, a, "%q and %q on %s", name, same, c)
		}
	}
	require.NotZero(t, Matching(t, "host two.test", captureFrames(t, "zeek_http_bro.org.pcap")))
	require.NotZero(t, Matching(t, "host two.test", captureFrames(t, "zeek_ftp_ipv6.pcap")))
}

// captureFrames is a bundled capture's frames.
func captureFrames(t *testing.T, name string) [][]byte {
	t.Helper()
	src, err := capture.Open(filepath.Join("..", "..", "..", "testdata", "pcaps", name))
	require.NoError(t, err)
	defer src.Close()
	var out [][]byte
	var p capture.Packet
	for {
		err := src.Next(&p)
		if errors.Is(err, io.EOF) {
			return out
		}
		require.NoError(t, err)
		out = append(out, append([]byte(nil), p.Data...))
	}
}

// TestFilterAgainstTcpdump runs each filter compiled here, in x/net/bpf's
// virtual machine, over each Ethernet or raw-IP bundled capture: it keeps
// as many packets as tcpdump (libpcap's compiler) does
// (testdata/filters.golden, written by scripts/filtergolden.sh).
func TestFilterAgainstTcpdump(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "filters.golden"))
	require.NoError(t, err)
	defer f.Close()
	frames := map[string][][]byte{}
	links := map[string]capture.LinkType{}
	read := func(name string) {
		if _, ok := frames[name]; ok {
			return
		}
		src, err := capture.Open(filepath.Join("..", "..", "..", "testdata", "pcaps", name))
		require.NoError(t, err)
		defer src.Close()
		var p capture.Packet
		for {
			err := src.Next(&p)
			if errors.Is(err, io.EOF) {
				return
			}
			require.NoError(t, err, name)
			frames[name] = append(frames[name], append([]byte(nil), p.Data...))
			links[name] = p.Link
		}
	}
	checked, kept := 0, 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Split(line, "\t")
		require.Len(t, fields, 3, line)
		expr, name, want := fields[0], fields[1], fields[2]
		if want == "-" {
			continue // libpcap refuses it for this link type
		}
		n, err := strconv.Atoi(want)
		require.NoError(t, err)
		read(name)
		prog, err := compileFilter(expr, links[name], 65535)
		require.NoError(t, err, expr)
		vm, err := bpf.NewVM(prog)
		require.NoError(t, err, expr)
		got := 0
		for _, fr := range frames[name] {
			v, err := vm.Run(fr)
			require.NoError(t, err)
			if v > 0 {
				got++
			}
		}
		require.Equal(t, n, got, "%q on %s", expr, name)
		checked++
		kept += got
	}
	require.NoError(t, sc.Err())
	require.Greater(t, checked, 300)
	t.Logf("%d expression and capture pairs, %d packets kept, as tcpdump keeps them", checked, kept)
}

// TestFilterErrors: a bad expression is one line naming the position
// where it stops making sense.
func TestFilterErrors(t *testing.T) {
	for expr, want := range map[string]string{
		"tcp port":                 `filter: expected a value after "port" at position 9`,
		"tcp and and":              `filter: expected host, net, port or portrange at position 9`,
		"port x":                   `filter: expected a port number, not "x" at position 6`,
		"portrange 1024-1":         `filter: expected a port range such as 1-1023, not "1024-1" at position 11`,
		"host example.com":         `filter: host name "example.com" does not resolve (no such host in the tests) at position 6`,
		"host 10.0.0.1.2":          `filter: expected an IPv4 or IPv6 address, not "10.0.0.1.2" at position 6`,
		"ip6 host v4only.test":     `filter: host name "v4only.test" has no ip6 address at position 10`,
		"tcp host localhost":       `filter: tcp host is not in the subset (say ip host … and tcp) at position 10`,
		"(tcp or udp":              `filter: expected ")" at position 12`,
		"tcp )":                    `filter: unexpected ")" at position 5`,
		"tcp[13] & 2":              `filter: expected a comparison (>, <, >=, <=, =, !=) at position 12`,
		"tcp[13:3] = 1":            `filter: expected a size of 1, 2 or 4 bytes at position 8`,
		"len / 0 > 1":              `filter: division by zero at position 7`,
		"tcp[13 = 1":               `filter: expected "]" at position 8`,
		"greater x":                `filter: expected a length after "greater" at position 9`,
		"tcp[13] & 2 != ":          `filter: expected a number, len or a byte offset at position 16`,
		"icmp port 7":              `filter: icmp has no ports at position 11`,
		"":                         `filter: an empty expression at position 1`,
		"ip6 host 10.0.0.1":        `filter: ip6 and an address of the other IP version at position 10`,
		"vlan 100":                 `filter: expected host, net, port or portrange at position 1`,
		"net 10.0.0.0/33":          `filter: expected a network such as 10.0.0.0/8, not "10.0.0.0/33" at position 5`,
		"tcp host 10.0.0.1":        `filter: tcp host is not in the subset (say ip host … and tcp) at position 10`,
		"not":                      `filter: expected a primitive at position 4`,
		"port 80 or":               `filter: expected a primitive at position 11`,
		"src host 1.2.3.4 src":     `filter: unexpected "src" at position 18`,
		"port 70000":               `filter: expected a port number, not "70000" at position 6`,
		"udp port 53 && tcp || !(": `filter: expected a primitive at position 25`,
	} {
		require.EqualError(t, ParseFilter(expr), want, "%q", expr)
	}
}

// FuzzFilter: any expression either fails to parse with an error naming a
// position, or compiles, for both link types, to a program the kernel's
// rules accept (x/net/bpf's machine checks them) and that runs on any
// frame.
func FuzzFilter(f *testing.F) {
	for _, s := range []string{"tcp port 80", "host 10.0.2.15 or net 2001:db8::/32", "not (udp or arp) && src portrange 1-1023",
		"ip6 dst net 2001:618:1::/48", "(((tcp)))", "!!ip", "tcp[tcpflags] & (tcp-syn|tcp-fin) != 0",
		"(tcp[12] >> 4) * 4 > ip[2:2] - 20", "ether[len - 4:4] = 0 or greater 100", "tcp[ip[0] % 7:2] != -1"} {
		f.Add(s, []byte{0x45, 0, 0, 40})
	}
	f.Fuzz(func(t *testing.T, expr string, frame []byte) {
		if len(expr) > 256 {
			return
		}
		if err := ParseFilter(expr); err != nil {
			if !strings.HasPrefix(err.Error(), "filter: ") || !strings.Contains(err.Error(), " at position ") {
				t.Fatalf("%q: error without a position: %v", expr, err)
			}
			return
		}
		for _, link := range []capture.LinkType{capture.LinkEthernet, capture.LinkRaw} {
			prog, err := compileFilter(expr, link, 192)
			if err != nil {
				if strings.Contains(err.Error(), "too long") {
					continue
				}
				t.Fatalf("%q parses but does not compile: %v", expr, err)
			}
			vm, err := bpf.NewVM(prog)
			if err != nil {
				t.Fatalf("%q: a program the machine refuses: %v", expr, err)
			}
			if v, err := vm.Run(frame); err != nil || (v != 0 && v != 192) {
				t.Fatalf("%q: ran to %d, %v", expr, v, err)
			}
		}
	})
}
