package live

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/bpf"

	"github.com/abt-dev/abt/internal/capture"
)

// Filters: a subset of tcpdump's expression language (pcap-filter(7)),
// compiled here to classic BPF for the kernel, with the same meaning as
// libpcap gives it on untagged Ethernet and raw IP frames:
//
//	expr      = and { ("or" | "||") and }
//	and       = unary { ("and" | "&&") unary }
//	unary     = ("not" | "!") unary | "(" expr ")" | relation | primitive
//	primitive = proto
//	          | [proto] [dir] "host" ADDR | [proto] [dir] "net" CIDR | [dir] ADDR
//	          | [proto] [dir] "port" N | [proto] [dir] "portrange" N-M
//	          | "greater" N | "less" N
//	proto     = "ip" | "ip6" | "arp" | "tcp" | "udp" | "sctp" | "icmp"
//	dir       = "src" | "dst"
//	relation  = arith (">" | "<" | ">=" | "<=" | "=" | "==" | "!=") arith
//	arith     = arith op arith | "-" arith | "(" arith ")" | N | "len" | NAME
//	          | layer "[" arith [":" (1|2|4)] "]"
//	op        = "|" "^" < "&" < "<<" ">>" < "+" "-" < "*" "/" "%" (C's precedence)
//	layer     = "ether" | proto
//
// N is decimal, 0x hexadecimal or 0 octal; NAME one of libpcap's constants
// (tcpflags, tcp-syn, icmptype, icmp-echo, ...; see constants). As in
// libpcap, tcp[], udp[], sctp[] and icmp[] read IPv4 packets only, and only
// their first fragment; ip[] IPv4, ip6[] IPv6, arp[] ARP, ether[] the frame
// from its first byte (on a raw IP link, the IP header's); a load beyond
// the frame rejects it. A binary minus needs
// spaces around it ("len - 14"): "len-14" is one word.
//
// A host may be a name, resolved once, as the filter is compiled, to all
// its addresses. An error names the position (in bytes, from 1) where the
// expression stops making sense. VLAN and MPLS are not in the subset.

// token is one word of a filter, with its position.
type token struct {
	text string
	pos  int // byte offset, from 0
}

// operators are the tokens of two and one byte that are not words, longest
// first.
var operators = []string{"&&", "||", "!=", "==", ">=", "<=", "<<", ">>",
	"(", ")", "[", "]", "!", "&", "|", "^", "+", "*", "/", "%", "<", ">", "=", ":"}

