package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/abt-dev/abt/internal/query"
)

// plotters draws the result of the canned queries whose result is a
// distribution or a series. The columns each one reads are those of its
// queries/*.sql.
var plotters = map[string]func(rs resultSet) (*plot.Plot, vg.Length, error){
	"adu-sizes":         plotADUSizes,
	"exchanges":         plotExchanges,
	"response-time-cdf": plotResponseTimeCDF,
	"response-times":    plotResponseTimes,
}

// plotFormats are the file extensions --plot accepts.
var plotFormats = []string{".png", ".svg", ".pdf"}

// checkPlot validates --plot for a canned query before any work is done.
func checkPlot(name, path string) error {
	if _, ok := plotters[name]; !ok {
		return &usageError{fmt.Errorf("--plot: %s is not plottable (plottable: adu-sizes, exchanges, response-time-cdf, response-times)", name)}
	}
	ext := strings.ToLower(filepath.Ext(path))
	for _, f := range plotFormats {
		if ext == f {
			return nil
		}
	}
	return &usageError{fmt.Errorf("--plot %q: the file name must end in .png, .svg or .pdf", path)}
}

// runPlot runs a canned query and draws its result into path instead of
// printing it; a one-line note goes to stderr.
func (g *globals) runPlot(ctx context.Context, name string, pick func(*query.DB) (string, error), rollups bool, args []any, path string, stderr io.Writer) (err error) {
	if err := checkPlot(name, path); err != nil {
		return err
	}
	if g.output != "" || g.format != "" {
		return &usageError{errors.New("--plot cannot be combined with --format or --output")}
	}
	r, err := g.timeRange()
	if err != nil {
		return err
	}
	db, err := query.Open(ctx, g.archive, r, query.Options{Threads: g.threads, MemoryLimit: g.memory, Rollups: rollups})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	stmt, err := pick(db)
	if err != nil {
		return err
	}
	rows, err := db.Query(ctx, stmt, usedParams(stmt, args)...)
	if err != nil {
		return err
	}
	rs, err := readResult(rows)
	if err != nil {
		return err
	}
	p, width, err := plotters[name](rs)
	if err != nil {
		return err
	}
	if err := savePlot(p, width, path); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "abtq: plotted %d rows of %s to %s\n", len(rs.rows), name, path)
	return nil
}

// savePlot draws p into path (its format from the extension, which
// checkPlot validated) through a temporary file renamed into place, as
// --output is written: a failure leaves no half-drawn file.
func savePlot(p *plot.Plot, width vg.Length, path string) error {
	wt, err := p.WriterTo(width, 4*vg.Inch, strings.TrimPrefix(strings.ToLower(filepath.Ext(path)), "."))
	if err != nil {
		return fmt.Errorf("write plot: %w", err)
	}
	out, err := query.CreateOutput(path)
	if err != nil {
		return err
	}
	if _, err := wt.WriteTo(out); err != nil {
		return errors.Join(fmt.Errorf("write plot: %w", err), out.Discard())
	}
	return errors.Join(out.Publish(), out.Discard())
}

// resultSet is a query result held in memory, addressed by column name.
type resultSet struct {
	cols map[string]int
	rows [][]any
}

func readResult(rows *sql.Rows) (resultSet, error) {
	defer rows.Close()
	names, err := rows.Columns()
	if err != nil {
		return resultSet{}, err
	}
	rs := resultSet{cols: map[string]int{}}
	for i, n := range names {
		rs.cols[n] = i
	}
	for rows.Next() {
		vals := make([]any, len(names))
		ptrs := make([]any, len(names))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return rs, err
		}
		rs.rows = append(rs.rows, vals)
	}
	return rs, rows.Err()
}

// value returns a row's column, failing if the query lacks it.
func (rs resultSet) value(row []any, col string) (any, error) {
	i, ok := rs.cols[col]
	if !ok {
		return nil, fmt.Errorf("plot: result has no column %q", col)
	}
	return row[i], nil
}

