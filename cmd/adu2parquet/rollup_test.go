package main

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRollupSensorsOfOneDay: two sensors with data on the same day, archived
// without rollups, then given theirs by the rollup command (which builds
// small days in batches): each sensor's rollup counts that sensor's
// connections and ADUs only, as its rows in the adus and connections tables
// say.
func TestRollupSensorsOfOneDay(t *testing.T) {
	out := t.TempDir()
	// Both captures are of 2013-03-07 (testdata/README.md): one connection
	// each.
	sensors := map[string]string{"a": "zeek_tcp_handshake-reorder.pcap", "b": "zeek_vlan-collisions.pcap"}
	for s, c := range sensors {
		code, _, stderr := runCmd(t, nil, "-q", "--out", out, "--sensor", s, "--rollup=false", capturePath(c))
		require.Equal(t, 0, code, stderr)
	}
	code, _, stderr := runCmd(t, nil, "rollup", "-q", "--out", out)
	require.Equal(t, 0, code, stderr)
	db := openDuck(t)
	for s := range sensors {
		dir := filepath.Join(out, "%s", "sensor="+s, "date=2013-03-07")
		rows := func(table string) string {
			return fmt.Sprintf("read_parquet('%s/**/*.parquet')", fmt.Sprintf(dir, table))
		}
		conns := queryInt(t, db, "SELECT count(*) FROM "+rows("connections"))
		adus := queryInt(t, db, "SELECT count(*) FROM "+rows("adus"))
		require.Equal(t, int64(1), conns, "sensor %s", s)
		rollup := fmt.Sprintf("read_parquet('%s/rollup.parquet')", fmt.Sprintf(dir, "rollups"))
		require.Equal(t, conns, queryInt(t, db, "SELECT sum(n) FROM "+rollup+" WHERE kind = 'conns' AND server_ip IS NULL"), "sensor %s", s)
		require.Equal(t, adus, queryInt(t, db, "SELECT sum(n) FROM "+rollup+" WHERE kind IN ('c2s', 's2c') AND server_ip IS NULL"), "sensor %s", s)
	}
}
