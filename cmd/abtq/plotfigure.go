package main

import (
	"errors"
	"fmt"
	"image/color"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	plottext "gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgpdf"
	"gonum.org/v1/plot/vg/vgsvg"
)

// plotSize is a figure's size and, for PNG, its resolution.
type plotSize struct {
	w, h vg.Length
	dpi  int // PNG only: SVG and PDF are vector formats
}

// namedPlotSizes are --plot-size's names: a column of a two-column paper
// (IEEE's is 3.5 in wide), the text width of a one-column one (US letter
// with 1 in margins; the default), a 16:9 slide.
var namedPlotSizes = map[string]plotSize{
	"column": {3.5 * vg.Inch, 2.6 * vg.Inch, 300},
	"text":   {6.5 * vg.Inch, 4 * vg.Inch, 300},
	"slide":  {10 * vg.Inch, 5.625 * vg.Inch, 150},
}

const defaultPlotSize = "text"

// Bounds of --plot-size: below 3 × 2 in the axes, their labels, the title
// and the key leave too little room for the data;
// the pixel cap keeps a PNG's canvas (4 bytes a pixel) under 256 MiB.
const (
	minPlotW, minPlotH = 3 * vg.Inch, 2 * vg.Inch
	maxPlotSide        = 40 * vg.Inch
	minDPI, maxDPI     = 50, 1200
	maxPlotPixels      = 64 << 20
)

// parsePlotSize parses --plot-size: a name (column, text, slide) or WxH in
// inches (6.5x4), cm or mm (16x10cm), either optionally followed by @DPI
// for PNG (column@600, 6.5x4@150). Empty means the default.
func parsePlotSize(s string) (plotSize, error) {
	spec, dpiText, hasDPI := strings.Cut(strings.ToLower(strings.TrimSpace(s)), "@")
	if spec == "" {
		spec = defaultPlotSize
	}
	sz, ok := namedPlotSizes[spec]
	if !ok {
		var err error
		if sz, err = parseWH(spec); err != nil {
			return plotSize{}, err
		}
	}
	if hasDPI {
		dpi, err := strconv.Atoi(dpiText)
		if err != nil || dpi < minDPI || dpi > maxDPI {
			return plotSize{}, fmt.Errorf("--plot-size %q: the resolution after @ must be %d to %d dots per inch", s, minDPI, maxDPI)
		}
		sz.dpi = dpi
	}
	if sz.w < minPlotW || sz.h < minPlotH || sz.w > maxPlotSide || sz.h > maxPlotSide {
		return plotSize{}, fmt.Errorf("--plot-size %q: must be at least 3x2 in and at most 40 in a side", s)
	}
	if px := float64(sz.w/vg.Inch) * float64(sz.h/vg.Inch) * float64(sz.dpi*sz.dpi); px > maxPlotPixels {
		return plotSize{}, fmt.Errorf("--plot-size %q: %.0f megapixels is too many; lower the size or the resolution", s, px/1e6)
	}
	return sz, nil
}

// parseWH parses WxH[in|cm|mm].
func parseWH(spec string) (plotSize, error) {
	unit := vg.Inch
	for _, u := range []struct {
		suffix string
		l      vg.Length
	}{{"in", vg.Inch}, {"cm", vg.Centimeter}, {"mm", vg.Millimeter}} {
		if strings.HasSuffix(spec, u.suffix) {
			spec, unit = strings.TrimSuffix(spec, u.suffix), u.l
			break
		}
	}
	ws, hs, ok := strings.Cut(spec, "x")
	w, err1 := strconv.ParseFloat(strings.TrimSpace(ws), 64)
	h, err2 := strconv.ParseFloat(strings.TrimSpace(hs), 64)
	if !ok || err1 != nil || err2 != nil || math.IsNaN(w) || math.IsNaN(h) {
		return plotSize{}, errors.New("--plot-size: want WxH in inches (6.5x4), cm or mm (16x10cm), or column, text or slide; @DPI may follow")
	}
	return plotSize{vg.Length(w) * unit, vg.Length(h) * unit, namedPlotSizes[defaultPlotSize].dpi}, nil
}

