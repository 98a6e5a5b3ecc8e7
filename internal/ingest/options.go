package ingest

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Options configure the inference engine. Every duration is measured in
// packet time, never wall-clock time, so a replay gives identical output.
type Options struct {
	// QuietTime splits an ADU when one side stays silent for strictly longer
	// than this between two data segments carrying new data. Default 500 ms
	// (the paper's value). It is the only boundary rule in concurrent
	// connections.
	QuietTime time.Duration
	// Hold is how long a decided ADU record may be held back so that later
	// segments can revise it (a connection found concurrent re-joins the
	// pieces the sequential rule cut; an ADU closed by its sender's FIN
	// waits for the other side's reply to learn its think time). 0 decides
	// at once, as the original adudump did. Default 1 s.
	Hold time.Duration
	// IdleTimeout ends an established connection after this long without a
	// packet (END reason idle). Default 5 min.
	IdleTimeout time.Duration
	// HandshakeTimeout ends a connection whose handshake has not completed
	// after this long without a packet. Default 75 s (the classic BSD
	// connection-establishment timer, long enough for SYN retries).
	HandshakeTimeout time.Duration
	// MaxConns caps the number of entries in the connection table (tracked
	// connections, untracked 4-tuples, closed connections' lingering keys).
	// When it is full, the entry idle the longest is shed, preferring closed
	// keys, untracked and half-open entries over established ones (END
	// reason evicted). Default DefaultMaxConns. MemoryBudget usually binds
	// first.
	MaxConns int
	// MemoryBudget bounds, in bytes, the memory the engine's state takes by
	// its own account (see Memory): the connection table, the held records
	// and the records waiting in the reorder stage. Three quarters go to the
	// table and held records: an entry that would not fit sheds others
	// first, cheapest first (entries kept for reuse, closed keys, untracked
	// entries, half-open connections, then held records are released early,
	// then established connections are evicted). A quarter goes to the
	// reorder stage: beyond it the records held longest are released early.
	// 0 means no budget (only MaxConns bounds the table). Default
	// DefaultMemoryBudget; at least MinMemoryBudget.
	MemoryBudget int64
	// MaxPending caps the records one connection may hold back; past it the
	// oldest is decided as it stands. Default DefaultMaxPending.
	MaxPending int
	// LocalNets are the networks considered local (masks applied). With none,
	// connections carry LabelUnknown.
	LocalNets []netip.Prefix
	// InboundOnly keeps only connections whose SYN enters the local networks
	// (LabelIn). Requires LocalNets.
	InboundOnly bool
	// TrackPartial tracks connections whose handshake was not seen, from
	// their first data segment (a PART record). By default they are skipped
	// and counted.
	TrackPartial bool
}

// Defaults of the limits.
const (
	// DefaultMaxConns is the default Options.MaxConns.
	DefaultMaxConns = 1_000_000
	// DefaultMemoryBudget is the default Options.MemoryBudget, 256 MiB: a
	// small sensor's share for connection state. It holds about 426,000
	// half-open entries or 300,000 established connections
	// (docs/inference.md, "Memory bound").
	DefaultMemoryBudget = 256 << 20
	// MinMemoryBudget is the smallest Options.MemoryBudget but 0.
	MinMemoryBudget = 1 << 20
	// DefaultMaxPending is the default Options.MaxPending.
	DefaultMaxPending = 64
)

// DefaultOptions returns the documented defaults.
func DefaultOptions() Options {
	return Options{
		QuietTime:        500 * time.Millisecond,
		Hold:             time.Second,
		IdleTimeout:      5 * time.Minute,
		HandshakeTimeout: 75 * time.Second,
		MaxConns:         DefaultMaxConns,
		MemoryBudget:     DefaultMemoryBudget,
		MaxPending:       DefaultMaxPending,
	}
}

// Validate reports the first invalid field.
func (o *Options) Validate() error {
	switch {
	case o.QuietTime <= 0:
		return fmt.Errorf("quiet time %v: must be positive", o.QuietTime)
	case o.Hold < 0:
		return fmt.Errorf("hold %v: must not be negative", o.Hold)
	case o.IdleTimeout <= 0:
		return fmt.Errorf("idle timeout %v: must be positive", o.IdleTimeout)
	case o.HandshakeTimeout <= 0:
		return fmt.Errorf("handshake timeout %v: must be positive", o.HandshakeTimeout)
	case o.MaxConns < 1:
		return fmt.Errorf("max connections %d: must be at least 1", o.MaxConns)
	case o.MemoryBudget != 0 && o.MemoryBudget < MinMemoryBudget:
		return fmt.Errorf("memory budget %d bytes: must be 0 (none) or at least %d", o.MemoryBudget, MinMemoryBudget)
	case o.MaxPending < 1:
		return fmt.Errorf("max pending %d: must be at least 1", o.MaxPending)
	case o.InboundOnly && len(o.LocalNets) == 0:
		return errors.New("inbound-only needs at least one local network")
	}
	for _, p := range o.LocalNets {
		if !p.IsValid() {
			return fmt.Errorf("local network %v: invalid prefix", p)
		}
	}
	return nil
}
