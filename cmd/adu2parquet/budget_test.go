package main

import (
	"bufio"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/flood"
)

// floodCapture writes a SYN flood of syns SYNs with real connections
// interleaved and returns its path and what it holds.
func floodCapture(t *testing.T, syns, real int) (string, flood.Summary) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "flood.pcap")
	f, err := os.Create(path)
	require.NoError(t, err)
	bw := bufio.NewWriter(f)
	sum, err := flood.Write(bw, flood.Spec{SYNs: syns, Real: real})
	require.NoError(t, err)
	require.NoError(t, bw.Flush())
	require.NoError(t, f.Close())
	return path, sum
}

// wantADU is an ADU as both output formats can show it: µs times, think
// time in µs or -1.
type wantADU struct {
	Dir            string
	Size           int64
	FirstUs, DurUs int64
	ThinkUs        int64
}

func floodADUs(c flood.Conn) []wantADU {
	var out []wantADU
	for _, a := range c.ADUs {
		w := wantADU{Dir: "s2c", Size: int64(a.Size), FirstUs: a.FirstNs / 1000, DurUs: a.LastNs/1000 - a.FirstNs/1000, ThinkUs: -1}
		if a.C2S {
			w.Dir = "c2s"
		}
		if a.ThinkNs >= 0 {
			w.ThinkUs = a.ThinkNs / 1000
		}
		out = append(out, w)
	}
	return out
}

// peakRe reads the engine's peak memory from the run's summary.
var peakRe = regexp.MustCompile(`engine memory: peak ([0-9.]+) MiB of the ([0-9.]+) MiB budget`)

// requireWithinBudget checks the summary: the engine's peak within its
// budget, and the shed half-open entries counted.
func requireWithinBudget(t *testing.T, stderr string, budgetMiB float64) {
	t.Helper()
	m := peakRe.FindStringSubmatch(stderr)
	require.NotNil(t, m, stderr)
	peak, err := strconv.ParseFloat(m[1], 64)
	require.NoError(t, err)
	require.Equal(t, strconv.FormatFloat(budgetMiB, 'f', 1, 64), m[2])
	require.LessOrEqual(t, peak, budgetMiB)
	require.Contains(t, stderr, "connections shed (table full: --max-conns or --memory-budget): ")
}

// TestMemoryBudgetFlood runs a 20,000-SYN flood with 20 real connections
// through adu2parquet with a 2 MiB budget, as JSON Lines and into the
// archive: the real connections' ADUs are all there and exact, the half-open
// entries shed are counted in the summary and in the runs table's set_aside
// (as many as the connections the flood lost: their END says evicted), and
// the engine stayed within its budget. With the defaults of before the
// budget (only --max-conns 1,000,000) nothing was shed, and the engine
// held every SYN.
func TestMemoryBudgetFlood(t *testing.T) {
	const syns, real = 20_000, 20
	path, fs := floodCapture(t, syns, real)
	want := map[string][]wantADU{}
	for _, c := range fs.Real {
		want[c.Client.String()] = floodADUs(c)
	}

	t.Run("jsonl", func(t *testing.T) {
		code, out, stderr := runCmd(t, nil, "--format", "jsonl", "--memory-budget", "2MiB", path)
		require.Equal(t, 0, code, stderr)
		requireWithinBudget(t, stderr, 2)
		got := map[string][]wantADU{}
		evicted, conns := 0, 0
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if strings.HasPrefix(line, `{"kind":"END"`) {
				conns++
				if strings.Contains(line, `"reason":"evicted"`) {
					evicted++
				}
				continue
			}
			if !strings.HasPrefix(line, `{"kind":"ADU"`) {
				continue
			}
			var r struct {
				Client, Dir string
				Size        int64
				ThinkNs     *int64 `json:"think_ns"`
				FirstNs     int64  `json:"first_ns"`
				LastNs      int64  `json:"last_ns"`
			}
			require.NoError(t, json.Unmarshal([]byte(line), &r), line)
			a := wantADU{Dir: r.Dir, Size: r.Size, FirstUs: r.FirstNs / 1000, DurUs: r.LastNs/1000 - r.FirstNs/1000, ThinkUs: -1}
			if r.ThinkNs != nil {
				a.ThinkUs = *r.ThinkNs / 1000
			}
			got[r.Client] = append(got[r.Client], a)
		}
		require.Equal(t, want, got)
		require.Equal(t, syns+real, conns)
		require.Greater(t, evicted, syns/2)
		require.Contains(t, stderr, "connections shed (table full: --max-conns or --memory-budget): "+strconv.Itoa(evicted)+"\n")
		require.Contains(t, stderr, "    of which half-open: "+strconv.Itoa(evicted)+"\n")
	})

	t.Run("parquet", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "archive")
		code, stdout, stderr := runCmd(t, nil, "--out", out, "--sensor", testSensor, "--memory-budget", "2MiB", path)
		require.Equal(t, 0, code, stderr)
		require.Empty(t, stdout)
		requireWithinBudget(t, stderr, 2)
		tb := readTables(t, out)
		got := map[string][]wantADU{}
		for _, r := range tb.adus {
			client := netip.AddrPortFrom(netip.MustParseAddr(r.ClientIP), uint16(r.ClientPort)).String()
			a := wantADU{Dir: r.Direction, Size: r.Size, FirstUs: r.Ts, DurUs: *r.DurationUs, ThinkUs: -1}
			if r.ThinkUs != nil {
				a.ThinkUs = *r.ThinkUs
			}
			require.Len(t, got[client], int(r.Ordinal), "rows in ordinal order")
			got[client] = append(got[client], a)
		}
		require.Equal(t, want, got)
		evicted := 0
		for _, c := range tb.conns {
			if c.EndReason == "evicted" {
				evicted++
			}
		}
		require.Len(t, tb.conns, syns+real)
		require.Greater(t, evicted, syns/2)
		require.Len(t, tb.runs, 1)
		setAside := map[string]int64{}
		for _, c := range tb.runs[0].SetAside {
			setAside[c.Name] = c.Value
		}
		require.Equal(t, int64(evicted), setAside["conns_evicted"], "%v", setAside)
		require.Equal(t, int64(evicted), setAside["conns_evicted_half_open"], "%v", setAside)
		require.Equal(t, int64(1_000_000), tb.runs[0].MaxConns)
	})
}

// TestMemoryBudgetFlag checks the flag's parsing and limits.
func TestMemoryBudgetFlag(t *testing.T) {
	tests := []struct {
		name string
		arg  string
		code int
		err  string
	}{
		{"not a size", "lots", 2, `--memory-budget "lots": must be a size such as 256MiB, 1GiB or 500MB`},
		{"below the minimum", "512KiB", 2, `--memory-budget "512KiB": must be 0 (none) or at least 1MiB`},
		{"none", "0", 0, "engine memory: peak"},
		{"decimal units", "64MB", 0, "engine memory: peak"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCmd(t, nil, "--format", "adudump", "--memory-budget", tc.arg, capturePath("trex_Oracle.pcap"))
			require.Equal(t, tc.code, code, stderr)
			require.Contains(t, stderr, tc.err)
		})
	}
}
