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
