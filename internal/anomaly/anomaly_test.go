package anomaly

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/abt-dev/abt/internal/rollup"
)

// hist bins µs values as the rollups do.
func hist(us []int64) []Bin {
	m := map[int64]int64{}
	for _, v := range us {
		m[rollup.Bin(v)]++
	}
	var h []Bin
	for b, n := range m {
		h = append(h, Bin{b, n})
	}
	slices.SortFunc(h, func(a, b Bin) int { return int(a.Bin - b.Bin) })
	return h
}

// TestQFHandWorked: quantile functions worked out by hand, in the exact
// bins (below 128 µs a bin is its value).
func TestQFHandWorked(t *testing.T) {
	// 40 values 1..40: one per share.
	var us []int64
	for v := int64(1); v <= 40; v++ {
		us = append(us, v)
	}
	qf := QF(hist(us))
	for k := range qf {
		require.InDelta(t, math.Log(float64(k+1)), qf[k], 1e-12, "bin %d", k)
	}
	// 80 values, each of 1..40 twice: the same.
	require.Equal(t, qf, QF(hist(append(slices.Clone(us), us...))))
	// Three values 2, 4, 8: a share is 3/40 of a value. Shares 0..12 lie
	// in the 2 (mass [0, 0.975)); share 13 is 0.025 of the 2 and 0.05 of
	// the 4; shares 14..25 in the 4 (up to 1.95); share 26 0.05 of the 4
	// and 0.025 of the 8; 27..39 the 8.
	qf = QF(hist([]int64{8, 2, 4}))
	l2, l4, l8 := math.Log(2), math.Log(4), math.Log(8)
	for k := range qf {
		want := l8
		switch {
		case k <= 12:
			want = l2
		case k == 13:
			want = (0.025*l2 + 0.05*l4) / 0.075
		case k <= 25:
			want = l4
		case k == 26:
			want = (0.05*l4 + 0.025*l8) / 0.075
		}
		require.InDelta(t, want, qf[k], 1e-12, "bin %d", k)
	}
	// A zero response time counts as 1 µs (log 0).
	require.Equal(t, 0.0, QF(hist([]int64{0}))[0])
}

// TestQFAgainstSorted: on a lognormal sample, each bin of the quantile
// function is within a rollup bin's half width (0.8 %) of the mean log of
// its share of the sorted sample, computed directly.
func TestQFAgainstSorted(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{40, 1000, 4000, 777} {
		us := make([]int64, n)
		for i := range us {
			us[i] = int64(20000 * math.Exp(1.2*rng.NormFloat64()))
		}
		qf := QF(hist(us))
		s := slices.Clone(us)
		slices.Sort(s)
		w := float64(n) / QFBins
		for k := range qf {
			var sum float64
			for i, v := range s {
				lo, hi := max(float64(i), float64(k)*w), min(float64(i+1), float64(k+1)*w)
				if hi > lo {
					sum += (hi - lo) * math.Log(float64(v))
				}
			}
			require.InDelta(t, sum/w, qf[k], math.Log(1+1.0/128), "n %d bin %d", n, k)
		}
		for _, q := range []float64{0.5, 0.99} {
			exact := float64(s[int(math.Ceil(q*float64(n)))-1])
			require.InEpsilon(t, exact, Quantile(hist(us), q), 1.0/128, "n %d q %g", n, q)
		}
	}
}

// TestFit: the components and variances agree with an eigendecomposition
// of the training covariance (a different algorithm than Fit's SVD), and a
// cloud along one direction gives that direction.
func TestFit(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var u [QFBins]float64 // a unit direction
	for j := range u {
		u[j] = math.Sin(float64(j+1)) / math.Sqrt(QFBins/2)
	}
	var norm float64
	for _, x := range u {
		norm += x * x
	}
	for j := range u {
		u[j] /= math.Sqrt(norm)
	}
	var train [][QFBins]float64
	for range 30 {
		var x [QFBins]float64
		a := 0.5 * rng.NormFloat64()
		for j := range x {
			x[j] = 10 + float64(j)/10 + a*u[j] + 0.02*rng.NormFloat64()
		}
		train = append(train, x)
	}
	m := Fit(train, 0.9)
	require.Len(t, m.Components, 1)
	var dot float64
	for j := range u {
		dot += u[j] * m.Components[0][j]
	}
	require.InDelta(t, 1, math.Abs(dot), 0.01, "the component is the cloud's direction")

	cov := mat.NewSymDense(QFBins, nil)
	for a := range QFBins {
		for b := range QFBins {
			var c float64
			for _, x := range train {
				c += (x[a] - m.Mean[a]) * (x[b] - m.Mean[b])
			}
			cov.SetSym(a, b, c/float64(len(train)-1))
		}
	}
	var eig mat.EigenSym
	require.True(t, eig.Factorize(cov, false))
	vals := eig.Values(nil)
	sort.Sort(sort.Reverse(sort.Float64Slice(vals)))
	require.InEpsilon(t, vals[0], m.Variances[0], 1e-9)
	var rest float64
	for _, v := range vals[1:29] { // rank 29: 30 points
		rest += v
	}
	require.InEpsilon(t, rest/28, m.Residual, 1e-9)

	// A point at 3 standard deviations along the component and on the
	// mean elsewhere is at distance 3.
	var x [QFBins]float64
	sd := math.Sqrt(m.Variances[0])
	for j := range x {
		x[j] = m.Mean[j] + 3*sd*m.Components[0][j]
	}
	require.InDelta(t, 3/m.Scale, m.Score(x), 1e-9)
	require.Greater(t, m.Scale, 1.0)

	// Identical training periods: no component, and a shift of 1 % is
	// one unit (the variance floor).
	same := [][QFBins]float64{train[0], train[0], train[0]}
	m = Fit(same, 0.9)
	require.Empty(t, m.Components)
	for j := range x {
		x[j] = train[0][j] + 0.01/math.Sqrt(QFBins)
	}
	require.InDelta(t, 1, m.Score(x), 1e-9)
}

