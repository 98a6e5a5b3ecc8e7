package ingest

// Stats are the engine's counters. Every packet or connection the engine
// sets aside is counted here under the reason it was set aside.
type Stats struct {
	Segments uint64 // TCP segments processed

	// Records emitted, by kind.
	Records [KindPART + 1]uint64

	Conns           uint64 // connections tracked (SYN or SYN-ACK seen, or partial)
	ConnsSynAck     uint64 // of which the SYN was missed and the SYN-ACK began tracking
	ConnsPartial    uint64 // tracked partial connections (TrackPartial)
	SkippedNoSYN    uint64 // connections skipped because their handshake was not seen
	SkippedFilter   uint64 // connections skipped by InboundOnly
	SegsUntracked   uint64 // segments of skipped connections
	SegsAfterEnd    uint64 // segments of a connection after its END (late ACKs, FIN retransmissions)
	Evicted         uint64 // connections shed because the table was full (MaxConns or MemoryBudget)
	EvictedHalfOpen uint64 // of which had not completed the handshake
	EvictedSkipped  uint64 // untracked entries shed (no record is lost with them)
	EvictedClosed   uint64 // closed connections' lingering keys shed (their late packets then look untracked)
	HeldEarly       uint64 // held records released, or RST graces ended, before Hold passed, to keep within MemoryBudget
	PeakConns       int    // largest table size seen
	PeakMemory      int64  // largest Memory().Total() seen after a segment, bytes

	SeqAnomalies     uint64 // data segments outside ±2^30 of the expected position (resynchronised)
	RSTIgnored       uint64 // RSTs whose sequence number was implausible
	Ambiguous        uint64 // boundaries decided without conclusive acknowledgement evidence
	Refolds          uint64 // times held ADUs were re-joined when concurrency was found
	MergedPieces     uint64 // sequential pieces re-joined into concurrent ADUs
	HeldExpired      uint64 // held FIN-closed ADUs released without a think time
	TimeBackwards    uint64 // segments older than the latest seen (input not time-ordered)
	RecordsRestamped uint64 // records decided at a time older than one already written (input not time-ordered), written at that time
	WrittenEarly     uint64 // records written before an older one another worker held, to keep Sharded's merge within MemoryBudget
	TimeOutliers     uint64 // segments with an unusable time, or isolated ones over an hour off their neighbours', clamped
}
