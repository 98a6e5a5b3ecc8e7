package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestExport: abtq export writes a data set that abtq reads as an archive,
// with the counts of the original; its README records the command line
// without the servers or the key file when anonymized.
func TestExport(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "release")
	key := filepath.Join(t.TempDir(), "release.key")
	code, out, stderr := runCmd(t, "--archive", testArchive, "export", dir, "--anonymize", key, "--server", "212.199.202.0/24",
		"--place", "a test bench")
	require.Equal(t, 0, code, stderr)
	require.Empty(t, out)
	require.Contains(t, stderr, "abtq: export: "+dir+": adus ")
	require.Contains(t, stderr, "created the key file "+key)
	readme, err := os.ReadFile(filepath.Join(dir, "README.md"))
	require.NoError(t, err)
	require.Contains(t, string(readme), "| place | a test bench |")
	require.Contains(t, string(readme), "--server (withheld)")
	require.NotContains(t, string(readme), "212.199.202")
	require.NotContains(t, string(readme), key)

	count := func(archive string) string {
		code, out, stderr := runCmd(t, "--archive", archive, "--format", "csv", "sql",
			"SELECT count(*), sum(size), count(DISTINCT server_ip) FROM adus WHERE server_ip LIKE '%.%'")
		require.Equal(t, 0, code, stderr)
		return out
	}
	exported := count(dir)
	code, want, stderr := runCmd(t, "--archive", testArchive, "--format", "csv", "sql",
		"SELECT count(*), sum(size), count(DISTINCT server_ip) FROM adus WHERE server_ip LIKE '212.199.202.%'")
	require.Equal(t, 0, code, stderr)
	require.Equal(t, want, exported)
	require.NotContains(t, exported, "\n0,")
}

// TestExportUsage: bad flags are usage errors (exit 2), nothing written.
func TestExportUsage(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "x")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"export", dir, "--server", "nowhere"}, `--server "nowhere": not an address or a prefix`},
		{[]string{"export", dir, "--port", "0"}, "--port 0: not a port"},
		{[]string{"export", dir, "--time-resolution", "1ns"}, `--time-resolution "1ns": a duration of at least 1µs`},
		{[]string{"--format", "json", "export", dir}, `--format "json": export writes parquet (the default), csv, tmix or adudump`},
		{[]string{"--output", "x", "export", dir}, "export writes a directory: --output does not apply"},
		{[]string{"export"}, "accepts 1 arg"},
	} {
		code, out, stderr := runCmd(t, append([]string{"--archive", testArchive}, tc.args...)...)
		require.Equal(t, 2, code, "%v: %s", tc.args, stderr)
		require.Empty(t, out)
		require.Contains(t, stderr, tc.want)
	}
	entries, err := os.ReadDir(parent)
	require.NoError(t, err)
	require.Empty(t, entries)
	// A directory that exists: an error naming it, exit 1.
	code, _, stderr := runCmd(t, "--archive", testArchive, "export", parent)
	require.Equal(t, 1, code)
	require.True(t, strings.HasSuffix(stderr, parent+" exists: give a new directory\n"), stderr)
}
