// Command oraclegen turns the output of established packet tools into the
// per-connection TSV files under testdata/oracle. It is driven by
// scripts/oracle.sh and uses only the standard library (none of abt's own
// code), so the oracle stays independent of the code it checks.
//
// Usage:
//
//	tcptrace -l -n -r FILE | oraclegen tcptrace > body.tsv
//	tshark -r FILE -n -Y 'tcp && !icmp && !icmpv6' -T fields \
//	    -E separator=/t -E occurrence=l $(oraclegen tshark-fields) \
//	    | oraclegen tshark > body.tsv
//	oraclegen compare A.tsv B.tsv
//
// Both converters print the column header line followed by one line per TCP
// connection, sorted by (a_addr, a_port, b_addr, b_port) with IPv4 before
// IPv6 and addresses compared numerically; connections with the same
// endpoints keep the tool's order (order of first packet). Addresses are
// canonical (dotted quad, compressed lowercase IPv6), ports decimal.
//
// Column meaning (A = sender of the connection's first packet in the file):
//
//	a2b_unique_bytes  distinct payload bytes A sent (sequence space covered
//	                  by payload; retransmissions and duplicates count once,
//	                  holes are not counted; SYN/FIN not counted)
//	a2b_pkts          all TCP packets A sent (incl. pure ACKs, duplicates)
//	a2b_rexmt_bytes   retransmitted sequence space A sent: payload bytes
//	                  sent more than once plus 1 for every repeated SYN or
//	                  FIN (tcptrace counts a retransmitted SYN/FIN as one
//	                  rexmt byte, so the tshark path does the same)
//	syn_seen          1 if a SYN was seen in either direction
//
// For tcptrace these are its "unique bytes sent", "total packets",
// "rexmt data bytes" and "SYN/FIN pkts sent" fields. For tshark they are
// computed here from per-packet fields: unique = size of the union of the
// payload intervals [seq, seq+len) per direction (seq unwrapped, +1 after a
// SYN); rexmt = (payload bytes + SYN/FIN flags sent) - (sequence units
// covered by payload, SYN and FIN).
package main

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// header is the column header line of every oracle TSV file.
const header = "a_addr\ta_port\tb_addr\tb_port\ta2b_unique_bytes\tb2a_unique_bytes\ta2b_pkts\tb2a_pkts\ta2b_rexmt_bytes\tb2a_rexmt_bytes\tsyn_seen"

// tsharkFields are the -e arguments oraclegen tshark expects, in order.
var tsharkFields = []string{
	"frame.number", "frame.protocols",
	"ip.src", "ip.dst", "ipv6.src", "ipv6.dst",
	"tcp.srcport", "tcp.dstport", "tcp.stream",
	"tcp.seq_raw", "tcp.len", "tcp.flags.syn", "tcp.flags.fin",
}

type conn struct {
	a, b           netip.AddrPort
	uniq, pkts, rx [2]uint64
	syn            bool
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "tcptrace":
		var cs []conn
		cs, err = parseTcptrace(os.Stdin)
		if err == nil {
			err = write(os.Stdout, cs)
		}
	case "tshark":
		var cs []conn
		cs, err = parseTshark(os.Stdin)
		if err == nil {
			err = write(os.Stdout, cs)
		}
	case "tshark-fields":
		for _, f := range tsharkFields {
			fmt.Printf("-e %s ", f)
		}
		fmt.Println()
	case "compare":
		if len(os.Args) != 4 {
			usage()
		}
		err = compare(os.Stdout, os.Args[2], os.Args[3])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "oraclegen:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: oraclegen tcptrace|tshark|tshark-fields|compare A.tsv B.tsv")
	os.Exit(2)
}

func write(w io.Writer, cs []conn) error {
	slices.SortStableFunc(cs, func(x, y conn) int {
		return cmp.Or(
			x.a.Addr().Compare(y.a.Addr()),
			cmp.Compare(x.a.Port(), y.a.Port()),
			x.b.Addr().Compare(y.b.Addr()),
			cmp.Compare(x.b.Port(), y.b.Port()),
		)
	})
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, header)
	for _, c := range cs {
		syn := 0
		if c.syn {
			syn = 1
		}
		fmt.Fprintf(bw, "%s\t%d\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n",
			c.a.Addr(), c.a.Port(), c.b.Addr(), c.b.Port(),
			c.uniq[0], c.uniq[1], c.pkts[0], c.pkts[1], c.rx[0], c.rx[1], syn)
	}
	return bw.Flush()
}

// --- tcptrace -l -n ---------------------------------------------------------

