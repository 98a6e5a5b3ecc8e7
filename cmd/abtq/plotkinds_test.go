package main

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// The plots drawn from hand-made results: narrow and wide ranges, few and
// many series, each at every named size. What is checked is what a reader
// of the figure needs: every axis has labelled ticks within its range, the
// axes' labels give units, the key (legend or colour scale) is outside
// the data area and the title above it, markers are inside the axes, and
// the subtitle names the selection.

func resultOf(cols []string, rows ...[]any) resultSet {
	rs := resultSet{cols: map[string]int{}, rows: rows}
	for i, c := range cols {
		rs.cols[c] = i
	}
	return rs
}

func mustSize(t *testing.T, s string) plotSize {
	t.Helper()
	sz, err := parsePlotSize(s)
	require.NoError(t, err)
	return sz
}

// shownLabels returns the labels of an axis' labelled ticks within its
// range (those the axis draws).
func shownLabels(a plot.Axis) []string {
	var ls []string
	for _, tk := range a.Tick.Marker.Ticks(a.Min, a.Max) {
		if !tk.IsMinor() && tk.Value >= a.Min && tk.Value <= a.Max {
			ls = append(ls, tk.Label)
		}
	}
	return ls
}

// eps absorbs rounding in gonum's layout arithmetic (1e-14 pt).
const eps = vg.Length(1e-6)

func overlaps(a, b vg.Rectangle) bool {
	return a.Min.X < b.Max.X-eps && b.Min.X < a.Max.X-eps && a.Min.Y < b.Max.Y-eps && b.Min.Y < a.Max.Y-eps
}

func inside(r, c vg.Rectangle) bool {
	return r.Min.X >= c.Min.X-eps && r.Min.Y >= c.Min.Y-eps && r.Max.X <= c.Max.X+eps && r.Max.Y <= c.Max.Y+eps
}

// checkLayout checks where f's parts go on a canvas of its size: a data
// area of at least 40 % of the figure each way, the key outside it, the
// title and subtitle above the plot, everything on the canvas.
func checkLayout(t *testing.T, f *figure) figureLayout {
	t.Helper()
	canvas := vg.Rectangle{Max: vg.Point{X: f.size.w, Y: f.size.h}}
	l := f.layout(draw.Canvas{Rectangle: canvas})
	require.True(t, inside(l.plot, canvas), "plot %v on %v", l.plot, canvas)
	require.True(t, inside(l.data, l.plot), "data %v in plot %v", l.data, l.plot)
	require.Greater(t, l.data.Size().X, 0.4*f.size.w, "data width")
	require.Greater(t, l.data.Size().Y, 0.4*f.size.h, "data height")
	if f.hasKey() {
		require.True(t, inside(l.key, canvas), "key %v on %v", l.key, canvas)
		require.False(t, overlaps(l.key, l.plot), "key %v covers the plot %v", l.key, l.plot)
		require.Positive(t, l.key.Size().X)
		require.Positive(t, l.key.Size().Y)
	}
	sub := textStyle(f.fonts.subtitle).Height(f.subtitle)
	require.GreaterOrEqual(t, l.subtitle.Y-sub, l.plot.Max.Y, "subtitle above the plot")
	require.Greater(t, l.title.Y, l.subtitle.Y)
	require.LessOrEqual(t, l.title.Y, canvas.Max.Y)
	return l
}

// checkAxes checks that both axes label at least min ticks within their
// ranges and that the axes' labels name their unit.
func checkAxes(t *testing.T, f *figure, min int, xunit, yunit string) {
	t.Helper()
	require.GreaterOrEqual(t, len(shownLabels(f.plot.X)), min, "x labels %v", shownLabels(f.plot.X))
	require.GreaterOrEqual(t, len(shownLabels(f.plot.Y)), min, "y labels %v", shownLabels(f.plot.Y))
	require.Contains(t, f.xlabel, xunit)
	require.Contains(t, f.ylabel, yunit)
}

// forEachSize runs check on the figure build draws at each named size.
func forEachSize(t *testing.T, build func(plotSize) (*figure, error), check func(*testing.T, *figure, figureLayout)) {
	for _, name := range []string{"column", "text", "slide"} {
		t.Run(name, func(t *testing.T) {
			f, err := build(mustSize(t, name))
			require.NoError(t, err)
			check(t, f, checkLayout(t, f))
		})
	}
}

var rtCols = []string{colServerIP, colServerPort, "response_times", "p25_ms", colP50, "p90_ms", colP99, "max_ms"}

