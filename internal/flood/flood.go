// Package flood writes synthetic captures that load the inference engine's
// memory bound: a SYN flood (one SYN from each of many spoofed sources, none
// ever answered), real connections interleaved with it whose ADUs are known
// by construction, and connections whose sequence numbers jump by more than
// TCP allows (each jump ends an ADU, so every such connection holds many
// decided records at once).
//
// The output is a classic little-endian pcap (microsecond timestamps,
// Ethernet, IPv4) written by synthcap.HeaderWriter. Frames are cut at the TCP
// header (54 bytes) like a header-only capture; the IP total length carries
// the payload size, which is all package decode reads. The IPv4 header
// checksum is right; the TCP checksum is left zero. A capture is a pure
// function of its Spec: the same Spec gives a byte-identical file.
//
// It is used by scripts/mkflood (the memory measurements of
// docs/inference.md) and by the memory-bound tests of internal/ingest and
// cmd/adu2parquet. It does not read captures or run the engine.
package flood

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"time"

	"github.com/abt-dev/abt/internal/synthcap"
)

// snapLen is the snap length in the file header; every frame is captured
// up to the end of its TCP header (synthcap.FrameLen).
const snapLen = 96

// Addresses. The flood's sources, the real clients and the jumping clients
// come from three disjoint blocks, so no 4-tuple is reused by accident.
var (
	// Server is the server the flood and the real connections go to.
	Server = netip.MustParseAddrPort("192.0.2.1:80")
	// JumpServer is the server of the jumping connections.
	JumpServer = netip.MustParseAddrPort("192.0.2.2:443")
)

// Spec describes a capture. Its three parts run at the same time, from Start.
type Spec struct {
	// Start is the time of the first packet. Default 2024-03-01 10:00 UTC.
	Start time.Time

	// SYNs is the number of flood SYNs, each from its own source address
	// and port (10.0.0.0/8), to Server.
	SYNs int
	// Rate is the flood's SYNs per second of packet time. Default 100,000.
	Rate int

	// Real is the number of real connections interleaved with the flood,
	// from 198.51.100.0/24 to Server, started evenly over the flood's span
	// (over 1 s without a flood). Each holds Exchanges request/response
	// exchanges ExchangeGap apart, then both sides' FIN.
	Real int
	// Exchanges per real connection. Default 3.
	Exchanges int
	// ExchangeGap is the time from one request to the next. Default 300 ms.
	ExchangeGap time.Duration

	// Jumpers is the number of connections from 172.16.0.0/12 to
	// JumpServer whose client sends JumpSegs data segments, each starting
	// more than 2^30 bytes past the previous one (a sequence anomaly that
	// ends the ADU in progress), JumpEvery apart. All jumpers run at once.
	Jumpers int
	// JumpSegs is the number of data segments of each jumper. Default 70.
	JumpSegs int
	// JumpEvery is the time between two rounds of jumper segments.
	// Default 10 ms.
	JumpEvery time.Duration
}

// Defaults of the zero fields of a Spec.
const (
	DefaultRate        = 100_000
	DefaultExchanges   = 3
	DefaultExchangeGap = 300 * time.Millisecond
	DefaultJumpSegs    = 70
	DefaultJumpEvery   = 10 * time.Millisecond
)

// DefaultStart is the default time of the first packet.
var DefaultStart = time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)

// jumpStride is how far each jumper segment starts past the end of the one
// before it: more than 2^30 (the largest plausible move, see
// internal/ingest's maxJump), less than 2^31 (so it is ahead, not behind).
const jumpStride = 0x50000000

func (s *Spec) defaults() {
	if s.Start.IsZero() {
		s.Start = DefaultStart
	}
	if s.Rate == 0 {
		s.Rate = DefaultRate
	}
	if s.Exchanges == 0 {
		s.Exchanges = DefaultExchanges
	}
	if s.ExchangeGap == 0 {
		s.ExchangeGap = DefaultExchangeGap
	}
	if s.JumpSegs == 0 {
		s.JumpSegs = DefaultJumpSegs
	}
	if s.JumpEvery == 0 {
		s.JumpEvery = DefaultJumpEvery
	}
}

func (s *Spec) validate() error {
	switch {
	case s.SYNs < 0 || s.SYNs >= 1<<24:
		return fmt.Errorf("flood: %d SYNs: want 0 to 2^24-1", s.SYNs)
	case s.Rate < 0:
		return fmt.Errorf("flood: rate %d: must not be negative", s.Rate)
	case s.Real < 0 || s.Real > 250*20000:
		return fmt.Errorf("flood: %d real connections: want 0 to 5,000,000", s.Real)
	case s.Exchanges < 0 || s.ExchangeGap < 10*time.Millisecond:
		return errors.New("flood: exchanges must not be negative, their gap at least 10 ms")
	case s.Jumpers < 0 || s.Jumpers >= 1<<20:
		return fmt.Errorf("flood: %d jumpers: want 0 to 2^20-1", s.Jumpers)
	case s.JumpSegs < 0 || s.JumpEvery <= 0:
		return errors.New("flood: jumper segments must not be negative, their interval positive")
	}
	return nil
}

