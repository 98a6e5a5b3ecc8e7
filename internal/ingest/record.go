package ingest

import (
	"math"
	"net/netip"
)

// Kind is the type of a Record, after Table 1 of the adudump paper.
type Kind uint8

// Record kinds. The zero value is invalid.
const (
	KindInvalid Kind = iota
	// KindSYN: the connection's first SYN was seen (TsNs = that SYN).
	KindSYN
	// KindRTT: the SYN-ACK was seen; RTTNs = SYN-ACK time minus the time of
	// the last SYN (retransmitted SYNs move the base).
	KindRTT
	// KindSEQ: the three-way handshake completed (TsNs = the segment that
	// completed it); AckRTTNs holds the SYN-ACK→ACK leg when measured.
	KindSEQ
	// KindCONC: the connection was found to be concurrent (unacknowledged
	// data in both directions at once).
	KindCONC
	// KindADU: an application data unit ended.
	KindADU
	// KindINC: an ADU still open when the input ended.
	KindINC
	// KindEND: the connection's tracking state was destroyed; Conn holds its
	// summary and EndReason why.
	KindEND
	// KindPART: a connection whose SYN was not seen is tracked from its
	// first data segment (only with Options.TrackPartial).
	KindPART
)

var kindNames = [...]string{"INVALID", "SYN", "RTT", "SEQ", "CONC", "ADU", "INC", "END", "PART"}

// String returns the record type as adudump prints it (Table 1 spelling).
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "INVALID"
}

// Dir is the direction of a segment or ADU relative to the connection's
// roles: the client (initiator) sent the SYN, the server (acceptor) received it.
type Dir uint8

// Directions. DirNone marks connection-level records.
const (
	DirNone Dir = iota
	// DirC2S is client (initiator) to server (acceptor): requests.
	DirC2S
	// DirS2C is server to client: responses.
	DirS2C
)

// String returns "c2s", "s2c" or "none".
func (d Dir) String() string {
	switch d {
	case DirC2S:
		return "c2s"
	case DirS2C:
		return "s2c"
	}
	return "none"
}

// Reverse returns the opposite direction (DirNone stays DirNone).
func (d Dir) Reverse() Dir {
	switch d {
	case DirC2S:
		return DirS2C
	case DirS2C:
		return DirC2S
	}
	return DirNone
}

// EndReason says why a connection's tracking ended.
type EndReason uint8

// End reasons. The zero value means the connection has not ended.
const (
	EndNone EndReason = iota
	// EndFIN: both sides sent a FIN.
	EndFIN
	// EndRST: a RST was seen.
	EndRST
	// EndIdle: nothing was seen for the idle (or handshake) timeout.
	EndIdle
	// EndEOF: the input ended while the connection was open.
	EndEOF
	// EndEvicted: the connection table was full and this entry was shed.
	EndEvicted
	// EndReused: a SYN with a new initial sequence number reused the 4-tuple.
	EndReused
	// EndUnrecorded: the connection ended, but the source (an adudump text
	// log's END line) does not say why.
	EndUnrecorded
)

var endNames = [...]string{"", "fin", "rst", "idle", "eof", "evicted", "reused", "unrecorded"}

// String returns the reason's lower-case name ("fin", "rst", ...).
func (e EndReason) String() string {
	if int(e) < len(endNames) {
		return endNames[e]
	}
	return "unknown"
}

// Label is the Tstat-style locality of a connection with respect to the
// configured local networks.
type Label uint8

// Locality labels. LabelUnknown is used when no local network is configured.
const (
	LabelUnknown Label = iota
	// LabelIn: the client is outside, the server inside (the SYN enters).
	LabelIn
	// LabelOut: the client is inside, the server outside.
	LabelOut
	// LabelLocal: both endpoints are inside.
	LabelLocal
	// LabelExternal: neither endpoint is inside.
	LabelExternal
)

var labelNames = [...]string{"", "in", "out", "local", "external"}

// String returns "in", "out", "local", "external" or "" when unknown.
func (l Label) String() string {
	if int(l) < len(labelNames) {
		return labelNames[l]
	}
	return ""
}

// Handshake says how much of the three-way handshake the monitor saw.
type Handshake uint8

// Handshake completeness.
const (
	// HandshakeNone: no SYN or SYN-ACK was seen (a partial connection).
	HandshakeNone Handshake = iota
	// HandshakeSYN: the client's SYN was seen.
	HandshakeSYN
	// HandshakeSYNACK: only the server's SYN-ACK was seen (the SYN was missed).
	HandshakeSYNACK
)