func TestPlotResponseTimes(t *testing.T) {
	t.Run("one server, a narrow range", func(t *testing.T) {
		rs := resultOf(rtCols, []any{"10.0.0.1", int32(80), int64(900), 70.0, 74.0, 77.0, 78.0, 80.0})
		from := time.Date(2008, 4, 18, 0, 0, 0, 0, time.UTC)
		build := func(sz plotSize) (*figure, error) {
			return plotResponseTimes(rs, plotSpec{size: sz, server: "10.0.0.1", port: "80", from: from, to: from.AddDate(0, 0, 1)})
		}
		forEachSize(t, build, func(t *testing.T, f *figure, _ figureLayout) {
			require.GreaterOrEqual(t, len(shownLabels(f.plot.Y)), minTickLabels, "y labels %v", shownLabels(f.plot.Y))
			require.Equal(t, []string{"10.0.0.1:80"}, shownLabels(f.plot.X))
			require.Contains(t, f.ylabel, "(ms)")
			require.Equal(t, "server 10.0.0.1 port 80 · 2008-04-18", f.subtitle)
			require.Len(t, f.legend, 2)
			// Markers inside the axes, with room: at least 5 % of the range
			// (on the log scale) beyond the extreme values.
			lo, hi := math.Log10(f.plot.Y.Min), math.Log10(f.plot.Y.Max)
			require.Less(t, lo, math.Log10(74)-0.05*(hi-lo))
			require.Greater(t, hi, math.Log10(78)+0.05*(hi-lo))
		})
	})
	t.Run("20 servers, wide", func(t *testing.T) {
		var rows [][]any
		for i := range 20 {
			rows = append(rows, []any{fmt.Sprintf("10.0.0.%d", i), int32(443), int64(1000 - i), 1.0, 2.0 + float64(i), 3.0, 900.0 + float64(i), 1000.0})
		}
		forEachSize(t, func(sz plotSize) (*figure, error) {
			return plotResponseTimes(resultOf(rtCols, rows...), plotSpec{size: sz})
		},
			func(t *testing.T, f *figure, _ figureLayout) {
				require.Equal(t, "the 20 busiest servers · all dates", f.subtitle)
				checkAxes(t, f, 2, "", "(ms)")
				if xs := shownLabels(f.plot.X); len(xs) == 20 {
					require.Equal(t, "10.0.0.0:443", xs[0], "names, busiest first")
				} else {
					require.Equal(t, "1", xs[0], "ranks")
					require.Contains(t, f.xlabel, "rank")
				}
			})
		f, err := plotResponseTimes(resultOf(rtCols, rows...), plotSpec{size: mustSize(t, "text")})
		require.NoError(t, err)
		require.Len(t, shownLabels(f.plot.X), 20, "20 names fit 6.5 in")
	})
	t.Run("100 servers", func(t *testing.T) {
		var rows [][]any
		for i := range 100 {
			rows = append(rows, []any{fmt.Sprintf("10.0.%d.%d", i, i), int32(80), int64(1000 - i), 1.0, 1.5, 3.0, 2000.0, 3000.0})
		}
		forEachSize(t, func(sz plotSize) (*figure, error) {
			return plotResponseTimes(resultOf(rtCols, rows...), plotSpec{size: sz})
		},
			func(t *testing.T, f *figure, _ figureLayout) {
				checkAxes(t, f, 3, "rank", "(ms)")
				require.Equal(t, "1", shownLabels(f.plot.X)[0])
				require.LessOrEqual(t, len(shownLabels(f.plot.X)), maxTickLabels+1)
			})
	})
}

func TestPlotExchanges(t *testing.T) {
	cols := []string{colExchanges, "connections", colCCDF}
	tests := []struct {
		name string
		rows [][]any
		x    []string
	}{
		{"one to three", [][]any{{int64(1), int64(5), 1.0}, {int64(2), int64(3), 0.5}, {int64(3), int64(2), 0.2}}, []string{"1", "2", "3"}},
		{"one to nine", [][]any{{int64(1), int64(5), 1.0}, {int64(9), int64(1), 0.05}}, []string{"1", "2", "5"}},
		{"only one", [][]any{{int64(1), int64(5), 1.0}}, []string{"1"}},
		{"one to 10^4", [][]any{{int64(1), int64(1e6), 1.0}, {int64(10000), int64(1), 1e-6}}, []string{"1", "10", "100", "1k", "10k"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			forEachSize(t, func(sz plotSize) (*figure, error) {
				return plotExchanges(resultOf(cols, tc.rows...), plotSpec{size: sz, port: "80"})
			}, func(t *testing.T, f *figure, _ figureLayout) {
				require.Equal(t, tc.x, shownLabels(f.plot.X))
				require.GreaterOrEqual(t, len(shownLabels(f.plot.Y)), 2, "y labels %v", shownLabels(f.plot.Y))
				require.Equal(t, "port 80 · all dates", f.subtitle)
				require.False(t, f.hasKey(), "one series, no legend")
			})
		})
	}
}

