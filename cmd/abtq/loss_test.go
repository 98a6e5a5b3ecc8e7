package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/archive"
	"github.com/abt-dev/abt/schema"
)

// TestLoss adds to the golden archive, whose runs files were written
// before the runs table had its hours column, two live runs of one sensor
// with their hours (the second overlapping the first by an hour), and
// reads them with abtq loss: per sensor and hour the sums, worked by
// hand. The old runs files still read (runs, collections), their hours
// null.
func TestLoss(t *testing.T) {
	arch := copyArchive(t)
	hour := func(h int) int64 { return time.Date(2024, 3, 2, h, 0, 0, 0, time.UTC).UnixMicro() }
	for _, run := range []struct {
		id    string
		hours []schema.LinkHour
	}{
		{"link1", []schema.LinkHour{{Hour: hour(10), Packets: 900, Drops: 100, InterfaceDrops: 2}, {Hour: hour(11), Packets: 50}}},
		{"link2", []schema.LinkHour{{Hour: hour(11), Packets: 150, Drops: 50}, {Hour: hour(12), Packets: 7, InterfaceDrops: 1}}},
	} {
		a, err := archive.Open(archive.Options{Root: arch, Sensor: "edge", RunID: run.id, Producer: "loss-test"},
			[]archive.Input{{Name: "live:a1", Link: true}})
		require.NoError(t, err)
		for _, h := range run.hours {
			require.NoError(t, a.AddHour(h))
		}
		first := time.UnixMicro(run.hours[0].Hour).UnixNano()
		_, err = a.Close(archive.RunInfo{Status: archive.StatusComplete, FirstPacket: first, LastPacket: first + 1})
		require.NoError(t, err)
	}

	code, out, stderr := runCmd(t, "--archive", arch, "--format", "tsv", "loss")
	require.Equal(t, 0, code, stderr)
	require.Equal(t, "sensor\thour\tpackets\tdrops\tdrops_pct\tinterface_drops\n"+
		"edge\t2024-03-02T10:00:00Z\t900\t100\t10\t2\n"+ // 100 of 1,000
		"edge\t2024-03-02T11:00:00Z\t200\t50\t20\t0\n"+ // both runs: 50 of 250
		"edge\t2024-03-02T12:00:00Z\t7\t0\t0\t1\n", out)

	for _, q := range []string{"runs", "collections"} {
		code, out, stderr := runCmd(t, "--archive", arch, "--format", "tsv", q)
		require.Equal(t, 0, code, "%s: %s", q, stderr)
		require.Contains(t, out, "golden")
		require.Contains(t, out, "edge")
	}
	code, out, stderr = runCmd(t, "--archive", arch, "--format", "tsv", "sql",
		"SELECT sensor, count(*) AS runs, count(hours) AS with_hours FROM runs GROUP BY sensor ORDER BY sensor")
	require.Equal(t, 0, code, stderr)
	require.Equal(t, "sensor\truns\twith_hours\nedge\t2\t2\ngolden\t3\t0\n", out)
}