var (
	reConn = regexp.MustCompile(`^TCP connection (\d+):`)
	// tcptrace names the hosts a, b, c, d, ..., aa, ab, ...: the first host
	// line of a connection is its first packet's sender.
	reHost = regexp.MustCompile(`^\s*host ([a-z]+):\s+(\S+)\s*$`)
	// Two-column statistic line: "  label:  v1 [unit]   label:  v2 [unit]".
	reStat = regexp.MustCompile(`^\s*([A-Za-z/# ]+?):\s+(\S+)(?: \w+)?\s+([A-Za-z/# ]+?):\s+(\S+)`)
)

// parseTcptraceAddr parses tcptrace's "addr:port" host string. tcptrace 6.6.7
// prints IPv6 groups zero-padded and a leading or trailing "::" as a single
// ':' (::1 becomes ":0001"), so those are repaired before parsing.
func parseTcptraceAddr(s string) (netip.AddrPort, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return netip.AddrPort{}, fmt.Errorf("bad tcptrace host %q", s)
	}
	as, ps := s[:i], s[i+1:]
	if strings.Contains(as, ":") {
		if strings.HasPrefix(as, ":") && !strings.HasPrefix(as, "::") {
			as = ":" + as
		}
		if strings.HasSuffix(as, ":") && !strings.HasSuffix(as, "::") {
			as += ":"
		}
	}
	a, err := netip.ParseAddr(as)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("bad tcptrace host %q: %v", s, err)
	}
	p, err := strconv.ParseUint(ps, 10, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("bad tcptrace port %q: %v", s, err)
	}
	return netip.AddrPortFrom(a.Unmap(), uint16(p)), nil
}

func parseTcptrace(r io.Reader) ([]conn, error) {
	var cs []conn
	var cur *conn
	var seen map[string]bool
	flush := func() error {
		if cur == nil {
			return nil
		}
		for _, k := range []string{"a", "b", "total packets", "unique bytes sent", "rexmt data bytes", "SYN/FIN pkts sent"} {
			if !seen[k] {
				return fmt.Errorf("tcptrace connection %v-%v: no %q", cur.a, cur.b, k)
			}
		}
		cs = append(cs, *cur)
		cur = nil
		return nil
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if reConn.MatchString(line) {
			if err := flush(); err != nil {
				return nil, err
			}
			cur = &conn{}
			seen = map[string]bool{}
			continue
		}
		if cur == nil {
			continue
		}
		if m := reHost.FindStringSubmatch(line); m != nil {
			ap, err := parseTcptraceAddr(m[2])
			if err != nil {
				return nil, err
			}
			switch {
			case !seen["a"]:
				cur.a = ap
				seen["a"] = true
			case !seen["b"]:
				cur.b = ap
				seen["b"] = true
			default:
				return nil, fmt.Errorf("tcptrace connection %v-%v: third host line %q", cur.a, cur.b, line)
			}
			continue
		}
		m := reStat.FindStringSubmatch(line)
		if m == nil || m[1] != m[3] {
			continue
		}
		label := m[1]
		var dst *[2]uint64
		switch label {
		case "total packets":
			dst = &cur.pkts
		case "unique bytes sent":
			dst = &cur.uniq
		case "rexmt data bytes":
			dst = &cur.rx
		case "SYN/FIN pkts sent":
			for _, v := range []string{m[2], m[4]} {
				syn, _, ok := strings.Cut(v, "/")
				n, err := strconv.ParseUint(syn, 10, 64)
				if !ok || err != nil {
					return nil, fmt.Errorf("bad SYN/FIN value %q", v)
				}
				if n > 0 {
					cur.syn = true
				}
			}
			seen[label] = true
			continue
		default:
			continue
		}
		for i, v := range []string{m[2], m[4]} {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("bad %q value %q", label, v)
			}
			dst[i] = n
		}
		seen[label] = true
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return cs, nil
}

// --- tshark fields ----------------------------------------------------------

type interval struct{ lo, hi int64 }

type dir struct {
	started  bool
	base     uint32     // first raw sequence number seen
	last     int64      // last unwrapped sequence number
	payload  uint64     // payload bytes sent, duplicates included
	synfin   uint64     // SYN and FIN flags sent, duplicates included
	segments []interval // payload intervals
	flags    []interval // one-unit intervals occupied by SYN and FIN
}

// unwrap maps a raw 32-bit sequence number to a 64-bit offset from the first
// one seen, choosing the value closest to the previous one.
func (d *dir) unwrap(seq uint32) int64 {
	if !d.started {
		d.started, d.base, d.last = true, seq, 0
		return 0
	}
	cur := uint32(d.last) + d.base
	v := d.last + int64(int32(seq-cur))
	d.last = v
	return v
}

