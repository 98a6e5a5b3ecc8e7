package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/cli/clitest"
)

// These tests hold the command-line conventions shared by abt's programs
// (results on stdout, diagnostics on stderr, exit 0/1/2/130, --version,
// examples in every command's help, flag errors in plain words).

func TestVersion(t *testing.T) {
	clitest.CheckVersion(t, "abtq", func(args ...string) (int, string, string) {
		return runCmd(t, args...)
	}, "--version", "version")
}

// TestFlagErrors: a bad flag value is one line naming the flag and what it
// takes, then the usage hint of the command; exit status 2, nothing run.
func TestFlagErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"not an integer", []string{"adu-sizes", "--port", "notanint"},
			"abtq: --port \"notanint\": must be a whole number\nRun 'abtq adu-sizes --help' for usage.\n"},
		{"not a number", []string{"conn-buckets", "--bucket-size", "wide"},
			"abtq: --bucket-size \"wide\": must be a number\nRun 'abtq conn-buckets --help' for usage.\n"},
		{"global flag", []string{"--threads", "many", "runs"},
			"abtq: --threads \"many\": must be a whole number\nRun 'abtq runs --help' for usage.\n"},
		{"missing value", []string{"top-servers", "--limit"},
			"abtq: --limit needs a value: a whole number\nRun 'abtq top-servers --help' for usage.\n"},
		{"bool", []string{"response-times", "--exact=perhaps"},
			"abtq: --exact \"perhaps\": must be true or false\nRun 'abtq response-times --help' for usage.\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := runCmd(t, append([]string{"--archive", testArchive}, tc.args...)...)
			require.Equal(t, 2, code, stderr)
			require.Empty(t, out)
			require.Equal(t, tc.want, stderr)
		})
	}
}

// TestPlotFlag: --plot is offered by the commands that can plot, and by
// no other (an unknown flag there, exit status 2).
func TestPlotFlag(t *testing.T) {
	for _, c := range canned {
		t.Run(c.name, func(t *testing.T) {
			_, plottable := plotters[c.name]
			code, out, stderr := runCmd(t, c.name, "--help")
			require.Equal(t, 0, code, stderr)
			require.Equal(t, plottable, strings.Contains(out, "--plot"), out)
			if !plottable {
				code, _, stderr := runCmd(t, "--archive", testArchive, c.name, "--plot", filepath.Join(t.TempDir(), "p.png"))
				require.Equal(t, 2, code, stderr)
				require.Contains(t, stderr, "unknown flag: --plot")
			}
		})
	}
	for _, name := range []string{"adu-sizes", "exchanges", "response-time-cdf", "response-times"} {
		require.True(t, slices.ContainsFunc(canned, func(c cannedQuery) bool { return c.name == name }))
		require.Contains(t, plotters, name)
	}
}

// TestHelpEveryCommand: every command's help has examples, formatted
// alike, and lists its commands with one-line descriptions; and every
// example is a command line abtq accepts (run on the test archive from a
// scratch directory: no usage error; an empty range is fine).
func TestHelpEveryCommand(t *testing.T) {
	checked := clitest.CheckHelp(t, "abtq", func(args ...string) (int, string) {
		code, out, _ := runCmd(t, args...)
		return code, out
	})
	require.Len(t, checked, len(canned)+6, "abtq, its canned queries, sql, ddl, anomalies, export and version: %v", checked)

	archive, err := filepath.Abs(testArchive)
	require.NoError(t, err)
	t.Chdir(t.TempDir())
	for _, name := range checked[1:] {
		_, help, _ := runCmd(t, append(strings.Fields(name)[1:], "--help")...)
		for _, line := range strings.Split(help, "\n") {
			ex, ok := strings.CutPrefix(line, "  $ abtq ")
			if !ok {
				continue
			}
			args := shellWords(strings.ReplaceAll(ex, "/data/abt", archive))
			t.Run(ex, func(t *testing.T) {
				code, _, stderr := runCmd(t, args...)
				require.NotEqual(t, 2, code, stderr)
			})
		}
	}
}

// TestStoppedBySignal: a query stopped by a signal exits 130 saying
// "interrupted" (not "context canceled"), and leaves no --output or
// --plot file, whole or partial.
func TestStoppedBySignal(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		file string
	}{
		{"stdout", []string{"runs"}, ""},
		{"output", []string{"--format", "csv", "--output", filepath.Join(dir, "runs.csv"), "runs"}, filepath.Join(dir, "runs.csv")},
		{"parquet", []string{"--format", "parquet", "--output", filepath.Join(dir, "runs.parquet"), "sql", "SELECT * FROM adus"},
			filepath.Join(dir, "runs.parquet")},
		{"plot", []string{"exchanges", "--plot", filepath.Join(dir, "x.png")}, filepath.Join(dir, "x.png")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(cancelled, append([]string{"--archive", testArchive}, tc.args...), strings.NewReader(""), &out, &errb)
			require.Equal(t, 130, code, errb.String())
			require.Empty(t, out.String())
			want := "abtq: interrupted\n"
			if tc.file != "" {
				want = "abtq: interrupted: " + tc.file + " not written\n"
			}
			require.Equal(t, want, errb.String())
			es, err := os.ReadDir(dir)
			require.NoError(t, err)
			require.Empty(t, es, "no file, whole or partial")
		})
	}
}

// shellWords splits a command line as a shell does words and double
// quotes (all the examples use).
func shellWords(s string) []string {
	var words []string
	var w strings.Builder
	inWord, quoted := false, false
	for _, r := range s {
		switch {
		case r == '"':
			quoted, inWord = !quoted, true
		case r == ' ' && !quoted:
			if inWord {
				words, inWord = append(words, w.String()), false
				w.Reset()
			}
		default:
			w.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words
}
