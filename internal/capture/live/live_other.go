//go:build !linux

package live

import (
	"errors"

	"github.com/abt-dev/abt/internal/capture"
)

// Source is a live capture; only Linux has one.
type Source struct{}

// Open fails: live capture needs Linux (AF_PACKET).
func Open(names []string, o Options) (*Source, error) {
	return nil, errors.New("live capture: needs Linux (AF_PACKET)")
}

// Next is never reached.
func (s *Source) Next(p *capture.Packet) error { return errors.New("live capture: needs Linux") }

// Name is empty.
func (s *Source) Name() string { return "" }

// Stats are zero.
func (s *Source) Stats() (Stats, error) { return Stats{}, nil }

// IfaceDrops is zero.
func (s *Source) IfaceDrops() (uint64, error) { return 0, nil }

// Drops is zero.
func (s *Source) Drops() (uint64, error) { return 0, nil }

// Close does nothing.
func (s *Source) Close() error { return nil }
