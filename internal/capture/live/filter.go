package live

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"golang.org/x/net/bpf"

	"github.com/abt-dev/abt/internal/capture"
)

// Filters: a subset of tcpdump's expression language (pcap-filter(7)),
// compiled here to classic BPF for the kernel, with the same meaning as
// libpcap gives it on untagged Ethernet and raw IP frames:
//
//	expr      = and { ("or" | "||") and }
//	and       = unary { ("and" | "&&") unary }
//	unary     = ("not" | "!") unary | "(" expr ")" | primitive
//	primitive = proto
//	          | [proto] [dir] "host" ADDR | [proto] [dir] "net" CIDR | [dir] ADDR
//	          | [proto] [dir] "port" N | [proto] [dir] "portrange" N-M
//	proto     = "ip" | "ip6" | "arp" | "tcp" | "udp" | "sctp" | "icmp"
//	dir       = "src" | "dst"
//
// An error names the position (in bytes, from 1) where the expression
// stops making sense. Host names, VLAN, MPLS and byte-offset expressions
// (tcp[13]) are not in the subset.

// token is one word of a filter, with its position.
type token struct {
	text string
	pos  int // byte offset, from 0
}

func lex(expr string) ([]token, error) {
	var out []token
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			i++
		case c == '(' || c == ')':
			out = append(out, token{string(c), i})
			i++
		case c == '!':
			out = append(out, token{"!", i})
			i++
		case strings.HasPrefix(expr[i:], "&&") || strings.HasPrefix(expr[i:], "||"):
			out = append(out, token{expr[i : i+2], i})
			i += 2
		case isWordByte(c):
			j := i
			for j < len(expr) && isWordByte(expr[j]) {
				j++
			}
			out = append(out, token{expr[i:j], i})
			i = j
		default:
			return nil, fmt.Errorf("filter: unexpected %q at position %d", string(c), i+1)
		}
	}
	return out, nil
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(".:/-_", c) >= 0
}

// node is a parsed filter.
type node interface{}

// binNode is l and r, or (or) l or r.
type binNode struct {
	or   bool
	l, r node
}
type notNode struct{ x node }

// prim is one primitive: proto ("" for any), dir ("" for either), kind
// ("proto", "host", "net", "port", "portrange") and its value.
type prim struct {
	proto, dir, kind string
	prefix           netip.Prefix // host (a /32 or /128) and net
	lo, hi           uint16       // port and portrange
}

type parser struct {
	toks []token
	i    int
	end  int // the expression's length, for errors at its end
}

func (p *parser) peek() string {
	if p.i < len(p.toks) {
		return p.toks[p.i].text
	}
	return ""
}

func (p *parser) errorf(format string, args ...any) error {
	pos := p.end + 1
	if p.i < len(p.toks) {
		pos = p.toks[p.i].pos + 1
	}
	return fmt.Errorf("filter: "+format+" at position %d", append(args, pos)...)
}

// ParseFilter checks a filter's syntax (see the package's filters).
func ParseFilter(expr string) error {
	_, err := parseFilter(expr)
	return err
}

func parseFilter(expr string) (node, error) {
	toks, err := lex(expr)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks, end: len(expr)}
	if len(toks) == 0 {
		return nil, p.errorf("an empty expression")
	}
	n, err := p.expr()
	if err != nil {
		return nil, err
	}
	if p.i < len(p.toks) {
		return nil, p.errorf("unexpected %q", p.peek())
	}
	return n, nil
}

func (p *parser) expr() (node, error) { return p.binary(true, "or", "||", p.and) }

func (p *parser) and() (node, error) { return p.binary(false, "and", "&&", p.unary) }

// binary parses operand { op operand }, op spelt word or sym, joined left
// to right.
func (p *parser) binary(or bool, word, sym string, operand func() (node, error)) (node, error) {
	l, err := operand()
	for err == nil && (p.peek() == word || p.peek() == sym) {
		p.i++
		var r node
		if r, err = operand(); err == nil {
			l = binNode{or, l, r}
		}
	}
	return l, err
}