// server generates a server's days of response times: lognormal with
// median med µs and spread sigma, n a day, changed on some days.
type change struct {
	scale, spread float64
	n             int
}

func days(rng *rand.Rand, start time.Time, count, n int, med, sigma float64, on func(day int, t time.Time) change) Series {
	s := Series{Server: "10.0.0.1", Port: 80}
	for d := range count {
		t := start.AddDate(0, 0, d)
		c := change{1, 1, n}
		if on != nil {
			c = on(d, t)
		}
		us := make([]int64, c.n)
		for i := range us {
			us[i] = int64(c.scale * med * math.Exp(c.spread*sigma*rng.NormFloat64()))
		}
		s.Periods = append(s.Periods, Period{Start: t, Hist: hist(us)})
	}
	return s
}

func flaggedDays(t *testing.T, s Series, o Options) []int {
	t.Helper()
	res, st := Detect(s, o)
	var out []int
	start := s.Periods[0].Start
	for _, r := range res {
		if r.Flagged {
			out = append(out, int(r.Start.Sub(start)/(24*time.Hour)))
		}
	}
	require.Equal(t, st.Flagged, len(out))
	return out
}

// TestDetect: the cases, on servers whose response times follow a
// known model: a fifteenfold rise for three days (the paper's April 2008
// case), a change of shape at the same median, a server that only gets
// busier, weekly seasonality, and normal servers' false alarms.
func TestDetect(t *testing.T) {
	start := time.Date(2008, 3, 1, 0, 0, 0, 0, time.UTC)
	o := DayOptions()

	t.Run("fifteenfold", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(5, 6))
		s := days(rng, start, 60, 300, 20000, 0.8, func(d int, _ time.Time) change {
			if d >= 40 && d < 43 {
				return change{15, 1, 300}
			}
			return change{1, 1, 300}
		})
		require.Equal(t, []int{40, 41, 42}, flaggedDays(t, s, o))
		res, _ := Detect(s, o)
		for _, r := range res {
			if r.Start.Equal(start.AddDate(0, 0, 40)) {
				require.InEpsilon(t, 15, r.Median/r.UsualMedian, 0.2)
				require.Equal(t, 28, r.Training, "four weeks of days, none flagged")
			}
			if r.Start.Equal(start.AddDate(0, 0, 44)) {
				require.Equal(t, 25, r.Training, "the flagged days stay out of the training")
			}
		}
	})
	t.Run("shape", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(7, 8))
		s := days(rng, start, 60, 300, 20000, 0.8, func(d int, _ time.Time) change {
			if d >= 45 && d < 47 {
				return change{1, 2.5, 300}
			}
			return change{1, 1, 300}
		})
		require.Equal(t, []int{45, 46}, flaggedDays(t, s, o))
	})
	t.Run("busier", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(9, 10))
		s := days(rng, start, 60, 300, 20000, 0.8, func(d int, _ time.Time) change {
			if d >= 40 && d < 50 {
				return change{1, 1, 3000}
			}
			return change{1, 1, 300}
		})
		require.Empty(t, flaggedDays(t, s, o))
	})
	t.Run("weekly", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(11, 12))
		s := days(rng, start, 60, 300, 20000, 0.8, func(_ int, day time.Time) change {
			if wd := day.Weekday(); wd == time.Saturday || wd == time.Sunday {
				return change{2, 1, 150}
			}
			return change{1, 1, 300}
		})
		require.Empty(t, flaggedDays(t, s, o))
	})
	t.Run("false alarms", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(13, 14))
		var scored, flagged int
		for range 50 {
			n := 40 + rng.IntN(2000)
			s := days(rng, start, 60, n, 1000+rng.Float64()*1e6, 0.3+rng.Float64(), nil)
			_, st := Detect(s, o)
			scored += st.Scored
			flagged += st.Flagged
		}
		t.Logf("false alarms: %d of %d days", flagged, scored)
		require.Equal(t, 50*(60-14), scored)
		require.LessOrEqual(t, float64(flagged), 0.01*float64(scored))
	})
}

