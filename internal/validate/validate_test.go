package validate

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/ingest"
)

// TestCommitted compares the committed captures under testdata/validation
// (made by scripts/validate.sh) with their ground truth and asserts the
// thresholds of docs/validation.md.
func TestCommitted(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "validation")
	tests := []struct {
		name  string
		check func(t *testing.T, r *Result)
	}{
		{"seq-loss", func(t *testing.T, r *Result) {
			require.GreaterOrEqual(t, r.Conns, 100)
			require.Equal(t, r.Conns, r.Matched, "every connection seen")
			require.GreaterOrEqual(t, r.ExactFrac(), 0.995, "exact ADU vectors")
			for _, m := range r.Mismatches {
				require.True(t, m.Explained, "unexplained mismatch %s: %v", m.Client, m.Causes)
			}
			se := r.ThinkErrors("c2s")
			require.NotEmpty(t, se)
			require.Less(t, Quantile(se, 0.5), float64(time.Millisecond), "server think-time error, median")
		}},
		{"conc", func(t *testing.T, r *Result) {
			require.GreaterOrEqual(t, r.Conns, 50)
			require.Positive(t, r.Isolated)
			require.Equal(t, r.Isolated, r.Recovered, "ADUs separated by more than the quiet time recovered exactly")
			require.Zero(t, r.Unexplained())
		}},
		// Issue 15's floor: at least 99 % of the directions of the
		// concurrent connections the wire shows exact, in both families.
		{"conc-bulk", wireFloor},
		{"pipe", wireFloor},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := RunDir(context.Background(), filepath.Join(dir, tc.name), ingest.DefaultOptions())
			require.NoError(t, err)
			tc.check(t, r)
		})
	}
}

func TestPlanDeterministic(t *testing.T) {
	tests := []struct {
		name string
		mode Mode
	}{{"seq", ModeSeq}, {"conc", ModeConc}, {"mix", ModeMix}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := DefaultParams()
			p.Mode = tc.mode
			p.Heavy = true
			p.Size = Range{100, 100000}
			require.NoError(t, p.Validate())
			for port := uint16(20000); port < 20200; port++ {
				a, b := NewPlan(&p, port), NewPlan(&p, port)
				require.Equal(t, a, b)
				if a.RST && a.Mode == ModeSeq {
					require.Equal(t, "s2c", a.ADUs[len(a.ADUs)-1].Dir, "an aborted connection ends with the server's ADU")
				}
				for _, x := range a.ADUs {
					var sum int64
					for _, w := range x.Writes {
						sum += w
					}
					require.Equal(t, x.Size, sum)
					require.Len(t, x.Delays, len(x.Writes)-1)
					require.LessOrEqual(t, x.Size, p.Size.Max)
				}
			}
		})
	}
}

func TestRangeSet(t *testing.T) {
	tests := []struct {
		name, in string
		want     Range
		err      bool
	}{
		{"pair", "3:9", Range{3, 9}, false},
		{"single", "5", Range{5, 5}, false},
		{"reversed", "9:3", Range{}, true},
		{"junk", "a:b", Range{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r Range
			err := r.Set(tc.in)
			if tc.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, r)
		})
	}
}

// wireFloor asserts issue 15's floor on a concurrent scenario: in each
// address family, at least 20 connections overlap on the wire, and at
// least 99 % of their directions are exact (up to what the method can
// tell); no mismatch is unexplained.
func wireFloor(t *testing.T, r *Result) {
	require.Equal(t, r.Conns, r.Matched, "every connection seen")
	for _, fam := range []string{"IPv4", "IPv6"} {
		w := r.Wire[fam]
		require.NotNil(t, w, fam)
		require.GreaterOrEqual(t, w.Detectable, 20, "%s: connections that overlap on the wire", fam)
		require.GreaterOrEqual(t, w.Frac(), 0.99, "%s: %d of %d directions exact", fam, w.DirsExact, w.Dirs)
	}
	require.Zero(t, r.Unexplained())
}