func (rs resultSet) float(row []any, col string) (float64, bool, error) {
	v, err := rs.value(row, col)
	if err != nil {
		return 0, false, err
	}
	f, ok := toFloat(v)
	return f, ok, nil
}

func (rs resultSet) text(row []any, col string) (string, error) {
	v, err := rs.value(row, col)
	if err != nil {
		return "", err
	}
	return text(v), nil
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case int:
		return float64(x), true
	case uint64:
		return float64(x), true
	case uint32:
		return float64(x), true
	case int16:
		return float64(x), true
	case int8:
		return float64(x), true
	case fmt.Stringer: // DECIMAL and HUGEINT values
		var f float64
		if _, err := fmt.Sscan(x.String(), &f); err == nil {
			return f, true
		}
	}
	return 0, false
}

var errNothingToPlot = errors.New("plot: nothing to plot (no rows, or no positive values for a log scale)")

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	return p
}

func logX(p *plot.Plot) {
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
}

func logY(p *plot.Plot) {
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
}

// addLine adds a coloured line (and, for short series, its points).
func addLine(p *plot.Plot, i int, label string, xys plotter.XYs, legend bool) error {
	l, err := plotter.NewLine(xys)
	if err != nil {
		return err
	}
	l.Color = plotutil.Color(i)
	l.Dashes = plotutil.Dashes(i / 7)
	l.Width = vg.Points(1.2)
	p.Add(l)
	if legend {
		p.Legend.Add(label, l)
	}
	if len(xys) <= 60 {
		s, err := plotter.NewScatter(xys)
		if err != nil {
			return err
		}
		s.Color = l.Color
		s.Shape = draw.CircleGlyph{}
		s.Radius = vg.Points(1.5)
		p.Add(s)
	}
	return nil
}

// plotADUSizes: the CDF of ADU sizes per direction, log x (Fig. 4a).
func plotADUSizes(rs resultSet) (*plot.Plot, vg.Length, error) {
	series := map[string]plotter.XYs{}
	var order []string
	for _, row := range rs.rows {
		dir, err := rs.text(row, "direction")
		if err != nil {
			return nil, 0, err
		}
		// The CDF at the top of each size bin (P(size <= size_max)).
		size, ok1, err := rs.float(row, "size_max")
		if err != nil {
			return nil, 0, err
		}
		cdf, ok2, err := rs.float(row, "cdf")
		if err != nil {
			return nil, 0, err
		}
		if !ok1 || !ok2 || size <= 0 {
			continue
		}
		if _, seen := series[dir]; !seen {
			order = append(order, dir)
		}
		series[dir] = append(series[dir], plotter.XY{X: size, Y: cdf})
	}
	if len(order) == 0 {
		return nil, 0, errNothingToPlot
	}
	p := newPlot("ADU sizes (CDF)", "ADU size (bytes)", "cumulative probability")
	logX(p)
	p.Y.Min, p.Y.Max = 0, 1
	p.Legend.Top, p.Legend.Left = false, false
	for i, dir := range order {
		if err := addLine(p, i, dir, series[dir], true); err != nil {
			return nil, 0, err
		}
	}
	return p, 6 * vg.Inch, nil
}

// plotExchanges: the CCDF of exchanges per connection, log-log (Fig. 4b).
func plotExchanges(rs resultSet) (*plot.Plot, vg.Length, error) {
	var xys plotter.XYs
	for _, row := range rs.rows {
		n, ok1, err := rs.float(row, "exchanges")
		if err != nil {
			return nil, 0, err
		}
		ccdf, ok2, err := rs.float(row, "ccdf")
		if err != nil {
			return nil, 0, err
		}
		if ok1 && ok2 && n > 0 && ccdf > 0 {
			xys = append(xys, plotter.XY{X: n, Y: ccdf})
		}
	}
	if len(xys) == 0 {
		return nil, 0, errNothingToPlot
	}
	p := newPlot("Exchanges per connection (CCDF)", "request/response exchanges", "P(X ≥ x)")
	logX(p)
	logY(p)
	if err := addLine(p, 0, "connections", xys, false); err != nil {
		return nil, 0, err
	}
	return p, 6 * vg.Inch, nil
}

