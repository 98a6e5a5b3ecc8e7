package main

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/capture"
	"github.com/abt-dev/abt/internal/capture/live"
	"github.com/abt-dev/abt/internal/synthcap"
)

// quietLinkSource is a link as adu2parquet live reads it: a few packets
// just before an hour ends, then polls that find nothing, each a second
// later on the link's clock (and 10 ms later on the test's).
type quietLinkSource struct {
	capture.Source
	now atomic.Int64 // the link's clock
}

func (s *quietLinkSource) Next(p *capture.Packet) error {
	if s.Source != nil {
		err := s.Source.Next(p)
		if err == nil {
			s.now.Store(p.TsNs)
			return nil
		}
		if !errors.Is(err, io.EOF) {
			return err
		}
		s.Source = nil
	}
	time.Sleep(10 * time.Millisecond)
	p.TsNs = s.now.Add(int64(time.Second))
	return capture.ErrIdle
}

func (s *quietLinkSource) Name() string                { return "live:q0" }
func (s *quietLinkSource) Close() error                { return nil }
func (s *quietLinkSource) Stats() (live.Stats, error)  { return live.Stats{}, nil }
func (s *quietLinkSource) Drops() (uint64, error)      { return 0, nil }
func (s *quietLinkSource) IfaceDrops() (uint64, error) { return 0, nil }

// TestLiveIdleHourCloses: on a link that falls quiet just before an hour
// ends, the hour's files are published once the link's clock passes the
// hour and the grace, while the run goes on, without a packet after it.
func TestLiveIdleHourCloses(t *testing.T) {
	end := time.Date(2024, 3, 2, 11, 0, 0, 0, time.UTC)
	c, srv := netip.MustParseAddrPort("198.51.100.7:40000"), netip.MustParseAddrPort("192.0.2.1:80")
	pcap, err := synthcap.Capture(synthcap.Exchange(end.UnixNano()-2*int64(time.Second), c, srv, 100, 300, true))
	require.NoError(t, err)
	inner, err := capture.OpenReader("q0", bytes.NewReader(pcap))
	require.NoError(t, err)
	src := &quietLinkSource{Source: inner}
	was := openLive
	openLive = func([]string, live.Options) (liveSource, error) { return src, nil }
	defer func() { openLive = was }()

	const grace = 5 * time.Second
	out := filepath.Join(t.TempDir(), "archive")
	stderr, stop := startLiveOn(t, "q0", out, "--grace", grace.String())
	var published time.Time
	require.Eventually(t, func() bool {
		m, _ := filepath.Glob(filepath.Join(out, "adus", "sensor=*", "date=2024-03-02", "hour=10", "part-*.parquet"))
		if len(m) > 0 {
			published = time.Unix(0, src.now.Load())
		}
		return len(m) > 0
	}, 10*time.Second, 2*time.Millisecond, "the hour's adus file, while the run goes on")
	require.False(t, published.Before(end.Add(grace)), "not before the hour and the grace ended: %v", published)
	require.True(t, published.Before(end.Add(grace+10*time.Second)), "within seconds of the hour and the grace: %v", published)
	require.Equal(t, exitOK, stop(), stderr.String())
	t.Logf("hour 10:00 published at %v on the link's clock (hour end %v, grace %v)", published.UTC().Format(time.TimeOnly), end.Format(time.TimeOnly), grace)
}
