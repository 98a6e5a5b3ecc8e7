package ingest

import "unsafe"

// The engine keeps its own account of the memory it holds, in bytes, from
// the size of each thing it allocates (rounded up to the Go allocator's size
// classes) and the measured cost of a table slot. TestMemoryCosts checks the
// account against the Go heap for each kind of entry; docs/inference.md
// ("Memory bound") lists the figures and how to reproduce them.
//
// With Options.MemoryBudget set, the account is split in two shares:
//   - the table (entries, their flow state and held records, the map's
//     slots, recycled entries) gets 3/4 of the budget; a new entry that would
//     not fit sheds others first, cheapest first (see shed), and so does any
//     growth of the table at the end of a segment;
//   - the reorder stage (records decided but not yet written because an
//     older one is held) gets 1/4; beyond it the records held longest are
//     released early, which lets the stage drain.
//
// The account is checked after every segment, so it exceeds the budget
// only within one segment's processing (by that segment's own records).

// Costs in bytes, from the types' sizes.
var (
	// costConn is one table entry: every entry, whatever its kind, has one
	// conn (a half-open connection or a closed key has nothing else).
	costConn = allocSize(unsafe.Sizeof(conn{}))
	// costBody is the flow state of a connection past its handshake.
	costBody = allocSize(unsafe.Sizeof(connBody{}))
	// costHoles is one direction's remembered holes, once it has one.
	costHoles = allocSize(unsafe.Sizeof(holeSet{}))
	// costHeld is one held ADU record (a slot of a pending slice).
	costHeld = int64(unsafe.Sizeof(heldADU{}))
	// costRecord, costRef and costSlabIndex are a record waiting in the
	// reorder stage, its place in the queue and in the free list.
	costRecord    = int64(unsafe.Sizeof(Record{}))
	costRef       = int64(unsafe.Sizeof(readyRef{}))
	costSlabIndex = int64(unsafe.Sizeof(int32(0)))
	// costSummary is the summary an END record carries.
	costSummary = allocSize(unsafe.Sizeof(ConnSummary{}))
	// costHeldEntry is one entry of the held heap.
	costHeldEntry = int64(unsafe.Sizeof(heldEntry{}))
)

// costSlot is what the connection table's map costs per entry it has room
// for: a 48-byte slot (key and pointer) and its control byte, at the lowest
// load factor Go's map has right after one of its tables doubled (7/16),
// plus its directory. Measured on Go 1.26 (amd64) for maps of 20,000 to
// 2,000,000 entries: 70 to 119 bytes per entry (TestMemoryCosts checks the
// account against the heap). The map never shrinks by itself, so the engine
// charges it for the largest size it has reached (and rebuilds it when the
// table has shrunk to a quarter of that).
const costSlot = 120

// Sizes the engine keeps for reuse, so that ordinary traffic allocates
// little, and beyond which it gives room back.
const (
	initialSlots   = 4096     // the map's initial room, in entries
	maxFree        = 4096     // recycled entries and bodies kept, of each
	minPendingCap  = 4        // held-record room a connection keeps when it holds none
	maxScratch     = 1024     // refold scratch kept, in held records
	keepHeapRoom   = 4096     // room the held heap keeps when it empties, in entries
	keepQueueBytes = 16 << 20 // room the reorder stage keeps when it empties (at most a half of its share)
	rebuildSlots   = 1 << 16  // the smallest map rebuilt when the table shrinks
)

// queueShareDiv gives the reorder stage its share of the budget: 1/4.
const queueShareDiv = 4

// allocSize rounds an allocation of n bytes up to the Go allocator's size
// class (runtime/sizeclasses.go; the classes up to 1 KiB, then 128-byte
// steps, which over-estimate slightly).
func allocSize(n uintptr) int64 {
	classes := [...]int64{8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256,
		288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024}
	for _, c := range classes {
		if int64(n) <= c {
			return c
		}
	}
	return (int64(n) + 127) &^ 127
}

// Memory is the engine's account of the memory it holds, in bytes (see
// Options.MemoryBudget). It covers the engine's own state only: not the
// sink's buffers, nor the Go runtime's overhead (a garbage-collected heap
// grows to about twice what is live between collections unless a memory
// limit is set; see runtime/debug.SetMemoryLimit).
type Memory struct {
	// Entries is the connection table: every entry (half-open and
	// established connections, untracked 4-tuples, closed keys), the flow
	// state of established ones, the map's slots, and recycled entries.
	Entries int64
	// Held is the ADU records held for revision (Options.Hold).
	Held int64
	// Queued is the records decided but waiting in the reorder stage
	// behind an older held one.
	Queued int64
}

// Total returns the sum of the parts.
func (m Memory) Total() int64 { return m.Entries + m.Held + m.Queued }

// memAccount is the running account behind Memory.
type memAccount struct {
	budget     int64 // Options.MemoryBudget; 0: none
	tableShare int64 // of the budget, for Entries and Held
	queueShare int64 // of the budget, for Queued

	entries int64 // sum of conn.cost
	held    int64 // sum of connBody.heldCost
	free    int64 // recycled entries and bodies
	slots   int   // entries the map has room for: its largest size

	shedding bool // dropped entries and bodies are not recycled (see noRecycle)
}

