package query

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestTSFilter(t *testing.T) {
	at := func(s string) time.Time {
		tt, err := time.Parse(time.RFC3339Nano, s)
		require.NoError(t, err)
		return tt
	}
	tests := []struct {
		name string
		r    Range
		want string
	}{
		{"unbounded", Range{}, ""},
		{"from", Range{From: at("2014-01-14T17:04:05Z")}, "ts >= TIMESTAMP '2014-01-14 17:04:05.000000'"},
		{"to", Range{To: at("2014-01-14T18:00:00Z")}, "ts < TIMESTAMP '2014-01-14 18:00:00.000000'"},
		// ts is whole µs: ts >= 05.0000001 keeps what ts >= 05.000001 keeps,
		// and ts < 10.0000001 what ts < 10.000001 keeps.
		{"ns rounded up", Range{From: at("2014-01-14T17:04:05.0000001Z"), To: at("2014-01-14T17:04:10.0000001Z")},
			"ts >= TIMESTAMP '2014-01-14 17:04:05.000001' AND ts < TIMESTAMP '2014-01-14 17:04:10.000001'"},
		{"other zone", Range{From: at("2014-01-14T18:04:05+01:00")}, "ts >= TIMESTAMP '2014-01-14 17:04:05.000000'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, tsFilter(tc.r))
		})
	}
}
