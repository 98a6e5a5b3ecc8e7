package archive

import (
	"cmp"
	"strings"

	"github.com/parquet-go/parquet-go"

	"github.com/abt-dev/abt/internal/ingest"
	"github.com/abt-dev/abt/internal/partition"
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

// aduCmp, connCmp and runCmp are the orders above, on the tables' rows
// (compaction merges parts of several runs with them; a run's own rows
// are sorted in their compact form, see aduRows and connRows).
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

// aduRow is an adus row as a run holds it until its file is written
// (partition.Rows): fixed-size and without pointers. Its run is the
// writer's; an optional column is a value and a flag saying it is there.
type aduRow struct {
	Ts, ConnID, Size int64
	DurationUs       int64 // when aduDuration
	ThinkUs          int64 // when aduThink
	DecidedLagUs     int64
	Server, Client   addr
	ServerPort       uint16
	ClientPort       uint16
	Dir              ingest.Dir
	Flags            aduFlags
	Ordinal          int32
}

// aduFlags are an aduRow's booleans and the presence of its optional columns.
type aduFlags uint8

const (
	aduDuration aduFlags = 1 << iota
	aduThink
	aduConcurrent
	aduComplete
	aduThinkToPeer
)

// connRow is a connections row as a run holds it (see aduRow).
type connRow struct {
	Ts, ConnID                         int64
	SynUs, EstablishedUs, ConcurrentUs int64 // when connSyn, connEstablished, connConcurrentAt
	LastUs, EndUs                      int64
	RTTUs, AckRTTUs                    int64 // when connRTT, connAckRTT
	C2S, S2C                           dirRow
	SynAttempts, SynAckAttempts        int32
	Exchanges, Ambiguous               int32
	Server, Client                     addr
	ServerPort, ClientPort             uint16
	Label                              ingest.Label
	End                                ingest.EndReason
	Handshake                          ingest.Handshake
	Flags                              connFlags
}

// dirRow are one direction's columns of a connRow.
type dirRow struct {
	Pkts, DataPkts, Bytes, UniqueBytes, MissedBytes, RexmtPkts, RexmtBytes int64
	ADUs                                                                   int32
	MSS, WScale                                                            int32 // when dirMSS, dirWScale
	Flags                                                                  dirFlags
}

// connFlags are a connRow's booleans and the presence of its optional columns.
type connFlags uint8

const (
	connSyn connFlags = 1 << iota
	connEstablished
	connConcurrentAt
	connRTT
	connAckRTT
	connPartial
	connConcurrent
)

// dirFlags are a dirRow's booleans and the presence of its optional columns.
type dirFlags uint8

const (
	dirFIN dirFlags = 1 << iota
	dirRST
	dirMSS
	dirWScale
)

// newADURow is the adus row of an ADU or INC record.
func (t *addrs) newADURow(r *ingest.Record) aduRow {
	row := aduRow{
		Server:     t.of(r.Server.Addr()),
		ServerPort: r.Server.Port(),
		Client:     t.of(r.Client.Addr()),
		ClientPort: r.Client.Port(),
		ConnID:     int64(r.ConnID),
		Ordinal:    int32(r.Ordinal),
		Dir:        r.Dir,
		Size:       int64(r.Size),
	}
	if r.Concurrent {
		row.Flags |= aduConcurrent
	}
	if r.Kind == ingest.KindADU {
		row.Flags |= aduComplete
	}
	if r.Kind == ingest.KindADU && r.ThinkNs >= 0 {
		row.ThinkUs = us(r.ThinkNs)
		row.Flags |= aduThink
		if r.ThinkToPeer {
			row.Flags |= aduThinkToPeer
		}
	}
	decided := us(r.TsNs)
	row.Ts = decided
	if r.FirstNs != ingest.NoTime {
		row.Ts = us(r.FirstNs)
		if r.LastNs != ingest.NoTime {
			row.DurationUs = us(r.LastNs) - row.Ts
			row.Flags |= aduDuration
		}
	}
	// decided = ts + duration + think + lag, an absent column counting 0.
	row.DecidedLagUs = decided - row.Ts - row.DurationUs - row.ThinkUs
	return row
}

// newConnRow is the connections row of an END record.
func (t *addrs) newConnRow(r *ingest.Record) connRow {
	s := r.Conn
	row := connRow{
		Ts:             us(s.FirstNs),
		Server:         t.of(r.Server.Addr()),
		ServerPort:     r.Server.Port(),
		Client:         t.of(r.Client.Addr()),
		ClientPort:     r.Client.Port(),
		ConnID:         int64(r.ConnID),
		Label:          s.Label,
		End:            s.End,
		SynAttempts:    int32(s.SynAttempts),
		SynAckAttempts: int32(s.SynAckAttempts),
		Handshake:      s.Handshake,
		Exchanges:      int32(s.Exchanges),
		Ambiguous:      int32(s.Ambiguous),
		C2S:            newDirRow(&s.C2S),
		S2C:            newDirRow(&s.S2C),
	}
	opt := func(dst *int64, v int64, f connFlags, known bool) {
		if known {
			*dst = v
			row.Flags |= f
		}
	}
	opt(&row.RTTUs, us(s.RTTNs), connRTT, s.RTTNs >= 0)
	opt(&row.AckRTTUs, us(s.AckRTTNs), connAckRTT, s.AckRTTNs >= 0)
	opt(&row.SynUs, us(s.SynNs)-row.Ts, connSyn, s.Handshake == ingest.HandshakeSYN && s.SynNs != ingest.NoTime)
	opt(&row.EstablishedUs, us(s.EstablishedNs)-row.Ts, connEstablished, s.EstablishedNs != 0 && s.EstablishedNs != ingest.NoTime)
	opt(&row.ConcurrentUs, us(s.ConcurrentNs)-row.Ts, connConcurrentAt, s.Concurrent && s.ConcurrentNs != 0)
	if s.Partial {
		row.Flags |= connPartial
	}
	if s.Concurrent {
		row.Flags |= connConcurrent
	}
	row.LastUs = us(s.LastNs) - row.Ts
	row.EndUs = us(s.EndNs) - row.Ts
	return row
}

func newDirRow(d *ingest.DirStats) dirRow {
	row := dirRow{
		ADUs: int32(d.ADUs), Pkts: int64(d.Pkts), DataPkts: int64(d.DataPkts), Bytes: int64(d.Bytes),
		UniqueBytes: int64(d.UniqueBytes), MissedBytes: int64(d.MissedBytes),
		RexmtPkts: int64(d.RexmtPkts), RexmtBytes: int64(d.RexmtBytes),
	}
	if d.FIN {
		row.Flags |= dirFIN
	}
	if d.RST {
		row.Flags |= dirRST
	}
	if d.MSS != 0 {
		row.MSS = int32(d.MSS)
		row.Flags |= dirMSS
	}
	if d.WScale >= 0 {
		row.WScale = int32(d.WScale)
		row.Flags |= dirWScale
	}
	return row
}

// rowWriter converts a run's compact rows into the tables' rows: the
// addresses' texts, the run, the optional columns as pointers.
//
// Each table's writer has its own (its Convert runs on the writer's
// publisher): they share the run's addrs.
type rowWriter struct {
	addrs *addrs
	text  textCache
	runID string
	i64   slab[int64]
	i32   slab[int32]
}

// slab hands out pointers to values carved from large blocks, so that a
// row's optional columns cost no allocation each.
type slab[V any] struct{ block []V }

func (s *slab[V]) ptr(v V) *V {
	if len(s.block) == cap(s.block) {
		s.block = make([]V, 0, 1<<14)
	}
	s.block = append(s.block, v)
	return &s.block[len(s.block)-1]
}

func optPtr[V any](s *slab[V], v V, known bool) *V {
	if !known {
		return nil
	}
	return s.ptr(v)
}

// adu sets dst to the adus row src stands for.
func (w *rowWriter) adu(dst *schema.ADU, src *aduRow) {
	*dst = schema.ADU{
		Ts:           src.Ts,
		ServerIP:     w.addrs.textOf(&w.text, src.Server),
		ServerPort:   int32(src.ServerPort),
		ClientIP:     w.addrs.textOf(&w.text, src.Client),
		ClientPort:   int32(src.ClientPort),
		RunID:        w.runID,
		ConnID:       src.ConnID,
		Ordinal:      src.Ordinal,
		Direction:    src.Dir.String(),
		Size:         src.Size,
		DurationUs:   optPtr(&w.i64, src.DurationUs, src.Flags&aduDuration != 0),
		ThinkUs:      optPtr(&w.i64, src.ThinkUs, src.Flags&aduThink != 0),
		DecidedLagUs: src.DecidedLagUs,
		Concurrent:   src.Flags&aduConcurrent != 0,
		Complete:     src.Flags&aduComplete != 0,
		ThinkToPeer:  src.Flags&aduThinkToPeer != 0,
	}
}

// conn sets dst to the connections row src stands for.
func (w *rowWriter) conn(dst *schema.Connection, src *connRow) {
	c2s, s2c := &src.C2S, &src.S2C
	*dst = schema.Connection{
		Ts:             src.Ts,
		ServerIP:       w.addrs.textOf(&w.text, src.Server),
		ServerPort:     int32(src.ServerPort),
		ClientIP:       w.addrs.textOf(&w.text, src.Client),
		ClientPort:     int32(src.ClientPort),
		RunID:          w.runID,
		ConnID:         src.ConnID,
		Label:          src.Label.String(),
		SynUs:          optPtr(&w.i64, src.SynUs, src.Flags&connSyn != 0),
		EstablishedUs:  optPtr(&w.i64, src.EstablishedUs, src.Flags&connEstablished != 0),
		ConcurrentUs:   optPtr(&w.i64, src.ConcurrentUs, src.Flags&connConcurrentAt != 0),
		LastUs:         src.LastUs,
		EndUs:          src.EndUs,
		EndReason:      src.End.String(),
		RTTUs:          optPtr(&w.i64, src.RTTUs, src.Flags&connRTT != 0),
		AckRTTUs:       optPtr(&w.i64, src.AckRTTUs, src.Flags&connAckRTT != 0),
		SynAttempts:    src.SynAttempts,
		SynAckAttempts: src.SynAckAttempts,
		Handshake:      src.Handshake.String(),
		Partial:        src.Flags&connPartial != 0,
		Concurrent:     src.Flags&connConcurrent != 0,
		Exchanges:      src.Exchanges,
		Ambiguous:      src.Ambiguous,

		C2SADUs: c2s.ADUs, C2SPkts: c2s.Pkts, C2SDataPkts: c2s.DataPkts,
		C2SBytes: c2s.Bytes, C2SUniqueBytes: c2s.UniqueBytes, C2SMissedBytes: c2s.MissedBytes,
		C2SRexmtPkts: c2s.RexmtPkts, C2SRexmtBytes: c2s.RexmtBytes, C2SFIN: c2s.Flags&dirFIN != 0, C2SRST: c2s.Flags&dirRST != 0,
		C2SMSS: optPtr(&w.i32, c2s.MSS, c2s.Flags&dirMSS != 0), C2SWScale: optPtr(&w.i32, c2s.WScale, c2s.Flags&dirWScale != 0),

		S2CADUs: s2c.ADUs, S2CPkts: s2c.Pkts, S2CDataPkts: s2c.DataPkts,
		S2CBytes: s2c.Bytes, S2CUniqueBytes: s2c.UniqueBytes, S2CMissedBytes: s2c.MissedBytes,
		S2CRexmtPkts: s2c.RexmtPkts, S2CRexmtBytes: s2c.RexmtBytes, S2CFIN: s2c.Flags&dirFIN != 0, S2CRST: s2c.Flags&dirRST != 0,
		S2CMSS: optPtr(&w.i32, s2c.MSS, s2c.Flags&dirMSS != 0), S2CWScale: optPtr(&w.i32, s2c.WScale, s2c.Flags&dirWScale != 0),
	}
}

// aduCmpRow and connCmpRow are the file orders on compact rows (for the
// merge of a part's sorted chunks; sortRows sorts a chunk without them).
func (t *addrs) aduCmpRow(a, b *aduRow) int {
	if c := t.cmp(a.Server, b.Server); c != 0 {
		return c
	}
	return cmp.Or(cmp.Compare(a.ServerPort, b.ServerPort), cmp.Compare(a.ConnID, b.ConnID), cmp.Compare(a.Ordinal, b.Ordinal))
}

func (t *addrs) connCmpRow(a, b *connRow) int {
	if c := t.cmp(a.Server, b.Server); c != 0 {
		return c
	}
	return cmp.Or(cmp.Compare(a.ServerPort, b.ServerPort), cmp.Compare(a.ConnID, b.ConnID))
}

func aduKey(r *aduRow) rowKey {
	return rowKey{server: r.Server, port: r.ServerPort, conn: r.ConnID, ordinal: r.Ordinal}
}

func connKey(r *connRow) rowKey { return rowKey{server: r.Server, port: r.ServerPort, conn: r.ConnID} }

// aduRows is how the adus table's writer holds its rows; sorting, when
// not nil, replaces the file order (for measurements, see sortingCmp).
func (w *rowWriter) aduRows(s *serverSorter, sorting []parquet.SortingColumn) partition.Rows[aduRow, schema.ADU] {
	rows := partition.Rows[aduRow, schema.ADU]{
		Ts:          func(r *aduRow) int64 { return r.Ts },
		Cmp:         w.addrs.aduCmpRow,
		Sort:        func(rows []aduRow, perm []int32) { sortRows(s, rows, perm, aduKey) },
		SortScratch: sortScratch,
		Convert:     w.adu,
	}
	if sorting != nil {
		rows.Cmp, rows.Sort, rows.SortScratch = sortingCmp(w.addrs, sorting), nil, 0
	}
	return rows
}

// connRows is how the connections table's writer holds its rows.
func (w *rowWriter) connRows(s *serverSorter) partition.Rows[connRow, schema.Connection] {
	return partition.Rows[connRow, schema.Connection]{
		Ts:          func(r *connRow) int64 { return r.Ts },
		Cmp:         w.addrs.connCmpRow,
		Sort:        func(rows []connRow, perm []int32) { sortRows(s, rows, perm, connKey) },
		SortScratch: sortScratch,
		Convert:     w.conn,
	}
}

// runRef is a runs row as its writer holds it: its time, and its index
// among the rows kept aside (a run writes one row).
type runRef struct{ Ts, I int64 }

// runRows is how the runs table's writer holds rows, kept aside in rows.
func runRows(rows []schema.Run) partition.Rows[runRef, schema.Run] {
	return partition.Rows[runRef, schema.Run]{
		Ts:      func(r *runRef) int64 { return r.Ts },
		Cmp:     func(a, b *runRef) int { return runCmp(&rows[a.I], &rows[b.I]) },
		Convert: func(dst *schema.Run, src *runRef) { *dst = rows[src.I] },
	}
}

// sortingCmp orders adus rows by a list of sorting columns (for the size
// measurements of alternative orders; only the columns used there).
func sortingCmp(t *addrs, cols []parquet.SortingColumn) func(a, b *aduRow) int {
	return func(a, b *aduRow) int {
		for _, c := range cols {
			var d int
			switch c.Path()[0] {
			case "ts":
				d = cmp.Compare(a.Ts, b.Ts)
			case "server_ip":
				d = t.cmp(a.Server, b.Server)
			case "server_port":
				d = cmp.Compare(a.ServerPort, b.ServerPort)
			case "client_ip":
				d = t.cmp(a.Client, b.Client)
			case "conn_id":
				d = cmp.Compare(a.ConnID, b.ConnID)
			case "ordinal":
				d = cmp.Compare(a.Ordinal, b.Ordinal)
			}
			if d != 0 {
				return d
			}
		}
		// The run's rows all have its run_id. The rest makes the order
		// total, so that it does not depend on how a part was spilled.
		return cmp.Or(cmp.Compare(a.ConnID, b.ConnID), cmp.Compare(a.Ordinal, b.Ordinal))
	}
}
