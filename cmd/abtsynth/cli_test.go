package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

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
	clitest.CheckVersion(t, "abtsynth", func(args ...string) (int, string, string) {
		return runCtx(context.Background(), args...)
	}, "--version", "version")
}

func TestHelp(t *testing.T) {
	checked := clitest.CheckHelp(t, "abtsynth", func(args ...string) (int, string) {
		code, out, _ := runCtx(context.Background(), args...)
		return code, out
	})
	require.Equal(t, []string{"abtsynth", "abtsynth client", "abtsynth forward", "abtsynth report", "abtsynth server", "abtsynth version"}, checked)
}

// TestFlagErrors: a bad flag value is one line naming the flag and what it
// takes, then a one-line usage hint naming the command (not the root's
// whole usage); exit status 2.
func TestFlagErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"client", "--conns", "many"}, "abtsynth: --conns \"many\": must be a whole number\nRun 'abtsynth client --help' for usage.\n"},
		{[]string{"client", "--adus", "few"}, "abtsynth: --adus \"few\": must be MIN:MAX or a single value\nRun 'abtsynth client --help' for usage.\n"},
		{[]string{"server", "--think", "1:2"}, "abtsynth: --think \"1:2\": must be MIN:MAX or a single value\nRun 'abtsynth server --help' for usage.\n"},
		{[]string{"forward", "--loss", "lots"}, "abtsynth: --loss \"lots\": must be a number\nRun 'abtsynth forward --help' for usage.\n"},
		{[]string{"forward", "--a", "m0"}, "abtsynth: need --a, --b and 0 <= --loss <= 1\nRun 'abtsynth forward --help' for usage.\n"},
		{[]string{"client", "--mode", "chat"}, "abtsynth: --mode \"chat\": must be seq, conc, mix or pipe\nRun 'abtsynth client --help' for usage.\n"},
		{[]string{"server", "--size", "0:10"}, "abtsynth: --size \"0:10\": must be at least 1 byte\nRun 'abtsynth server --help' for usage.\n"},
		{[]string{"server", "--rst", "0.6", "--empty", "0.6"}, "abtsynth: --rst and --empty must sum to at most 1\nRun 'abtsynth server --help' for usage.\n"},
		{[]string{"bogus"}, "abtsynth: unknown command \"bogus\" for \"abtsynth\"\nRun 'abtsynth --help' for usage.\n"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			code, out, stderr := runCtx(context.Background(), tc.args...)
			require.Equal(t, 2, code, stderr)
			require.Empty(t, out)
			require.Equal(t, tc.want, stderr)
		})
	}
}

// TestStoppedBySignal: a client stopped by a signal exits 130 and says
// what its log holds. The context is cancelled before the start: the
// client starts no connection.
func TestStoppedBySignal(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	log := filepath.Join(t.TempDir(), "client.jsonl")
	code, out, stderr := runCtx(cancelled, "client", "--server", "127.0.0.1:9", "--local", "127.0.0.1", "--conns", "3", "--log", log)
	require.Equal(t, 130, code, stderr)
	require.Empty(t, out)
	require.Equal(t, "abtsynth: interrupted: "+log+" holds the connections started before it\n", stderr)
	b, err := os.ReadFile(log)
	require.NoError(t, err)
	require.Empty(t, b)
}
