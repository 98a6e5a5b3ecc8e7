// Package anomaly finds the periods in which a server's response times
// were unlike its own history: the method of section 7 of the adudump
// paper (after Broadhurst's quantile-function distribution families).
//
// Each period's response times (a day or an hour of one server's) are
// summarised as a quantile function of QFBins bins: the sample, sorted, is
// cut into QFBins equal shares (the first holds the fastest 2.5 %), and
// each share is the mean of its log response times. A server's periods are
// points in that space; principal component analysis of the points of a
// training window (the periods before, already flagged ones left out)
// gives the directions in which the server normally varies and by how much.
// A period is scored by its distance from the training mean, measured in
// the training's own spread: along the retained components in units of
// their standard deviations (Hotelling's T²), and outside them in units of
// the variation the training left there (the residual, Q). The score is
// that distance divided by the median distance of the training periods
// themselves, so 1 is a typical period and Threshold flags; a period with
// fewer response times than the training's usual is given the slack of its
// larger sampling noise (sampleSlack).
//
// The response times come as histograms in the rollups' bins (package
// rollup: 1/64 octave, each value represented by its bin's midpoint, within
// 0.8 %), from the daily rollups or from the ADU rows; docs/anomalies.md
// says why each default is what it is.
package anomaly

import (
	"math"
	"slices"
	"sort"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/abt-dev/abt/internal/rollup"
)

// QFBins is the number of bins of a quantile function (the paper's 40:
// each holds 2.5 % of the sample).
const QFBins = 40

// Defaults of Options.
const (
	// DefaultWindowDays is the training window: the four weeks before a
	// period, so that every weekday is in it four times.
	DefaultWindowDays = 28
	// DefaultMinTrainDays is the least training a day is scored with: two
	// weeks, two of each weekday.
	DefaultMinTrainDays = 14
	// DefaultMinSamples is the least number of response times a period
	// needs to be scored or to train: below it the quantile function's
	// shares hold about one response time each.
	DefaultMinSamples = 40
	// DefaultVariance is the share of the training's variance the
	// retained components explain.
	DefaultVariance = 0.9
	// DefaultThreshold is the score above which a period is flagged.
	DefaultThreshold = 3
	// minVariance is the least variance (in squared natural-log units) a
	// direction is given: differences of response times below 1 % are not
	// told apart, so a server whose periods were identical in training is
	// not flagged for the width of a rollup bin.
	minVariance = 0.01 * 0.01
)

// Bin is one bin of a response-time histogram: the rollups' bin number
// (rollup.Bin of the response time in µs) and how many response times fell
// in it.
type Bin struct {
	Bin, N int64
}

// Period is one period of a server's response times.
type Period struct {
	Start time.Time
	Hist  []Bin // in ascending bin order
	// Sparse is the number of response times of a period read without its
	// histogram, because it has too few to be scored (Hist is then nil).
	Sparse int64
}

// Count returns the number of response times of the period.
func (p *Period) Count() int64 {
	if p.Hist == nil {
		return p.Sparse
	}
	return Count(p.Hist)
}

// Series is one server's periods, in time order.
type Series struct {
	Server  string
	Port    int32
	Periods []Period
}

// Options say how periods are trained and scored.
type Options struct {
	// Period is the length of a period (a day or an hour).
	Period time.Duration
	// Window is the training window, in periods: a period is compared
	// with the periods of its server that began at most Window periods
	// before it.
	Window int
	// MinTrain is the least number of training periods a period is
	// scored with; periods with less history are not scored.
	MinTrain int
	// MinSamples is the least number of response times of a period that
	// is scored or trains.
	MinSamples int64
	// Variance is the share of the training variance the retained
	// components explain (0 < Variance <= 1).
	Variance float64
	// Threshold flags a period whose score is above it.
	Threshold float64
	// From and To select the periods reported: those that begin in
	// [From, To) (zero: unbounded). Periods before From still train.
	From, To time.Time
	// Keep keeps, in each Result, its model, its training periods'
	// quantile functions and its own (to draw them).
	Keep bool
}

// DayOptions returns the defaults for daily periods.
func DayOptions() Options {
	return Options{Period: 24 * time.Hour, Window: DefaultWindowDays, MinTrain: DefaultMinTrainDays,
		MinSamples: DefaultMinSamples, Variance: DefaultVariance, Threshold: DefaultThreshold}
}

