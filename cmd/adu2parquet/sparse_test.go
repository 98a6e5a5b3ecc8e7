package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/synthcap"
	"github.com/abt-dev/abt/schema"
)

// TestArchiveScatteredHours archives connections scattered over three
// years, nearly every one in an hour (and a part file) of its own (issue 8,
// defect 7): every row is in the hour of its ts, the files' page buffers
// created fewer temporary files than the run published parts (the run
// used to create and remove one per column of every part: ~35 each), none
// is left, and every day has a current rollup.
func TestArchiveScatteredHours(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "scattered.pcap")
	s := synthcap.Sparse{Conns: 150, From: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
		To: time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC), Seed: 8}
	f, err := os.Create(in)
	require.NoError(t, err)
	require.NoError(t, s.Write(f))
	require.NoError(t, f.Close())
	want := expectFromJSONL(t, []string{in})
	require.Equal(t, int64(s.Conns), want.conns)
	require.Equal(t, int64(s.Conns), want.adus, "one request per connection")
	require.Greater(t, len(want.adusByHour), s.Conns*9/10, "nearly every connection in an hour of its own")

	out := filepath.Join(dir, "archive")
	spill := filepath.Join(out, "_abt", "spill") // where page buffers spill
	require.NoError(t, os.MkdirAll(spill, 0o755))
	watch, watching := watchCreates(t, spill)
	mustArchive(t, out, in)
	creates, overflow := watch.stop()

	got := readTables(t, out)
	parts := len(got.files[schema.TableADUs]) + len(got.files[schema.TableConnections])
	require.Equal(t, len(want.adusByHour)+len(want.connsByHour), parts, "one part per hour")
	adus := map[time.Time]int64{}
	for _, r := range got.adus {
		adus[time.UnixMicro(r.Ts).UTC().Truncate(time.Hour)]++
	}
	require.Equal(t, want.adusByHour, adus)
	conns := map[time.Time]int64{}
	for _, r := range got.conns {
		conns[time.UnixMicro(r.Ts).UTC().Truncate(time.Hour)]++
	}
	require.Equal(t, want.connsByHour, conns)

	if watching {
		require.False(t, overflow, "too many files created in %s to count", spill)
		require.Less(t, creates, parts, "temporary files created in %s for %d parts", spill, parts)
	}
	require.Empty(t, leftovers(t, out))
	left, err := os.ReadDir(spill)
	require.NoError(t, err)
	require.Empty(t, left)
	requireRollupsCurrent(t, out, got)
}
