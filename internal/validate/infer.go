package validate

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sort"

	"github.com/abt-dev/abt/internal/capture"
	"github.com/abt-dev/abt/internal/decode"
	"github.com/abt-dev/abt/internal/ingest"
)

// InferredConn is what the engine inferred for one connection.
type InferredConn struct {
	Client, Server netip.AddrPort
	ADUs           []ingest.Record // ADU and INC records, by first data time
	End            *ingest.ConnSummary
	EndReason      ingest.EndReason
	RTTNs          int64 // SYN→SYN-ACK at the monitor, -1 if not seen
}

// Infer runs the engine with opts on the capture files (read in order as
// one capture) and returns its connections by client address and port.
func Infer(ctx context.Context, opts ingest.Options, paths ...string) (map[netip.AddrPort]*InferredConn, error) {
	out := map[netip.AddrPort]*InferredConn{}
	get := func(r *ingest.Record) *InferredConn {
		c := out[r.Client]
		if c == nil {
			c = &InferredConn{Client: r.Client, Server: r.Server, RTTNs: -1}
			out[r.Client] = c
		}
		return c
	}
	e, err := ingest.New(opts, ingest.SinkFunc(func(r *ingest.Record) error {
		switch r.Kind {
		case ingest.KindADU, ingest.KindINC:
			c := get(r)
			c.ADUs = append(c.ADUs, *r)
		case ingest.KindRTT:
			get(r).RTTNs = r.RTTNs
		case ingest.KindEND:
			c := get(r)
			c.End, c.EndReason = r.Conn, r.Reason
		}
		return nil
	}))
	if err != nil {
		return nil, err
	}
	var dec decode.Decoder
	for _, p := range paths {
		src, err := capture.Open(p)
		if err != nil {
			return nil, fmt.Errorf("open capture: %w", err)
		}
		err = e.Feed(ctx, src, &dec, nil)
		if err = errors.Join(err, src.Close()); err != nil {
			return nil, fmt.Errorf("infer %s: %w", p, err)
		}
	}
	if err := e.Finish(); err != nil {
		return nil, fmt.Errorf("infer: %w", err)
	}
	for _, c := range out {
		sort.SliceStable(c.ADUs, func(i, j int) bool { return c.ADUs[i].FirstNs < c.ADUs[j].FirstNs })
	}
	return out, nil
}
