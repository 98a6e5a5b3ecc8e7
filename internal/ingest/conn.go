package ingest

import (
	"encoding/binary"
	"net/netip"

	"github.com/abt-dev/abt/internal/decode"
)

// connState is the connection-level state of the handshake machine.
type connState uint8

const (
	stUnknown     connState = iota
	stSynSent               // client SYN seen, no SYN-ACK yet
	stSynAck                // SYN-ACK seen, waiting for the handshake ACK
	stEstablished           // handshake complete (or partial tracking started)
	stIgnored               // not tracked (no SYN seen, or filtered); absorbs its packets
	stClosed                // ended; on the recently-closed list only
	stReset                 // a RST was seen; the peer's in-flight data is still counted
)

var connStateNames = [...]string{"unknown", "syn-sent", "syn-ack", "established", "ignored", "closed", "reset"}

func (s connState) String() string {
	if int(s) < len(connStateNames) {
		return connStateNames[s]
	}
	return "unknown"
}

// flow is one direction of a connection: sequence tracking, the ADU in
// progress, and counters.
type flow struct {
	seq seqSpace

	acked      int64 // highest ack this side sent, as an offset in the peer's space
	ackedValid bool

	active     bool   // an ADU is open
	aduStart   uint64 // offset where the open ADU began
	aduFirstNs int64  // first data segment of the open ADU
	lastDataNs int64  // last data-bearing segment, retransmissions included
	closed     bool   // FIN or RST seen from this side
	finOff     int64  // offset of the FIN
	finNs      int64

	isn   uint32
	stats DirStats
}

// key identifies a connection irrespective of direction: the two endpoints
// in a canonical order (lower address first, then lower port).
type key struct {
	ahi, alo, bhi, blo uint64
	pa, pb             uint16
	v6                 bool
}

func addrWords(a netip.Addr) (hi, lo uint64) {
	b := a.As16()
	return binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
}

// makeKey builds the canonical key for src→dst and reports whether src is
// the "a" (first) endpoint.
func makeKey(src, dst netip.Addr, sp, dp uint16) (key, bool) {
	shi, slo := addrWords(src)
	dhi, dlo := addrWords(dst)
	srcFirst := shi < dhi || (shi == dhi && (slo < dlo || (slo == dlo && sp <= dp)))
	if srcFirst {
		return key{shi, slo, dhi, dlo, sp, dp, src.Is6()}, true
	}
	return key{dhi, dlo, shi, slo, dp, sp, src.Is6()}, false
}

// conn is one tracked connection.
type conn struct {
	k     key
	id    uint64
	state connState

	client, server netip.AddrPort
	// clientIsA is true when the client is the key's "a" endpoint, so a
	// segment's direction is c2s exactly when (src is a) == clientIsA.
	clientIsA bool

	flows [2]flow // indexed by Dir-1: [0] c2s, [1] s2c

	concurrent bool
	sum        ConnSummary // counters and times, copied into the END record

	synNs    int64 // time of the last SYN (RTT base)
	synAckNs int64 // time of the last SYN-ACK (second RTT leg base)

	lastDir   Dir   // direction of the last segment
	rstNs     int64 // time of the RST (state stReset)
	rstDir    Dir   // sender of the RST
	ordinal   uint32
	lastRelNs int64 // time of the last ADU record released
	lastADU   Dir   // direction of the last released ADU (for exchange counting)

	// pending holds decided ADU records not yet released (see Options.Hold).
	pending  []pendingADU
	heapGen  uint32 // invalidates stale entries of the engine's pending heap
	inHeapTs int64

	// Intrusive list of connections ordered by last activity.
	prev, next *conn
	list       *connList
}

// pendingADU is an ADU record held back for possible revision.
type pendingADU struct {
	rec Record
	// startOff/endOff are the ADU's byte offsets in its direction's space,
	// needed to merge pieces.
	startOff, endOff uint64
	// needThink marks an ADU closed by its sender's FIN whose think time
	// waits for the other side's next data.
	needThink bool
}

func (c *conn) flow(d Dir) *flow { return &c.flows[d-1] }

// dirOf returns the direction of a segment whose source is the key's "a"
// endpoint when srcIsA.
func (c *conn) dirOf(srcIsA bool) Dir {
	if srcIsA == c.clientIsA {
		return DirC2S
	}
	return DirS2C
}

// connList is a doubly-linked list of connections ordered by last activity
// (least recent at the head), so idle sweeps and eviction are O(1) per entry.
type connList struct {
	head, tail *conn
	n          int
}

func (l *connList) pushBack(c *conn) {
	c.list = l
	c.prev = l.tail
	c.next = nil
	if l.tail != nil {
		l.tail.next = c
	} else {
		l.head = c
	}
	l.tail = c
	l.n++
}

func (l *connList) remove(c *conn) {
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		l.head = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else {
		l.tail = c.prev
	}
	c.prev, c.next, c.list = nil, nil, nil
	l.n--
}

// touch moves c to the back of list l (removing it from its current list).
func (l *connList) touch(c *conn) {
	if c.list == l && l.tail == c {
		return
	}
	if c.list != nil {
		c.list.remove(c)
	}
	l.pushBack(c)
}

// sameSYN reports whether s is a copy of the SYN that opened this (now
// closed) connection: same client, same ISN, and a time within the span
// the connection already covered. Only a capture holding a stretch of
// traffic twice produces that; a SYN with the old ISN after the END (a
// retry after a RST, a replay) begins a new connection.
func (c *conn) sameSYN(srcIsA bool, s *decode.Segment) bool {
	return c.dirOf(srcIsA) == DirC2S && c.flows[0].isn == s.Seq && c.sum.SynAttempts > 0 &&
		s.TsNs <= c.sum.LastNs
}
