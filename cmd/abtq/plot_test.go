package main

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPlot draws each plottable canned query on the committed archive and
// checks that the file is written, decodes, and has sane dimensions; and
// that nothing is printed on standard output.
func TestPlot(t *testing.T) {
	tests := []struct {
		name string
		args []string
		ext  string
	}{
		{"adu-sizes", []string{"adu-sizes"}, ".png"},
		{"adu-sizes-one-server", []string{"adu-sizes", "--server", "74.53.140.153", "--port", "25"}, ".png"},
		{"exchanges", []string{"exchanges"}, ".png"},
		{"response-time-cdf", []string{"response-time-cdf", "--server", "192.150.187.43", "--port", "80", "--period", "hour"}, ".png"},
		{"response-time-cdf-all", []string{"response-time-cdf"}, ".png"},
		{"response-times", []string{"response-times", "--limit", "5"}, ".png"},
		{"exchanges-svg", []string{"exchanges"}, ".svg"},
		{"exchanges-pdf", []string{"exchanges"}, ".pdf"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "plot"+tc.ext)
			code, out, stderr := runCmd(t, append([]string{"--archive", testArchive}, append(tc.args, "--plot", file)...)...)
			require.Equal(t, 0, code, stderr)
			require.Empty(t, out)
			require.Contains(t, stderr, file)
			b, err := os.ReadFile(file)
			require.NoError(t, err)
			require.NotEmpty(t, b)
			es, err := os.ReadDir(filepath.Dir(file))
			require.NoError(t, err)
			require.Len(t, es, 1, "no temporary file left")
			if tc.ext == ".pdf" {
				require.True(t, bytes.HasPrefix(b, []byte("%PDF")))
				return
			}
			if tc.ext == ".svg" {
				require.Contains(t, string(b), "<svg")
				return
			}
			img, err := png.Decode(bytes.NewReader(b))
			require.NoError(t, err)
			bounds := img.Bounds()
			require.GreaterOrEqual(t, bounds.Dx(), 400)
			require.LessOrEqual(t, bounds.Dx(), 4000)
			require.GreaterOrEqual(t, bounds.Dy(), 300)
			require.LessOrEqual(t, bounds.Dy(), 4000)
		})
	}
}

// TestPlotUsage: unknown extensions, unplottable queries and conflicting
// flags are usage errors (exit 2) and write nothing.
func TestPlotUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		file string
	}{
		{"unknown-extension", []string{"exchanges"}, "plot.gif"},
		{"no-extension", []string{"exchanges"}, "plot"},
		{"runs", []string{"runs"}, "plot.png"},
		{"top-servers", []string{"top-servers"}, "plot.png"},
		{"with-format", []string{"--format", "csv", "exchanges"}, "plot.png"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), tc.file)
			code, out, stderr := runCmd(t, append([]string{"--archive", testArchive}, append(tc.args, "--plot", file)...)...)
			require.Equal(t, 2, code, stderr)
			require.Empty(t, out)
			_, err := os.Stat(file)
			require.ErrorIs(t, err, os.ErrNotExist)
		})
	}
}