// ADU is an application data unit of a real connection, as the engine must
// report it.
type ADU struct {
	C2S     bool   // sent by the client
	Size    uint64 // bytes
	FirstNs int64  // its first data segment, ns since the epoch
	LastNs  int64  // its last data segment
	// ThinkNs is the think time after it (to the other side's next data),
	// -1 for the last ADU, which the server's FIN closes.
	ThinkNs int64
}

// Conn is a real connection and the ADUs it carries.
type Conn struct {
	Client, Server netip.AddrPort
	ADUs           []ADU
}

// Summary says what Write wrote.
type Summary struct {
	Packets int64
	FirstNs int64 // first packet, ns since the epoch
	LastNs  int64 // last packet
	Real    []Conn
}

// Write writes the capture s describes to w.
func Write(w io.Writer, s Spec) (Summary, error) {
	s.defaults()
	if err := s.validate(); err != nil {
		return Summary{}, err
	}
	hw, err := synthcap.NewHeaderWriter(w, snapLen)
	if err != nil {
		return Summary{}, err
	}
	srcs := []source{newSYNSource(&s), newRealSource(&s), newJumpSource(&s)}
	var sum Summary
	sum.Real = srcs[1].(*realSource).conns
	for {
		// Merge the sources by time (the first source wins ties).
		var best source
		var bestNs int64
		for _, src := range srcs {
			if ns, ok := src.peek(); ok && (best == nil || ns < bestNs) {
				best, bestNs = src, ns
			}
		}
		if best == nil {
			return sum, nil
		}
		p := best.next()
		if err := hw.Write(&p); err != nil {
			return sum, fmt.Errorf("write packet %d: %w", sum.Packets, err)
		}
		if sum.Packets == 0 {
			sum.FirstNs = p.Ns
		}
		sum.LastNs = p.Ns
		sum.Packets++
	}
}

// packet is one TCP segment.
type packet = synthcap.Segment

// source yields packets in time order.
type source interface {
	peek() (int64, bool)
	next() packet
}

// synSource is the flood: SYN i from 10.0.0.0/8 at Start + i/Rate.
type synSource struct {
	start int64
	n, i  int
	rate  int64
}

func newSYNSource(s *Spec) *synSource {
	return &synSource{start: s.Start.UnixNano(), n: s.SYNs, rate: int64(s.Rate)}
}

func (f *synSource) at(i int) int64 { return f.start + int64(i)*int64(time.Second)/f.rate }

func (f *synSource) peek() (int64, bool) { return f.at(f.i), f.i < f.n }

func (f *synSource) next() packet {
	i := f.i
	f.i++
	v := uint32(i + 1)
	src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(v >> 16), byte(v >> 8), byte(v)}), uint16(1024+i%60000))
	return packet{Ns: f.at(i), Src: src, Dst: Server, Seq: uint32(i) * 2654435761, Flags: synthcap.FlagSYN}
}

// realSource holds the real connections' packets, sorted by time.
type realSource struct {
	pkts  []packet
	i     int
	conns []Conn
}

func newRealSource(s *Spec) *realSource {
	r := &realSource{}
	start := s.Start.UnixNano()
	span := int64(time.Second)
	if s.SYNs > 0 {
		span = int64(s.SYNs) * int64(time.Second) / int64(s.Rate)
	}
	for j := range s.Real {
		t0 := start + span*int64(j)/int64(s.Real) + int64(time.Millisecond)/2
		r.conns = append(r.conns, r.dialog(s, j, t0))
	}
	sortPackets(r.pkts)
	return r
}

