package ingest

import (
	"fmt"

	"github.com/abt-dev/abt/internal/decode"
)

// AuditMemory recounts the engine's memory account from every table entry
// and recycled one, and reports the first difference from the running sums
// the engine keeps.
func AuditMemory(e *Engine) error {
	var entries, held int64
	for k, c := range e.table {
		entry, h := c.footprint()
		if int64(c.cost) != entry {
			return fmt.Errorf("entry %v (%v): charged %d bytes, holds %d", k, c.state, c.cost, entry)
		}
		if c.x != nil && int64(c.x.heldCost) != h {
			return fmt.Errorf("entry %v (%v): held records charged %d bytes, hold %d", k, c.state, c.x.heldCost, h)
		}
		entries += entry
		held += h
	}
	free := int64(len(e.freeConns)) * costConn
	for _, x := range e.freeBodies {
		free += costBody + int64(cap(x.pending))*costHeld
	}
	switch {
	case entries != e.mem.entries:
		return fmt.Errorf("entries: account %d, recount %d", e.mem.entries, entries)
	case held != e.mem.held:
		return fmt.Errorf("held: account %d, recount %d", e.mem.held, held)
	case free != e.mem.free:
		return fmt.Errorf("recycled: account %d, recount %d", e.mem.free, free)
	case len(e.table) > e.mem.slots:
		return fmt.Errorf("table holds %d entries, map charged for %d", len(e.table), e.mem.slots)
	}
	return nil
}

// EntryCost is the account's cost of one table entry without flow state
// (a half-open connection), map slot excluded.
func EntryCost() int64 { return costConn }

// ShardOf is the worker (of n) a segment goes to.
func ShardOf(s *decode.Segment, n int) int { return int(shardOf(s, n)) }