func lex(expr string) ([]token, error) {
	var out []token
	depth := 0 // inside brackets ':' is the size's separator, not part of a word
next:
	for i := 0; i < len(expr); {
		c := expr[i]
		if c == ' ' || c == '\t' || c == '\n' {
			i++
			continue
		}
		for _, op := range operators {
			if strings.HasPrefix(expr[i:], op) && (op != ":" || depth > 0) {
				switch op {
				case "[":
					depth++
				case "]":
					depth = max(depth-1, 0)
				}
				out = append(out, token{op, i})
				i += len(op)
				continue next
			}
		}
		switch {
		case isWordByte(c):
			j := i
			for j < len(expr) && isWordByte(expr[j]) && (expr[j] != ':' || depth == 0) {
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

// expect takes tok, or says it was expected.
func (p *parser) expect(tok string) error {
	if p.peek() != tok {
		return p.errorf("expected %q", tok)
	}
	p.i++
	return nil
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
		// "(" opens a group of primitives, or an arithmetic expression
		// ("(tcp[13] & 2) != 0"): the latter when it parses as a relation.
		if save := p.i; true {
			if r, err := p.relation(); err == nil {
				return r, nil
			}
			p.i = save
		}
		p.i++
		x, err := p.expr()
		if err == nil {
			err = p.expect(")")
		}
		return x, err
	case "":
		return nil, p.errorf("expected a primitive")
	}
	if p.startsArith() {
		return p.relation()
	}
	return p.primitive()
}

// Relations between arithmetic expressions (see the grammar).

// relNode is l op r, compared unsigned as libpcap does.
type relNode struct {
	op   bpf.JumpTest
	l, r arith
}

// arith is an arithmetic expression: numArith, lenArith, loadArith,
// binArith or negArith.
type arith interface{}

type numArith struct{ v uint32 }
type lenArith struct{}
type loadArith struct {
	layer string // "ether", or a proto
	off   arith
	size  uint32
}
type binArith struct {
	op   bpf.ALUOp
	l, r arith
}
type negArith struct{ x arith }

// constants are libpcap's names for offsets and values.
var constants = map[string]uint32{
	"tcpflags": 13, "tcp-fin": 0x01, "tcp-syn": 0x02, "tcp-rst": 0x04, "tcp-push": 0x08,
	"tcp-ack": 0x10, "tcp-urg": 0x20, "tcp-ece": 0x40, "tcp-cwr": 0x80,
	"icmptype": 0, "icmpcode": 1, "icmp-echoreply": 0, "icmp-unreach": 3, "icmp-sourcequench": 4,
	"icmp-redirect": 5, "icmp-echo": 8, "icmp-routeradvert": 9, "icmp-routersolicit": 10,
	"icmp-timxceed": 11, "icmp-paramprob": 12, "icmp-tstamp": 13, "icmp-tstampreply": 14,
	"icmp-ireq": 15, "icmp-ireqreply": 16, "icmp-maskreq": 17, "icmp-maskreply": 18,
}

// layers are the names that take a byte offset.
var layers = map[string]bool{"ether": true, "ip": true, "ip6": true, "arp": true, "tcp": true,
	"udp": true, "sctp": true, "icmp": true}

var relOps = map[string]bpf.JumpTest{">": bpf.JumpGreaterThan, "<": bpf.JumpLessThan,
	">=": bpf.JumpGreaterOrEqual, "<=": bpf.JumpLessOrEqual, "=": bpf.JumpEqual, "==": bpf.JumpEqual,
	"!=": bpf.JumpNotEqual}

// arithLevels are the binary operators by precedence, lowest first.
var arithLevels = []map[string]bpf.ALUOp{
	{"|": bpf.ALUOpOr, "^": bpf.ALUOpXor},
	{"&": bpf.ALUOpAnd},
	{"<<": bpf.ALUOpShiftLeft, ">>": bpf.ALUOpShiftRight},
	{"+": bpf.ALUOpAdd, "-": bpf.ALUOpSub},
	{"*": bpf.ALUOpMul, "/": bpf.ALUOpDiv, "%": bpf.ALUOpMod},
}

// maxArithDepth bounds the nesting of arithmetic (parentheses, brackets,
// minus signs) the parser follows.
const maxArithDepth = 64

// startsArith reports whether the next token begins an arithmetic
// expression rather than a primitive.
func (p *parser) startsArith() bool {
	t := p.peek()
	if layers[t] {
		return p.i+1 < len(p.toks) && p.toks[p.i+1].text == "["
	}
	_, isConst := constants[t]
	_, isNum := parseNumber(t)
	return t == "len" || t == "-" || isConst || isNum || strings.HasPrefix(t, "-") && len(t) > 1
}

// parseNumber reads a number as libpcap does: decimal, 0x hexadecimal or
// 0 octal, at most 32 bits.
func parseNumber(s string) (uint32, bool) {
	v, err := strconv.ParseUint(s, 0, 32)
	return uint32(v), err == nil
}

func (p *parser) relation() (node, error) {
	l, err := p.arith(0, 0)
	if err != nil {
		return nil, err
	}
	op, ok := relOps[p.peek()]
	if !ok {
		return nil, p.errorf("expected a comparison (>, <, >=, <=, =, !=)")
	}
	p.i++
	r, err := p.arith(0, 0)
	if err != nil {
		return nil, err
	}
	return relNode{op, l, r}, nil
}

// arith parses operators of precedence level and above.
func (p *parser) arith(level, depth int) (arith, error) {
	if depth > maxArithDepth {
		return nil, p.errorf("arithmetic nested too deeply")
	}
	if level == len(arithLevels) {
		return p.arithOperand(depth)
	}
	l, err := p.arith(level+1, depth)
	for err == nil {
		op, ok := arithLevels[level][p.peek()]
		if !ok {
			break
		}
		p.i++
		var r arith
		if r, err = p.arith(level+1, depth); err != nil {
			break
		}
		if n, ok := r.(numArith); ok && n.v == 0 && (op == bpf.ALUOpDiv || op == bpf.ALUOpMod) {
			p.i--
			return nil, p.errorf("division by zero")
		}
		l = binArith{op, l, r}
	}
	return l, err
}

func (p *parser) arithOperand(depth int) (arith, error) {
	t := p.peek()
	switch {
	case t == "":
		return nil, p.errorf("expected a number, len or a byte offset")
	case t == "-":
		p.i++
		x, err := p.arithOperand(depth + 1)
		return negArith{x}, err
	case strings.HasPrefix(t, "-"):
		if v, ok := parseNumber(t[1:]); ok {
			p.i++
			return negArith{numArith{v}}, nil
		}
	case t == "(":
		p.i++
		x, err := p.arith(0, depth+1)
		if err == nil {
			err = p.expect(")")
		}
		return x, err
	case t == "len":
		p.i++
		return lenArith{}, nil
	case layers[t]:
		if p.i+1 >= len(p.toks) || p.toks[p.i+1].text != "[" {
			break
		}
		p.i += 2
		off, err := p.arith(0, depth+1)
		if err != nil {
			return nil, err
		}
		size := uint32(1)
		if p.peek() == ":" {
			p.i++
			v, ok := parseNumber(p.peek())
			if !ok || v != 1 && v != 2 && v != 4 {
				return nil, p.errorf("expected a size of 1, 2 or 4 bytes")
			}
			size = v
			p.i++
		}
		return loadArith{t, off, size}, p.expect("]")
	}
	if v, ok := constants[t]; ok {
		p.i++
		return numArith{v}, nil
	}
	if v, ok := parseNumber(t); ok {
		p.i++
		return numArith{v}, nil
	}
	return nil, p.errorf("expected a number, len or a byte offset, not %q", t)
}

var protos = map[string]bool{"ip": true, "ip6": true, "arp": true, "tcp": true, "udp": true, "sctp": true, "icmp": true}

func (p *parser) primitive() (node, error) {
	if t := p.peek(); t == "greater" || t == "less" {
		p.i++
		v, ok := parseNumber(p.peek())
		if !ok {
			return nil, p.errorf("expected a length after %q", t)
		}
		p.i++
		op := bpf.JumpGreaterOrEqual
		if t == "less" {
			op = bpf.JumpLessOrEqual
		}
		return relNode{op, lenArith{}, numArith{v}}, nil
	}
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
		if err != nil && isHostName(v) {
			return p.hostName(pr, v)
		}
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

// lookupHost resolves a host name (the system's resolver: /etc/hosts,
// DNS), as libpcap does when it compiles a filter; tests put their own.
var lookupHost = func(name string) ([]netip.Addr, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return net.DefaultResolver.LookupNetIP(ctx, "ip", name)
}

// isHostName reports whether v can be a host name: letters, digits, dots
// and hyphens, not all digits and dots.
func isHostName(v string) bool {
	letter := false
	for _, c := range []byte(v) {
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			letter = true
		case c >= '0' && c <= '9' || c == '.' || c == '-':
		default:
			return false
		}
	}
	return letter
}

// hostName is "[proto] [dir] host NAME": any of the name's addresses (of
// proto's IP version, if it has one), now, as libpcap resolves it once
// when it compiles the filter.
func (p *parser) hostName(pr prim, name string) (node, error) {
	switch pr.proto {
	case "tcp", "udp", "sctp", "icmp":
		return nil, p.errorf("%s host is not in the subset (say ip host … and %s)", pr.proto, pr.proto)
	}
	addrs, err := lookupHost(name)
	if err != nil {
		return nil, p.errorf("host name %q does not resolve (%v)", name, err)
	}
	var out node
	for _, a := range addrs {
		a = a.Unmap()
		if a.Is4() && pr.proto == "ip6" || a.Is6() && (pr.proto == "ip" || pr.proto == "arp") {
			continue
		}
		h := pr
		h.prefix = netip.PrefixFrom(a, a.BitLen())
		if out == nil {
			out = h
		} else {
			out = binNode{true, out, h}
		}
	}
	if out == nil {
		return nil, p.errorf("host name %q has no %s address", name, pr.proto)
	}
	p.i++
	return out, nil
}

// label is a place in the program being generated.
type label int

// insn is an instruction with symbolic jump targets.
type insn struct {
	ins    bpf.Instruction // loads, ALU, rets
	cond   bool            // a conditional jump: jt, jf are labels
	jump   bool            // an unconditional jump to jt
	op     bpf.JumpTest
	x      bool // cond compares A with X, not val
	val    uint32
	jt, jf label
	at     label // a label placed here (before ins), or 0
}

// compiler generates a program for one link type.
type compiler struct {
	code    []insn
	labels  int
	link    capture.LinkType
	scratch int // scratch words used
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
	case relNode:
		c.rel(n, t, f)
	}
}

// rel tests a relation: the layers its loads read first (libpcap's
// conditions), then the comparison.
func (c *compiler) rel(r relNode, t, f label) {
	need := map[string]bool{}
	walkLoads(r.l, func(l loadArith) { need[l.layer] = true })
	walkLoads(r.r, func(l loadArith) { need[l.layer] = true })
	for _, layer := range []string{"ip", "ip6", "arp", "tcp", "udp", "sctp", "icmp"} {
		if !need[layer] {
			continue
		}
		ok := c.newLabel()
		switch layer {
		case "ip":
			c.isIPv4(ok, f)
		case "ip6":
			c.isIPv6(ok, f)
		case "arp":
			c.isARP(ok, f)
		default: // IPv4 of that protocol, first fragment
			c.ipv4FirstFragment([]uint32{ipProto[layer]}, ok, f)
		}
		c.place(ok)
	}
	if n, isNum := r.r.(numArith); isNum {
		c.arith(r.l, 0)
		c.jmp(r.op, n.v, t, f)
		return
	}
	c.arith(r.l, 0)
	c.store(0)
	c.arith(r.r, 1)
	c.emit(bpf.TAX{})
	c.emit(bpf.LoadScratch{Dst: bpf.RegA, N: 0})
	c.code = append(c.code, insn{cond: true, x: true, op: r.op, jt: t, jf: f})
}

// walkLoads calls fn on every load of a.
func walkLoads(a arith, fn func(loadArith)) {
	switch a := a.(type) {
	case loadArith:
		fn(a)
		walkLoads(a.off, fn)
	case binArith:
		walkLoads(a.l, fn)
		walkLoads(a.r, fn)
	case negArith:
		walkLoads(a.x, fn)
	}
}

// store keeps A in scratch word n (noting the deepest used).
func (c *compiler) store(n int) {
	c.scratch = max(c.scratch, n+1)
	c.emit(bpf.StoreScratch{Src: bpf.RegA, N: min(n, 15)})
}

// arith computes a into A, with scratch words from sp up.
func (c *compiler) arith(a arith, sp int) {
	switch a := a.(type) {
	case numArith:
		c.emit(bpf.LoadConstant{Dst: bpf.RegA, Val: a.v})
	case lenArith:
		c.emit(bpf.LoadExtension{Num: bpf.ExtLen})
	case negArith:
		c.arith(a.x, sp)
		// -A, modulo 2^32 (the kernel has a negation, x/net/bpf's
		// machine, on which the tests run the filters, has not)
		c.emit(bpf.ALUOpConstant{Op: bpf.ALUOpMul, Val: 0xffffffff})
	case binArith:
		c.arith(a.l, sp)
		if n, ok := a.r.(numArith); ok {
			c.emit(bpf.ALUOpConstant{Op: a.op, Val: n.v})
			return
		}
		c.store(sp)
		c.arith(a.r, sp+1)
		c.emit(bpf.TAX{})
		c.emit(bpf.LoadScratch{Dst: bpf.RegA, N: min(sp, 15)})
		c.emit(bpf.ALUOpX{Op: a.op})
	case loadArith:
		base, transport := uint32(0), false
		switch a.layer {
		case "ether":
		case "ip", "ip6", "arp":
			base = c.l3()
		default: // after the IPv4 header, whose length X takes
			base, transport = c.l3(), true
		}
		if n, ok := a.off.(numArith); ok {
			if transport {
				c.emit(bpf.LoadMemShift{Off: c.l3()})
				c.emit(bpf.LoadIndirect{Off: base + n.v, Size: int(a.size)})
				return
			}
			c.emit(bpf.LoadAbsolute{Off: base + n.v, Size: int(a.size)})
			return
		}
		c.arith(a.off, sp)
		if transport {
			c.store(sp)
			c.emit(bpf.LoadMemShift{Off: c.l3()})
			c.emit(bpf.LoadScratch{Dst: bpf.RegA, N: min(sp, 15)})
			c.emit(bpf.ALUOpX{Op: bpf.ALUOpAdd})
		}
		c.emit(bpf.TAX{})
		c.emit(bpf.LoadIndirect{Off: base, Size: int(a.size)})
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
	first := c.newLabel()
	c.ipv4FirstFragment(protos, first, f)
	c.place(first)
	c.emit(bpf.LoadMemShift{Off: c.l3()})
	c.portAt(p, func(off uint32) bpf.Instruction { return bpf.LoadIndirect{Off: c.l3() + off, Size: 2} }, t, f)
}

// ipv4FirstFragment jumps to t for an IPv4 packet of one of protos that
// is a first fragment (offset 0: its transport header is there), to f
// otherwise; as libpcap tests before reading ports or tcp[].
func (c *compiler) ipv4FirstFragment(protos []uint32, t, f label) {
	ip, proto := c.newLabel(), c.newLabel()
	c.isIPv4(ip, f)
	c.place(ip)
	c.emit(bpf.LoadAbsolute{Off: c.l3() + 9, Size: 1})
	c.oneOf(protos, proto, f)
	c.place(proto)
	c.emit(bpf.LoadAbsolute{Off: c.l3() + 6, Size: 2})
	c.jmp(bpf.JumpBitsSet, 0x1fff, f, t)
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
	if c.scratch > 16 {
		return nil, fmt.Errorf("filter: arithmetic too long for the kernel's 16 scratch words")
	}
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
			if in.x {
				out = append(out, bpf.JumpIfX{Cond: in.op, SkipTrue: uint8(jt), SkipFalse: uint8(jf)})
			} else {
				out = append(out, bpf.JumpIf{Cond: in.op, Val: in.val, SkipTrue: uint8(jt), SkipFalse: uint8(jf)})
			}
		default:
			out = append(out, in.ins)
		}
	}
	return out, nil
}
