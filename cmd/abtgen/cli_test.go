package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/cli"
	"github.com/abt-dev/abt/internal/cli/clitest"
)

// These tests hold the command-line conventions shared by abt's programs
// (results on stdout, diagnostics on stderr, exit 0/1/2/130, --version,
// examples in every command's help, flag errors in plain words).

func runCtx(ctx context.Context, args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestVersion(t *testing.T) {
	clitest.CheckVersion(t, "abtgen", func(args ...string) (int, string, string) {
		return runCtx(context.Background(), args...)
	}, "--version")
}

func TestHelp(t *testing.T) {
	checked := clitest.CheckHelp(t, "abtgen", func(args ...string) (int, string) {
		code, out, _ := runCtx(context.Background(), args...)
		return code, out
	})
	require.Equal(t, []string{"abtgen"}, checked)
}

// TestFlagErrors: a bad flag value is one line naming the flag and what it
// takes, then the usage hint; exit status 2.
func TestFlagErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--out", "x", "--adus", "many"}, `--adus "many": must be a whole number`},
		{[]string{"--out", "x", "--seed", "-1"}, `--seed "-1": must be a whole number, 0 or more`},
		{[]string{"--out", "x", "--concurrent", "half"}, `--concurrent "half": must be a number`},
		{[]string{"--out", "x", "--days"}, `--days needs a value: a whole number`},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			code, out, stderr := runCtx(context.Background(), tc.args...)
			require.Equal(t, 2, code, stderr)
			require.Empty(t, out)
			require.Equal(t, "abtgen: "+tc.want+"\nRun 'abtgen --help' for usage.\n", stderr)
		})
	}
}

// TestStoppedBySignal: abtgen stopped by a signal exits 130 and says what
// it leaves, not "context canceled", and leaves no CSV. The context is
// cancelled before the start: generate notices it at its first check,
// after a minute of synthetic time, which a one-ADU archive never reaches
// (it is interrupted while its rollups are built).
func TestStoppedBySignal(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	dir := t.TempDir()
	out, csv := filepath.Join(dir, "a"), filepath.Join(dir, "adus.csv.gz")
	args := []string{"--out", out, "--adus", "10000", "--servers", "200", "--days", "3", "--seed", "7", "--quiet"}
	code, stdout, stderr := runCtx(cancelled, append(args, "--csv", csv)...)
	require.Equal(t, 130, code, stderr)
	require.Empty(t, stdout)
	require.Equal(t, "abtgen: interrupted: the hours published before it stay in "+out+
		" as an unfinished run (remove "+out+" before running abtgen again with --seed 7); "+csv+" not written\n", stderr)
	es, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, es, 1, "no CSV, whole or partial")

	require.NoError(t, os.RemoveAll(out))
	code, _, stderr = runCtx(context.Background(), args...)
	require.Equal(t, 0, code, stderr)
	runs := queryRow(t, out, `SELECT count(*), first(adus), first(status), first(producer) FROM runs`)
	require.Equal(t, []string{"1", "10000", "complete", cli.Producer("abtgen")}, runs)

	one := filepath.Join(dir, "one")
	code, _, stderr = runCtx(cancelled, "--out", one, "--adus", "1", "--quiet")
	require.Equal(t, 130, code, stderr)
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	require.Equal(t, "abtgen: interrupted: the archive is written complete, but its rollups were not all built ('adu2parquet rollup' builds them)",
		lines[len(lines)-1])
	require.Equal(t, []string{"1", "complete"}, queryRow(t, one, `SELECT count(*), first(status) FROM runs`))
}