func (p *parser) unary() (node, error) {
	switch p.peek() {
	case "not", "!":
		p.i++
		x, err := p.unary()
		return notNode{x}, err
	case "(":
		p.i++
		x, err := p.expr()
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, p.errorf("expected \")\"")
		}
		p.i++
		return x, nil
	case "":
		return nil, p.errorf("expected a primitive")
	}
	return p.primitive()
}

var protos = map[string]bool{"ip": true, "ip6": true, "arp": true, "tcp": true, "udp": true, "sctp": true, "icmp": true}

func (p *parser) primitive() (node, error) {
	var pr prim
	if protos[p.peek()] {
		pr.proto = p.peek()
		p.i++
	}
	if d := p.peek(); d == "src" || d == "dst" {
		pr.dir = d
		p.i++
	}
	kind := p.peek()
	switch kind {
	case "host", "net", "port", "portrange":
		p.i++
	default:
		if pr.proto != "" && pr.dir == "" {
			pr.kind = "proto"
			return pr, nil
		}
		if _, err := netip.ParseAddr(kind); err == nil && pr.dir != "" {
			kind = "host" // "src 10.0.0.1"
			break
		}
		return nil, p.errorf("expected host, net, port or portrange")
	}
	pr.kind = kind
	if p.i >= len(p.toks) {
		return nil, p.errorf("expected a value after %q", kind)
	}
	v := p.peek()
	switch kind {
	case "host":
		a, err := netip.ParseAddr(v)
		if err != nil || a.Zone() != "" {
			return nil, p.errorf("expected an IPv4 or IPv6 address, not %q", v)
		}
		pr.prefix = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
	case "net":
		pf, err := netip.ParsePrefix(v)
		if err != nil {
			a, aerr := netip.ParseAddr(v)
			if aerr != nil {
				return nil, p.errorf("expected a network such as 10.0.0.0/8, not %q", v)
			}
			pf = netip.PrefixFrom(a, a.BitLen())
		}
		pr.prefix = pf.Masked()
	case "port", "portrange":
		lo, hi, ok := v, v, true
		if kind == "portrange" {
			lo, hi, ok = strings.Cut(v, "-")
		}
		a, aerr := strconv.ParseUint(lo, 10, 16)
		b, berr := strconv.ParseUint(hi, 10, 16)
		if !ok || aerr != nil || berr != nil || a > b {
			if kind == "port" {
				return nil, p.errorf("expected a port number, not %q", v)
			}
			return nil, p.errorf("expected a port range such as 1-1023, not %q", v)
		}
		pr.lo, pr.hi = uint16(a), uint16(b)
	}
	switch {
	case (kind == "port" || kind == "portrange") && pr.proto != "" && pr.proto != "tcp" && pr.proto != "udp" && pr.proto != "sctp":
		return nil, p.errorf("%s has no ports", pr.proto)
	case (kind == "host" || kind == "net") && (pr.proto == "tcp" || pr.proto == "udp" || pr.proto == "sctp" || pr.proto == "icmp"):
		return nil, p.errorf("%s %s is not in the subset (say ip %s … and %s)", pr.proto, kind, kind, pr.proto)
	case (kind == "host" || kind == "net") && pr.proto == "ip6" && pr.prefix.Addr().Is4(),
		(kind == "host" || kind == "net") && (pr.proto == "ip" || pr.proto == "arp") && pr.prefix.Addr().Is6():
		return nil, p.errorf("%s and an address of the other IP version", pr.proto)
	}
	p.i++
	return pr, nil
}

// label is a place in the program being generated.
type label int

// insn is an instruction with symbolic jump targets.
type insn struct {
	ins    bpf.Instruction // loads, ALU, rets
	cond   bool            // a conditional jump: jt, jf are labels
	jump   bool            // an unconditional jump to jt
	op     bpf.JumpTest
	val    uint32
	jt, jf label
	at     label // a label placed here (before ins), or 0
}

