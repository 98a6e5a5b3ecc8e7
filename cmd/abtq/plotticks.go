package main

import (
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
)

// Tick label counts a log axis aims for: at least minTickLabels so that a
// reader can tell the scale (two labels could be any scale), at most
// maxTickLabels so that labels of a 3.5 in figure do not collide.
const (
	minTickLabels = 3
	maxTickLabels = 8
)

// logTicks labels a log axis whatever its span. gonum's plot.LogTicks
// labels only powers of ten, so an axis within one decade (response times
// of 74 to 135 ms, exchanges of 1 to 9) has one label or none. logTicks
// takes the first of these that gives at least minTickLabels labels:
//
//   - the powers of ten (1, 10, 100), every second or third one when there
//     are more than maxTickLabels;
//   - 1, 2, 5 × 10^k (a decade or two: 5, 10, 20, 50, 100);
//   - plain linear ticks (80, 100, 120 for 70 to 135 ms; 74, 75, 76 for
//     74 to 78; see linearTicks), which a log axis places at their values
//     like any other.
//
// Linear ticks beat 1..9 × 10^k within a decade: those crowd towards its
// top and stop at the next power of ten (70, 80, 90, 100, then nothing up
// to 135). Unlabelled minor ticks mark the other 1..9 × 10^k.
type logTicks struct {
	// integer labels only whole numbers: the axis counts something
	// (exchanges per connection), and 2.5 of them means nothing.
	integer bool
}

var _ plot.Ticker = logTicks{}

// Ticks returns the ticks between min and max (both > 0).
func (t logTicks) Ticks(min, max float64) []plot.Tick {
	if !(min > 0) || !(max > min) || math.IsInf(max, 0) {
		return linearTicks(min, max, t.integer)
	}
	all := decadeMultiples(min, max, []float64{1, 2, 3, 4, 5, 6, 7, 8, 9}, t.integer)
	decades := decadeMultiples(min, max, []float64{1}, t.integer)
	if len(decades) >= minTickLabels {
		if len(decades) <= maxTickLabels {
			return withMinor(decades, all)
		}
		// Every step-th power of ten, the powers divisible by step so that
		// labels fall on round exponents (1, 1000, 1e6 rather than 10, 1e4);
		// the others as minor ticks (2..9 × 10^k would be a smear).
		step := (len(decades) + maxTickLabels - 1) / maxTickLabels
		var major []float64
		for _, v := range decades {
			if int(math.Round(math.Log10(v)))%step == 0 {
				major = append(major, v)
			}
		}
		return withMinor(major, decades)
	}
	if major := decadeMultiples(min, max, []float64{1, 2, 5}, t.integer); len(major) >= minTickLabels {
		return withMinor(major, all)
	}
	return linearTicks(min, max, t.integer)
}

// linearTicks returns ticks between min and max at multiples of the
// largest round step (1, 2 or 5 × 10^k; whole numbers only when integer)
// that gives at least minTickLabels of them, with unlabelled ones between
// (fifths of a step of 1 or 5, quarters of a step of 2). gonum's
// DefaultTicks aims at three labels and often gives two (70 and 80 for 68
// to 84).
func linearTicks(min, max float64, integer bool) []plot.Tick {
	if !(max > min) || math.IsInf(min, 0) || math.IsInf(max, 0) {
		return nil
	}
	var major, minor []float64
	top := int(math.Ceil(math.Log10(max - min)))
	for k := top; k >= top-3; k-- {
		for _, m := range []int{5, 2, 1} {
			if integer && k < 0 {
				continue
			}
			major = stepMultiples(min, max, m, k, 1)
			if len(major) < minTickLabels && !(integer && k == 0 && m == 1) {
				continue
			}
			parts := 5
			if m == 2 {
				parts = 4
			}
			if integer && m*int(math.Pow10(k))%parts != 0 {
				return withMinor(major, nil)
			}
			minor = stepMultiples(min, max, m, k, parts)
			return withMinor(major, minor)
		}
	}
	return withMinor(major, minor)
}

