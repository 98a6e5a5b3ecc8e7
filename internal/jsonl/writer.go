// Package jsonl writes inference records as JSON Lines: one object per
// record, with every field the engine produces (the END record carries the
// connection summary). It is the lossless text form of the records, used
// for golden tests and for tools that want more than adudump text shows.
package jsonl

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"

	"github.com/abt-dev/abt/internal/ingest"
)

// Writer formats records as JSON Lines. It implements ingest.Sink.
type Writer struct {
	w   *bufio.Writer
	enc *json.Encoder
}

// NewWriter returns a Writer buffering to w; call Flush at the end.
func NewWriter(w io.Writer) *Writer {
	bw := bufio.NewWriterSize(w, 64<<10)
	return &Writer{w: bw, enc: json.NewEncoder(bw)}
}

// Flush writes any buffered output.
func (t *Writer) Flush() error {
	if err := t.w.Flush(); err != nil {
		return fmt.Errorf("flush json lines: %w", err)
	}
	return nil
}

// line is the JSON shape of a record. Times are ns since the Unix epoch;
// optional fields are omitted where they do not apply to the record kind.
type line struct {
	Kind       string  `json:"kind"`
	TsNs       int64   `json:"ts_ns"`
	ConnID     uint64  `json:"conn_id"`
	Client     string  `json:"client"`
	Server     string  `json:"server"`
	Dir        string  `json:"dir"`
	Label      string  `json:"label,omitempty"`
	Size       *uint64 `json:"size,omitempty"`
	Concurrent *bool   `json:"concurrent,omitempty"`
	ThinkNs    *int64  `json:"think_ns,omitempty"`
	ToPeer     *bool   `json:"think_to_peer,omitempty"`
	FirstNs    *int64  `json:"first_ns,omitempty"`
	LastNs     *int64  `json:"last_ns,omitempty"`
	Ordinal    *uint32 `json:"ordinal,omitempty"`
	RTTNs      *int64  `json:"rtt_ns,omitempty"`
	AckRTTNs   *int64  `json:"ack_rtt_ns,omitempty"`
	Reason     string  `json:"reason,omitempty"`
	Conn       *conn   `json:"conn,omitempty"`
}

type dirStats struct {
	Pkts        uint64 `json:"pkts"`
	DataPkts    uint64 `json:"data_pkts"`
	Bytes       uint64 `json:"bytes"`
	UniqueBytes uint64 `json:"unique_bytes"`
	MissedBytes uint64 `json:"missed_bytes"`
	RexmtPkts   uint64 `json:"rexmt_pkts"`
	RexmtBytes  uint64 `json:"rexmt_bytes"`
	ADUs        uint32 `json:"adus"`
	FIN         bool   `json:"fin"`
	RST         bool   `json:"rst"`
	MSS         uint16 `json:"mss"`
	WScale      int8   `json:"wscale"`
}

type conn struct {
	SynNs          int64    `json:"syn_ns"`
	EstablishedNs  int64    `json:"established_ns"`
	FirstNs        int64    `json:"first_ns"`
	LastNs         int64    `json:"last_ns"`
	EndNs          int64    `json:"end_ns"`
	RTTNs          int64    `json:"rtt_ns"`
	AckRTTNs       int64    `json:"ack_rtt_ns"`
	SynAttempts    uint32   `json:"syn_attempts"`
	SynAckAttempts uint32   `json:"synack_attempts"`
	Handshake      string   `json:"handshake"`
	Partial        bool     `json:"partial"`
	Concurrent     bool     `json:"concurrent"`
	Exchanges      uint32   `json:"exchanges"`
	Ambiguous      uint32   `json:"ambiguous"`
	C2S            dirStats `json:"c2s"`
	S2C            dirStats `json:"s2c"`
}

func toDir(d *ingest.DirStats) dirStats {
	return dirStats{d.Pkts, d.DataPkts, d.Bytes, d.UniqueBytes, d.MissedBytes, d.RexmtPkts, d.RexmtBytes, d.ADUs, d.FIN, d.RST, d.MSS, d.WScale}
}

// Record writes one record as a JSON object on its own line.
func (t *Writer) Record(r *ingest.Record) error {
	l := line{Kind: r.Kind.String(), TsNs: r.TsNs, ConnID: r.ConnID, Client: r.Client.String(),
		Server: r.Server.String(), Dir: r.Dir.String(), Label: r.Label.String()}
	switch r.Kind {
	case ingest.KindADU, ingest.KindINC:
		l.Size, l.Concurrent, l.FirstNs, l.LastNs, l.Ordinal = &r.Size, &r.Concurrent, &r.FirstNs, &r.LastNs, &r.Ordinal
		if r.ThinkNs >= 0 {
			l.ThinkNs = &r.ThinkNs
			l.ToPeer = &r.ThinkToPeer
		}
	case ingest.KindRTT:
		l.RTTNs = &r.RTTNs
	case ingest.KindSEQ:
		if r.AckRTTNs >= 0 {
			l.AckRTTNs = &r.AckRTTNs
		}
	case ingest.KindEND:
		l.Reason = r.Reason.String()
		if s := r.Conn; s != nil {
			l.Conn = &conn{s.SynNs, s.EstablishedNs, s.FirstNs, s.LastNs, s.EndNs, s.RTTNs, s.AckRTTNs,
				s.SynAttempts, s.SynAckAttempts, s.Handshake.String(), s.Partial, s.Concurrent, s.Exchanges,
				s.Ambiguous, toDir(&s.C2S), toDir(&s.S2C)}
		}
	}
	if err := t.enc.Encode(&l); err != nil {
		return fmt.Errorf("write json lines: %w", err)
	}
	return nil
}