// compiler generates a program for one link type.
type compiler struct {
	code   []insn
	labels int
	link   capture.LinkType
}

func (c *compiler) newLabel() label { c.labels++; return label(c.labels) }
func (c *compiler) place(l label)   { c.code = append(c.code, insn{at: l}) }
func (c *compiler) emit(i bpf.Instruction) {
	c.code = append(c.code, insn{ins: i})
}
func (c *compiler) jeq(v uint32, t, f label) {
	c.code = append(c.code, insn{cond: true, op: bpf.JumpEqual, val: v, jt: t, jf: f})
}
func (c *compiler) jmp(op bpf.JumpTest, v uint32, t, f label) {
	c.code = append(c.code, insn{cond: true, op: op, val: v, jt: t, jf: f})
}

// l3 is where the IP header starts.
func (c *compiler) l3() uint32 {
	if c.link == capture.LinkRaw {
		return 0
	}
	return 14
}

// isIPv4 and isIPv6 test the network protocol; isARP ARP and RARP (only
// on Ethernet).
func (c *compiler) isIPv4(t, f label) { c.isVersion(0x800, 0x40, t, f) }
func (c *compiler) isIPv6(t, f label) { c.isVersion(0x86dd, 0x60, t, f) }
func (c *compiler) isVersion(ethertype, nibble uint32, t, f label) {
	if c.link == capture.LinkRaw {
		c.emit(bpf.LoadAbsolute{Off: 0, Size: 1})
		c.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xf0})
		c.jeq(nibble, t, f)
		return
	}
	c.emit(bpf.LoadAbsolute{Off: 12, Size: 2})
	c.jeq(ethertype, t, f)
}
func (c *compiler) isARP(t, f label) {
	if c.link == capture.LinkRaw {
		c.code = append(c.code, insn{jump: true, jt: f})
		return
	}
	mid := c.newLabel()
	c.emit(bpf.LoadAbsolute{Off: 12, Size: 2})
	c.jeq(0x806, t, mid)
	c.place(mid)
	c.jeq(0x8035, t, f)
}

// gen emits code for n that jumps to t when it holds, to f when not.
func (c *compiler) gen(n node, t, f label) {
	switch n := n.(type) {
	case binNode:
		// The right side is reached when the left does not decide.
		mid := c.newLabel()
		if n.or {
			c.gen(n.l, t, mid)
		} else {
			c.gen(n.l, mid, f)
		}
		c.place(mid)
		c.gen(n.r, t, f)
	case notNode:
		c.gen(n.x, f, t)
	case prim:
		c.prim(n, t, f)
	}
}

var ipProto = map[string]uint32{"tcp": 6, "udp": 17, "sctp": 132, "icmp": 1}

func (c *compiler) prim(p prim, t, f label) {
	switch p.kind {
	case "proto":
		switch p.proto {
		case "ip":
			c.isIPv4(t, f)
		case "ip6":
			c.isIPv6(t, f)
		case "arp":
			c.emit(bpf.LoadAbsolute{Off: 12, Size: 2})
			c.jeq(0x806, t, f)
		default:
			c.transport([]uint32{ipProto[p.proto]}, p.proto != "icmp", t, f)
		}
	case "host", "net":
		c.addr(p, t, f)
	case "port", "portrange":
		c.ports(p, t, f)
	}
}

// transport tests the IP protocol: IPv4's, and (when v6) IPv6's next
// header, or the one after a fragment header, as libpcap does.
func (c *compiler) transport(protos []uint32, v6 bool, t, f label) {
	v4, not4 := c.newLabel(), c.newLabel()
	c.isIPv4(v4, not4)
	c.place(v4)
	c.emit(bpf.LoadAbsolute{Off: c.l3() + 9, Size: 1})
	c.oneOf(protos, t, f)
	c.place(not4)
	if !v6 {
		c.code = append(c.code, insn{jump: true, jt: f})
		return
	}
	ip6, frag := c.newLabel(), c.newLabel()
	c.isIPv6(ip6, f)
	c.place(ip6)
	c.emit(bpf.LoadAbsolute{Off: c.l3() + 6, Size: 1})
	c.oneOf(protos, t, frag)
	c.place(frag)
	after := c.newLabel()
	c.jeq(0x2c, after, f)
	c.place(after)
	c.emit(bpf.LoadAbsolute{Off: c.l3() + 40, Size: 1})
	c.oneOf(protos, t, f)
}