// stepMultiples returns the multiples of m × 10^k / parts within
// [min, max], each computed as a decimal so that 0.1 × 3 is 0.3.
func stepMultiples(min, max float64, m, k, parts int) []float64 {
	step := float64(m) * math.Pow10(k) / float64(parts)
	var out []float64
	for i := math.Ceil(min / step); i*step <= max; i++ {
		v, err := strconv.ParseFloat(strconv.FormatFloat(i*step, 'g', 12, 64), 64)
		if err == nil && v >= min && v <= max {
			out = append(out, v)
		}
	}
	return out
}

// decadeMultiples returns the values m × 10^k (m in mults) within
// [min, max], in increasing order.
func decadeMultiples(min, max float64, mults []float64, integer bool) []float64 {
	var out []float64
	for k := math.Floor(math.Log10(min)); k <= math.Ceil(math.Log10(max)); k++ {
		for _, m := range mults {
			// m × 10^k computed as a decimal so that 3 × 10^-1 is 0.3,
			// not 0.30000000000000004.
			v, err := strconv.ParseFloat(strconv.Itoa(int(m))+"e"+strconv.Itoa(int(k)), 64)
			if err != nil || v < min*(1-1e-9) || v > max*(1+1e-9) {
				continue
			}
			if integer && v != math.Round(v) {
				continue
			}
			out = append(out, v)
		}
	}
	return out
}

// withMinor makes labelled ticks of major and unlabelled ones of the rest
// of minor.
func withMinor(major, minor []float64) []plot.Tick {
	labelled := map[float64]bool{}
	ticks := make([]plot.Tick, 0, len(major)+len(minor))
	for i, l := range tickLabels(major) {
		labelled[major[i]] = true
		ticks = append(ticks, plot.Tick{Value: major[i], Label: l})
	}
	for _, v := range minor {
		if !labelled[v] {
			ticks = append(ticks, plot.Tick{Value: v})
		}
	}
	return ticks
}

// fixedTicks are labelled ticks at given values (quartiles of a CDF's
// probability axis), with unlabelled ones at minor.
type fixedTicks struct{ major, minor []float64 }

// Ticks returns the ticks within [min, max].
func (t fixedTicks) Ticks(min, max float64) []plot.Tick {
	var in []float64
	for _, v := range t.major {
		if v >= min && v <= max {
			in = append(in, v)
		}
	}
	return withMinor(in, t.minor)
}

// tickLabels formats an axis' tick values in as few characters as they
// need: plain decimals down to 0.0001 and 1e-5 below (the default font
// has no superscript minus, so 10⁻⁵ is not an option); above 9999, SI
// suffixes (10k, 2.5M: k is 1000), from 1000 up on such an axis so that
// its labels read alike (1k, 10k, 100k rather than 1000, 10k, 100k); from
// 1e15 up, 1e15.
func tickLabels(vs []float64) []string {
	si := 1e4
	for _, v := range vs {
		if math.Abs(v) >= 1e4 {
			si = 1e3
		}
	}
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = tickLabel(v, si)
	}
	return out
}

// tickLabel formats v, with an SI suffix from si up.
func tickLabel(v, si float64) string {
	a := math.Abs(v)
	switch {
	case v == 0:
		return "0"
	case a >= 1e15:
	case a >= si:
		for _, s := range []struct {
			suffix string
			scale  float64
		}{{"T", 1e12}, {"G", 1e9}, {"M", 1e6}, {"k", 1e3}} {
			if a >= s.scale || s.suffix == "k" {
				return shortFloat(v/s.scale) + s.suffix
			}
		}
	case a >= 1e-4:
		return shortFloat(v)
	}
	s := strconv.FormatFloat(v, 'e', -1, 64) // 1e-05, 1e+15
	mant, exp, _ := strings.Cut(s, "e")
	sign := ""
	if strings.HasPrefix(exp, "-") {
		sign, exp = "-", exp[1:]
	}
	return mant + "e" + sign + strings.TrimLeft(strings.TrimPrefix(exp, "+"), "0")
}

// shortFloat is v in the fewest digits, rounded to 6 significant ones so
// that float noise (0.30000000000000004) does not show.
func shortFloat(v float64) string {
	r, err := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 6, 64), 64)
	if err != nil {
		r = v
	}
	return strconv.FormatFloat(r, 'f', -1, 64)
}
