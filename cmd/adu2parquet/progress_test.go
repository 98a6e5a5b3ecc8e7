package main

import (
	"bytes"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/metrics"
)

// TestProgressInputs: with several inputs the progress line says which one
// is being read, and each new input is drawn at its first update (not
// held back by the previous input's last draw).
func TestProgressInputs(t *testing.T) {
	tests := []struct {
		name   string
		inputs int
		want   []string
	}{
		{"one input", 1, []string{"\r\x1b[Ka.pcap:  50%  0 MB  ", "\r\x1b[Kb.pcap: 2 MB  "}},
		{"several", 5, []string{"\r\x1b[K[1/5] a.pcap:  50%  0 MB  ", "\r\x1b[K[2/5] b.pcap: 2 MB  "}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			p := newProgress(&buf, true, tc.inputs)
			require.False(t, p.on, "a buffer is not a terminal")
			p.on = true
			var read atomic.Int64
			p.start("a.pcap", 100, &read)
			read.Store(50)
			p.update(3)
			first := buf.String()
			require.Contains(t, first, tc.want[0])
			require.Contains(t, first, "3 connections")
			buf.Reset()
			p.start("b.pcap", -1, &read)
			read.Store(2_000_000)
			p.update(4)
			require.Contains(t, buf.String(), tc.want[1])
			require.Contains(t, buf.String(), "4 connections")
			p.done()
			require.Equal(t, "\r\x1b[K", buf.String()[len(buf.String())-4:], "the line is cleared")
		})
	}
}

// TestStatusLine: a live run's status line says the packets and their
// rate, drops, connections, ADUs, and files published when archiving.
func TestStatusLine(t *testing.T) {
	s := &metrics.Sensor{}
	s.Packets.Store(90000)
	s.Drops.Store(3)
	s.Conns.Store(1200)
	s.ADUs.Store(45000)
	require.Equal(t, "live:eth1: 90000 packets (30000/s), 3 dropped, 1200 connections, 45000 ADUs",
		statusLine("live:eth1", s, 3*time.Second))
	s.Published = func() (int64, int64) { return 4, 40000 }
	require.Equal(t, "live:eth1: 90000 packets (30000/s), 3 dropped, 1200 connections, 45000 ADUs, 4 files published",
		statusLine("live:eth1", s, 3*time.Second))
}