func newMemAccount(o Options, slots int) memAccount {
	m := memAccount{budget: o.MemoryBudget, slots: slots}
	if m.budget > 0 {
		m.queueShare = m.budget / queueShareDiv
		m.tableShare = m.budget - m.queueShare
	}
	return m
}

// newEntryBytes is what one more entry costs when the table holds n.
func (m *memAccount) newEntryBytes(n int) int64 {
	if n >= m.slots {
		return costConn + costSlot
	}
	return costConn
}

// grew notes that the table holds n entries.
func (m *memAccount) grew(n int) {
	if n > m.slots {
		m.slots = n
	}
}

// Memory returns the engine's account of the memory it holds.
func (e *Engine) Memory() Memory {
	return Memory{
		Entries: e.mem.entries + e.mem.free + int64(e.mem.slots)*costSlot +
			int64(cap(e.held.items))*costHeldEntry + int64(cap(e.scratch))*costHeld,
		Held:   e.mem.held,
		Queued: e.ready.bytes(),
	}
}

// tableBytes is the part of the account the table's share covers.
func (e *Engine) tableBytes() int64 {
	m := e.Memory()
	return m.Entries + m.Held
}

// footprint is what c holds: its entry with its flow state, and its held
// records.
func (c *conn) footprint() (entry, held int64) {
	entry = costConn
	if x := c.x; x != nil {
		entry += costBody
		for i := range x.flows {
			if x.flows[i].seq.holes != nil {
				entry += costHoles
			}
		}
		held = int64(cap(x.pending)) * costHeld
	}
	return entry, held
}

// charge brings c's entry in the account up to date with what it holds.
func (e *Engine) charge(c *conn) {
	entry, held := c.footprint()
	if x := c.x; x != nil {
		e.mem.held += held - int64(x.heldCost)
		x.heldCost = uint32(held)
	}
	e.mem.entries += entry - int64(c.cost)
	c.cost = uint32(entry)
}

// makeRoom sheds entries until need more bytes fit the table's share.
func (e *Engine) makeRoom(need int64) {
	if e.mem.budget == 0 {
		return
	}
	defer e.noRecycle(e.noRecycle(true))
	for e.tableBytes()+need > e.mem.tableShare && e.shed(true) {
	}
}

// noRecycle sets whether dropped entries and bodies are kept for reuse,
// and returns the previous setting. They are not while the engine sheds
// for its budget: kept, their memory would stay in the account, and
// shedding would gain nothing.
func (e *Engine) noRecycle(on bool) bool {
	was := e.mem.shedding
	e.mem.shedding = on
	return was
}

// dropRecycled lets go of the entries and bodies kept for reuse, and
// reports whether there were any.
func (e *Engine) dropRecycled() bool {
	if e.mem.free == 0 {
		return false
	}
	e.freeConns, e.freeBodies = nil, nil
	e.mem.free = 0
	return true
}

// enforce brings the account back within the budget after a segment:
// the table by shedding, then the reorder stage by releasing the records
// held longest until it drains. It also gives back room that bursts left
// behind.
func (e *Engine) enforce() {
	if e.mem.budget > 0 {
		e.makeRoom(0)
		e.drain(false)
		was := e.noRecycle(true)
		for e.ready.bytes() > e.mem.queueShare && e.releaseOldestHeld() {
		}
		e.noRecycle(was)
	}
	if e.held.len() == 0 && cap(e.held.items) > keepHeapRoom {
		e.held.items = nil
	}
	keep := int64(keepQueueBytes)
	if e.mem.budget > 0 {
		keep = min(keep, e.mem.queueShare/2)
	}
	e.ready.trim(keep)
	if len(e.table) > 0 && len(e.table) < e.mem.slots/4 && e.mem.slots > rebuildSlots {
		e.rebuildTable()
	}
	if t := e.Memory().Total(); t > e.stats.PeakMemory {
		e.stats.PeakMemory = t
	}
}

// releaseOldestHeld releases the oldest held record of all, before its
// time (or ends the grace after a RST that holds back the oldest time), and
// reports whether anything was held. Releasing the oldest first moves the
// reorder stage's watermark, so the record is written at once instead of
// waiting in the stage: releasing a younger one would only move it from a
// connection's held records to the stage, where it costs more.
func (e *Engine) releaseOldestHeld() bool {
	for e.held.len() > 0 {
		top := *e.held.top()
		e.held.pop()
		if !top.valid() {
			continue
		}
		c := top.c
		e.stats.HeldEarly++
		if c.state == stReset && (len(c.x.pending) == 0 || c.x.rstNs <= c.x.pending[0].tsNs) {
			e.end(c, EndRST, c.sum.LastNs, c.x.rstDir)
			e.drain(false)
			return true
		}
		e.releasePending(c, 1)
		e.trackHeld(c)
		e.drain(false)
		return true
	}
	return false
}

// rebuildTable copies the table into a map of its present size: Go's maps
// never give back the room of deleted entries, and after a flood the
// table's peak size would otherwise stay charged (and resident) for good.
func (e *Engine) rebuildTable() {
	t := make(map[key]*conn, len(e.table))
	for k, c := range e.table {
		t[k] = c
	}
	e.table = t
	e.mem.slots = len(t)
}
