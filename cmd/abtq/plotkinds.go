package main

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

var errNothingToPlot = errors.New("plot: nothing to plot (no rows, or no positive values for a log scale)")

// maxMarkedPoints: a series of up to this many points gets a marker at
// each (the 40 quantiles of a response-time CDF, the bins of a small
// ADU-size CDF); longer ones would be a smear of dots.
const maxMarkedPoints = 60

// cdfTicks label a probability axis at its quartiles: the median and the
// quartiles can be read off a CDF along the grid lines.
var cdfTicks = fixedTicks{major: []float64{0, 0.25, 0.5, 0.75, 1}}

// series is one line of a plot.
type series struct {
	label string // "" for the only series of a plot (no legend)
	xys   plotter.XYs
}

// addSeries adds lines to f: up to len(categorical) of them in distinct
// colours and dashes with a legend; more in order along a sequential
// palette with a colour scale headed heading (the series are days or
// hours, and a legend of 44 entries could not be read).
func addSeries(f *figure, ss []series, heading string) error {
	many := len(ss) > len(categorical)
	if many {
		f.scale = &colorScale{heading: heading}
	}
	for i, s := range ss {
		l, err := plotter.NewLine(s.xys)
		if err != nil {
			return err
		}
		if many {
			l.Color, l.Width = sequential(i, len(ss)), vg.Points(0.8)
			f.scale.colors = append(f.scale.colors, l.Color)
			f.scale.labels = append(f.scale.labels, s.label)
			f.plot.Add(l)
			continue
		}
		l.Color, l.Dashes, l.Width = categorical[i], dashes[i], vg.Points(1.2)
		f.plot.Add(l)
		thumbs := []plot.Thumbnailer{l}
		if len(s.xys) <= maxMarkedPoints {
			sc, err := plotter.NewScatter(s.xys)
			if err != nil {
				return err
			}
			sc.Color, sc.Shape, sc.Radius = l.Color, draw.CircleGlyph{}, vg.Points(1.3)
			f.plot.Add(sc)
			thumbs = append(thumbs, sc)
		}
		if s.label != "" {
			f.legend = append(f.legend, legendEntry{label: s.label, thumbs: thumbs})
		}
	}
	return nil
}

// logRange widens [lo, hi] (both > 0) on a log scale by frac of its span
// at each end, and by at least 8 %, so that points at the extremes sit
// inside the axes and a single value gets a range.
func logRange(lo, hi, frac float64) (float64, float64) {
	pad := math.Max(frac*math.Log10(hi/lo), math.Log10(1.08))
	k := math.Pow(10, pad)
	return lo / k, hi * k
}

// xRange returns the smallest and largest x of the series.
func xRange(ss []series) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, s := range ss {
		for _, p := range s.xys {
			lo, hi = math.Min(lo, p.X), math.Max(hi, p.X)
		}
	}
	return lo, hi
}

// cdfAxes makes f's x axis logarithmic over the series' values and its y
// axis the probabilities 0 to 1.
func cdfAxes(f *figure, ss []series) {
	p := f.plot
	p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, logTicks{}
	lo, hi := xRange(ss)
	p.X.Min, p.X.Max = logRange(lo, hi, 0.01)
	p.Y.Min, p.Y.Max, p.Y.Tick.Marker = 0, 1, cdfTicks
}

// plotADUSizes: the CDF of ADU sizes per direction, log x (Fig. 4a).
func plotADUSizes(rs resultSet, s plotSpec) (*figure, error) {
	var ss []series
	index := map[string]int{}
	for _, row := range rs.rows {
		dir, err := rs.text(row, colDirection)
		if err != nil {
			return nil, err
		}
		// The CDF at the top of each size bin (P(size <= size_max)).
		size, ok1, err := rs.float(row, colSizeMax)
		if err != nil {
			return nil, err
		}
		cdf, ok2, err := rs.float(row, colCDF)
		if err != nil {
			return nil, err
		}
		if !ok1 || !ok2 || size <= 0 {
			continue
		}
		i, seen := index[dir]
		if !seen {
			i = len(ss)
			index[dir] = i
			ss = append(ss, series{label: directionName(dir)})
		}
		ss[i].xys = append(ss[i].xys, plotter.XY{X: size, Y: cdf})
	}
	if len(ss) == 0 {
		return nil, errNothingToPlot
	}
	if s.direction != "" {
		ss[0].label = "" // the subtitle names it
	}
	f := newFigure(s.size, "ADU sizes (CDF)", s.subtitle(s.servers()), "ADU size (bytes)", "cumulative fraction of ADUs")
	if err := addSeries(f, ss, "direction"); err != nil {
		return nil, err
	}
	cdfAxes(f, ss)
	return f, nil
}

