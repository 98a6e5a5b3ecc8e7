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
	// MaxConns caps the connection table. When it is full, the entry idle the
	// longest is shed, preferring untracked and half-open entries over
	// established ones (END reason evicted). Default 1,000,000 entries
	// (about 400 MB).
	MaxConns int
	// MaxPending caps the records one connection may hold back; past it the
	// oldest is decided as it stands. Default 64.
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

// DefaultOptions returns the documented defaults.
func DefaultOptions() Options {
	return Options{
		QuietTime:        500 * time.Millisecond,
		Hold:             time.Second,
		IdleTimeout:      5 * time.Minute,
		HandshakeTimeout: 75 * time.Second,
		MaxConns:         1_000_000,
		MaxPending:       64,
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
