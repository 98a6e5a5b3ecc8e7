package synthcap

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"
)

// Campus describes a synthetic capture of campus servers with what the
// bundled real captures lack and the import of adudump text must get
// right: requests and responses split by the quiet time, response times
// and client think times on both sides of it, concurrent connections,
// servers that speak first or close first (a think time that the other
// side's reply gives an ADU its sender's FIN closed), RSTs, SYN retries,
// SYNs the monitor missed, connections open at the end, and ADUs and
// connections that cross an hour and a day boundary (it runs from
// 23:58:30 UTC on 2024-03-01, CampusStart, to a few seconds past Span).
//
// The capture is a pure function of its fields. It is header-only (frames
// cut after the TCP header, the IP length carrying the payload), like the
// captures of internal/flood.
type Campus struct {
	// Seed seeds every random choice: the same Campus writes the same bytes.
	Seed uint64
	// Web is the number of connections to CampusServer: HTTPS-like
	// requests and responses, one in ten requests and one in twenty
	// responses split by more than the quiet time, one connection in
	// twenty concurrent (a request sent while a response streams).
	Web int
	// Plain is the number of connections to 198.18.0.2:80, like Web
	// without concurrency.
	Plain int
	// Mail is the number of connections to 198.18.0.3:25, whose server
	// speaks first (a banner before the first request).
	Mail int
	// Span is the time over which connections start, from CampusStart.
	Span time.Duration
}

// CampusServer is the server of a Campus capture's Web connections, the
// one whose response times the text-import issue reported (198.18.0.0/15
// is the benchmarking range of RFC 2544).
var CampusServer = netip.MustParseAddrPort("198.18.0.1:443")

// CampusStart is the earliest time a Campus connection can start.
var CampusStart = time.Date(2024, 3, 1, 23, 58, 30, 0, time.UTC)

// DefaultCampus is the capture the round-trip test of adudump text uses:
// 74,203 packets, 531 connections (the one at midnight included), 2,074
// exchanges with CampusServer.
func DefaultCampus() Campus {
	return Campus{Seed: 1, Web: 400, Plain: 100, Mail: 30, Span: 150 * time.Second}
}

// cconn builds one connection's segments in time order.
type cconn struct {
	cli, srv   netip.AddrPort
	cseq, sseq uint32 // next sequence number of each side
	out        *[]Segment
	rng        *rand.Rand
}

const mss = 1448

// seg appends one segment; ack -1 acknowledges everything the other side
// sent so far.
func (c *cconn) seg(fromClient bool, ns int64, flags uint8, n int, ack int64) {
	p := Segment{Ns: ns, Flags: flags, Payload: uint16(n)}
	if fromClient {
		p.Src, p.Dst, p.Seq, p.Ack = c.cli, c.srv, c.cseq, c.sseq
		c.cseq += uint32(n)
		if flags&(FlagSYN|FlagFIN) != 0 {
			c.cseq++
		}
	} else {
		p.Src, p.Dst, p.Seq, p.Ack = c.srv, c.cli, c.sseq, c.cseq
		c.sseq += uint32(n)
		if flags&(FlagSYN|FlagFIN) != 0 {
			c.sseq++
		}
	}
	if ack >= 0 {
		p.Ack = uint32(ack)
	}
	if flags&FlagSYN != 0 && flags&FlagACK == 0 {
		p.Ack = 0
	}
	*c.out = append(*c.out, p)
}

// send sends an ADU of n bytes from one side, segments gap apart from t,
// then the receiver's pure ACK; it returns the time of the last data
// segment.
func (c *cconn) send(fromClient bool, t int64, n int, gap time.Duration) int64 {
	last := t
	for off := 0; off < n; off += mss {
		last = t + int64(off/mss)*int64(gap)
		c.seg(fromClient, last, FlagACK|FlagPSH, min(mss, n-off), -1)
	}
	c.seg(!fromClient, last+int64(200*time.Microsecond), FlagACK, 0, -1)
	return last
}

// between returns a uniform duration in [lo, hi).
func between(r *rand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(r.Int64N(int64(hi-lo)))
}

