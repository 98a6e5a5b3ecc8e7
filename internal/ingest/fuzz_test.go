package ingest_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/abt-dev/abt/internal/capture"
	"github.com/abt-dev/abt/internal/decode"
	"github.com/abt-dev/abt/internal/ingest"
)

// checker verifies invariants over an engine's record stream.
type checker struct {
	t       *testing.T
	last    int64
	open    map[uint64]bool
	ended   map[uint64]bool
	sizes   map[uint64]*[3]uint64 // bytes per Dir from ADU and INC records
	ordinal map[uint64]uint32
}

func newChecker(t *testing.T) *checker {
	return &checker{t: t, open: map[uint64]bool{}, ended: map[uint64]bool{},
		sizes: map[uint64]*[3]uint64{}, ordinal: map[uint64]uint32{}}
}

func (c *checker) Record(r *ingest.Record) error {
	t := c.t
	if r.TsNs < c.last {
		t.Fatalf("record out of time order: %v at %d after %d", r.Kind, r.TsNs, c.last)
	}
	c.last = r.TsNs
	if c.ended[r.ConnID] {
		t.Fatalf("record %v after END of connection %d", r.Kind, r.ConnID)
	}
	c.open[r.ConnID] = true
	switch r.Kind {
	case ingest.KindADU, ingest.KindINC:
		if r.Size == 0 {
			t.Fatalf("empty ADU: %+v", r)
		}
		if r.FirstNs > r.LastNs || (r.ThinkNs < 0 && r.ThinkNs != -1) {
			t.Fatalf("bad ADU times: %+v", r)
		}
		if r.Ordinal != c.ordinal[r.ConnID] {
			t.Fatalf("ordinal %d, want %d", r.Ordinal, c.ordinal[r.ConnID])
		}
		c.ordinal[r.ConnID]++
		s := c.sizes[r.ConnID]
		if s == nil {
			s = new([3]uint64)
			c.sizes[r.ConnID] = s
		}
		s[r.Dir] += r.Size
	case ingest.KindEND:
		s := c.sizes[r.ConnID]
		if s == nil {
			s = new([3]uint64)
		}
		// Every byte of the sequence space is in exactly one ADU.
		if s[ingest.DirC2S] != r.Conn.C2S.UniqueBytes || s[ingest.DirS2C] != r.Conn.S2C.UniqueBytes {
			t.Fatalf("connection %d: ADU bytes %d/%d, sequence space %d/%d", r.ConnID,
				s[ingest.DirC2S], s[ingest.DirS2C], r.Conn.C2S.UniqueBytes, r.Conn.S2C.UniqueBytes)
		}
		if r.Conn.C2S.ADUs+r.Conn.S2C.ADUs != c.ordinal[r.ConnID] {
			t.Fatalf("connection %d: %d ADU records, summary says %d", r.ConnID, c.ordinal[r.ConnID], r.Conn.C2S.ADUs+r.Conn.S2C.ADUs)
		}
		c.ended[r.ConnID] = true
		delete(c.open, r.ConnID)
	}
	return nil
}

// done checks that every connection got its END.
func (c *checker) done() {
	if len(c.open) != 0 {
		c.t.Fatalf("%d connections without END", len(c.open))
	}
}