// HourOptions returns the defaults for hourly periods: the window and the
// least training are the same days' hours (four weeks, two weeks).
func HourOptions() Options {
	o := DayOptions()
	o.Period, o.Window, o.MinTrain = time.Hour, 24*DefaultWindowDays, 24*DefaultMinTrainDays
	return o
}

// Result is a scored period.
type Result struct {
	Server string
	Port   int32
	Start  time.Time
	// N is the number of response times of the period.
	N int64
	// Training is the number of training periods, Components the
	// principal components retained.
	Training, Components int
	// Score is the period's distance from the training mean over the
	// training periods' median distance (and over sampleSlack); Flagged
	// says it is above the threshold.
	Score   float64
	Flagged bool
	// Median and P99 are the period's median and 99th percentile response
	// times, UsualMedian and UsualP99 the medians of the training periods'
	// (µs; bin midpoints).
	Median, P99, UsualMedian, UsualP99 float64
	// With Options.Keep: the model, the training periods' quantile
	// functions and the period's.
	Model *Model
	Train [][QFBins]float64
	QF    [QFBins]float64
}

// Stats counts the periods of a Detect call.
type Stats struct {
	// Scored periods, and Flagged among them; Sparse: periods with fewer
	// than MinSamples response times; Untrained: periods in the range with
	// enough of them but fewer than MinTrain training periods.
	Scored, Flagged, Sparse, Untrained int
}

// Add adds o to s.
func (s *Stats) Add(o Stats) {
	s.Scored += o.Scored
	s.Flagged += o.Flagged
	s.Sparse += o.Sparse
	s.Untrained += o.Untrained
}

// value is the log of the response time a bin stands for (its midpoint in
// µs; below 1 µs, 1 µs).
func value(bin int64) float64 {
	mid := (float64(rollup.BinLow(bin)) + float64(rollup.BinHigh(bin))) / 2
	return math.Log(max(mid, 1))
}

// Count returns the number of response times in h.
func Count(h []Bin) int64 {
	var n int64
	for _, b := range h {
		n += b.N
	}
	return n
}

// QF returns the quantile function of h: bin k is the mean log response
// time (natural log of µs) of the k-th QFBins-th of the sorted sample. A
// response time that straddles two shares (when the count does not divide
// evenly) is split between them by the fraction in each. h must hold at
// least one response time.
func QF(h []Bin) [QFBins]float64 {
	var qf [QFBins]float64
	n := float64(Count(h))
	w := n / QFBins
	var c0 float64
	for _, b := range h {
		if b.N <= 0 {
			continue
		}
		c1 := c0 + float64(b.N)
		x := value(b.Bin)
		for k := int(c0 / w); k < QFBins && float64(k)*w < c1; k++ {
			lo, hi := max(c0, float64(k)*w), min(c1, float64(k+1)*w)
			if hi > lo {
				qf[k] += (hi - lo) * x
			}
		}
		c0 = c1
	}
	for k := range qf {
		qf[k] /= w
	}
	return qf
}

// Quantile returns the q-quantile of h by nearest rank (the first bin whose
// cumulative count reaches ceil(q·n)), as its bin's midpoint in µs, as the
// canned response-time queries do.
func Quantile(h []Bin, q float64) float64 {
	n := Count(h)
	rank := max(int64(math.Ceil(q*float64(n))), 1)
	var c int64
	for _, b := range h {
		c += b.N
		if c >= rank {
			return (float64(rollup.BinLow(b.Bin)) + float64(rollup.BinHigh(b.Bin))) / 2
		}
	}
	return math.NaN()
}

// Model is a server's normal variation, learned from training periods.
type Model struct {
	// Mean is the training periods' mean quantile function.
	Mean [QFBins]float64 `json:"mean"`
	// Components are the retained principal directions (unit vectors),
	// Variances the training variance along each (at least minVariance).
	Components [][QFBins]float64 `json:"components"`
	Variances  []float64         `json:"variances"`
	// Residual is the training variance per direction outside the
	// components (at least minVariance).
	Residual float64 `json:"residual"`
	// Scale is the median distance of the training periods (at least 1).
	Scale float64 `json:"scale"`
	// Training is the number of training periods.
	Training int `json:"training"`
	// Explained is the share of the training variance the components
	// explain (1 when it had none).
	Explained float64 `json:"explained"`
}

