package main

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/plot"
)

// labelled returns the labelled ticks' values and labels.
func labelled(ticks []plot.Tick) ([]float64, []string) {
	var vs []float64
	var ls []string
	for _, t := range ticks {
		if !t.IsMinor() {
			vs = append(vs, t.Value)
			ls = append(ls, t.Label)
		}
	}
	return vs, ls
}

// TestLogTicks: a log axis is labelled whatever its span: within a decade
// (where gonum's LogTicks labels one power of ten or none), across one or
// two, across twenty; at least minTickLabels labels (two for a range so
// narrow that only whole numbers may be labelled), at most maxTickLabels,
// all within the range, distinct and in order.
func TestLogTicks(t *testing.T) {
	tests := []struct {
		name     string
		min, max float64
		integer  bool
		want     []string // the labels, when the case pins them
	}{
		{name: "response-times within a decade", min: 74, max: 135, want: []string{"80", "100", "120"}},
		{name: "one server's p50 and p99, padded", min: 68, max: 84},
		{name: "a single value, padded", min: 7.3 / 1.08, max: 7.3 * 1.08},
		{name: "just below a power of ten", min: 0.5, max: 0.9},
		{name: "exchanges 1 to 10", min: 0.93, max: 10.7, integer: true, want: []string{"1", "2", "5", "10"}},
		{name: "exchanges 1 to 3", min: 0.93, max: 3.2, integer: true, want: []string{"1", "2", "3"}},
		{name: "exchanges 1 to 29", min: 0.9, max: 31, integer: true, want: []string{"1", "2", "5", "10", "20"}},
		{name: "CCDF 0.017 to 1", min: 0.016, max: 1.05, want: []string{"0.02", "0.05", "0.1", "0.2", "0.5", "1"}},
		{name: "CCDF down to 1e-7", min: 1e-7, max: 1, want: []string{"1e-7", "1e-6", "1e-5", "0.0001", "0.001", "0.01", "0.1", "1"}},
		{name: "response times over two decades", min: 2.7, max: 560, want: []string{"5", "10", "20", "50", "100", "200", "500"}},
		{name: "ADU sizes", min: 6, max: 250000, want: []string{"10", "100", "1k", "10k", "100k"}},
		{name: "twenty decades", min: 1e-2, max: 1e18},
		{name: "a hundredth of a decade", min: 100, max: 102.3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vs, ls := labelled(logTicks{integer: tc.integer}.Ticks(tc.min, tc.max))
			if tc.want != nil {
				require.Equal(t, tc.want, ls)
			}
			least := minTickLabels
			if tc.integer && tc.max-tc.min < 3 {
				least = 2
			}
			require.GreaterOrEqual(t, len(ls), least, "labels %v", ls)
			require.LessOrEqual(t, len(ls), maxTickLabels, "labels %v", ls)
			seen := map[string]bool{}
			for i, v := range vs {
				require.True(t, v >= tc.min && v <= tc.max, "%v outside [%v, %v]", v, tc.min, tc.max)
				require.False(t, seen[ls[i]], "label %q twice", ls[i])
				seen[ls[i]] = true
				require.NotEmpty(t, ls[i])
				if i > 0 {
					require.Greater(t, v, vs[i-1])
				}
				if tc.integer {
					require.Equal(t, math.Round(v), v)
				}
			}
		})
	}
}

// TestLogTicksGonumFails records why logTicks exists: within a decade,
// gonum's LogTicks labels nothing the axis shows (it returns 10 and 100,
// outside the range, which the axis drops).
func TestLogTicksGonumFails(t *testing.T) {
	shown := func(tk plot.Ticker, min, max float64) []string {
		var ls []string
		for _, t := range tk.Ticks(min, max) {
			if !t.IsMinor() && t.Value >= min && t.Value <= max {
				ls = append(ls, t.Label)
			}
		}
		return ls
	}
	require.Empty(t, shown(plot.LogTicks{Prec: -1}, 74, 98))
	require.GreaterOrEqual(t, len(shown(logTicks{}, 74, 98)), minTickLabels)
}

func TestTickLabels(t *testing.T) {
	tests := []struct {
		in   []float64
		want []string
	}{
		{[]float64{0, 0.25, 0.5, 0.75, 1}, []string{"0", "0.25", "0.5", "0.75", "1"}},
		{[]float64{0.3, 3e-5, 1e-4}, []string{"0.3", "3e-5", "0.0001"}},
		{[]float64{1000, 2000, 5000}, []string{"1000", "2000", "5000"}},
		{[]float64{1000, 10000, 1e5, 2.5e6, 1e9, 1e12}, []string{"1k", "10k", "100k", "2.5M", "1G", "1T"}},
		{[]float64{1e12, 1e15, 1e18}, []string{"1T", "1e15", "1e18"}},
		{[]float64{74, 75.5, 0.1 + 0.2}, []string{"74", "75.5", "0.3"}},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, tickLabels(tc.in))
	}
}
