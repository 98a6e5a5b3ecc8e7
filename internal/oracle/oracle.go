// Package oracle loads the golden per-TCP-connection byte totals stored in
// testdata/oracle/*.tsv. The files are produced by scripts/oracle.sh from
// established tools (tcptrace, or tshark fields where tcptrace cannot read a
// capture), never from abt itself, so tests can compare abt's per-connection
// totals against an independent reference.
//
// File format: lines starting with '#' are comments (the first one names the
// tool that produced the file); the first other line is the column header
//
//	a_addr a_port b_addr b_port a2b_unique_bytes b2a_unique_bytes a2b_pkts b2a_pkts a2b_rexmt_bytes b2a_rexmt_bytes syn_seen
//
// and every following line is one TCP connection, tab separated. Side A is
// the sender of the connection's first packet in the capture. Addresses are
// canonical (dotted quad, compressed lowercase IPv6), ports and counts
// decimal, syn_seen is 0 or 1. Several lines may share the same endpoint
// pair when the tool split a reused 4-tuple into several connections.
package oracle

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// header is the column header line every oracle TSV file must contain.
const header = "a_addr\ta_port\tb_addr\tb_port\ta2b_unique_bytes\tb2a_unique_bytes\ta2b_pkts\tb2a_pkts\ta2b_rexmt_bytes\tb2a_rexmt_bytes\tsyn_seen"

// numFields is the number of tab-separated columns in every data line.
const numFields = 11

// Conn is one TCP connection as reported by the reference tool.
type Conn struct {
	// A is the endpoint that sent the connection's first packet in the
	// capture (tcptrace's "host a"); B is its peer.
	A, B netip.AddrPort
	// AtoBBytes and BtoABytes are the distinct payload bytes sent in each
	// direction: retransmitted and duplicated bytes count once, bytes never
	// seen (holes) and SYN/FIN sequence numbers do not count.
	AtoBBytes, BtoABytes uint64
	// AtoBPkts and BtoAPkts are all TCP packets sent in each direction,
	// including pure ACKs, retransmissions and duplicates.
	AtoBPkts, BtoAPkts uint64
	// AtoBRexmt and BtoARexmt are the retransmitted bytes in each direction:
	// payload bytes sent more than once plus one per repeated SYN or FIN
	// (tcptrace's "rexmt data bytes").
	AtoBRexmt, BtoARexmt uint64
	// SYN reports whether a SYN was seen in either direction.
	SYN bool
}

// Load reads the oracle TSV file at path and returns its connections in file
// order. Comment lines (starting with '#') and empty lines are skipped; the
// column header is required and every data line must have exactly the eleven
// columns with canonical addresses.
func Load(path string) ([]Conn, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var conns []Conn
	sawHeader := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !sawHeader {
			if line != header {
				return nil, fmt.Errorf("%s:%d: want column header %q, got %q", path, n, header, line)
			}
			sawHeader = true
			continue
		}
		c, err := parseLine(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		conns = append(conns, c)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if !sawHeader {
		return nil, fmt.Errorf("%s: no column header", path)
	}
	return conns, nil
}

func parseLine(line string) (Conn, error) {
	f := strings.Split(line, "\t")
	if len(f) != numFields {
		return Conn{}, fmt.Errorf("%d fields, want %d", len(f), numFields)
	}
	a, err := parseAddrPort(f[0], f[1])
	if err != nil {
		return Conn{}, err
	}
	b, err := parseAddrPort(f[2], f[3])
	if err != nil {
		return Conn{}, err
	}
	var n [6]uint64
	for i := range n {
		n[i], err = strconv.ParseUint(f[4+i], 10, 64)
		if err != nil {
			return Conn{}, fmt.Errorf("column %d: %w", 5+i, err)
		}
	}
	var syn bool
	switch f[10] {
	case "0":
	case "1":
		syn = true
	default:
		return Conn{}, fmt.Errorf("syn_seen %q: want 0 or 1", f[10])
	}
	return Conn{
		A: a, B: b,
		AtoBBytes: n[0], BtoABytes: n[1],
		AtoBPkts: n[2], BtoAPkts: n[3],
		AtoBRexmt: n[4], BtoARexmt: n[5],
		SYN: syn,
	}, nil
}

func parseAddrPort(addr, port string) (netip.AddrPort, error) {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return netip.AddrPort{}, err
	}
	if ip.Zone() != "" || ip.String() != addr {
		return netip.AddrPort{}, fmt.Errorf("address %q is not canonical (want %q)", addr, ip.WithZone("").String())
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("port %q: %w", port, err)
	}
	return netip.AddrPortFrom(ip, uint16(p)), nil
}

// Key returns the endpoint pair x, y in canonical order (the smaller
// netip.AddrPort first: IPv4 before IPv6, then by address, then by port), so
// Key(x, y) == Key(y, x). Tests use it to match a connection regardless of
// which side the oracle or abt calls A.
func Key(x, y netip.AddrPort) [2]netip.AddrPort {
	if y.Compare(x) < 0 {
		x, y = y, x
	}
	return [2]netip.AddrPort{x, y}
}
