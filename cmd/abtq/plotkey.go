package main

import (
	"image/color"
	"math"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// A figure's key is its legend (a few series) or its colour scale (many),
// drawn outside the data: right of the plot, or, in a figure narrower than
// keyOnTopBelow, in rows below the subtitle, where it takes height, which
// such a figure can spare, rather than width, which it cannot (a legend
// right of a 3.5 in plot would take a third of it).
const keyOnTopBelow = 5 * vg.Inch

// maxScaleLabels caps a colour scale's labels: the first, the last and a
// few between are enough to read a sequential palette.
const maxScaleLabels = 6

func (f *figure) hasKey() bool { return f.scale != nil || len(f.legend) > 0 }

// thumbWidth is the width of a legend's line sample.
func (f *figure) thumbWidth() vg.Length { return 2.2 * f.fonts.legend }

// scaleBarWidth is the thickness of a colour scale's bar.
func (f *figure) scaleBarWidth() vg.Length { return 1.2 * f.fonts.legend }

// entryWidth is the width of a legend entry: sample, space, label.
func (f *figure) entryWidth(e legendEntry) vg.Length {
	ts := textStyle(f.fonts.legend)
	return f.thumbWidth() + ts.Width(" ") + ts.Width(e.label)
}

// lineHeight is the height of a line of the key.
func (f *figure) lineHeight() vg.Length {
	return textStyle(f.fonts.legend).FontExtents().Height * 1.15
}

// sideWidth is the width the key needs right of the plot.
func (f *figure) sideWidth() vg.Length {
	ts := textStyle(f.fonts.legend)
	var w vg.Length
	switch {
	case f.scale != nil:
		for _, s := range f.scale.labels {
			w = max(w, ts.Width(s))
		}
		w = max(w+f.scaleBarWidth()+f.fonts.legend/2, ts.Width(f.scale.heading))
	default:
		for _, e := range f.legend {
			w = max(w, f.entryWidth(e))
		}
	}
	return w
}

// keyOnTopHeight returns the rows of a legend laid out across width (its
// entries, greedily) and the height of the key on top.
func (f *figure) keyOnTopHeight(width vg.Length) ([][]int, vg.Length) {
	if f.scale != nil {
		return nil, 2*f.lineHeight() + f.fonts.legend/4
	}
	var rows [][]int
	var used vg.Length
	gap := 1.5 * f.fonts.legend
	for i, e := range f.legend {
		w := f.entryWidth(e)
		if len(rows) == 0 || used+gap+w > width {
			rows = append(rows, nil)
			used = -gap
		}
		rows[len(rows)-1] = append(rows[len(rows)-1], i)
		used += gap + w
	}
	return rows, vg.Length(len(rows)) * f.lineHeight()
}

// drawKey draws the legend or the colour scale where l puts it.
func (f *figure) drawKey(c draw.Canvas, l figureLayout) {
	r := l.key
	switch {
	case f.scale != nil && l.keyOnTop:
		f.drawScaleAcross(c, r)
	case f.scale != nil:
		f.drawScaleDown(c, r)
	case l.keyOnTop:
		gap := 1.5 * f.fonts.legend
		y := r.Max.Y - f.lineHeight()/2
		for _, row := range l.rows {
			w := -gap
			for _, i := range row {
				w += gap + f.entryWidth(f.legend[i])
			}
			x := (c.Min.X+c.Max.X)/2 - w/2
			for _, i := range row {
				f.drawEntry(c, x, y, f.legend[i])
				x += gap + f.entryWidth(f.legend[i])
			}
			y -= f.lineHeight()
		}
	default:
		y := r.Max.Y - f.lineHeight()/2
		for _, e := range f.legend {
			f.drawEntry(c, r.Min.X, y, e)
			y -= f.lineHeight()
		}
	}
}

// drawEntry draws a legend entry from x, centred on y.
func (f *figure) drawEntry(c draw.Canvas, x, y vg.Length, e legendEntry) {
	h := textStyle(f.fonts.legend).FontExtents().Height
	icon := draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{
		Min: vg.Point{X: x, Y: y - h/2}, Max: vg.Point{X: x + f.thumbWidth(), Y: y + h/2},
	}}
	for _, t := range e.thumbs {
		t.Thumbnail(&icon)
	}
	ts := textStyle(f.fonts.legend)
	ts.YAlign = draw.YCenter
	c.FillText(ts, vg.Point{X: x + f.thumbWidth() + ts.Width(" "), Y: y}, e.label)
}