// newCanvas returns a canvas of the size for the format (png, svg, pdf).
// PDFs embed their fonts, as publishers ask; SVGs name them (Liberation
// Serif, the metric twin of Times).
func newCanvas(format string, sz plotSize) vg.CanvasWriterTo {
	switch format {
	case "svg":
		return vgsvg.New(sz.w, sz.h)
	case "pdf":
		return vgpdf.New(sz.w, sz.h)
	}
	return vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(sz.w, sz.h), vgimg.UseDPI(sz.dpi))}
}

// fontSizes are a figure's text sizes. A figure goes into a paper at its
// own size, so the text is sized as a paper's is (8.5 to 11 pt at the text
// width, 6.5 in), in proportion to the width from 0.85 times that (a
// column) to 1.6 times (a slide, read from across a room).
type fontSizes struct {
	title, subtitle, label, tick, legend vg.Length
}

func fontsFor(sz plotSize) fontSizes {
	k := vg.Length(math.Min(1.6, math.Max(0.85, float64(sz.w/vg.Inch)/6.5)))
	return fontSizes{title: 11 * k, subtitle: 9 * k, label: 10 * k, tick: 8.5 * k, legend: 8.5 * k}
}

// figure is a plot and what abtq draws around it: a title and, below it,
// a subtitle naming the selection (server, port, direction, time range,
// sensor); to the right of the axes, outside the data, a legend for a few
// series or a colour scale for many.
type figure struct {
	title, subtitle string
	xlabel, ylabel  string // the axes' labels (drawn here, see layout)
	plot            *plot.Plot
	legend          []legendEntry
	scale           *colorScale
	size            plotSize
	fonts           fontSizes
}

// legendEntry is a series' label and the thumbnails drawn beside it.
type legendEntry struct {
	label  string
	thumbs []plot.Thumbnailer
}

// colorScale stands for a legend when there are too many series to tell
// apart by colour: the series are ordered (days, hours), coloured along
// a sequential palette, and the scale shows the palette as one cell a
// series, first at the top, with the first, the last and a few labels
// between.
type colorScale struct {
	heading string
	colors  []color.Color
	labels  []string
}

// newFigure returns a figure with an empty plot whose text is sized for
// sz.
func newFigure(sz plotSize, title, subtitle, xlabel, ylabel string) *figure {
	f := &figure{title: title, subtitle: subtitle, xlabel: xlabel, ylabel: ylabel, plot: plot.New(), size: sz, fonts: fontsFor(sz)}
	p := f.plot
	p.BackgroundColor = nil // draw fills the whole figure
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Tick.Label.Font.Size = f.fonts.tick
	}
	g := plotter.NewGrid()
	g.Vertical.Color = color.Gray{Y: 220}
	g.Horizontal.Color = color.Gray{Y: 220}
	p.Add(g)
	return f
}

// textStyle is the plot's default text style at size.
func textStyle(size vg.Length) plottext.Style {
	return plottext.Style{Color: color.Black, Font: font.From(plot.DefaultFont, size), Handler: plot.DefaultTextHandler}
}

// figureLayout is where a figure's parts go on its canvas.
type figureLayout struct {
	title, subtitle vg.Point     // the top centre of each (first line)
	titleText       string       // f.title, broken into lines to fit
	subtitleText    string       // f.subtitle, broken into lines to fit
	xlabel, ylabel  vg.Point     // the bottom centre, the left centre
	plot            vg.Rectangle // the axes and the data (plot.Draw's canvas)
	data            vg.Rectangle // the data area within plot
	key             vg.Rectangle // the legend or colour scale
	keyOnTop        bool         // key is below the subtitle, not right of plot
	rows            [][]int      // a legend on top: its entries' rows
}

