package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/synthcap"
	"github.com/abt-dev/abt/schema"
)

// TestWorkersSameOutput runs the same inputs with --workers 1, 2 and 4:
// adudump text must be the same bytes, and the archive (1 and 4) the same
// rows in the same files in the same order (all but run_id). The
// inputs are every bundled capture as one run (out of time order between
// files, years apart) and a campus-like capture, whose connections
// overlap in time.
func TestWorkersSameOutput(t *testing.T) {
	captures, err := filepath.Glob(filepath.Join(pcapDir, "*"))
	require.NoError(t, err)
	require.Len(t, captures, 40)
	campus := filepath.Join(t.TempDir(), "campus.pcap")
	f, err := os.Create(campus)
	require.NoError(t, err)
	spec := synthcap.DefaultCampus()
	spec.Web, spec.Plain, spec.Mail = 1600, 400, 100
	require.NoError(t, spec.Write(f))
	require.NoError(t, f.Close())

	for name, inputs := range map[string][]string{"bundled": captures, "campus": {campus}} {
		t.Run(name, func(t *testing.T) {
			var text string
			var rows tables
			for _, n := range []string{"1", "2", "4"} {
				code, out, stderr := runCmd(t, nil, append([]string{"-q", "--format", "adudump", "--workers", n}, inputs...)...)
				require.Equal(t, 0, code, stderr)
				if n == "1" {
					text = out
				} else {
					require.True(t, out == text, "adudump text with --workers %s differs from --workers 1", n)
				}
				if n == "2" {
					continue // the archive: 1 and 4
				}
				dir := filepath.Join(t.TempDir(), "archive")
				mustArchive(t, dir, append([]string{"--rollup=false", "--workers", n}, inputs...)...)
				tb := readTables(t, dir)
				for i := range tb.adus {
					tb.adus[i].RunID = ""
				}
				for i := range tb.conns {
					tb.conns[i].RunID = ""
				}
				if n == "1" {
					rows = tb
					require.Greater(t, len(tb.adus), 10000)
					continue
				}
				require.Equal(t, len(rows.files[schema.TableADUs]), len(tb.files[schema.TableADUs]), "adus files, --workers "+n)
				require.Equal(t, rows.adus, tb.adus, "adus rows, --workers "+n)
				require.Equal(t, rows.conns, tb.conns, "connections rows, --workers "+n)
				t.Logf("--workers %s: %d lines of text, %d ADU rows, %d connection rows: the same",
					n, strings.Count(text, "\n"), len(tb.adus), len(tb.conns))
			}
		})
	}
}
