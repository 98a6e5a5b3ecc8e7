package pipeline

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/schema"
)

// TestHourCounter splits running totals by hour, worked by hand: an hour
// gets what the counters grew by up to its last progress point.
func TestHourCounter(t *testing.T) {
	at := func(hh, mm int) int64 {
		return time.Date(2024, 3, 2, hh, mm, 0, 0, time.UTC).UnixNano()
	}
	us := func(hh int) int64 { return at(hh, 0) / 1e3 }
	var h hourCounter
	type point struct {
		now int64
		c   [3]int64
	}
	var got []schema.LinkHour
	first := at(9, 58) // the first packet, before the first point
	for _, p := range []point{
		{at(10, 1), [3]int64{100, 0, 0}},
		{at(10, 59), [3]int64{500, 3, 1}}, // hour 10's last point
		{at(11, 0), [3]int64{520, 4, 1}},  // 20 packets and a drop since: hour 11's
		{at(11, 30), [3]int64{600, 9, 2}},
		{at(11, 20), [3]int64{610, 9, 2}}, // the clock back: still hour 11
		{at(13, 5), [3]int64{700, 9, 5}},  // hour 12 without a point: no row
	} {
		if out, ok := h.see(first, p.now, p.c); ok {
			got = append(got, out)
		}
	}
	last, ok := h.end([3]int64{750, 10, 5})
	require.True(t, ok)
	got = append(got, last)
	require.Equal(t, []schema.LinkHour{
		{Hour: us(9), Packets: 0},                                 // the first packet's hour, before any point
		{Hour: us(10), Packets: 500, Drops: 3, InterfaceDrops: 1}, // up to its last point
		{Hour: us(11), Packets: 110, Drops: 6, InterfaceDrops: 1}, // 610-500, 9-3, 2-1
		{Hour: us(13), Packets: 140, Drops: 1, InterfaceDrops: 3}, // 750-610, 10-9, 5-2
	}, got)
	var sum [3]int64
	for _, g := range got {
		sum[0], sum[1], sum[2] = sum[0]+g.Packets, sum[1]+g.Drops, sum[2]+g.InterfaceDrops
	}
	require.Equal(t, [3]int64{750, 10, 5}, sum, "the hours add up to the run's totals")

	_, ok = new(hourCounter).end([3]int64{1, 2, 3})
	require.False(t, ok, "no point, no hour")
}