// plotResponseTimeCDF: one CDF per period from the 40 quantiles, log x
// (Fig. 5).
func plotResponseTimeCDF(rs resultSet) (*plot.Plot, vg.Length, error) {
	p := newPlot("Response times (CDF per period)", "response time (ms)", "cumulative probability")
	logX(p)
	p.Y.Min, p.Y.Max = 0, 1
	p.Legend.Top, p.Legend.Left = false, false
	legend := len(rs.rows) <= 14
	n := 0
	for _, row := range rs.rows {
		v, err := rs.value(row, "quantiles_ms")
		if err != nil {
			return nil, 0, err
		}
		qs, ok := v.([]any)
		if !ok {
			return nil, 0, fmt.Errorf("plot: quantiles_ms is %T, not a list", v)
		}
		var xys plotter.XYs
		for i, q := range qs {
			x, ok := toFloat(q)
			if ok && x > 0 {
				xys = append(xys, plotter.XY{X: x, Y: float64(i+1) / float64(len(qs))})
			}
		}
		if len(xys) == 0 {
			continue
		}
		label, err := rs.text(row, "period")
		if err != nil {
			return nil, 0, err
		}
		if t, ok := row[rs.cols["period"]].(time.Time); ok && t.Equal(t.Truncate(24*time.Hour)) {
			label = t.UTC().Format("2006-01-02")
		}
		if err := addLine(p, n, label, xys, legend); err != nil {
			return nil, 0, err
		}
		n++
	}
	if n == 0 {
		return nil, 0, errNothingToPlot
	}
	if !legend {
		p.Title.Text += fmt.Sprintf(", %d periods", n)
	}
	return p, 6 * vg.Inch, nil
}

// plotResponseTimes: p50 and p99 per server, busiest first, log y.
func plotResponseTimes(rs resultSet) (*plot.Plot, vg.Length, error) {
	var names []string
	var p50, p99 plotter.XYs
	for _, row := range rs.rows {
		ip, err := rs.text(row, "server_ip")
		if err != nil {
			return nil, 0, err
		}
		port, err := rs.text(row, "server_port")
		if err != nil {
			return nil, 0, err
		}
		x := float64(len(names))
		names = append(names, ip+":"+port)
		if v, ok, err := rs.float(row, "p50_ms"); err != nil {
			return nil, 0, err
		} else if ok && v > 0 {
			p50 = append(p50, plotter.XY{X: x, Y: v})
		}
		if v, ok, err := rs.float(row, "p99_ms"); err != nil {
			return nil, 0, err
		} else if ok && v > 0 {
			p99 = append(p99, plotter.XY{X: x, Y: v})
		}
	}
	if len(p50) == 0 && len(p99) == 0 {
		return nil, 0, errNothingToPlot
	}
	p := newPlot("Response times per server (busiest first)", "", "response time (ms)")
	logY(p)
	p.NominalX(names...)
	p.X.Tick.Label.Rotation = math.Pi / 2
	p.X.Tick.Label.XAlign = draw.XRight
	p.X.Tick.Label.YAlign = draw.YCenter
	for i, s := range []struct {
		label string
		xys   plotter.XYs
		shape draw.GlyphDrawer
	}{{"p50", p50, draw.CircleGlyph{}}, {"p99", p99, draw.TriangleGlyph{}}} {
		if len(s.xys) == 0 {
			continue
		}
		sc, err := plotter.NewScatter(s.xys)
		if err != nil {
			return nil, 0, err
		}
		sc.Color = plotutil.Color(i)
		sc.Shape = s.shape
		sc.Radius = vg.Points(3)
		p.Add(sc)
		p.Legend.Add(s.label, sc)
	}
	width := max(6*vg.Inch, vg.Length(len(names))*0.25*vg.Inch+1.5*vg.Inch)
	return p, width, nil
}