// scaleOutline is the line around a colour scale's bar and its ticks.
var scaleOutline = draw.LineStyle{Color: color.Gray{Y: 90}, Width: vg.Points(0.4)}

// fillCell fills a cell of a colour scale's bar.
func fillCell(c draw.Canvas, clr color.Color, r vg.Rectangle) {
	c.FillPolygon(clr, []vg.Point{r.Min, {X: r.Max.X, Y: r.Min.Y}, r.Max, {X: r.Min.X, Y: r.Max.Y}})
}

// outline strokes r's border.
func outline(c draw.Canvas, r vg.Rectangle) {
	c.StrokeLines(scaleOutline, []vg.Point{r.Min, {X: r.Max.X, Y: r.Min.Y}, r.Max, {X: r.Min.X, Y: r.Max.Y}, r.Min})
}

// drawScaleDown draws the colour scale in r, right of the plot: the
// heading, then the bar of one cell a series, first at the top, down to
// the bottom of r (the data area's), labelled on its right. Each cell
// overlaps the next by half a point: abutting cells leave anti-aliased
// seams.
func (f *figure) drawScaleDown(c draw.Canvas, r vg.Rectangle) {
	s := f.scale
	ts := textStyle(f.fonts.legend)
	hs := ts
	hs.YAlign = draw.YTop
	c.FillText(hs, vg.Point{X: r.Min.X, Y: r.Max.Y}, s.heading)
	top := r.Max.Y - ts.Height(s.heading) - f.fonts.legend/2
	n := len(s.colors)
	if n == 0 || top <= r.Min.Y {
		return
	}
	cell := (top - r.Min.Y) / vg.Length(n)
	x0, x1 := r.Min.X, r.Min.X+f.scaleBarWidth()
	for i, clr := range s.colors {
		y1 := top - vg.Length(i)*cell
		fillCell(c, clr, vg.Rectangle{Min: vg.Point{X: x0, Y: max(r.Min.Y, y1-cell-vg.Points(0.5))}, Max: vg.Point{X: x1, Y: y1}})
	}
	outline(c, vg.Rectangle{Min: vg.Point{X: x0, Y: r.Min.Y}, Max: vg.Point{X: x1, Y: top}})
	ts.YAlign = draw.YCenter
	fit := int((top - r.Min.Y) / (1.8 * ts.FontExtents().Height))
	for _, i := range scaleLabelIndices(n, min(maxScaleLabels, fit)) {
		y := top - (vg.Length(i)+0.5)*cell
		c.StrokeLine2(scaleOutline, x1, y, x1+f.fonts.legend/4, y)
		c.FillText(ts, vg.Point{X: x1 + f.fonts.legend/2, Y: y}, s.labels[i])
	}
}

// drawScaleAcross draws the colour scale in r, below the subtitle: the
// heading, then the bar of one cell a series, first on the left, at most
// 3 in long, labelled below (the first label from the bar's left end, the
// last to its right end).
func (f *figure) drawScaleAcross(c draw.Canvas, r vg.Rectangle) {
	s := f.scale
	ts := textStyle(f.fonts.legend)
	n := len(s.colors)
	gap := f.fonts.legend / 2
	var labelW vg.Length
	for _, l := range s.labels {
		labelW = max(labelW, ts.Width(l))
	}
	barW := min(3*vg.Inch, r.Max.X-r.Min.X-ts.Width(s.heading)-gap)
	if n == 0 || barW <= 0 {
		return
	}
	x0 := (r.Min.X+r.Max.X)/2 - (ts.Width(s.heading)+gap+barW)/2
	yBar := r.Max.Y - f.lineHeight()
	hs := ts
	hs.YAlign = draw.YCenter
	c.FillText(hs, vg.Point{X: x0, Y: yBar + f.lineHeight()/2}, s.heading)
	x0 += ts.Width(s.heading) + gap
	cell := barW / vg.Length(n)
	for i, clr := range s.colors {
		x := x0 + vg.Length(i)*cell
		fillCell(c, clr, vg.Rectangle{Min: vg.Point{X: x, Y: yBar}, Max: vg.Point{X: min(x0+barW, x+cell+vg.Points(0.5)), Y: r.Max.Y}})
	}
	outline(c, vg.Rectangle{Min: vg.Point{X: x0, Y: yBar}, Max: vg.Point{X: x0 + barW, Y: r.Max.Y}})
	ts.YAlign = draw.YTop
	m := max(2, min(maxScaleLabels, int(barW/(1.3*labelW))))
	idx := scaleLabelIndices(n, m)
	for k, i := range idx {
		x := x0 + (vg.Length(i)+0.5)*cell
		c.StrokeLine2(scaleOutline, x, yBar, x, yBar-f.fonts.legend/4)
		switch {
		case k == 0:
			ts.XAlign, x = draw.XLeft, x0
		case k == len(idx)-1:
			ts.XAlign, x = draw.XRight, x0+barW
		default:
			ts.XAlign = draw.XCenter
		}
		c.FillText(ts, vg.Point{X: x, Y: yBar - f.fonts.legend/4}, s.labels[i])
	}
}