// layout places the figure's parts on c: the title block on top; the key
// (legend or colour scale) right of the plot, or below the subtitle when
// the figure is narrow (keyOnTopBelow); the axes' labels on the left and
// at the bottom; the plot in the rest. The axes' labels are drawn here, centred
// on the data area, rather than by gonum/plot, which reserves room for a
// label at the axis' arithmetic midpoint, three quarters of the way along a
// log axis, and so shrinks the data area for nothing.
func (f *figure) layout(c draw.Canvas) figureLayout {
	margin := f.fonts.tick * 0.75
	var l figureLayout
	top := c.Max.Y - margin
	center := (c.Min.X + c.Max.X) / 2
	width := c.Max.X - c.Min.X - 2*margin
	if f.title != "" {
		ts := textStyle(f.fonts.title)
		l.title, l.titleText = vg.Point{X: center, Y: top}, wrapTitle(f.title, " ", ts, width)
		top -= ts.Height(l.titleText)
	}
	if f.subtitle != "" {
		ss := textStyle(f.fonts.subtitle)
		top -= f.fonts.subtitle / 4
		l.subtitle, l.subtitleText = vg.Point{X: center, Y: top}, wrapTitle(f.subtitle, " · ", ss, width)
		top -= ss.Height(l.subtitleText)
	}
	top -= margin
	right := c.Max.X - margin
	if f.hasKey() {
		if l.keyOnTop = c.Max.X-c.Min.X < keyOnTopBelow; l.keyOnTop {
			var h vg.Length
			l.rows, h = f.keyOnTopHeight(c.Max.X - c.Min.X - 2*margin)
			l.key = vg.Rectangle{Min: vg.Point{X: c.Min.X + margin, Y: top - h}, Max: vg.Point{X: right, Y: top}}
			top -= h + margin
		} else {
			w := f.sideWidth()
			l.key = vg.Rectangle{Min: vg.Point{X: right - w, Y: c.Min.Y + margin}, Max: vg.Point{X: right, Y: top}}
			right -= w + f.fonts.legend
		}
	}
	left, bottom := c.Min.X+margin, c.Min.Y+margin
	ls := textStyle(f.fonts.label)
	if f.ylabel != "" {
		left += ls.Height(f.ylabel) + f.fonts.label/3
	}
	if f.xlabel != "" {
		bottom += ls.Height(f.xlabel) + f.fonts.label/3
	}
	l.plot = vg.Rectangle{Min: vg.Point{X: left, Y: bottom}, Max: vg.Point{X: right, Y: top}}
	pc := c
	pc.Rectangle = l.plot
	l.data = f.plot.DataCanvas(pc).Rectangle
	l.xlabel = vg.Point{X: (l.data.Min.X + l.data.Max.X) / 2, Y: c.Min.Y + margin}
	l.ylabel = vg.Point{X: c.Min.X + margin, Y: (l.data.Min.Y + l.data.Max.Y) / 2}
	if !l.keyOnTop {
		l.key.Min.Y, l.key.Max.Y = l.data.Min.Y, l.data.Max.Y
	}
	return l
}

// draw draws the figure on c.
func (f *figure) draw(c draw.Canvas) {
	l := f.layout(c)
	c.SetColor(color.White) // an SVG is transparent, and a dark page would show through
	c.Fill(c.Rectangle.Path())
	pc := c
	pc.Rectangle = l.plot
	f.plot.Draw(pc)
	if f.title != "" {
		ts := textStyle(f.fonts.title)
		ts.XAlign, ts.YAlign = draw.XCenter, draw.YTop
		c.FillText(ts, l.title, l.titleText)
	}
	ls := textStyle(f.fonts.label)
	ls.XAlign = draw.XCenter
	c.FillText(ls, l.xlabel, f.xlabel)
	ls.YAlign, ls.Rotation = draw.YTop, math.Pi/2
	c.FillText(ls, l.ylabel, f.ylabel)
	if f.subtitle != "" {
		ss := textStyle(f.fonts.subtitle)
		ss.XAlign, ss.YAlign = draw.XCenter, draw.YTop
		ss.Color = color.Gray{Y: 60}
		c.FillText(ss, l.subtitle, l.subtitleText)
	}
	if f.hasKey() {
		f.drawKey(c, l)
	}
}

// wrapTitle breaks s into lines no wider than width, at sep (kept at the end
// of a line, trimmed): a subtitle naming a server, a time range and a
// sensor does not fit a column's width on one line.
func wrapTitle(s, sep string, sty plottext.Style, width vg.Length) string {
	if sty.Width(s) <= width {
		return s
	}
	parts := strings.Split(s, sep)
	lines := []string{parts[0]}
	for _, p := range parts[1:] {
		last := &lines[len(lines)-1]
		if sty.Width(*last+sep+p) <= width {
			*last += sep + p
			continue
		}
		*last = strings.TrimRight(*last+sep, " ")
		lines = append(lines, p)
	}
	return strings.Join(lines, "\n")
}