var handshakeNames = [...]string{"none", "syn", "synack"}

// String returns "none", "syn" or "synack".
func (h Handshake) String() string {
	if int(h) < len(handshakeNames) {
		return handshakeNames[h]
	}
	return "none"
}

// NoTime marks a time that is not known (for example an ADU's first data
// segment in a record read back from adudump text, which does not carry it).
const NoTime int64 = math.MinInt64

// DirStats are one direction's counters of a connection.
type DirStats struct {
	Pkts        uint64 // all segments, pure ACKs included
	DataPkts    uint64 // segments carrying payload
	Bytes       uint64 // payload bytes on the wire, retransmissions included
	UniqueBytes uint64 // bytes of the sequence space covered by data (ADU bytes)
	MissedBytes uint64 // sequence-space bytes never seen by the monitor
	RexmtPkts   uint64 // data segments that repeated already-seen bytes
	RexmtBytes  uint64 // payload bytes that repeated already-seen bytes
	ADUs        uint32 // ADU records emitted in this direction
	FIN         bool   // a FIN was seen
	RST         bool   // a RST was seen
	MSS         uint16 // MSS option of this side's SYN, 0 if none
	WScale      int8   // window-scale option of this side's SYN, -1 if none
}

// ConnSummary is the per-connection summary carried by the END record.
// All times are ns since the Unix epoch; 0 means "not seen".
type ConnSummary struct {
	SynNs          int64 // first SYN (or the SYN-ACK when the SYN was missed)
	EstablishedNs  int64 // handshake completion (the SEQ record)
	FirstNs        int64 // first packet of the connection
	LastNs         int64 // last packet of the connection
	EndNs          int64 // END record time
	RTTNs          int64 // SYN→SYN-ACK leg, -1 if not measured
	AckRTTNs       int64 // SYN-ACK→ACK leg, -1 if not measured
	SynAttempts    uint32
	SynAckAttempts uint32
	Handshake      Handshake
	Partial        bool   // tracked without seeing the handshake
	Concurrent     bool   // found concurrent
	ConcurrentNs   int64  // when it was found concurrent (the CONC record), 0 if never
	Exchanges      uint32 // exchanges: a-b-t epochs (a client turn and the server ADUs that follow)
	Label          Label
	End            EndReason
	C2S            DirStats
	S2C            DirStats
	Ambiguous      uint32 // boundaries decided without conclusive evidence
}

// Record is one inference output. Records reach a Sink in non-decreasing
// TsNs order; a record decided at a segment older than one already written
// (an input not time-ordered) is written with the later time.
type Record struct {
	Kind Kind
	// TsNs is the time of the segment that decided the record (for ADU, the
	// segment after which the ADU was known complete; for INC and END at end
	// of input, the time of the input's last packet).
	TsNs int64
	// ConnID numbers connections from 1 in the order they were first seen.
	ConnID uint64
	Client netip.AddrPort // initiator (SYN sender)
	Server netip.AddrPort // acceptor
	// Dir is the ADU direction, or for connection-level records the direction
	// of the segment that triggered it (for an END that no segment triggered,
	// the direction of the connection's last segment).
	Dir Dir
	// Label is the connection's locality (LabelUnknown without local networks).
	Label Label

	// ADU and INC fields.
	Size       uint64 // ADU size in bytes, from sequence numbers
	Concurrent bool   // the ADU was inferred with the concurrent rules
	// ThinkNs is the think time after the ADU, -1 when not available: for a
	// sequential ADU the gap from its last data segment to the other side's
	// next data; for a concurrent one the same-direction idle gap.
	ThinkNs int64
	// ThinkToPeer is set when the think time ends at the other side's next
	// data (a sequential boundary): after a request it is the server's
	// response time. Otherwise (a quiet-time split, a concurrent gap) the
	// think time ends at this side's own next data.
	ThinkToPeer bool
	FirstNs     int64  // first data segment of the ADU
	LastNs      int64  // last data segment of the ADU (retransmissions included)
	Ordinal     uint32 // 0-based position among the connection's ADUs

	// RTT, SEQ fields.
	RTTNs    int64 // SYN→SYN-ACK (RTT record)
	AckRTTNs int64 // SYN-ACK→ACK (SEQ record), -1 if not measured

	// Conn is set on END records only. It is freshly allocated for each END
	// and owned by the receiver.
	Conn *ConnSummary
	// Reason is the END reason (END records only).
	Reason EndReason
}
