package archive

import (
	"cmp"
	"net/netip"
	"strings"

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
	connSorting = []parquet.SortingColumn{parquet.Ascending("server_ip"), parquet.Ascending("server_port"), parquet.Ascending("run_id"), parquet.Ascending("conn_id")}
	runSorting  = []parquet.SortingColumn{parquet.Ascending("ts")}
)

// aduCmp, connCmp and runCmp are the orders above, on typed rows.
func aduCmp(a, b *schema.ADU) int {
	if c := serverCmp(a.ServerIP, a.ServerPort, a.RunID, a.ConnID, b.ServerIP, b.ServerPort, b.RunID, b.ConnID); c != 0 {
		return c
	}
	return cmp.Compare(a.Ordinal, b.Ordinal)
}

func connCmp(a, b *schema.Connection) int {
	return serverCmp(a.ServerIP, a.ServerPort, a.RunID, a.ConnID, b.ServerIP, b.ServerPort, b.RunID, b.ConnID)
}

func runCmp(a, b *schema.Run) int {
	if c := cmp.Compare(a.Ts, b.Ts); c != 0 {
		return c
	}
	return strings.Compare(a.RunID, b.RunID)
}

func serverCmp(aIP string, aPort int32, aRun string, aConn int64, bIP string, bPort int32, bRun string, bConn int64) int {
	if c := strings.Compare(aIP, bIP); c != 0 {
		return c
	}
	if aPort != bPort {
		return cmp.Compare(aPort, bPort)
	}
	if c := strings.Compare(aRun, bRun); c != 0 {
		return c
	}
	return cmp.Compare(aConn, bConn)
}

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

// int64Slab hands out pointers to int64 values carved from large blocks,
// so that a row's optional columns cost no allocation each.
type int64Slab struct{ block []int64 }

func (s *int64Slab) ptr(v int64) *int64 {
	if len(s.block) == cap(s.block) {
		s.block = make([]int64, 0, 1<<14)
	}
	s.block = append(s.block, v)
	return &s.block[len(s.block)-1]
}

// addrCache reuses the text of addresses seen recently, so that most rows
// cost no string allocation for their endpoints.
type addrCache struct {
	m    map[netip.Addr]string
	slab int64Slab
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
		ServerIP:    c.text(r.Server.Addr()),
		ServerPort:  int32(r.Server.Port()),
		ClientIP:    c.text(r.Client.Addr()),
		ClientPort:  int32(r.Client.Port()),
		RunID:       runID,
		ConnID:      int64(r.ConnID),
		Ordinal:     int32(r.Ordinal),
		Direction:   r.Dir.String(),
		Size:        int64(r.Size),
		ThinkUs:     nil,
		Concurrent:  r.Concurrent,
		Complete:    r.Kind == ingest.KindADU,
		ThinkToPeer: r.Kind == ingest.KindADU && r.ThinkToPeer && r.ThinkNs >= 0,
	}
	if r.Kind == ingest.KindADU && r.ThinkNs >= 0 {
		row.ThinkUs = c.slab.ptr(us(r.ThinkNs))
	}
	decided := us(r.TsNs)
	row.Ts = decided
	if r.FirstNs != ingest.NoTime {
		row.Ts = us(r.FirstNs)
		if r.LastNs != ingest.NoTime {
			row.DurationUs = c.slab.ptr(us(r.LastNs) - row.Ts)
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

// sortingCmp orders ADU rows by a list of sorting columns (for the size
// measurements of alternative orders; only the columns used there).
func sortingCmp(cols []parquet.SortingColumn) func(a, b *schema.ADU) int {
	return func(a, b *schema.ADU) int {
		for _, c := range cols {
			var d int
			switch c.Path()[0] {
			case "ts":
				d = cmp.Compare(a.Ts, b.Ts)
			case "server_ip":
				d = strings.Compare(a.ServerIP, b.ServerIP)
			case "server_port":
				d = cmp.Compare(a.ServerPort, b.ServerPort)
			case "client_ip":
				d = strings.Compare(a.ClientIP, b.ClientIP)
			case "run_id":
				d = strings.Compare(a.RunID, b.RunID)
			case "conn_id":
				d = cmp.Compare(a.ConnID, b.ConnID)
			case "ordinal":
				d = cmp.Compare(a.Ordinal, b.Ordinal)
			}
			if d != 0 {
				return d
			}
		}
		return cmp.Compare(a.Ordinal, b.Ordinal)
	}
}