// plotExchanges: the CCDF of exchanges per connection, log-log (Fig. 4b).
func plotExchanges(rs resultSet, s plotSpec) (*figure, error) {
	var xys plotter.XYs
	for _, row := range rs.rows {
		n, ok1, err := rs.float(row, colExchanges)
		if err != nil {
			return nil, err
		}
		ccdf, ok2, err := rs.float(row, colCCDF)
		if err != nil {
			return nil, err
		}
		if ok1 && ok2 && n > 0 && ccdf > 0 {
			xys = append(xys, plotter.XY{X: n, Y: ccdf})
		}
	}
	if len(xys) == 0 {
		return nil, errNothingToPlot
	}
	f := newFigure(s.size, "Exchanges (a-b-t epochs) per connection (CCDF)", s.subtitle(s.servers()),
		"exchanges per connection", "fraction of connections ≥ x")
	if err := addSeries(f, []series{{xys: xys}}, ""); err != nil {
		return nil, err
	}
	p := f.plot
	p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, logTicks{integer: true}
	p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, logTicks{}
	xmin, xmax, ymin, ymax := plotter.XYRange(xys)
	p.X.Min, p.X.Max = logRange(xmin, xmax, 0.03)
	p.Y.Min, p.Y.Max = logRange(ymin, ymax, 0.03)
	return f, nil
}

// plotResponseTimeCDF: one CDF per period from the 40 quantiles, log x
// (Fig. 5).
func plotResponseTimeCDF(rs resultSet, s plotSpec) (*figure, error) {
	var ss []series
	for _, row := range rs.rows {
		v, err := rs.value(row, colQuantiles)
		if err != nil {
			return nil, err
		}
		qs, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("plot: %s is %T, not a list", colQuantiles, v)
		}
		var xys plotter.XYs
		for i, q := range qs {
			x, ok := toFloat(q)
			if ok && x > 0 {
				xys = append(xys, plotter.XY{X: x, Y: float64(i+1) / float64(len(qs))})
			}
		}
		if len(xys) == 0 {
			continue
		}
		period, err := rs.value(row, colPeriod)
		if err != nil {
			return nil, err
		}
		ss = append(ss, series{label: periodLabel(period, s.period), xys: xys})
	}
	if len(ss) == 0 {
		return nil, errNothingToPlot
	}
	per, heading := "day", "day"
	if s.period == "hour" {
		per, heading = "hour", "hour (UTC)"
	}
	f := newFigure(s.size, "Response times (CDF per "+per+")", s.subtitle(s.servers()),
		"response time (ms)", "cumulative fraction of response times")
	if err := addSeries(f, ss, heading); err != nil {
		return nil, err
	}
	cdfAxes(f, ss)
	return f, nil
}

// periodLabel names a period: a day as 2008-04-01, an hour as
// 2008-04-01 13:00.
func periodLabel(v any, period string) string {
	t, ok := v.(time.Time)
	if !ok {
		return fmt.Sprint(v)
	}
	t = t.UTC()
	if period == "hour" || !t.Equal(t.Truncate(24*time.Hour)) {
		return t.Format("2006-01-02 15:04")
	}
	return t.Format(time.DateOnly)
}

// serverQuantiles are response-times' rows as points: x is the row
// (0 the busiest), y the p50 or p99 in ms (rows without one have no
// point); spans join a row's p50 and p99 when it has both.
type serverQuantiles struct {
	names    []string
	p50, p99 plotter.XYs
	spans    []plotter.XYs
	lo, hi   float64 // the smallest and largest y
}

func readServerQuantiles(rs resultSet) (serverQuantiles, error) {
	q := serverQuantiles{lo: math.Inf(1), hi: math.Inf(-1)}
	for _, row := range rs.rows {
		ip, err := rs.text(row, colServerIP)
		if err != nil {
			return q, err
		}
		port, err := rs.text(row, colServerPort)
		if err != nil {
			return q, err
		}
		x := float64(len(q.names))
		q.names = append(q.names, ip+":"+port)
		var span plotter.XYs
		for _, c := range []struct {
			col string
			xys *plotter.XYs
		}{{colP50, &q.p50}, {colP99, &q.p99}} {
			v, ok, err := rs.float(row, c.col)
			if err != nil {
				return q, err
			}
			if ok && v > 0 {
				*c.xys = append(*c.xys, plotter.XY{X: x, Y: v})
				span = append(span, plotter.XY{X: x, Y: v})
				q.lo, q.hi = math.Min(q.lo, v), math.Max(q.hi, v)
			}
		}
		if len(span) == 2 {
			q.spans = append(q.spans, span)
		}
	}
	return q, nil
}