// scaleLabelIndices picks up to m of n series to label, evenly spaced,
// the first and the last always (when m >= 2).
func scaleLabelIndices(n, m int) []int {
	switch {
	case n <= 0 || m <= 0:
		return nil
	case m == 1 || n == 1:
		return []int{0}
	}
	m = min(m, n)
	out := make([]int, 0, m)
	for k := range m {
		i := int(math.Round(float64(k) * float64(n-1) / float64(m-1)))
		if len(out) == 0 || out[len(out)-1] != i {
			out = append(out, i)
		}
	}
	return out
}

// The palettes. Categorical: Okabe and Ito's colour-blind-safe set
// (https://jfly.uni-koeln.de/color/) without its yellow, which vanishes on
// white; seven series at most get a legend. Sequential: viridis (van der
// Walt and Smith, CC0), nine stops interpolated, its last sixth (pale
// yellow) left out for the same reason.
var (
	categorical = []color.Color{
		color.RGBA{0x00, 0x72, 0xb2, 0xff}, // blue
		color.RGBA{0xd5, 0x5e, 0x00, 0xff}, // vermillion
		color.RGBA{0x00, 0x9e, 0x73, 0xff}, // bluish green
		color.RGBA{0xcc, 0x79, 0xa7, 0xff}, // reddish purple
		color.RGBA{0xe6, 0x9f, 0x00, 0xff}, // orange
		color.RGBA{0x56, 0xb4, 0xe9, 0xff}, // sky blue
		color.RGBA{0x00, 0x00, 0x00, 0xff}, // black
	}
	viridis = []color.RGBA{
		{0x44, 0x01, 0x54, 0xff}, {0x47, 0x2d, 0x7b, 0xff}, {0x3b, 0x52, 0x8b, 0xff},
		{0x2c, 0x72, 0x8e, 0xff}, {0x21, 0x90, 0x8c, 0xff}, {0x27, 0xad, 0x81, 0xff},
		{0x5d, 0xc8, 0x63, 0xff}, {0xaa, 0xdc, 0x32, 0xff}, {0xfd, 0xe7, 0x25, 0xff},
	}
	// dashes tell the categorical series apart in a greyscale print.
	dashes = [][]vg.Length{
		nil,
		{vg.Points(5), vg.Points(2)},
		{vg.Points(1.5), vg.Points(1.5)},
		{vg.Points(5), vg.Points(2), vg.Points(1.5), vg.Points(2)},
		{vg.Points(8), vg.Points(2)},
		{vg.Points(3), vg.Points(3)},
		{vg.Points(8), vg.Points(2), vg.Points(1.5), vg.Points(2)},
	}
)

// sequential returns the colour of series i of n along viridis, from dark
// (the first) to light.
func sequential(i, n int) color.Color {
	t := 0.0
	if n > 1 {
		t = float64(i) / float64(n-1)
	}
	t *= 5.0 / 6.0
	x := t * float64(len(viridis)-1)
	j := min(int(x), len(viridis)-2)
	fr := x - float64(j)
	a, b := viridis[j], viridis[j+1]
	mix := func(p, q uint8) uint8 { return uint8(math.Round(float64(p) + fr*(float64(q)-float64(p)))) }
	return color.RGBA{mix(a.R, b.R), mix(a.G, b.G), mix(a.B, b.B), 0xff}
}