func TestPlotADUSizes(t *testing.T) {
	cols := []string{colDirection, "size", colSizeMax, "adus", colCDF}
	rows := [][]any{
		{"c2s", int64(6), int64(6), int64(2), 0.2}, {"c2s", int64(300), int64(303), int64(7), 0.9}, {"c2s", int64(14464), int64(14591), int64(1), 1.0},
		{"s2c", int64(8), int64(8), int64(1), 0.1}, {"s2c", int64(250000), int64(253951), int64(9), 1.0},
	}
	forEachSize(t, func(sz plotSize) (*figure, error) { return plotADUSizes(resultOf(cols, rows...), plotSpec{size: sz}) },
		func(t *testing.T, f *figure, _ figureLayout) {
			checkAxes(t, f, 3, "(bytes)", "ADUs")
			require.Equal(t, []string{"10", "100", "1k", "10k", "100k"}, shownLabels(f.plot.X))
			require.Equal(t, []string{"0", "0.25", "0.5", "0.75", "1"}, shownLabels(f.plot.Y))
			require.Len(t, f.legend, 2)
			require.Equal(t, "client → server", f.legend[0].label)
			require.Equal(t, "server → client", f.legend[1].label)
		})
	t.Run("one direction", func(t *testing.T) {
		f, err := plotADUSizes(resultOf(cols, rows[:3]...), plotSpec{size: mustSize(t, "text"), direction: "c2s", sensor: "edge"})
		require.NoError(t, err)
		require.Equal(t, "all servers · client → server only · all dates · sensor edge", f.subtitle)
		require.False(t, f.hasKey(), "the subtitle names the only series")
	})
}

// cdfRows returns n periods' quantile lists, an hour apart from start.
func cdfRows(n int, start time.Time, lo, hi float64) [][]any {
	var rows [][]any
	for i := range n {
		qs := make([]any, 40)
		for j := range qs {
			qs[j] = lo * math.Pow(hi/lo, float64(j)/39) * (1 + 0.01*float64(i))
		}
		rows = append(rows, []any{start.Add(time.Duration(i) * time.Hour), int64(100), qs})
	}
	return rows
}

func TestPlotResponseTimeCDF(t *testing.T) {
	cols := []string{colPeriod, "response_times", colQuantiles}
	start := time.Date(2008, 4, 1, 0, 0, 0, 0, time.UTC)
	t.Run("three hours, narrow", func(t *testing.T) {
		forEachSize(t, func(sz plotSize) (*figure, error) {
			return plotResponseTimeCDF(resultOf(cols, cdfRows(3, start, 74, 135)...), plotSpec{size: sz, period: "hour"})
		}, func(t *testing.T, f *figure, _ figureLayout) {
			checkAxes(t, f, 3, "(ms)", "response times")
			require.Nil(t, f.scale)
			require.Len(t, f.legend, 3)
			require.Equal(t, "2008-04-01 00:00", f.legend[0].label)
			require.Contains(t, f.title, "per hour")
		})
	})
	t.Run("44 hours: a colour scale", func(t *testing.T) {
		forEachSize(t, func(sz plotSize) (*figure, error) {
			return plotResponseTimeCDF(resultOf(cols, cdfRows(44, start, 1.5, 900)...),
				plotSpec{size: sz, period: "hour", server: "10.0.0.1", from: start, to: start.Add(44 * time.Hour)})
		}, func(t *testing.T, f *figure, _ figureLayout) {
			checkAxes(t, f, 3, "(ms)", "response times")
			require.Empty(t, f.legend, "44 entries could not be read")
			require.NotNil(t, f.scale)
			require.Len(t, f.scale.colors, 44)
			require.Equal(t, "2008-04-01 00:00", f.scale.labels[0])
			require.Equal(t, "2008-04-02 19:00", f.scale.labels[43])
			require.NotEqual(t, f.scale.colors[0], f.scale.colors[43])
			require.Equal(t, "server 10.0.0.1 · 2008-04-01 00:00 – 2008-04-02 20:00 UTC", f.subtitle)
		})
		idx := scaleLabelIndices(44, maxScaleLabels)
		require.Equal(t, 0, idx[0])
		require.Equal(t, 43, idx[len(idx)-1], "the first and the last labelled")
	})
}

