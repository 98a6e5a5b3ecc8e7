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

// flow is one direction of a connection past its handshake: sequence
// tracking and the ADU in progress. Its counters live in the connection's
// summary (conn.sum.C2S, conn.sum.S2C) and its ISN in the connection's
// core, so that a half-open entry needs no flow at all.
type flow struct {
	seq seqSpace

	acked      int64  // highest ack this side sent, as an offset in the peer's space
	aduStart   uint64 // offset where the open ADU began
	aduFirstNs int64  // first data segment of the open ADU
	lastDataNs int64  // last data-bearing segment, retransmissions included

	ackedValid bool
	active     bool // an ADU is open
	closed     bool // FIN or RST seen from this side
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

// conn is one entry of the connection table: a tracked connection, an
// untracked 4-tuple absorbing its packets, or a closed connection's
// lingering key. It holds what every entry needs; the per-direction flow
// state, held records and the like are in body, allocated only once the
// connection is past its handshake (or carries data on its SYN), and
// released at its END. A SYN flood's half-open entries therefore cost one
// conn each (see memory.go).
type conn struct {
	k key

	// Intrusive list of connections ordered by last activity.
	prev, next *conn
	list       *connList

	x *connBody // nil during the handshake, for untracked and closed entries

	id  uint64
	sum ConnSummary // counters and times, copied into the END record

	// activeNs is the engine's clock when the entry last moved to the back
	// of its list, so that each list is in order of it and a timeout
	// reached by one entry is reached by every entry before it. (sum.LastNs
	// is the entry's own latest packet time, which an input out of time
	// order can leave behind the clock.)
	activeNs int64

	synNs    int64 // time of the last SYN (RTT base)
	synAckNs int64 // time of the last SYN-ACK (second RTT leg base)

	isn    [2]uint32 // initial sequence numbers, indexed by Dir-1
	cost   uint32    // bytes charged for this entry (see memory.go)
	state  connState
	isnSet uint8 // bit d-1 set: isn[d-1] is known

	// clientIsA is true when the client is the key's "a" endpoint, so a
	// segment's direction is c2s exactly when (src is a) == clientIsA.
	clientIsA bool
	lastDir   Dir // direction of the last segment
}

// connBody is the state of a connection past its handshake.
type connBody struct {
	flows [2]flow // indexed by Dir-1: [0] c2s, [1] s2c

	// pending holds decided ADU records not yet released (see Options.Hold).
	pending []heldADU

	lastRelNs int64  // time of the last ADU record released
	rstNs     int64  // time of the RST (state stReset)
	ordinal   uint32 // ordinal of the next ADU record
	heapGen   uint32 // invalidates stale entries of the engine's held heap
	heldCost  uint32 // bytes of pending charged in the account (memory.go)
	rstDir    Dir    // sender of the RST
	lastADU   Dir    // direction of the last released ADU (for exchange counting)
}

// heldADU is an ADU record held back for possible revision. It keeps only
// what the connection does not already know: the record is rebuilt from it
// and the connection when it is released.
type heldADU struct {
	tsNs    int64 // the record's time
	firstNs int64
	lastNs  int64
	thinkNs int64
	// startOff/endOff are the ADU's byte offsets in its direction's space;
	// its size is their difference. They are needed to merge pieces.
	startOff, endOff uint64
	dir              Dir
	concurrent       bool
	thinkToPeer      bool
	// needThink marks an ADU closed by its sender's FIN whose think time
	// waits for the other side's next data.
	needThink bool
}

// size is the held ADU's size in bytes.
func (p *heldADU) size() uint64 { return p.endOff - p.startOff }

// flow returns direction d's flow state; the connection must have a body.
func (c *conn) flow(d Dir) *flow { return &c.x.flows[d-1] }

// dstats returns direction d's counters.
func (c *conn) dstats(d Dir) *DirStats {
	if d == DirC2S {
		return &c.sum.C2S
	}
	return &c.sum.S2C
}

// setISN records direction d's initial sequence number: its byte offsets
// count from isn+1.
func (c *conn) setISN(d Dir, isn uint32) {
	c.isn[d-1] = isn
	c.isnSet |= 1 << (d - 1)
	if c.x != nil {
		c.flow(d).seq.init(isn + 1)
	}
}

// seqOf returns direction d's sequence space: the flow's, or before the
// body exists the one its ISN implies (nothing seen yet beyond the SYN).
func (c *conn) seqOf(d Dir) seqSpace {
	switch {
	case c.x != nil:
		return c.flow(d).seq
	case c.isnSet&(1<<(d-1)) != 0:
		return seqSpace{base: c.isn[d-1] + 1, valid: true}
	}
	return seqSpace{}
}

// dirOf returns the direction of a segment whose source is the key's "a"
// endpoint when srcIsA.
func (c *conn) dirOf(srcIsA bool) Dir {
	if srcIsA == c.clientIsA {
		return DirC2S
	}
	return DirS2C
}

// endpoints returns the client and the server, from the key (a conn does
// not keep them twice).
func (c *conn) endpoints() (client, server netip.AddrPort) {
	a := netip.AddrPortFrom(keyAddr(c.k.ahi, c.k.alo, c.k.v6), c.k.pa)
	b := netip.AddrPortFrom(keyAddr(c.k.bhi, c.k.blo, c.k.v6), c.k.pb)
	if c.clientIsA {
		return a, b
	}
	return b, a
}

// keyAddr is the inverse of addrWords for an address of the key's family.
func keyAddr(hi, lo uint64, v6 bool) netip.Addr {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], hi)
	binary.BigEndian.PutUint64(b[8:], lo)
	if v6 {
		return netip.AddrFrom16(b)
	}
	return netip.AddrFrom4([4]byte(b[12:]))
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
	return c.dirOf(srcIsA) == DirC2S && c.isn[0] == s.Seq && c.sum.SynAttempts > 0 &&
		s.TsNs <= c.sum.LastNs
}
