package archive

import (
	"net/netip"

	"github.com/parquet-go/parquet-go"

	"github.com/abt-dev/abt/internal/ingest"
	"github.com/abt-dev/abt/schema"
)

// Sorting orders the rows within each file: by server, then time. A
// per-server question reads the few row groups whose server_ip range
// covers the server (min/max statistics), and rows of one server sit
// together, which compresses best (docs/archive-size.md compares orders).
var (
	aduSorting  = []parquet.SortingColumn{parquet.Ascending("server_ip"), parquet.Ascending("server_port"), parquet.Ascending("run_id"), parquet.Ascending("conn_id"), parquet.Ascending("ordinal")}
	connSorting = []parquet.SortingColumn{parquet.Ascending("server_ip"), parquet.Ascending("server_port"), parquet.Ascending("ts")}
	runSorting  = []parquet.SortingColumn{parquet.Ascending("ts")}
)

func aduTs(r *schema.ADU) int64         { return r.Ts }
func connTs(r *schema.Connection) int64 { return r.Ts }
func runTs(r *schema.Run) int64         { return r.Ts }

// us converts ns to µs, rounding towards minus infinity.
func us(ns int64) int64 {
	q := ns / 1000
	if ns%1000 < 0 {
		q--
	}
	return q
}

func optUs(ns int64, known bool) *int64 {
	if !known {
		return nil
	}
	v := us(ns)
	return &v
}

// addrCache reuses the text of addresses seen recently, so that most rows
// cost no string allocation for their endpoints.
type addrCache struct {
	m map[netip.Addr]string
}

func (c *addrCache) text(a netip.Addr) string {
	if s, ok := c.m[a]; ok {
		return s
	}
	if c.m == nil || len(c.m) >= 1<<16 {
		c.m = make(map[netip.Addr]string, 1<<12)
	}
	s := a.String()
	c.m[a] = s
	return s
}

// aduRow converts an ADU or INC record.
func (c *addrCache) aduRow(runID string, r *ingest.Record) schema.ADU {
	row := schema.ADU{
		ServerIP:   c.text(r.Server.Addr()),
		ServerPort: int32(r.Server.Port()),
		ClientIP:   c.text(r.Client.Addr()),
		ClientPort: int32(r.Client.Port()),
		RunID:      runID,
		ConnID:     int64(r.ConnID),
		Ordinal:    int32(r.Ordinal),
		Direction:  r.Dir.String(),
		Size:       int64(r.Size),
		ThinkUs:    optUs(r.ThinkNs, r.Kind == ingest.KindADU && r.ThinkNs >= 0),
		Concurrent: r.Concurrent,
		Complete:   r.Kind == ingest.KindADU,
	}
	decided := us(r.TsNs)
	row.Ts = decided
	if r.FirstNs != ingest.NoTime {
		row.Ts = us(r.FirstNs)
		if r.LastNs != ingest.NoTime {
			d := us(r.LastNs) - row.Ts
			row.DurationUs = &d
		}
	}
	lag := decided - row.Ts
	if row.DurationUs != nil {
		lag -= *row.DurationUs
	}
	if row.ThinkUs != nil {
		lag -= *row.ThinkUs
	}
	row.DecidedLagUs = lag
	return row
}

// offUs is a time's offset in µs from base (µs), or nil when unknown.
func offUs(ns, base int64, known bool) *int64 {
	if !known {
		return nil
	}
	v := us(ns) - base
	return &v
}

func optInt32(v int32, known bool) *int32 {
	if !known {
		return nil
	}
	return &v
}

// connRow converts an END record.
func (c *addrCache) connRow(runID string, r *ingest.Record) schema.Connection {
	s := r.Conn
	row := schema.Connection{
		Ts:             us(s.FirstNs),
		ServerIP:       c.text(r.Server.Addr()),
		ServerPort:     int32(r.Server.Port()),
		ClientIP:       c.text(r.Client.Addr()),
		ClientPort:     int32(r.Client.Port()),
		RunID:          runID,
		ConnID:         int64(r.ConnID),
		Label:          s.Label.String(),
		EndReason:      s.End.String(),
		RTTUs:          optUs(s.RTTNs, s.RTTNs >= 0),
		AckRTTUs:       optUs(s.AckRTTNs, s.AckRTTNs >= 0),
		SynAttempts:    int32(s.SynAttempts),
		SynAckAttempts: int32(s.SynAckAttempts),
		Handshake:      s.Handshake.String(),
		Partial:        s.Partial,
		Concurrent:     s.Concurrent,
		Exchanges:      int32(s.Exchanges),
		Ambiguous:      int32(s.Ambiguous),

		C2SADUs: int32(s.C2S.ADUs), C2SPkts: int64(s.C2S.Pkts), C2SDataPkts: int64(s.C2S.DataPkts),
		C2SBytes: int64(s.C2S.Bytes), C2SUniqueBytes: int64(s.C2S.UniqueBytes), C2SMissedBytes: int64(s.C2S.MissedBytes),
		C2SRexmtPkts: int64(s.C2S.RexmtPkts), C2SRexmtBytes: int64(s.C2S.RexmtBytes), C2SFIN: s.C2S.FIN, C2SRST: s.C2S.RST,
		C2SMSS: optInt32(int32(s.C2S.MSS), s.C2S.MSS != 0), C2SWScale: optInt32(int32(s.C2S.WScale), s.C2S.WScale >= 0),

		S2CADUs: int32(s.S2C.ADUs), S2CPkts: int64(s.S2C.Pkts), S2CDataPkts: int64(s.S2C.DataPkts),
		S2CBytes: int64(s.S2C.Bytes), S2CUniqueBytes: int64(s.S2C.UniqueBytes), S2CMissedBytes: int64(s.S2C.MissedBytes),
		S2CRexmtPkts: int64(s.S2C.RexmtPkts), S2CRexmtBytes: int64(s.S2C.RexmtBytes), S2CFIN: s.S2C.FIN, S2CRST: s.S2C.RST,
		S2CMSS: optInt32(int32(s.S2C.MSS), s.S2C.MSS != 0), S2CWScale: optInt32(int32(s.S2C.WScale), s.S2C.WScale >= 0),
	}
	row.SynUs = offUs(s.SynNs, row.Ts, s.Handshake == ingest.HandshakeSYN && s.SynNs != ingest.NoTime)
	row.EstablishedUs = offUs(s.EstablishedNs, row.Ts, s.EstablishedNs != 0 && s.EstablishedNs != ingest.NoTime)
	row.ConcurrentUs = offUs(s.ConcurrentNs, row.Ts, s.Concurrent && s.ConcurrentNs != 0)
	row.LastUs = us(s.LastNs) - row.Ts
	row.EndUs = us(s.EndNs) - row.Ts
	return row
}