// oneOf jumps to t when A is one of vs.
func (c *compiler) oneOf(vs []uint32, t, f label) {
	for i, v := range vs {
		next := f
		if i < len(vs)-1 {
			next = c.newLabel()
		}
		c.jeq(v, t, next)
		if next != f {
			c.place(next)
		}
	}
}

// addr tests a host or net, source, destination or either.
func (c *compiler) addr(p prim, t, f label) {
	a := p.prefix.Addr()
	if a.Is4() {
		ip, notIP := c.newLabel(), c.newLabel()
		c.isIPv4(ip, notIP)
		c.place(ip)
		c.v4(p, c.l3()+12, c.l3()+16, t, f)
		c.place(notIP)
		if p.proto == "ip" {
			c.code = append(c.code, insn{jump: true, jt: f})
			return
		}
		arp := c.newLabel()
		c.isARP(arp, f)
		c.place(arp)
		c.v4(p, 28, 38, t, f) // sender and target protocol addresses
		return
	}
	ip6 := c.newLabel()
	c.isIPv6(ip6, f)
	c.place(ip6)
	src, dst := c.l3()+8, c.l3()+24
	if p.dir != "dst" {
		next := f
		if p.dir == "" {
			next = c.newLabel()
		}
		c.v6(p.prefix, src, t, next)
		if p.dir == "" {
			c.place(next)
		}
	}
	if p.dir != "src" {
		c.v6(p.prefix, dst, t, f)
	}
}

// v4 compares the IPv4 address at src and/or dst with p's prefix.
func (c *compiler) v4(p prim, src, dst uint32, t, f label) {
	b := p.prefix.Addr().As4()
	val := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	mask := uint32(0xffffffff)
	if p.prefix.Bits() < 32 {
		mask = ^(uint32(0xffffffff) >> p.prefix.Bits())
	}
	one := func(off uint32, t, f label) {
		c.emit(bpf.LoadAbsolute{Off: off, Size: 4})
		if mask != 0xffffffff {
			c.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: mask})
		}
		c.jeq(val, t, f)
	}
	switch p.dir {
	case "src":
		one(src, t, f)
	case "dst":
		one(dst, t, f)
	default:
		next := c.newLabel()
		one(src, t, next)
		c.place(next)
		one(dst, t, f)
	}
}

// v6 compares the IPv6 address at off with pf, 32 bits at a time.
func (c *compiler) v6(pf netip.Prefix, off uint32, t, f label) {
	b := pf.Addr().As16()
	bits := pf.Bits()
	for w := 0; w < 4 && bits > 0; w++ {
		n := min(bits, 32)
		bits -= n
		val := uint32(b[4*w])<<24 | uint32(b[4*w+1])<<16 | uint32(b[4*w+2])<<8 | uint32(b[4*w+3])
		c.emit(bpf.LoadAbsolute{Off: off + uint32(4*w), Size: 4})
		if n < 32 {
			mask := ^(uint32(0xffffffff) >> n)
			c.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: mask})
			val &= mask
		}
		next := t
		if bits > 0 && w < 3 {
			next = c.newLabel()
		}
		c.jeq(val, next, f)
		if next != t {
			c.place(next)
		}
	}
}