// FuzzEngine drives the engine with arbitrary segment sequences among three
// endpoints (so 4-tuples collide and get reused) and checks the record
// stream's invariants: time order, one END per connection and nothing after
// it, consecutive ordinals, non-empty ADUs, and ADU sizes adding up exactly
// to each direction's sequence space; and after every segment the engine's
// memory account matches a recount of its entries.
func FuzzEngine(f *testing.F) {
	f.Add([]byte{0x02, 0, 0, 0, 0, 0x12, 1, 0, 0, 0, 0x10, 0, 1, 1, 0, 0x18, 0, 1, 1, 100, 0x18, 1, 1, 101, 200, 0x11, 0, 101, 201, 0})
	f.Add(bytes.Repeat([]byte{0x18, 0, 9, 9, 50, 0x18, 1, 9, 9, 70, 0x04, 1, 0, 0, 0}, 8))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 || len(data) > 4096 {
			return
		}
		ck := newChecker(t)
		opts := ingest.DefaultOptions()
		opts.MaxConns = 4
		opts.IdleTimeout = 20 * time.Second
		opts.HandshakeTimeout = 5 * time.Second
		opts.TrackPartial = data[0]&1 == 1
		e, err := ingest.New(opts, ck)
		if err != nil {
			t.Fatal(err)
		}
		hosts := []netip.AddrPort{
			netip.MustParseAddrPort("10.0.0.1:1000"),
			netip.MustParseAddrPort("10.0.0.2:80"),
			netip.MustParseAddrPort("[2001:db8::3]:443"),
		}
		ts := int64(1e18)
		var seq [3]uint32
		for len(data) >= 5 {
			b := data[:5]
			data = data[5:]
			s := decode.Segment{Flags: b[0], WScale: -1}
			from, to := int(b[1]&3)%3, int(b[1]>>2&3)%3
			if from == to {
				to = (to + 1) % 3
			}
			src, dst := hosts[from], hosts[to]
			if src.Addr().Is4() != dst.Addr().Is4() {
				continue // one address family per connection
			}
			s.Src, s.SrcPort, s.Dst, s.DstPort = src.Addr(), src.Port(), dst.Addr(), dst.Port()
			// Sequence numbers move by small, large or wrapping steps.
			switch b[2] >> 6 {
			case 0:
				seq[from] += uint32(b[2] & 0x3f)
			case 1:
				seq[from] -= uint32(b[2] & 0x3f)
			case 2:
				seq[from] += uint32(b[2]&0x3f) << 26
			}
			s.Seq = seq[from]
			s.Ack = seq[to] + uint32(b[3]) - 128
			s.PayloadLen = uint32(b[4])
			seq[from] += s.PayloadLen
			ts += int64(b[3]&0x0f) * int64(100*time.Millisecond)
			s.TsNs = ts
			if err := e.Process(&s); err != nil {
				t.Fatal(err)
			}
			if e.Conns() > opts.MaxConns {
				t.Fatalf("table holds %d entries, cap %d", e.Conns(), opts.MaxConns)
			}
			if err := ingest.AuditMemory(e); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.Finish(); err != nil {
			t.Fatal(err)
		}
		ck.done()
	})
}

// addCaptureSeeds seeds f with the first 16 KiB of bundled captures of
// several link types, orders and time formats.
func addCaptureSeeds(f *testing.F) {
	for _, name := range []string{"trex_Oracle.pcap", "zeek_tcp_handshake-reorder.pcap", "pcapplusplus_nanosecs_big_endian.pcap",
		"zeek_http-qinq-0.pcap", "pcapplusplus_pcapng-example.pcapng", "arkime_wireshark-retrans.pcap",
		"suricata_syn_retransmit_with_ts.pcap"} {
		b, err := os.ReadFile(filepath.Join(pcapDir, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[:min(len(b), 16<<10)])
	}
}

// FuzzIngest runs whole captures (seeded from the bundled ones) through
// the reader, decoder and engine: no panic, and the record invariants hold.
func FuzzIngest(f *testing.F) {
	addCaptureSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64<<10 {
			return
		}
		src, err := capture.OpenReader("fuzz", bytes.NewReader(data))
		if err != nil {
			return
		}
		defer src.Close()
		ck := newChecker(t)
		opts := ingest.DefaultOptions()
		opts.MaxConns = 256
		e, err := ingest.New(opts, ck)
		if err != nil {
			t.Fatal(err)
		}
		var dec decode.Decoder
		_ = e.Feed(context.Background(), src, &dec, nil) // a malformed capture may stop early
		if err := e.Finish(); err != nil {
			t.Fatal(err)
		}
		ck.done()
	})
}

var _ = binary.BigEndian
