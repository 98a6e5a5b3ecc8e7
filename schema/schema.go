// Package schema defines the archive's tables as Go row types whose
// parquet struct tags are the on-disk Parquet schema, and the schema
// version written in every file's footer. docs/schema.md documents every
// column; a golden test freezes the rendered schema.
//
// Three tables:
//   - adus: one row per application data unit;
//   - connections: one row per connection;
//   - runs: one row per collection run (the run log, Table 3 of the paper).
//
// Conventions: times are TIMESTAMP (microseconds, UTC, stored without the
// "adjusted to UTC" flag so that every engine reads them as plain
// TIMESTAMP); durations are integer microseconds with a _us suffix; IP
// addresses are their canonical text (dotted quad, RFC 5952 IPv6), which SQL
// filters and groups on directly. Every table has a non-null ts column that
// picks the row's hourly partition.
//
// Encodings: PLAIN, and dictionaries (the dict tags) for text that repeats;
// no DELTA encoding, which older readers (Spark's vectorized reader before
// 3.3) refuse, and which measured no smaller here (docs/archive-size.md).
package schema

// Version is the schema version, written in each file's footer under
// MetaSchemaVersion. It changes only when a column changes meaning or type;
// adding a nullable column at the end does not change it.
const Version = 1

// Footer key/value metadata keys.
const (
	MetaSchemaVersion = "abt.schema_version"
	MetaTable         = "abt.table"
	MetaProducer      = "abt.producer"
	MetaSensor        = "abt.sensor"
	MetaRunIDs        = "abt.run_ids" // comma-separated runs whose rows the file holds
	MetaHour          = "abt.hour"    // the partition hour, RFC 3339
)

// Table names, which are also the archive's top-level directories.
const (
	TableADUs        = "adus"
	TableConnections = "connections"
	TableRuns        = "runs"
)

// Tables lists the table names in a fixed order.
var Tables = []string{TableADUs, TableConnections, TableRuns}

// ADU is one row of the adus table.
type ADU struct {
	// Ts picks the partition: the ADU's start time (its first data
	// segment), or, for ADUs read from adudump text logs, which do not carry
	// it, the time of the line (then DurationUs is null).
	Ts         int64  `parquet:"ts,timestamp(microsecond:local)"`
	ServerIP   string `parquet:"server_ip,dict"`
	ServerPort int32  `parquet:"server_port"`
	ClientIP   string `parquet:"client_ip,dict"`
	ClientPort int32  `parquet:"client_port"`
	RunID      string `parquet:"run_id,dict"`
	ConnID     int64  `parquet:"conn_id"`
	Ordinal    int32  `parquet:"ordinal"`
	Direction  string `parquet:"direction,dict"` // c2s (request) or s2c (response)
	Size       int64  `parquet:"size"`
	// DurationUs is the time from the ADU's first to its last data segment;
	// null when the start is unknown.
	DurationUs *int64 `parquet:"duration_us,optional"`
	// ThinkUs is the think time after the ADU; null when unknown.
	ThinkUs *int64 `parquet:"think_us,optional"`
	// DecidedLagUs places the time the ADU was known complete (the record
	// time of adudump text): decided_time = ts + coalesce(duration_us, 0) +
	// coalesce(think_us, 0) + decided_lag_us. It is 0 for most ADUs.
	DecidedLagUs int64 `parquet:"decided_lag_us"`
	Concurrent   bool  `parquet:"concurrent"`
	Complete     bool  `parquet:"complete"` // false: still open when the input ended (INC)
	// ThinkToPeer: the think time ends at the other side's next data (a
	// sequential boundary), so after a request it is the server's response
	// time; false when it ends at this side's own next data (a quiet-time
	// split, a concurrent gap) or is unknown.
	ThinkToPeer bool `parquet:"think_to_peer"`
}

// Connection is one row of the connections table.
type Connection struct {
	// Ts picks the partition: the connection's first packet.
	Ts         int64  `parquet:"ts,timestamp(microsecond:local)"`
	ServerIP   string `parquet:"server_ip,dict"`
	ServerPort int32  `parquet:"server_port"`
	ClientIP   string `parquet:"client_ip,dict"`
	ClientPort int32  `parquet:"client_port"`
	RunID      string `parquet:"run_id,dict"`
	ConnID     int64  `parquet:"conn_id"`
	Label      string `parquet:"label,dict"` // in, out, local, external, or empty
	// The connection's other times, as offsets from Ts (µs): null when the
	// event was not seen.
	SynUs          *int64 `parquet:"syn_us,optional"`
	EstablishedUs  *int64 `parquet:"established_us,optional"`
	ConcurrentUs   *int64 `parquet:"concurrent_us,optional"`
	LastUs         int64  `parquet:"last_us"` // its last packet
	EndUs          int64  `parquet:"end_us"`  // its END record
	EndReason      string `parquet:"end_reason,dict"`
	RTTUs          *int64 `parquet:"rtt_us,optional"`
	AckRTTUs       *int64 `parquet:"ack_rtt_us,optional"`
	SynAttempts    int32  `parquet:"syn_attempts"`
	SynAckAttempts int32  `parquet:"synack_attempts"`
	Handshake      string `parquet:"handshake,dict"` // syn, synack or none
	Partial        bool   `parquet:"partial"`
	Concurrent     bool   `parquet:"concurrent"`
	Exchanges      int32  `parquet:"exchanges"`
	Ambiguous      int32  `parquet:"ambiguous"`

	C2SADUs        int32  `parquet:"c2s_adus"`
	C2SPkts        int64  `parquet:"c2s_pkts"`
	C2SDataPkts    int64  `parquet:"c2s_data_pkts"`
	C2SBytes       int64  `parquet:"c2s_bytes"`
	C2SUniqueBytes int64  `parquet:"c2s_unique_bytes"`
	C2SMissedBytes int64  `parquet:"c2s_missed_bytes"`
	C2SRexmtPkts   int64  `parquet:"c2s_rexmt_pkts"`
	C2SRexmtBytes  int64  `parquet:"c2s_rexmt_bytes"`
	C2SFIN         bool   `parquet:"c2s_fin"`
	C2SRST         bool   `parquet:"c2s_rst"`
	C2SMSS         *int32 `parquet:"c2s_mss,optional"`
	C2SWScale      *int32 `parquet:"c2s_wscale,optional"`

	S2CADUs        int32  `parquet:"s2c_adus"`
	S2CPkts        int64  `parquet:"s2c_pkts"`
	S2CDataPkts    int64  `parquet:"s2c_data_pkts"`
	S2CBytes       int64  `parquet:"s2c_bytes"`
	S2CUniqueBytes int64  `parquet:"s2c_unique_bytes"`
	S2CMissedBytes int64  `parquet:"s2c_missed_bytes"`
	S2CRexmtPkts   int64  `parquet:"s2c_rexmt_pkts"`
	S2CRexmtBytes  int64  `parquet:"s2c_rexmt_bytes"`
	S2CFIN         bool   `parquet:"s2c_fin"`
	S2CRST         bool   `parquet:"s2c_rst"`
	S2CMSS         *int32 `parquet:"s2c_mss,optional"`
	S2CWScale      *int32 `parquet:"s2c_wscale,optional"`
}

