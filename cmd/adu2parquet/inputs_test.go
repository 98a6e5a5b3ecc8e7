package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestEmptyLog: the adudump text of a capture without TCP connections is
// empty, and an empty (or blank) input is such a log, not a damaged
// capture: it is archived as a run of no lines, as the capture is as a
// run of no connections.
func TestEmptyLog(t *testing.T) {
	capture := capturePath("tcpflow_simson_snap40.pcap")
	code, text, stderr := runCmd(t, nil, "-q", "--format", "adudump", capture)
	require.Equal(t, 0, code, stderr)
	require.Empty(t, text, "no TCP connection in the capture")

	dir := t.TempDir()
	for _, tc := range []struct{ name, content string }{
		{"empty.adu", ""},
		{"blank.adu", "\n \t\r\n\n\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := filepath.Join(dir, tc.name)
			require.NoError(t, os.WriteFile(log, []byte(tc.content), 0o644))
			out := filepath.Join(dir, "archive-"+tc.name)
			mustArchive(t, out, log)
			tb := readTables(t, out)
			require.Empty(t, tb.adus)
			require.Empty(t, tb.conns)
			require.Len(t, tb.runs, 1)
			r := tb.runs[0]
			require.Equal(t, "complete", r.Status)
			require.Len(t, r.Inputs, 1)
			require.Equal(t, "adudump", r.Inputs[0].Format)
			require.Nil(t, r.FirstPacket, "no line, no time")
		})
	}
}