// responseTime is a server's response time: log-normal around 30 ms,
// at most 400 ms.
func responseTime(r *rand.Rand) time.Duration {
	d := time.Duration(math.Exp(math.Log(30e6) + r.NormFloat64()))
	return min(max(d, time.Millisecond), 400*time.Millisecond)
}

// clientThink is the client's pause before its next request: half short,
// half beyond the quiet time.
func clientThink(r *rand.Rand) time.Duration {
	if r.IntN(2) == 0 {
		return between(r, 10*time.Millisecond, 400*time.Millisecond)
	}
	return between(r, 600*time.Millisecond, 5*time.Second)
}

// handshake opens the connection at t (a retried SYN or a SYN the monitor
// missed now and then) and returns the time of the handshake's ACK.
func (c *cconn) handshake(t int64) int64 {
	rtt := int64(between(c.rng, time.Millisecond, 40*time.Millisecond))
	switch x := c.rng.IntN(100); {
	case x < 3: // a retried SYN
		c.seg(true, t, FlagSYN, 0, -1)
		c.cseq--
		t += int64(time.Second)
		c.seg(true, t, FlagSYN, 0, -1)
	case x < 5: // the monitor missed the SYN
		c.cseq++
	default:
		c.seg(true, t, FlagSYN, 0, -1)
	}
	c.seg(false, t+rtt, FlagSYN|FlagACK, 0, -1)
	c.seg(true, t+rtt+rtt/10+1000, FlagACK, 0, -1)
	return t + rtt + rtt/10 + 1000
}

// exchange is one request and its response from t; split says to split
// the request (client) or the response (server) by more than the quiet
// time. It returns the time of the response's last segment.
func (c *cconn) exchange(t int64, req, resp int, splitReq, splitResp bool) int64 {
	last := c.send(true, t, req, 50*time.Microsecond)
	if splitReq {
		last = c.send(true, last+int64(between(c.rng, 600*time.Millisecond, 2*time.Second)), 100+c.rng.IntN(400), 50*time.Microsecond)
	}
	at := last + int64(responseTime(c.rng))
	if !splitResp {
		return c.send(false, at, resp, 100*time.Microsecond)
	}
	last = c.send(false, at, resp/2, 100*time.Microsecond)
	return c.send(false, last+int64(between(c.rng, 600*time.Millisecond, 1500*time.Millisecond)), resp-resp/2, 100*time.Microsecond)
}

// concurrent streams a response of n segments 2 ms apart from t, while the
// client sends its next request 10 ms in, acknowledging only what the
// server had sent 10 ms before; the server acknowledges the request 10 ms
// later. Unacknowledged data both ways: the engine finds the connection
// concurrent. It returns the time of the last segment.
func (c *cconn) concurrent(t int64, n int) int64 {
	const ms = int64(time.Millisecond)
	var sent []uint32 // the server's next sequence number after each segment
	reqAt, reqEnd := t+10*ms+ms/2, uint32(0)
	cliBefore := c.cseq
	last := t
	for i := range n {
		ns := t + int64(i)*2*ms
		if reqAt <= ns && reqEnd == 0 {
			ack := int64(c.sseq)
			for j := len(sent) - 1; j >= 0; j-- {
				if reqAt-(t+int64(j)*2*ms) >= 10*ms {
					ack = int64(sent[j])
					break
				}
			}
			c.seg(true, reqAt, FlagACK|FlagPSH, 300, ack)
			reqEnd = c.cseq
		}
		ack := int64(-1)
		if reqEnd != 0 && ns < reqAt+10*ms {
			ack = int64(cliBefore)
		}
		c.seg(false, ns, FlagACK|FlagPSH, mss, ack)
		sent = append(sent, c.sseq)
		last = ns
	}
	c.seg(true, last+ms, FlagACK, 0, -1)
	return last
}