// Fit learns a model from training quantile functions (at least two),
// retaining the fewest principal components that explain variance of the
// training variance (at least one when there is any).
func Fit(train [][QFBins]float64, variance float64) Model {
	n := len(train)
	m := Model{Training: n, Explained: 1}
	for _, x := range train {
		for j := range x {
			m.Mean[j] += x[j] / float64(n)
		}
	}
	d := mat.NewDense(n, QFBins, nil)
	for i, x := range train {
		for j := range x {
			d.Set(i, j, x[j]-m.Mean[j])
		}
	}
	var svd mat.SVD
	var lambda []float64
	var v mat.Dense
	if n > 1 && svd.Factorize(d, mat.SVDThin) {
		for _, s := range svd.Values(nil) {
			lambda = append(lambda, s*s/float64(n-1))
		}
		svd.VTo(&v)
	}
	var total float64
	for _, l := range lambda {
		total += l
	}
	rank := 0
	for _, l := range lambda {
		if l > max(total*1e-12, minVariance*1e-9) { // not rounding noise
			rank++
		}
	}
	k, cum := 0, 0.0
	for k < rank && cum < variance*total {
		cum += lambda[k]
		k++
	}
	if total > 0 {
		m.Explained = cum / total
	}
	for i := range k {
		var c [QFBins]float64
		for j := range c {
			c[j] = v.At(j, i)
		}
		m.Components = append(m.Components, c)
		m.Variances = append(m.Variances, max(lambda[i], minVariance))
	}
	m.Residual = minVariance
	if rank > k {
		var rest float64
		for _, l := range lambda[k:rank] {
			rest += l
		}
		m.Residual = max(rest/float64(rank-k), minVariance)
	}
	dist := make([]float64, n)
	m.Scale = 1
	for i, x := range train {
		dist[i] = m.distance(x)
	}
	if med := median(dist); med > 1 {
		m.Scale = med
	}
	return m
}

// distance is x's distance from the mean: its squared coordinates along
// the components over their variances, plus its squared distance outside
// them over the residual variance, square-rooted.
func (m *Model) distance(x [QFBins]float64) float64 {
	var d [QFBins]float64
	var all float64
	for j := range d {
		d[j] = x[j] - m.Mean[j]
		all += d[j] * d[j]
	}
	var t2, in float64
	for i, c := range m.Components {
		var p float64
		for j := range c {
			p += c[j] * d[j]
		}
		t2 += p * p / m.Variances[i]
		in += p * p
	}
	q := max(all-in, 0)
	return math.Sqrt(t2 + q/m.Residual)
}

// Score returns x's distance from the mean in units of the training
// periods' median distance.
func (m *Model) Score(x [QFBins]float64) float64 {
	return m.distance(x) / m.Scale
}

// sampleSlack is how much a period of n response times is given for
// sampling noise beyond the training periods', whose median count is
// usual: a quantile function's sampling variance goes as 1/n, and the
// training's variation is taken as if it were all sampling noise (the
// bound that never flags a period for being small), so a period with fewer
// response times than usual has its distance divided by sqrt(usual/n).
// A period with more is not given less.
func sampleSlack(n, usual float64) float64 {
	return math.Sqrt(max(1, usual/n))
}