// union returns the number of sequence units covered by the intervals.
func union(ivs ...[]interval) uint64 {
	s := slices.Concat(ivs...)
	slices.SortFunc(s, func(x, y interval) int { return cmp.Compare(x.lo, y.lo) })
	var total uint64
	var lo, hi int64
	open := false
	for _, iv := range s {
		if open && iv.lo <= hi {
			hi = max(hi, iv.hi)
			continue
		}
		if open {
			total += uint64(hi - lo)
		}
		lo, hi, open = iv.lo, iv.hi, true
	}
	if open {
		total += uint64(hi - lo)
	}
	return total
}

type tsConn struct {
	conn
	d [2]dir
}

func parseTshark(r io.Reader) ([]conn, error) {
	byStream := map[uint64]*tsConn{}
	var order []uint64
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != len(tsharkFields) {
			return nil, fmt.Errorf("tshark line has %d fields, want %d: %q", len(f), len(tsharkFields), line)
		}
		get := func(name string) string { return f[slices.Index(tsharkFields, name)] }
		if get("tcp.seq_raw") == "" || get("tcp.stream") == "" || get("tcp.srcport") == "" {
			continue // truncated TCP header
		}
		srcS, dstS := get("ip.src"), get("ip.dst")
		protos := ":" + get("frame.protocols") + ":"
		if get("ipv6.src") != "" && (srcS == "" || strings.LastIndex(protos, ":ipv6:") > strings.LastIndex(protos, ":ip:")) {
			srcS, dstS = get("ipv6.src"), get("ipv6.dst")
		}
		src, err := netip.ParseAddr(srcS)
		if err != nil {
			return nil, fmt.Errorf("frame %s: %v", get("frame.number"), err)
		}
		dst, err := netip.ParseAddr(dstS)
		if err != nil {
			return nil, fmt.Errorf("frame %s: %v", get("frame.number"), err)
		}
		var nums [5]uint64
		for i, name := range []string{"tcp.srcport", "tcp.dstport", "tcp.stream", "tcp.seq_raw", "tcp.len"} {
			nums[i], err = strconv.ParseUint(get(name), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("frame %s: %s: %v", get("frame.number"), name, err)
			}
		}
		syn := get("tcp.flags.syn") == "1" || get("tcp.flags.syn") == "True"
		fin := get("tcp.flags.fin") == "1" || get("tcp.flags.fin") == "True"
		s := netip.AddrPortFrom(src.Unmap(), uint16(nums[0]))
		d := netip.AddrPortFrom(dst.Unmap(), uint16(nums[1]))
		c := byStream[nums[2]]
		if c == nil {
			c = &tsConn{conn: conn{a: s, b: d}}
			byStream[nums[2]] = c
			order = append(order, nums[2])
		}
		var i int
		switch {
		case s == c.a && d == c.b:
			i = 0
		case s == c.b && d == c.a:
			i = 1
		default:
			return nil, fmt.Errorf("frame %s: %v->%v not in stream %d (%v-%v)", get("frame.number"), s, d, nums[2], c.a, c.b)
		}
		c.pkts[i]++
		if syn {
			c.syn = true
		}
		dd := &c.d[i]
		off := dd.unwrap(uint32(nums[3]))
		if syn {
			dd.synfin++
			dd.flags = append(dd.flags, interval{off, off + 1})
			off++
		}
		n := int64(nums[4])
		if n > 0 {
			dd.payload += uint64(n)
			dd.segments = append(dd.segments, interval{off, off + n})
		}
		if fin {
			dd.synfin++
			dd.flags = append(dd.flags, interval{off + n, off + n + 1})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	cs := make([]conn, 0, len(order))
	for _, id := range order {
		c := byStream[id]
		for i := range 2 {
			d := &c.d[i]
			c.uniq[i] = union(d.segments)
			c.rx[i] = d.payload + d.synfin - union(d.segments, d.flags)
		}
		cs = append(cs, c.conn)
	}
	return cs, nil
}

// --- compare ----------------------------------------------------------------

func readTSV(path string) ([]conn, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var cs []conn
	for ln, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") || line == header {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 11 {
			return nil, fmt.Errorf("%s:%d: %d fields", path, ln+1, len(f))
		}
		var c conn
		var n [9]uint64
		for i, j := range []int{1, 3, 4, 5, 6, 7, 8, 9, 10} {
			if n[i], err = strconv.ParseUint(f[j], 10, 64); err != nil {
				return nil, fmt.Errorf("%s:%d: %v", path, ln+1, err)
			}
		}
		a, err1 := netip.ParseAddr(f[0])
		b, err2 := netip.ParseAddr(f[2])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%s:%d: bad address", path, ln+1)
		}
		c.a, c.b = netip.AddrPortFrom(a, uint16(n[0])), netip.AddrPortFrom(b, uint16(n[1]))
		c.uniq = [2]uint64{n[2], n[3]}
		c.pkts = [2]uint64{n[4], n[5]}
		c.rx = [2]uint64{n[6], n[7]}
		c.syn = n[8] == 1
		cs = append(cs, c)
	}
	return cs, nil
}