// close ends the connection at t in one of the usual ways.
func (c *cconn) close(t int64) {
	const ms = int64(time.Millisecond)
	switch x := c.rng.IntN(100); {
	case x < 70: // the client closes
		c.seg(true, t, FlagFIN|FlagACK, 0, -1)
		c.seg(false, t+ms, FlagFIN|FlagACK, 0, -1)
		c.seg(true, t+2*ms, FlagACK, 0, -1)
	case x < 85: // the server closes; the client still says something
		c.seg(false, t, FlagFIN|FlagACK, 0, -1)
		last := c.send(true, t+int64(between(c.rng, 5*time.Millisecond, 900*time.Millisecond)), 31, 0)
		c.seg(true, last+ms, FlagFIN|FlagACK, 0, -1)
		c.seg(false, last+2*ms, FlagACK, 0, -1)
	case x < 95: // a RST
		c.seg(true, t, FlagRST|FlagACK, 0, -1)
	default: // still open at the end of the capture
	}
}

// conns builds the connections' segments, in time order.
func (spec Campus) conns() []Segment {
	rng := rand.New(rand.NewPCG(spec.Seed, 0x5eed))
	var pkts []Segment
	start := CampusStart.UnixNano()
	servers := []struct {
		addr netip.AddrPort
		n    int
		kind string
	}{
		{CampusServer, spec.Web, "web"},
		{netip.MustParseAddrPort("198.18.0.2:80"), spec.Plain, "plain"},
		{netip.MustParseAddrPort("198.18.0.3:25"), spec.Mail, "mail"},
	}
	id := 0
	for _, s := range servers {
		for range s.n {
			id++
			c := &cconn{
				cli:  netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(id / 250), byte(1 + id%250)}), uint16(30000+rng.IntN(30000))),
				srv:  s.addr,
				cseq: rng.Uint32(), sseq: rng.Uint32(),
				out: &pkts, rng: rng,
			}
			t := c.handshake(start + rng.Int64N(int64(spec.Span)))
			if s.kind == "mail" {
				// The server's banner comes first.
				t = c.send(false, t+int64(between(rng, 5*time.Millisecond, 200*time.Millisecond)), 180, 0)
			}
			k := 1 + rng.IntN(10)
			for i := range k {
				t += int64(clientThink(rng))
				switch {
				case s.kind == "web" && i == 1 && rng.IntN(20) == 0:
					last := c.send(true, t, 200+rng.IntN(1800), 50*time.Microsecond)
					t = c.concurrent(last+int64(responseTime(rng)), 20+rng.IntN(30))
				default:
					req, resp := 200+rng.IntN(1800), 300+rng.IntN(60000)
					t = c.exchange(t, req, resp, rng.IntN(10) == 0, rng.IntN(20) == 0)
				}
			}
			c.close(t + int64(clientThink(rng)))
		}
	}
	// A request that starts before midnight and is answered after it: the
	// capture's archive counts its response time on the day it started,
	// an archive made from the text on the day of its line.
	midnight := time.Date(CampusStart.Year(), CampusStart.Month(), CampusStart.Day()+1, 0, 0, 0, 0, time.UTC).UnixNano()
	c := &cconn{cli: netip.MustParseAddrPort("10.1.255.1:40000"), srv: CampusServer, cseq: 1000, sseq: 5000, out: &pkts, rng: rng}
	c.handshake(midnight - int64(2*time.Second))
	// Response times are at least 1 ms.
	t := c.exchange(midnight-int64(500*time.Microsecond), 500, 3000, false, false)
	c.close(t + int64(100*time.Millisecond))

	slices.SortStableFunc(pkts, func(a, b Segment) int { return cmp.Compare(a.Ns, b.Ns) })
	return pkts
}

// Write writes the capture to w as a microsecond pcap (Ethernet, IPv4),
// packets in time order.
func (spec Campus) Write(w io.Writer) error {
	if spec.Web < 0 || spec.Plain < 0 || spec.Mail < 0 || spec.Web+spec.Plain+spec.Mail >= 250*250 {
		return fmt.Errorf("synthcap: %d+%d+%d connections: want 0 to 62,499", spec.Web, spec.Plain, spec.Mail)
	}
	if spec.Span <= 0 {
		return fmt.Errorf("synthcap: span %v: want a positive duration", spec.Span)
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	hw, err := NewHeaderWriter(bw, FrameLen)
	if err != nil {
		return err
	}
	for i, p := range spec.conns() {
		if err := hw.Write(&p); err != nil {
			return fmt.Errorf("write packet %d: %w", i, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write pcap: %w", err)
	}
	return nil
}
