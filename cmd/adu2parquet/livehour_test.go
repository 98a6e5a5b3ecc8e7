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
	"github.com/abt-dev/abt/internal/pipeline"
	"github.com/abt-dev/abt/internal/synthcap"
	"github.com/abt-dev/abt/schema"
)

// quietLinkSource is a link as adu2parquet live reads it: a few packets
// just before an hour ends, then polls that find nothing, each a second
// later on the link's clock (or step(clock) later, when step is set) and
// 10 ms later on the test's. drops, when set, gives the kernel's and the
// interfaces' drop counters at a time of the link's clock.
type quietLinkSource struct {
	capture.Source
	now     atomic.Int64 // the link's clock
	packets atomic.Int64
	step    func(now int64) time.Duration
	drops   func(now int64) (kernel, iface uint64)
}

func (s *quietLinkSource) Next(p *capture.Packet) error {
	if s.Source != nil {
		err := s.Source.Next(p)
		if err == nil {
			s.now.Store(p.TsNs)
			s.packets.Add(1)
			return nil
		}
		if !errors.Is(err, io.EOF) {
			return err
		}
		s.Source = nil
	}
	time.Sleep(10 * time.Millisecond)
	step := time.Second
	if s.step != nil {
		step = s.step(s.now.Load())
	}
	p.TsNs = s.now.Add(int64(step))
	return capture.ErrIdle
}

func (s *quietLinkSource) Name() string { return "live:q0" }
func (s *quietLinkSource) Close() error { return nil }

func (s *quietLinkSource) counters() (kernel, iface uint64) {
	if s.drops == nil {
		return 0, 0
	}
	return s.drops(s.now.Load())
}

func (s *quietLinkSource) Stats() (live.Stats, error) {
	k, i := s.counters()
	return live.Stats{Packets: uint64(s.packets.Load()), Drops: k, IfaceDrops: i}, nil
}

func (s *quietLinkSource) Drops() (uint64, error) {
	k, _ := s.counters()
	return k, nil
}

func (s *quietLinkSource) IfaceDrops() (uint64, error) {
	_, i := s.counters()
	return i, nil
}

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
	openLive = func([]string, live.Options) (pipeline.LinkSource, error) { return src, nil }
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

// TestLiveHours: a link whose clock crosses two hours, with drops before
// the first and in the second hour, has its figures by hour in its runs row, worked by hand: an
// hour has what the counters grew by up to its last progress point (one
// per poll), and the hours add up to the run's packets and drops. abtq
// loss (cmd/abtq) reads them back.
func TestLiveHours(t *testing.T) {
	end := time.Date(2024, 3, 2, 11, 0, 0, 0, time.UTC)
	c, srv := netip.MustParseAddrPort("198.51.100.7:40000"), netip.MustParseAddrPort("192.0.2.1:80")
	frames := synthcap.Exchange(end.UnixNano()-2*int64(time.Second), c, srv, 100, 300, true)
	pcap, err := synthcap.Capture(frames)
	require.NoError(t, err)
	inner, err := capture.OpenReader("q0", bytes.NewReader(pcap))
	require.NoError(t, err)
	src := &quietLinkSource{Source: inner,
		// a second a poll until the hour ends, then a minute
		step: func(now int64) time.Duration {
			if now < end.UnixNano() {
				return time.Second
			}
			return time.Minute
		},
		// 3 and 1 dropped before the hour ends; 4 more by the kernel at
		// 11:20, 1 more by the interface at 11:40. (The counters change
		// well inside the hour: the link is read a few polls ahead of the
		// progress point that reads them, as a real one is.)
		drops: func(now int64) (uint64, uint64) {
			switch t := time.Unix(0, now); {
			case t.Before(end.Add(20 * time.Minute)):
				return 3, 1
			case t.Before(end.Add(40 * time.Minute)):
				return 7, 1
			}
			return 7, 2
		}}
	was := openLive
	openLive = func([]string, live.Options) (pipeline.LinkSource, error) { return src, nil }
	defer func() { openLive = was }()

	out := filepath.Join(t.TempDir(), "archive")
	stderr, stop := startLiveOn(t, "q0", out, "--grace", "1s")
	require.Eventually(t, func() bool { return time.Unix(0, src.now.Load()).After(end.Add(70 * time.Minute)) },
		10*time.Second, 2*time.Millisecond, "the link's clock at 12:10")
	require.Equal(t, exitOK, stop(), stderr.String())

	tb := readTables(t, out)
	require.Len(t, tb.runs, 1)
	r := tb.runs[0]
	n := int64(len(frames))
	us := func(h int) int64 { return time.Date(2024, 3, 2, h, 0, 0, 0, time.UTC).UnixMicro() }
	require.Equal(t, []schema.LinkHour{
		{Hour: us(10), Packets: n, Drops: 3, InterfaceDrops: 1}, // up to 10:59:59, its last poll
		{Hour: us(11), Packets: 0, Drops: 4, InterfaceDrops: 1}, // 7-3 and 2-1, by 11:59
		{Hour: us(12), Packets: 0, Drops: 0, InterfaceDrops: 0},
	}, r.Hours)
	require.Equal(t, n, r.Packets)
	require.NotNil(t, r.Drops)
	require.Equal(t, int64(7), *r.Drops, "the hours' drops add up to the run's")
}