func median(x []float64) float64 {
	if len(x) == 0 {
		return math.NaN()
	}
	s := slices.Clone(x)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Detect scores the periods of s that begin in [o.From, o.To), each
// against a model of its training periods: the server's periods that
// began in the o.Window periods before it, with at least o.MinSamples
// response times, and not flagged themselves. Periods are taken in time
// order, so a flagged period stays out of every later period's training;
// the periods before o.From are scored for that too (s should begin
// 2·o.Window periods before o.From for them to have their own training),
// but not reported.
func Detect(s Series, o Options) ([]Result, Stats) {
	res, st, _, _ := detect(s, o, false)
	return res, st
}

// DetectAndTrain is Detect and Train over s in one pass: the periods'
// scores, and the model of the latest training window, which leaves out
// the periods the scoring flagged.
func DetectAndTrain(s Series, o Options) ([]Result, Stats, Trained, bool) {
	return detect(s, o, true)
}

// detect scores s's periods (Detect) and, with train, fits the model of the
// training window that ends at o.To, or at the end of s's last period
// (Train).
func detect(s Series, o Options, train bool) ([]Result, Stats, Trained, bool) {
	var (
		out  []Result
		st   Stats
		qfs  = make([][QFBins]float64, len(s.Periods))
		med  = make([]float64, len(s.Periods))
		p99  = make([]float64, len(s.Periods))
		ns   = make([]float64, len(s.Periods)) // response times
		ok   = make([]bool, len(s.Periods))    // may train
		pick []int                             // a training window's periods
	)
	window := time.Duration(o.Window) * o.Period
	// eligible returns the indexes in [first, last) of the periods that may
	// train (in pick, which the next call reuses).
	eligible := func(first, last int) []int {
		pick = pick[:0]
		for j := first; j < last; j++ {
			if ok[j] {
				pick = append(pick, j)
			}
		}
		return pick
	}
	first := 0 // the first period that may be in the window
	for i, p := range s.Periods {
		inRange := (o.From.IsZero() || !p.Start.Before(o.From)) && (o.To.IsZero() || p.Start.Before(o.To))
		n := p.Count()
		ns[i] = float64(n)
		if n < o.MinSamples || p.Hist == nil {
			if inRange {
				st.Sparse++
			}
			continue
		}
		qfs[i], med[i], p99[i] = QF(p.Hist), Quantile(p.Hist, 0.5), Quantile(p.Hist, 0.99)
		ok[i] = true
		if !o.To.IsZero() && !p.Start.Before(o.To) {
			continue
		}
		// A period before the range is scored too, so that it stays out of
		// the training if it is flagged, but not reported.
		for first < i && s.Periods[first].Start.Before(p.Start.Add(-window)) {
			first++
		}
		w := eligible(first, i)
		if len(w) < max(o.MinTrain, 2) {
			if inRange {
				st.Untrained++
			}
			continue
		}
		m := fitOf(w, qfs, o.Variance)
		r := Result{Server: s.Server, Port: s.Port, Start: p.Start, N: n, Training: len(w),
			Components: len(m.Components), Score: m.Score(qfs[i]) / sampleSlack(float64(n), medianOf(w, ns)), Median: med[i], P99: p99[i],
			UsualMedian: medianOf(w, med), UsualP99: medianOf(w, p99)}
		r.Flagged = r.Score > o.Threshold
		if r.Flagged {
			ok[i] = false
		}
		if !inRange {
			continue
		}
		if o.Keep {
			r.Model, r.QF = &m, qfs[i]
			for _, j := range w {
				r.Train = append(r.Train, qfs[j])
			}
		}
		st.Scored++
		if r.Flagged {
			st.Flagged++
		}
		out = append(out, r)
	}
	if !train || len(s.Periods) == 0 {
		return out, st, Trained{}, false
	}
	through := s.Periods[len(s.Periods)-1].Start.Add(o.Period)
	if !o.To.IsZero() {
		through = o.To
	}
	from := through.Add(-window)
	lo, hi := len(s.Periods), 0
	for j, p := range s.Periods {
		if !p.Start.Before(from) && p.Start.Before(through) {
			lo, hi = min(lo, j), max(hi, j+1)
		}
	}
	w := eligible(lo, hi)
	if len(w) < max(o.MinTrain, 2) {
		return out, st, Trained{}, false
	}
	return out, st, Trained{Server: s.Server, Port: s.Port, Through: through, Model: fitOf(w, qfs, o.Variance),
		UsualN: medianOf(w, ns), UsualMedian: medianOf(w, med), UsualP99: medianOf(w, p99)}, true
}

// fitOf fits a model to the quantile functions of periods w.
func fitOf(w []int, qfs [][QFBins]float64, variance float64) Model {
	train := make([][QFBins]float64, len(w))
	for k, j := range w {
		train[k] = qfs[j]
	}
	return Fit(train, variance)
}

// medianOf is the median of xs over periods w.
func medianOf(w []int, xs []float64) float64 {
	v := make([]float64, len(w))
	for k, j := range w {
		v[k] = xs[j]
	}
	return median(v)
}
