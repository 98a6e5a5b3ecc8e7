package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/cli"
	"github.com/abt-dev/abt/internal/cli/clitest"
	"github.com/abt-dev/abt/internal/ingest"
	"github.com/abt-dev/abt/schema"
)

// These tests hold the command-line conventions shared by abt's programs
// (results on stdout, diagnostics on stderr, exit 0/1/2/130, --version,
// examples in every command's help, flag errors in plain words).

// TestVersion: --version and the version command print the build's
// version on standard output (not "version" read as an input file), and
// the archive records the same version as its producer.
func TestVersion(t *testing.T) {
	clitest.CheckVersion(t, "adu2parquet", func(args ...string) (int, string, string) {
		return runCmd(t, nil, args...)
	}, "--version", "version")

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
		{"no workers", []string{"--workers", "0", in}, `--workers "0": must be 1 to 64`, "adu2parquet"},
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

// runCtx is runCmd with a context: a cancelled one is a signal received.
func runCtx(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(ctx, args, bytes.NewReader(nil), &out, &errb)
	return code, out.String(), errb.String()
}

// TestStoppedBySignal: a run stopped by a signal exits 130, and its last line
// says what was kept (not "context canceled"). The context is cancelled
// before the run starts: Feed notices it at its first check (packet
// ingest.ProgressEvery), so a capture longer than that is interrupted
// there, and a shorter one is read whole and interrupted after it.
func TestStoppedBySignal(t *testing.T) {
	long, _ := floodCapture(t, 2*ingest.ProgressEvery, 20)
	short := capturePath("zeek_smtp.pcap")
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	lastLine := func(s string) string {
		lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
		return lines[len(lines)-1]
	}

	t.Run("text", func(t *testing.T) {
		code, _, stderr := runCtx(t, cancelled, "--format", "adudump", long)
		require.Equal(t, 130, code, stderr)
		require.NotContains(t, stderr, "context canceled")
		require.Equal(t, "adu2parquet: interrupted: the records of what was read before it are written", lastLine(stderr))
	})

	t.Run("archive", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "archive")
		code, _, stderr := runCtx(t, cancelled, "--out", out, "--sensor", testSensor, long)
		require.Equal(t, 130, code, stderr)
		require.NotContains(t, stderr, "context canceled")
		require.NotContains(t, stderr, "failed", "the summary does not call an interrupted run failed")
		tb := readTables(t, out)
		require.Len(t, tb.runs, 1)
		require.Equal(t, "interrupted", tb.runs[0].Status)
		require.Regexp(t, `^adu2parquet: interrupted: run `+regexp.QuoteMeta(tb.runs[0].RunID)+` published \d+ ADUs and \d+ connections \(\d+ files\) `+
			`and is recorded as interrupted; archiving the same inputs again replaces it$`, lastLine(stderr))
		// -q: that line alone.
		out2 := filepath.Join(t.TempDir(), "archive")
		code, _, stderr = runCtx(t, cancelled, "-q", "--out", out2, "--sensor", testSensor, long)
		require.Equal(t, 130, code, stderr)
		require.Equal(t, 1, strings.Count(stderr, "\n"), stderr)
		require.Contains(t, stderr, "is recorded as interrupted")
	})

	t.Run("replacement", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "archive")
		mustArchive(t, out, long)
		before := readTables(t, out)
		code, _, stderr := runCtx(t, cancelled, "--out", out, "--sensor", testSensor, "--replace", long)
		require.Equal(t, 130, code, stderr)
		require.NotContains(t, stderr, "context canceled")
		require.Contains(t, stderr, " interrupted before it committed: nothing archived\n", "summary")
		require.Regexp(t, `^adu2parquet: interrupted: run \S+ was not committed \(a replacement or a run reading standard input commits only when it completes\): `+
			`nothing archived, the archive is as it was$`, lastLine(stderr))
		after := readTables(t, out)
		require.Equal(t, before.runs, after.runs)
		require.Len(t, after.adus, len(before.adus))
	})

	t.Run("during rollups", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "archive")
		code, _, stderr := runCtx(t, cancelled, "--out", out, "--sensor", testSensor, short)
		require.Equal(t, 130, code, stderr)
		require.NotContains(t, stderr, "context canceled")
		require.NotContains(t, stderr, "failed")
		tb := readTables(t, out)
		require.Len(t, tb.runs, 1)
		require.Equal(t, "complete", tb.runs[0].Status)
		require.Equal(t, "adu2parquet: interrupted: run "+tb.runs[0].RunID+
			" is archived complete, but its days' rollups were not all updated ('adu2parquet rollup' updates them)", lastLine(stderr))
	})
}

// TestMaintenanceStoppedBySignal: compact, rollup and verify stopped by a
// signal exit 130 and say what they leave, not "context canceled".
func TestMaintenanceStoppedBySignal(t *testing.T) {
	out := filepath.Join(t.TempDir(), "archive")
	mustArchive(t, out, capturePath("zeek_smtp.pcap"))
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		cmd, want string
		args      []string
	}{
		{"compact", "the hours are compacted, but their days' rollups were not all updated ('adu2parquet rollup' updates them)", nil},
		{"rollup", "the rollups built before it are kept; running 'adu2parquet rollup' again builds the rest", []string{"--force"}},
		{"verify", "verify stopped before its end and reports nothing (it changes nothing)", nil},
	}
	for _, tc := range tests {
		t.Run(tc.cmd, func(t *testing.T) {
			code, stdout, stderr := runCtx(t, cancelled, append([]string{tc.cmd, "-q", "--out", out}, tc.args...)...)
			require.Equal(t, 130, code, stderr)
			require.Empty(t, stdout)
			require.Equal(t, "adu2parquet: interrupted: "+tc.want+"\n", stderr)
		})
	}
}

// TestHelpEveryCommand: every command's help has examples, formatted
// alike, and lists its commands with one-line descriptions.
func TestHelpEveryCommand(t *testing.T) {
	checked := clitest.CheckHelp(t, "adu2parquet", func(args ...string) (int, string) {
		code, out, _ := runCmd(t, nil, args...)
		return code, out
	})
	require.Equal(t, []string{"adu2parquet", "adu2parquet compact", "adu2parquet live", "adu2parquet migrate", "adu2parquet rollup", "adu2parquet verify", "adu2parquet version"}, checked)
}
