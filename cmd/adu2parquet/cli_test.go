package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/cli"
	"github.com/abt-dev/abt/schema"
)

// These tests hold the command-line conventions shared by abt's programs
// (results on stdout, diagnostics on stderr, exit 0/1/2/130, --version,
// examples in every command's help, flag errors in plain words).

// TestVersion: --version and the version command print the build's
// version on standard output (not "version" read as an input file), and
// the archive records the same version as its producer.
func TestVersion(t *testing.T) {
	want := "adu2parquet version " + cli.ReadBuild().Detail() + "\n"
	for _, args := range [][]string{{"--version"}, {"version"}} {
		code, out, stderr := runCmd(t, nil, args...)
		require.Equal(t, 0, code, stderr)
		require.Equal(t, want, out)
		require.Empty(t, stderr)
	}

	out := filepath.Join(t.TempDir(), "archive")
	mustArchive(t, out, capturePath("zeek_smtp.pcap"))
	tb := readTables(t, out)
	require.Len(t, tb.runs, 1)
	producer := cli.Producer("adu2parquet")
	require.Equal(t, producer, tb.runs[0].Producer)
	for _, rel := range parquetFiles(t, out) {
		f, err := os.Open(filepath.Join(out, rel))
		require.NoError(t, err)
		st, err := f.Stat()
		require.NoError(t, err)
		pf, err := parquet.OpenFile(f, st.Size())
		require.NoError(t, err)
		if table, _ := pf.Lookup(schema.MetaTable); table != "" {
			got, _ := pf.Lookup(schema.MetaProducer)
			require.Equal(t, producer, got, rel)
		}
		require.NoError(t, f.Close())
	}
}

// TestFlagErrors: a bad flag value is one line naming the flag and what it
// takes, in plain words (no strconv or time package text), then the usage
// hint of the command that failed; exit status 2, nothing on stdout.
func TestFlagErrors(t *testing.T) {
	in := capturePath("zeek_smtp.pcap")
	tests := []struct {
		name string
		args []string
		want string
		cmd  string // the command whose help the hint names
	}{
		{"not an integer", []string{"--max-conns", "notanint", in}, `--max-conns "notanint": must be a whole number`, "adu2parquet"},
		{"integer out of range", []string{"--max-conns", "99999999999999999999", in},
			`--max-conns "99999999999999999999": must be a whole number from -9223372036854775808 to 9223372036854775807`, "adu2parquet"},
		{"duration without unit", []string{"--idle-timeout", "5", in},
			`--idle-timeout "5": must be a duration such as 500ms, 90s, 5m or 1h30m`, "adu2parquet"},
		{"negative duration", []string{"--hold", "-1s", in}, `--hold "-1s": must be 0 or a positive duration`, "adu2parquet"},
		{"zero duration", []string{"--handshake-timeout", "0s", in}, `--handshake-timeout "0s": must be a positive duration`, "adu2parquet"},
		{"too few connections", []string{"--max-conns", "0", in}, `--max-conns "0": must be at least 1`, "adu2parquet"},
		{"not a size", []string{"--memory-budget", "lots", in}, `--memory-budget "lots": must be a size such as 256MiB, 1GiB or 500MB`, "adu2parquet"},
		{"not a bool", []string{"--quiet=maybe", in}, `--quiet "maybe": must be true or false`, "adu2parquet"},
		{"missing value", []string{in, "--grace"}, `--grace needs a value: a duration such as 500ms, 90s, 5m or 1h30m`, "adu2parquet"},
		{"inbound without local net", []string{"--inbound-only", in}, `--inbound-only needs at least one --local-net`, "adu2parquet"},
		{"subcommand", []string{"compact", "--from", "yesterday"}, `--from "yesterday": not an RFC 3339 time or YYYY-MM-DD date`, "adu2parquet compact"},
		{"subcommand bool", []string{"verify", "--quiet=maybe"}, `--quiet "maybe": must be true or false`, "adu2parquet verify"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := runCmd(t, nil, tc.args...)
			require.Equal(t, 2, code, stderr)
			require.Empty(t, out)
			require.Equal(t, "adu2parquet: "+tc.want+"\nRun '"+tc.cmd+" --help' for usage.\n", stderr)
		})
	}
}

// TestMaintenanceNeedsArchive: compact, rollup and verify on a directory
// that is not an archive (missing, empty, a file) fail with exit status 1
// naming it, instead of reporting on an empty archive, and create nothing.
func TestMaintenanceNeedsArchive(t *testing.T) {
	dir := t.TempDir()
	missing, empty, file := filepath.Join(dir, "typo"), filepath.Join(dir, "empty"), filepath.Join(dir, "file")
	require.NoError(t, os.Mkdir(empty, 0o755))
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	for _, cmd := range []string{"compact", "rollup", "verify"} {
		for _, tc := range []struct{ out, want string }{
			{missing, "archive " + missing + ": no such directory"},
			{empty, "archive " + empty + ": not an archive (it has none of _abt, adus, connections, runs)"},
			{file, "archive " + file + ": not a directory"},
		} {
			t.Run(cmd+"/"+filepath.Base(tc.out), func(t *testing.T) {
				code, out, stderr := runCmd(t, nil, cmd, "--out", tc.out)
				require.Equal(t, 1, code, stderr)
				require.Empty(t, out)
				require.Equal(t, "adu2parquet: "+tc.want+"\n", stderr)
				_, err := os.Stat(missing)
				require.ErrorIs(t, err, os.ErrNotExist, "nothing created")
				es, err := os.ReadDir(empty)
				require.NoError(t, err)
				require.Empty(t, es, "nothing created")
			})
		}
	}
}