// dialog appends connection j's packets, starting at t0, and returns its
// expected ADUs: request k is 100+j%900+k bytes, response k 1000+j%5000+k
// bytes (sent as segments of at most 1460 bytes 100 µs apart), 10 ms after
// the request; then the client's FIN, the server's FIN, the last ACK.
func (r *realSource) dialog(s *Spec, j int, t0 int64) Conn {
	ms := int64(time.Millisecond)
	c := Conn{
		Client: netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(1 + j%250)}), uint16(20000+j/250)),
		Server: Server,
	}
	isnC, isnS := uint32(j)*7919+1000, uint32(j)*104729+5000
	c2s := func(ns int64, seq, ack uint32, flags uint8, n int) {
		r.pkts = append(r.pkts, packet{Ns: ns, Src: c.Client, Dst: c.Server, Seq: seq, Ack: ack, Flags: flags, Payload: uint16(n)})
	}
	s2c := func(ns int64, seq, ack uint32, flags uint8, n int) {
		r.pkts = append(r.pkts, packet{Ns: ns, Src: c.Server, Dst: c.Client, Seq: seq, Ack: ack, Flags: flags, Payload: uint16(n)})
	}
	c2s(t0, isnC, 0, synthcap.FlagSYN, 0)
	s2c(t0+ms, isnS, isnC+1, synthcap.FlagSYN|synthcap.FlagACK, 0)
	c2s(t0+2*ms, isnC+1, isnS+1, synthcap.FlagACK, 0)
	sc, ss := isnC+1, isnS+1
	// send sends n bytes from one side as segments 100 µs apart from t and
	// returns the time of the last one.
	send := func(fromClient bool, t int64, n int) int64 {
		last := t
		for off := 0; off < n; off += 1460 {
			m := min(1460, n-off)
			last = t + int64(off/1460)*100*int64(time.Microsecond)
			if fromClient {
				c2s(last, sc, ss, synthcap.FlagACK|synthcap.FlagPSH, m)
				sc += uint32(m)
			} else {
				s2c(last, ss, sc, synthcap.FlagACK|synthcap.FlagPSH, m)
				ss += uint32(m)
			}
		}
		return last
	}
	t := t0 + 5*ms
	for k := range s.Exchanges {
		req, resp := 100+j%900+k, 1000+j%5000+k
		reqLast := send(true, t, req)
		respAt := t + 10*ms
		respLast := send(false, respAt, resp)
		next := t + int64(s.ExchangeGap)
		c.ADUs = append(c.ADUs,
			ADU{C2S: true, Size: uint64(req), FirstNs: t, LastNs: reqLast, ThinkNs: respAt - reqLast},
			ADU{C2S: false, Size: uint64(resp), FirstNs: respAt, LastNs: respLast, ThinkNs: next - respLast})
		t = next
	}
	if n := len(c.ADUs); n > 0 {
		c.ADUs[n-1].ThinkNs = -1
	}
	c2s(t, sc, ss, synthcap.FlagFIN|synthcap.FlagACK, 0)
	s2c(t+ms, ss, sc+1, synthcap.FlagFIN|synthcap.FlagACK, 0)
	c2s(t+2*ms, sc+1, ss+1, synthcap.FlagACK, 0)
	return c
}

// sortPackets sorts by time, keeping the order of equal times.
func sortPackets(p []packet) {
	slices.SortStableFunc(p, func(a, b packet) int { return cmp.Compare(a.Ns, b.Ns) })
}

func (r *realSource) peek() (int64, bool) {
	if r.i == len(r.pkts) {
		return 0, false
	}
	return r.pkts[r.i].Ns, true
}

func (r *realSource) next() packet {
	r.i++
	return r.pkts[r.i-1]
}

// jumpSource runs the jumpers in rounds: SYN, SYN-ACK and ACK of every
// jumper, then JumpSegs rounds of one data segment each, JumpEvery apart;
// within a round the jumpers are spread evenly.
type jumpSource struct {
	start, every int64
	n, rounds    int
	round, i     int
}

func newJumpSource(s *Spec) *jumpSource {
	rounds := 0
	if s.Jumpers > 0 {
		rounds = 3 + s.JumpSegs
	}
	return &jumpSource{start: s.Start.UnixNano(), every: int64(s.JumpEvery), n: s.Jumpers, rounds: rounds}
}

func (f *jumpSource) at() int64 {
	return f.start + int64(f.round)*f.every + int64(f.i)*f.every/int64(f.n)
}

func (f *jumpSource) peek() (int64, bool) {
	if f.round == f.rounds {
		return 0, false
	}
	return f.at(), true
}

func (f *jumpSource) next() packet {
	ns := f.at()
	v := uint32(f.i + 1)
	client := netip.AddrPortFrom(netip.AddrFrom4([4]byte{172, 16 + byte(v>>16), byte(v >> 8), byte(v)}), uint16(30000+f.i%30000))
	isnC, isnS := uint32(f.i)*7919, uint32(f.i)*104729
	var p packet
	switch f.round {
	case 0:
		p = packet{Src: client, Dst: JumpServer, Seq: isnC, Flags: synthcap.FlagSYN}
	case 1:
		p = packet{Src: JumpServer, Dst: client, Seq: isnS, Ack: isnC + 1, Flags: synthcap.FlagSYN | synthcap.FlagACK}
	case 2:
		p = packet{Src: client, Dst: JumpServer, Seq: isnC + 1, Ack: isnS + 1, Flags: synthcap.FlagACK}
	default:
		k := uint32(f.round - 3)
		p = packet{Src: client, Dst: JumpServer, Seq: isnC + 1 + k*(jumpStride+100), Ack: isnS + 1, Flags: synthcap.FlagACK | synthcap.FlagPSH, Payload: 100}
	}
	p.Ns = ns
	if f.i++; f.i == f.n {
		f.i, f.round = 0, f.round+1
	}
	return p
}