// Counter is a named count (packets set aside by reason, records by kind).
type Counter struct {
	Name  string `parquet:"name"`
	Value int64  `parquet:"value"`
}

// Input is one input of a run.
type Input struct {
	Name        string `parquet:"name"`        // as given on the command line
	Fingerprint string `parquet:"fingerprint"` // see Fingerprint; empty for standard input
	Format      string `parquet:"format"`      // pcap, pcapng, erf, adudump
	Compression string `parquet:"compression"` // gzip, zstd or empty
	Packets     int64  `parquet:"packets"`     // packets (or log lines) read
	Bytes       int64  `parquet:"bytes"`       // captured bytes (or log bytes) read
}

// Run is one row of the runs table: one invocation of adu2parquet.
type Run struct {
	// Ts picks the partition: the run's first packet (or, with no packet,
	// its wall-clock start).
	Ts            int64     `parquet:"ts,timestamp(microsecond:local)"`
	RunID         string    `parquet:"run_id"`
	Sensor        string    `parquet:"sensor"`
	Producer      string    `parquet:"producer"`
	SchemaVersion int32     `parquet:"schema_version"`
	Status        string    `parquet:"status"`                                // complete, or failed: <error>
	Started       int64     `parquet:"started,timestamp(microsecond:local)"`  // wall clock
	Finished      int64     `parquet:"finished,timestamp(microsecond:local)"` // wall clock
	FirstPacket   *int64    `parquet:"first_packet,optional,timestamp(microsecond:local)"`
	LastPacket    *int64    `parquet:"last_packet,optional,timestamp(microsecond:local)"`
	Inputs        []Input   `parquet:"inputs,list"`
	Packets       int64     `parquet:"packets"`
	Bytes         int64     `parquet:"bytes"`        // captured bytes read
	TCPSegments   int64     `parquet:"tcp_segments"` // packets decoded as TCP
	Drops         *int64    `parquet:"drops,optional"`
	Connections   int64     `parquet:"connections"`
	ADUs          int64     `parquet:"adus"`
	BytesWritten  int64     `parquet:"bytes_written"` // archive bytes this run published
	FilesWritten  int64     `parquet:"files_written"`
	Records       []Counter `parquet:"records,list"`   // records by kind
	SetAside      []Counter `parquet:"set_aside,list"` // packets, segments, connections set aside, by reason
	QuietTimeUs   int64     `parquet:"quiet_time_us"`
	HoldUs        int64     `parquet:"hold_us"`
	IdleTimeoutUs int64     `parquet:"idle_timeout_us"`
	HandshakeUs   int64     `parquet:"handshake_timeout_us"`
	MaxConns      int64     `parquet:"max_conns"`
	LocalNets     []string  `parquet:"local_nets,list"`
	InboundOnly   bool      `parquet:"inbound_only"`
	TrackPartial  bool      `parquet:"track_partial"`
	// Hours are a live run's figures by hour of its clock, in order (null
	// for files; added after Version 1 froze: files written before lack
	// the column, which readers take as null).
	Hours []LinkHour `parquet:"hours,optional,list"`
}

// LinkHour is one hour of a live run: the packets it read and the packets
// lost in that hour. The counters are read at the run's progress points
// (every ingest.ProgressEvery packets, and every quarter second on a quiet
// link): an hour has what they grew by up to its last point, so what was
// read or lost after it, in the hour's last quarter second or last
// ProgressEvery packets, is the next hour's.
type LinkHour struct {
	Hour    int64 `parquet:"hour,timestamp(microsecond:local)"` // the hour's start
	Packets int64 `parquet:"packets"`                           // packets read
	// Drops: packets the kernel dropped (its ring was full), as the run's
	// drops column; InterfaceDrops: packets the interfaces dropped on
	// receive (their counters, for every frame they received).
	Drops          int64 `parquet:"drops"`
	InterfaceDrops int64 `parquet:"interface_drops"`
}