func TestDescribeRange(t *testing.T) {
	d := func(s string) time.Time {
		tm, err := parseTime(s)
		require.NoError(t, err)
		return tm
	}
	tests := []struct {
		from, to time.Time
		want     string
	}{
		{time.Time{}, time.Time{}, "all dates"},
		{d("2008-04-18"), d("2008-04-19"), "2008-04-18"},
		{d("2008-04-01"), d("2008-05-01"), "2008-04-01 – 2008-04-30"},
		{d("2008-04-01"), time.Time{}, "from 2008-04-01"},
		{time.Time{}, d("2008-05-01"), "through 2008-04-30"},
		{d("2008-04-01T10:00"), d("2008-04-01T12:30"), "2008-04-01 10:00 – 12:30 UTC"},
		{d("2008-04-01T10:00"), d("2008-04-03"), "2008-04-01 10:00 – 2008-04-03 00:00 UTC"},
		{d("2008-04-01T10:00:05Z"), time.Time{}, "from 2008-04-01 10:00:05 UTC"},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, describeRange(tc.from, tc.to))
	}
}

func TestParsePlotSize(t *testing.T) {
	tests := []struct {
		in     string
		w, h   float64 // inches
		dpi    int
		errHas string
	}{
		{in: "", w: 6.5, h: 4, dpi: 300},
		{in: "text", w: 6.5, h: 4, dpi: 300},
		{in: "column", w: 3.5, h: 2.6, dpi: 300},
		{in: "column@600", w: 3.5, h: 2.6, dpi: 600},
		{in: "slide", w: 10, h: 5.625, dpi: 150},
		{in: "7x3", w: 7, h: 3, dpi: 300},
		{in: "6.5x4@150", w: 6.5, h: 4, dpi: 150},
		{in: "16x10cm", w: 16 / 2.54, h: 10 / 2.54, dpi: 300},
		{in: "160x100mm@100", w: 16 / 2.54, h: 10 / 2.54, dpi: 100},
		{in: "7", errHas: "WxH"},
		{in: "ax4", errHas: "WxH"},
		{in: "3x2", w: 3, h: 2, dpi: 300},
		{in: "2.9x4", errHas: "at least"},
		{in: "50x4", errHas: "at most"},
		{in: "6.5x4@5000", errHas: "resolution"},
		{in: "40x40@1200", errHas: "megapixels"},
		{in: "NaNxNaN", errHas: "WxH"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			sz, err := parsePlotSize(tc.in)
			if tc.errHas != "" {
				require.ErrorContains(t, err, tc.errHas)
				return
			}
			require.NoError(t, err)
			require.InDelta(t, tc.w, float64(sz.w/vg.Inch), 1e-9)
			require.InDelta(t, tc.h, float64(sz.h/vg.Inch), 1e-9)
			require.Equal(t, tc.dpi, sz.dpi)
		})
	}
}

func TestWrap(t *testing.T) {
	sty := textStyle(9)
	s := "server 10.0.81.237 port 443 · 2008-04-01 00:00 – 2008-04-02 20:00 UTC · sensor synth"
	require.Equal(t, s, wrapTitle(s, " · ", sty, 10*vg.Inch))
	require.Equal(t, "server 10.0.81.237 port 443 ·\n2008-04-01 00:00 – 2008-04-02 20:00 UTC ·\nsensor synth", wrapTitle(s, " · ", sty, 2.5*vg.Inch))
}

func TestRankTicks(t *testing.T) {
	for _, n := range []int{1, 2, 7, 8, 20, 33, 100, 1000} {
		vs, ls := labelled(rankTicks{}.Ticks(-0.5, float64(n)-0.5))
		require.NotEmpty(t, ls, "n=%d", n)
		require.Equal(t, "1", ls[0], "n=%d: rank 1 is labelled", n)
		require.Equal(t, 0.0, vs[0])
		require.LessOrEqual(t, len(ls), maxTickLabels+1, "n=%d: %v", n, ls)
	}
}