type pairKey [2]netip.AddrPort

func keyOf(c conn) (pairKey, bool) {
	if c.a.Addr().Compare(c.b.Addr()) < 0 || (c.a.Addr() == c.b.Addr() && c.a.Port() <= c.b.Port()) {
		return pairKey{c.a, c.b}, false
	}
	return pairKey{c.b, c.a}, true
}

// aggregate sums connections per unordered endpoint pair, in key orientation.
func aggregate(cs []conn) (map[pairKey]conn, map[pairKey]int) {
	m := map[pairKey]conn{}
	n := map[pairKey]int{}
	for _, c := range cs {
		k, swap := keyOf(c)
		if swap {
			c.a, c.b = c.b, c.a
			c.uniq[0], c.uniq[1] = c.uniq[1], c.uniq[0]
			c.pkts[0], c.pkts[1] = c.pkts[1], c.pkts[0]
			c.rx[0], c.rx[1] = c.rx[1], c.rx[0]
		}
		s := m[k]
		s.a, s.b = c.a, c.b
		for i := range 2 {
			s.uniq[i] += c.uniq[i]
			s.pkts[i] += c.pkts[i]
			s.rx[i] += c.rx[i]
		}
		s.syn = s.syn || c.syn
		m[k] = s
		n[k]++
	}
	return m, n
}

// compare reports how two oracle files for the same capture differ, after
// summing connections that share an endpoint pair (the tools split reused
// 5-tuples differently).
func compare(w io.Writer, pa, pb string) error {
	ca, err := readTSV(pa)
	if err != nil {
		return err
	}
	cb, err := readTSV(pb)
	if err != nil {
		return err
	}
	ma, na := aggregate(ca)
	mb, nb := aggregate(cb)
	fmt.Fprintf(w, "connections: %d vs %d; endpoint pairs: %d vs %d\n", len(ca), len(cb), len(ma), len(mb))
	var keys []pairKey
	for k := range ma {
		keys = append(keys, k)
	}
	for k := range mb {
		if _, ok := ma[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(x, y pairKey) int {
		return cmp.Or(x[0].Compare(y[0]), x[1].Compare(y[1]))
	})
	var onlyA, onlyB, split, diffU, diffP, diffR, diffS int
	var lines []string
	for _, k := range keys {
		x, okA := ma[k]
		y, okB := mb[k]
		switch {
		case !okB:
			onlyA++
			lines = append(lines, fmt.Sprintf("only in first: %v %v", k[0], k[1]))
			continue
		case !okA:
			onlyB++
			lines = append(lines, fmt.Sprintf("only in second: %v %v", k[0], k[1]))
			continue
		}
		if na[k] != nb[k] {
			split++
			lines = append(lines, fmt.Sprintf("split differently: %v %v: %d vs %d connections", k[0], k[1], na[k], nb[k]))
		}
		if x.uniq != y.uniq {
			diffU++
			lines = append(lines, fmt.Sprintf("unique bytes differ: %v %v: %v vs %v", k[0], k[1], x.uniq, y.uniq))
		}
		if x.pkts != y.pkts {
			diffP++
			lines = append(lines, fmt.Sprintf("packets differ: %v %v: %v vs %v", k[0], k[1], x.pkts, y.pkts))
		}
		if x.rx != y.rx {
			diffR++
			lines = append(lines, fmt.Sprintf("rexmt bytes differ: %v %v: %v vs %v", k[0], k[1], x.rx, y.rx))
		}
		if x.syn != y.syn {
			diffS++
			lines = append(lines, fmt.Sprintf("syn_seen differs: %v %v: %v vs %v", k[0], k[1], x.syn, y.syn))
		}
	}
	fmt.Fprintf(w, "pairs only in first: %d; only in second: %d; split differently: %d; unique bytes differ: %d; packets differ: %d; rexmt bytes differ: %d; syn_seen differs: %d\n",
		onlyA, onlyB, split, diffU, diffP, diffR, diffS)
	const maxLines = 20
	for i, l := range lines {
		if i == maxLines {
			fmt.Fprintf(w, "... %d more\n", len(lines)-maxLines)
			break
		}
		fmt.Fprintln(w, l)
	}
	return nil
}
