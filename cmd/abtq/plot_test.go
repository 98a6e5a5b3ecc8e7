package main

import (
	"bytes"
	"encoding/xml"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPlot draws each plottable canned query on the committed archive and
// checks that the file is written, decodes, and has the size asked for
// (by default 6.5 x 4 in at 300 dpi: 1950 x 1200 pixels); and that
// nothing is printed on standard output.
func TestPlot(t *testing.T) {
	tests := []struct {
		name string
		args []string
		ext  string
		w, h int // PNG pixels
	}{
		{"adu-sizes", []string{"adu-sizes"}, ".png", 1950, 1200},
		{"adu-sizes-one-server", []string{"adu-sizes", "--server", "74.53.140.153", "--port", "25"}, ".png", 1950, 1200},
		{"exchanges", []string{"exchanges"}, ".png", 1950, 1200},
		{"response-time-cdf", []string{"response-time-cdf", "--server", "192.150.187.43", "--port", "80", "--period", "hour"}, ".png", 1950, 1200},
		{"response-time-cdf-all", []string{"response-time-cdf"}, ".png", 1950, 1200},
		{"response-times", []string{"response-times", "--limit", "5"}, ".png", 1950, 1200},
		{"response-times-column", []string{"response-times", "--plot-size", "column"}, ".png", 1050, 780},
		{"adu-sizes-cm", []string{"adu-sizes", "--plot-size", "16x10cm@100"}, ".png", 630, 394},
		{"response-time-cdf-slide", []string{"response-time-cdf", "--plot-size", "slide"}, ".png", 1500, 844},
		{"exchanges-svg", []string{"exchanges"}, ".svg", 0, 0},
		{"exchanges-pdf", []string{"exchanges"}, ".pdf", 0, 0},
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
			require.Equal(t, tc.w, img.Bounds().Dx())
			require.Equal(t, tc.h, img.Bounds().Dy())
		})
	}
}

// svgTexts returns the text elements of an SVG document, in order.
func svgTexts(t *testing.T, b []byte) []string {
	t.Helper()
	var out []string
	d := xml.NewDecoder(bytes.NewReader(b))
	in := false
	for {
		tok, err := d.Token()
		if err != nil {
			break
		}
		switch x := tok.(type) {
		case xml.StartElement:
			if in = x.Name.Local == "text"; in {
				out = append(out, "")
			}
		case xml.CharData:
			if in {
				out[len(out)-1] += strings.TrimSpace(string(x))
			}
		case xml.EndElement:
			in = false
		}
	}
	return out
}

// number matches a tick label: 5, 0.25, 1e-5, 10k, 2.5M.
var number = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?(e-?[0-9]+|[kMGT])?$`)

// TestPlotSVG draws every plot kind on the committed archive as SVG, the
// size of a page's text width, and reads its text: the title, a subtitle
// naming the selection, the axes' labels with their units, the tick labels
// (those the data's ranges call for, each axis labelled), and the key.
func TestPlotSVG(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		texts []string // in the figure
		ticks []string // tick labels in the figure
		x     int      // numeric tick labels on the x axis (default minTickLabels)
	}{
		{
			name:  "adu-sizes",
			args:  []string{"--from", "2013-05-02", "--to", "2013-05-03", "adu-sizes", "--server", "212.199.202.9", "--port", "80"},
			texts: []string{"ADU sizes (CDF)", "server 212.199.202.9 port 80 · 2013-05-02", "ADU size (bytes)", "cumulative fraction of ADUs", "client → server", "server → client"},
			ticks: []string{"0", "0.25", "0.5", "0.75", "1", "1k", "10k", "100k"},
		},
		{
			name:  "exchanges",
			args:  []string{"exchanges"},
			texts: []string{"Exchanges (a-b-t epochs) per connection (CCDF)", "all servers · all dates", "exchanges per connection", "fraction of connections ≥ x"},
			ticks: []string{"1", "2", "5", "10", "20", "0.02", "0.05", "0.1", "0.2", "0.5"},
		},
		{
			name:  "response-time-cdf, one hour",
			args:  []string{"response-time-cdf", "--server", "192.150.187.43", "--port", "80", "--period", "hour"},
			texts: []string{"Response times (CDF per hour)", "server 192.150.187.43 port 80 · all dates", "response time (ms)", "cumulative fraction of response times", "2014-01-14 17:00"},
			ticks: []string{"80", "100", "120", "0.25", "0.75"},
		},
		{
			name:  "response-time-cdf, per day",
			args:  []string{"--sensor", "golden", "response-time-cdf"},
			texts: []string{"Response times (CDF per day)", "all servers · all dates · sensor golden", "response time (ms)", "2009-10-05", "2013-05-02", "2014-01-14", "2015-07-25"},
			ticks: []string{"5", "10", "20", "50", "100", "200", "500"},
		},
		{
			name:  "response-times",
			args:  []string{"response-times", "--limit", "5"},
			texts: []string{"Response times per server (median and 99th percentile)", "the 5 busiest servers · all dates", "server:port, busiest first", "response time (ms)", "p50 (median)", "p99"},
			ticks: []string{"212.199.202.9:80", "192.168.133.102:25", "5", "10", "20", "50", "100", "200"},
		},
		{
			name:  "response-times, one server",
			args:  []string{"response-times", "--server", "192.150.187.43", "--port", "80"},
			texts: []string{"server 192.150.187.43 port 80 · all dates", "response time (ms)"},
			ticks: []string{"192.150.187.43:80", "80", "100", "120"},
			x:     -1, // the server's name
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "plot.svg")
			code, _, stderr := runCmd(t, append([]string{"--archive", testArchive}, append(tc.args, "--plot", file)...)...)
			require.Equal(t, 0, code, stderr)
			b, err := os.ReadFile(file)
			require.NoError(t, err)
			texts := svgTexts(t, b)
			for _, want := range append(tc.ticks, tc.texts...) { // ticks first: what the issue is about
				require.Contains(t, texts, want)
			}
			var numbers int
			for _, s := range texts {
				if number.MatchString(s) {
					numbers++
				}
			}
			if tc.x == 0 {
				tc.x = minTickLabels
			}
			require.GreaterOrEqual(t, numbers, max(0, tc.x)+minTickLabels, "tick labels on both axes: %q", texts)
			require.True(t, bytes.Contains(b, []byte(`width="468pt" height="288pt"`)), "6.5 x 4 in")
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
		{"bad-size", []string{"exchanges", "--plot-size", "6.5"}, "plot.png"},
		{"huge-size", []string{"exchanges", "--plot-size", "40x40@1200"}, "plot.png"},
		{"unknown-size-name", []string{"exchanges", "--plot-size", "poster"}, "plot.png"},
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
	t.Run("size-without-plot", func(t *testing.T) {
		code, out, stderr := runCmd(t, "--archive", testArchive, "exchanges", "--plot-size", "column")
		require.Equal(t, 2, code, stderr)
		require.Empty(t, out)
		require.Contains(t, stderr, "--plot-size needs --plot")
	})
}
