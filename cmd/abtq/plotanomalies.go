package main

import (
	"errors"
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/abt-dev/abt/internal/anomaly"
)

// maxFlaggedLines caps the flagged periods drawn (and named in the
// legend): the first ones.
const maxFlaggedLines = 6

// qfLine is a quantile function drawn as a CDF: the mean of each share at
// the share's middle probability, in ms.
func qfLine(qf [anomaly.QFBins]float64) plotter.XYs {
	xys := make(plotter.XYs, len(qf))
	for k, v := range qf {
		xys[k] = plotter.XY{X: math.Exp(v) / 1000, Y: (float64(k) + 0.5) / anomaly.QFBins}
	}
	return xys
}

// plotAnomalies draws the paper's Fig. 6 for one server: the CDFs of the
// training periods of its highest-scoring flagged period (or, with none
// flagged, of the last period scored) in light lines, their mean and the mean plus and
// minus one standard deviation along the first two principal components,
// and the flagged periods dashed.
func plotAnomalies(results []anomaly.Result, server string, s plotSpec) (*figure, error) {
	if len(results) == 0 {
		return nil, errors.New("plot: no period of that server was scored (too few response times, or too little training)")
	}
	ref := results[len(results)-1]
	var flagged []anomaly.Result
	for _, r := range results {
		if r.Flagged {
			if len(flagged) == 0 || r.Score > ref.Score {
				ref = r
			}
			flagged = append(flagged, r)
		}
	}
	m := ref.Model
	what := "training of " + periodLabel(ref.Start, s.period)
	f := newFigure(s.size, "Response-time anomalies of "+server, s.subtitle(what), "response time (ms)", "cumulative fraction of response times")
	var all []series
	add := func(xys plotter.XYs, c color.Color, width float64, dash []vg.Length, label string) error {
		l, err := plotter.NewLine(xys)
		if err != nil {
			return err
		}
		l.Color, l.Width, l.Dashes = c, vg.Points(width), dash
		f.plot.Add(l)
		all = append(all, series{xys: xys})
		if label != "" {
			f.legend = append(f.legend, legendEntry{label: label, thumbs: []plot.Thumbnailer{l}})
		}
		return nil
	}
	light := color.Gray{Y: 200}
	for i, qf := range ref.Train {
		label := ""
		if i == 0 {
			label = fmt.Sprintf("training (%d %ss)", len(ref.Train), s.period)
		}
		if err := add(qfLine(qf), light, 0.6, nil, label); err != nil {
			return nil, err
		}
	}
	for i := range min(2, len(m.Components)) {
		sd := math.Sqrt(m.Variances[i])
		for _, sign := range []float64{1, -1} {
			var qf [anomaly.QFBins]float64
			for j := range qf {
				qf[j] = m.Mean[j] + sign*sd*m.Components[i][j]
			}
			label := ""
			if sign > 0 {
				label = fmt.Sprintf("mean ± 1 sd, component %d", i+1)
			}
			if err := add(qfLine(qf), categorical[5-5*i], 1, dashes[2*i], label); err != nil {
				return nil, err
			}
		}
	}
	if err := add(qfLine(m.Mean), color.Black, 1.6, nil, "training mean"); err != nil {
		return nil, err
	}
	if len(flagged) > maxFlaggedLines {
		flagged = flagged[:maxFlaggedLines]
	}
	for i, r := range flagged {
		label := fmt.Sprintf("%s (score %.1f)", periodLabel(r.Start, s.period), r.Score)
		if err := add(qfLine(r.QF), categorical[1+i%4], 1.4, dashes[1], label); err != nil {
			return nil, err
		}
	}
	cdfAxes(f, all)
	return f, nil
}