// TestDetectRange: only the periods in the range are reported, trained on
// the ones before it; sparse periods neither train nor are scored.
func TestDetectRange(t *testing.T) {
	start := time.Date(2008, 3, 1, 0, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(15, 16))
	s := days(rng, start, 40, 100, 20000, 0.8, func(d int, _ time.Time) change {
		if d%10 == 3 {
			return change{1, 1, 10}
		}
		return change{1, 1, 100}
	})
	o := DayOptions()
	o.From, o.To = start.AddDate(0, 0, 30), start.AddDate(0, 0, 35)
	res, st := Detect(s, o)
	require.Equal(t, Stats{Scored: 4, Sparse: 1}, Stats{Scored: st.Scored, Sparse: st.Sparse, Untrained: st.Untrained})
	require.Len(t, res, 4)
	require.Equal(t, o.From, res[0].Start)
	require.Equal(t, 28-3, res[0].Training, "days 2..29 less the sparse days 3, 13 and 23")
	o.From, o.To = time.Time{}, start.AddDate(0, 0, 17)
	_, st = Detect(s, o)
	require.Equal(t, Stats{Scored: 1, Sparse: 2, Untrained: 14}, st, "day 16 is the first with 14 days of training (days 3 and 13 sparse)")
}

// TestSaved: a model trained through a day and saved as JSON scores the
// next day exactly as Detect does; a file of another version, or not a
// model, is refused with its name.
func TestSaved(t *testing.T) {
	start := time.Date(2008, 3, 1, 0, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(17, 18))
	s := days(rng, start, 45, 200, 20000, 0.8, func(d int, _ time.Time) change {
		switch {
		case d == 30: // flagged, so out of the training
			return change{10, 1, 200}
		case d == 44:
			return change{3, 1, 200}
		}
		return change{1, 1, 200}
	})
	o := DayOptions()
	res, _ := Detect(s, o)
	want := res[len(res)-1]
	require.Equal(t, start.AddDate(0, 0, 44), want.Start)
	require.True(t, want.Flagged)

	o.To = start.AddDate(0, 0, 44)
	tr, ok := Train(s, o)
	require.True(t, ok)
	require.Equal(t, o.To, tr.Through)
	var buf strings.Builder
	require.NoError(t, WriteSaved(&buf, &Saved{Version: SavedVersion, Period: "day", Servers: []Trained{tr}}))
	saved, err := ReadSaved(strings.NewReader(buf.String()), "models.json")
	require.NoError(t, err)
	got, sparse := saved.Servers[0].Score(s.Periods[44], o.MinSamples, o.Threshold)
	require.False(t, sparse)
	require.Equal(t, want, got)
	require.Equal(t, 27, got.Training, "days 16..43 less the flagged day 30")

	_, err = ReadSaved(strings.NewReader(strings.Replace(buf.String(), `"version": 1`, `"version": 2`, 1)), "models.json")
	require.ErrorContains(t, err, "models.json: saved models of version 2")
	_, err = ReadSaved(strings.NewReader(strings.Replace(buf.String(), `"scale"`, `"scale": 0, "x"`, 1)), "models.json")
	require.ErrorContains(t, err, "models.json")
	_, err = ReadSaved(strings.NewReader("{"), "models.json")
	require.ErrorContains(t, err, "models.json: unexpected EOF")
}

// FuzzReadSaved: a models file is outside input; whatever it holds,
// ReadSaved returns models it can score with, or an error naming the
// file, never a panic.
func FuzzReadSaved(f *testing.F) {
	start := time.Date(2008, 3, 1, 0, 0, 0, 0, time.UTC)
	s := days(rand.New(rand.NewPCG(1, 1)), start, 20, 100, 20000, 0.8, nil)
	tr, ok := Train(s, DayOptions())
	if !ok {
		f.Fatal("no model")
	}
	var buf strings.Builder
	if err := WriteSaved(&buf, &Saved{Version: SavedVersion, Period: "day", Servers: []Trained{tr}}); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.String())
	f.Add(`{"version": 1, "period": "hour", "servers": []}`)
	f.Add(`{"version": 1, "period": "day", "servers": [{"server": "a", "model": {"residual": 1, "scale": 1, "components": [[1]], "variances": [1]}}]}`)
	f.Fuzz(func(t *testing.T, in string) {
		saved, err := ReadSaved(strings.NewReader(in), "models.json")
		if err != nil {
			require.True(t, strings.HasPrefix(err.Error(), "models.json: "), err.Error())
			return
		}
		for i := range saved.Servers {
			r, _ := saved.Servers[i].Score(s.Periods[0], 1, 3)
			_ = r.Score
		}
	})
}