// ports tests a port or port range of TCP, UDP or SCTP (or the one
// named), source, destination or either; over IPv4 only in a first
// fragment, over IPv6 only right after the fixed header, as libpcap does.
func (c *compiler) ports(p prim, t, f label) {
	protos := []uint32{132, 6, 17} // libpcap's order
	if p.proto != "" {
		protos = []uint32{ipProto[p.proto]}
	}
	ip6, not6 := c.newLabel(), c.newLabel()
	c.isIPv6(ip6, not6)
	c.place(ip6)
	has6 := c.newLabel()
	c.emit(bpf.LoadAbsolute{Off: c.l3() + 6, Size: 1})
	c.oneOf(protos, has6, f)
	c.place(has6)
	c.portAt(p, func(off uint32) bpf.Instruction { return bpf.LoadAbsolute{Off: c.l3() + 40 + off, Size: 2} }, t, f)
	c.place(not6)
	ip4, first := c.newLabel(), c.newLabel()
	c.isIPv4(ip4, f)
	c.place(ip4)
	has4 := c.newLabel()
	c.emit(bpf.LoadAbsolute{Off: c.l3() + 9, Size: 1})
	c.oneOf(protos, has4, f)
	c.place(has4)
	c.emit(bpf.LoadAbsolute{Off: c.l3() + 6, Size: 2})
	c.jmp(bpf.JumpBitsSet, 0x1fff, f, first)
	c.place(first)
	c.emit(bpf.LoadMemShift{Off: c.l3()})
	c.portAt(p, func(off uint32) bpf.Instruction { return bpf.LoadIndirect{Off: c.l3() + off, Size: 2} }, t, f)
}

// portAt tests the ports loaded by load(0) (source) and load(2)
// (destination).
func (c *compiler) portAt(p prim, load func(off uint32) bpf.Instruction, t, f label) {
	one := func(off uint32, t, f label) {
		c.emit(load(off))
		if p.lo == p.hi {
			c.jeq(uint32(p.lo), t, f)
			return
		}
		ge := c.newLabel()
		c.jmp(bpf.JumpGreaterOrEqual, uint32(p.lo), ge, f)
		c.place(ge)
		c.jmp(bpf.JumpGreaterThan, uint32(p.hi), f, t)
	}
	switch p.dir {
	case "src":
		one(0, t, f)
	case "dst":
		one(2, t, f)
	default:
		next := c.newLabel()
		one(0, t, next)
		c.place(next)
		one(2, t, f)
	}
}

// compileFilter compiles expr for frames of link: a program that returns
// accept for a matching frame and 0 for others.
func compileFilter(expr string, link capture.LinkType, accept uint32) ([]bpf.Instruction, error) {
	n, err := parseFilter(expr)
	if err != nil {
		return nil, err
	}
	if link != capture.LinkEthernet && link != capture.LinkRaw {
		return nil, fmt.Errorf("filter: link type %d: only Ethernet and raw IP", link)
	}
	c := &compiler{link: link}
	yes, no := c.newLabel(), c.newLabel()
	c.gen(n, yes, no)
	c.place(yes)
	c.emit(bpf.RetConstant{Val: accept})
	c.place(no)
	c.emit(bpf.RetConstant{Val: 0})
	return c.resolve()
}

// resolve lays the program out and turns labels into jump offsets.
func (c *compiler) resolve() ([]bpf.Instruction, error) {
	at := map[label]int{}
	n := 0
	for _, in := range c.code {
		if in.at != 0 {
			at[in.at] = n
			continue
		}
		n++
	}
	var out []bpf.Instruction
	for _, in := range c.code {
		if in.at != 0 {
			continue
		}
		pc := len(out)
		switch {
		case in.jump:
			out = append(out, bpf.Jump{Skip: uint32(at[in.jt] - pc - 1)})
		case in.cond:
			jt, jf := at[in.jt]-pc-1, at[in.jf]-pc-1
			if jt > 255 || jf > 255 {
				return nil, fmt.Errorf("filter: too long for the kernel's jumps")
			}
			out = append(out, bpf.JumpIf{Cond: in.op, Val: in.val, SkipTrue: uint8(jt), SkipFalse: uint8(jf)})
		default:
			out = append(out, in.ins)
		}
	}
	return out, nil
}