// plotResponseTimes: p50 and p99 per server, busiest first, log y; a thin
// line joins each server's two.
func plotResponseTimes(rs resultSet, s plotSpec) (*figure, error) {
	q, err := readServerQuantiles(rs)
	if err != nil {
		return nil, err
	}
	names, p50, p99, spans, lo, hi := q.names, q.p50, q.p99, q.spans, q.lo, q.hi
	if len(p50) == 0 && len(p99) == 0 {
		return nil, errNothingToPlot
	}
	who := s.servers()
	if s.server == "" {
		who = fmt.Sprintf("the %d busiest servers", len(names))
		if s.port != "" {
			who += " on port " + s.port
		}
	}
	f := newFigure(s.size, "Response times per server (median and 99th percentile)", s.subtitle(who),
		"server:port, busiest first", "response time (ms)")
	p := f.plot
	for _, sp := range spans {
		l, err := plotter.NewLine(sp)
		if err != nil {
			return nil, err
		}
		l.Color, l.Width = categorical[6], vg.Points(0.5)
		p.Add(l)
	}
	var marks []*plotter.Scatter
	for i, m := range []struct {
		label string
		xys   plotter.XYs
		shape draw.GlyphDrawer
	}{{"p50 (median)", p50, draw.CircleGlyph{}}, {"p99", p99, draw.TriangleGlyph{}}} {
		if len(m.xys) == 0 {
			continue
		}
		sc, err := plotter.NewScatter(m.xys)
		if err != nil {
			return nil, err
		}
		sc.Color, sc.Shape = categorical[i], m.shape
		p.Add(sc)
		marks = append(marks, sc)
		f.legend = append(f.legend, legendEntry{label: m.label, thumbs: []plot.Thumbnailer{sc}})
	}
	p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, logTicks{}
	p.Y.Min, p.Y.Max = logRange(lo, hi, 0.06)
	// Markers a third of a server's width across, 1 to 2.5 pt in radius:
	// a hundred servers' markers would otherwise run into each other.
	r := min(vg.Points(2.5), max(vg.Points(1), serverAxis(f, names)/3))
	for _, sc := range marks {
		sc.Radius = r
	}
	return f, nil
}

// serverAxis labels the x axis of response-times with the servers' names
// when they fit (across, or turned a quarter: one a line of text across,
// at most 40 % of the height along); otherwise with their rank (1 is the
// busiest), as a figure of 100 servers cannot print 100 names. It returns
// the width a server gets.
func serverAxis(f *figure, names []string) vg.Length {
	p := f.plot
	n := len(names)
	p.X.Min, p.X.Max = -0.5, float64(n)-0.5
	sty := p.X.Tick.Label
	longest := vg.Length(0)
	for _, s := range names {
		longest = max(longest, sty.Width(s))
	}
	l := f.layout(draw.Canvas{Rectangle: vg.Rectangle{Max: vg.Point{X: f.size.w, Y: f.size.h}}})
	each := l.data.Size().X / vg.Length(n)
	if n == 1 || each >= 1.3*sty.FontExtents().Height && longest <= 0.4*f.size.h {
		ticks := make([]plot.Tick, n)
		for i, s := range names {
			ticks[i] = plot.Tick{Value: float64(i), Label: s}
		}
		p.X.Tick.Marker = plot.ConstantTicks(ticks)
		if each < 1.15*longest { // a few servers' names fit across
			p.X.Tick.Label.Rotation = math.Pi / 2
			p.X.Tick.Label.XAlign, p.X.Tick.Label.YAlign = draw.XRight, draw.YCenter
		}
		return each
	}
	f.xlabel = "server rank (1 = busiest)"
	p.X.Tick.Marker = rankTicks{}
	return each
}

// rankTicks label a 0-based x axis with 1-based ranks: at most
// maxTickLabels of them, 1 and every multiple of a round step (1, 20, 40,
// ..., 100), or every step-th from 1 for steps below 5 (1, 3, 5, ...).
type rankTicks struct{}

// Ticks returns the ticks of the ranks within [lo+1, hi+1].
func (rankTicks) Ticks(lo, hi float64) []plot.Tick {
	first, last := int(math.Ceil(lo+1)), int(math.Floor(hi+1))
	step := 1
	for k := 1; last/step >= maxTickLabels; k++ {
		step = []int{1, 2, 5}[k%3] * int(math.Pow10(k/3)) // 2, 5, 10, 20, 50, ...
	}
	var ticks []plot.Tick
	for r := max(first, 1); r <= last; r++ {
		if step < 5 && (r-1)%step == 0 || step >= 5 && (r == 1 || r%step == 0) {
			ticks = append(ticks, plot.Tick{Value: float64(r - 1), Label: strconv.Itoa(r)})
		}
	}
	return ticks
}
