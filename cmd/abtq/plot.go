package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"gonum.org/v1/plot/vg/draw"

	"github.com/abt-dev/abt/internal/query"
)

// plotters draws the result of the canned queries whose result is a
// distribution or a series (plotkinds.go).
var plotters = map[string]func(rs resultSet, s plotSpec) (*figure, error){
	"adu-sizes":         plotADUSizes,
	"exchanges":         plotExchanges,
	"response-time-cdf": plotResponseTimeCDF,
	"response-times":    plotResponseTimes,
}

// The result columns the plots read, named here only: a query whose
// column is renamed changes one line.
const (
	colDirection  = "direction"    // adu-sizes: c2s or s2c
	colSizeMax    = "size_max"     // adu-sizes: a bin's upper bound, bytes
	colCDF        = "cdf"          // adu-sizes: share of ADUs <= size_max
	colExchanges  = "exchanges"    // exchanges: a connection's exchanges (a-b-t epochs)
	colCCDF       = "ccdf"         // exchanges: share of connections with at least that many
	colPeriod     = "period"       // response-time-cdf: the day or hour (a timestamp)
	colQuantiles  = "quantiles_ms" // response-time-cdf: the 2.5 %, 5 %, ..., 100 % quantiles, ms
	colServerIP   = "server_ip"    // response-times
	colServerPort = "server_port"  // response-times
	colP50        = "p50_ms"       // response-times: median, ms
	colP99        = "p99_ms"       // response-times: 99th percentile, ms
)

// plotFormats are the file extensions --plot accepts.
var plotFormats = []string{".png", ".svg", ".pdf"}

// checkPlot validates --plot and --plot-size for a canned query before any
// work is done.
func checkPlot(name, path, size string) (plotSize, error) {
	if path == "" {
		return plotSize{}, &usageError{errors.New("--plot-size needs --plot FILE")}
	}
	if _, ok := plotters[name]; !ok {
		return plotSize{}, &usageError{fmt.Errorf("--plot: %s is not plottable (plottable: adu-sizes, exchanges, response-time-cdf, response-times)", name)}
	}
	return checkPlotFile(path, size)
}

// checkPlotFile validates --plot's file name and --plot-size.
func checkPlotFile(path, size string) (plotSize, error) {
	sz, err := parsePlotSize(size)
	if err != nil {
		return plotSize{}, &usageError{err}
	}
	ext := strings.ToLower(filepath.Ext(path))
	for _, f := range plotFormats {
		if ext == f {
			return sz, nil
		}
	}
	return plotSize{}, &usageError{fmt.Errorf("--plot %q: the file name must end in .png, .svg or .pdf", path)}
}

// runPlot runs a canned query and draws its result into path, at size
// (--plot-size), instead of printing it; a one-line note goes to stderr.
func (g *globals) runPlot(ctx context.Context, name string, pick func(*query.DB) (string, error), rollups bool, args []any, path, size string, stderr io.Writer) (err error) {
	sz, err := checkPlot(name, path, size)
	if err != nil {
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
	fig, err := plotters[name](rs, newPlotSpec(sz, r, args))
	if err != nil {
		return err
	}
	if err := savePlot(fig, sz, path); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "abtq: plotted %d rows of %s to %s\n", len(rs.rows), name, path)
	return nil
}

// savePlot draws fig into path (its format from the extension, which
// checkPlot validated) through a temporary file renamed into place, as
// --output is written: a failure leaves no half-drawn file.
func savePlot(fig *figure, sz plotSize, path string) error {
	c := newCanvas(strings.TrimPrefix(strings.ToLower(filepath.Ext(path)), "."), sz)
	fig.draw(draw.New(c))
	out, err := query.CreateOutput(path)
	if err != nil {
		return err
	}
	if _, err := c.WriteTo(out); err != nil {
		return errors.Join(fmt.Errorf("write plot: %w", err), out.Discard())
	}
	return errors.Join(out.Publish(), out.Discard())
}

// plotSpec is what a plot is drawn for: its size and the selection the
// query made, which the subtitle names.
type plotSpec struct {
	size                            plotSize
	server, port, direction, period string    // "" when not given
	from, to                        time.Time // zero when not given
	sensor                          string
}

// newPlotSpec reads the selection from the time range and the query's
// bound parameters (an unset filter is nil).
func newPlotSpec(sz plotSize, r query.Range, args []any) plotSpec {
	s := plotSpec{size: sz, from: r.From, to: r.To, sensor: r.Sensor}
	for _, a := range args {
		n, ok := a.(sql.NamedArg)
		if !ok || n.Value == nil {
			continue
		}
		v := fmt.Sprint(n.Value)
		switch n.Name {
		case "server":
			s.server = v
		case "port":
			s.port = v
		case "direction":
			s.direction = v
		case "period":
			s.period = v
		}
	}
	return s
}

// servers names the server filter: "server 10.0.0.1 port 80", "port 80",
// or "all servers".
func (s plotSpec) servers() string {
	switch {
	case s.server != "" && s.port != "":
		return "server " + s.server + " port " + s.port
	case s.server != "":
		return "server " + s.server
	case s.port != "":
		return "port " + s.port
	}
	return "all servers"
}

// subtitle names the selection: who (the servers), the direction, the
// time range and the sensor.
func (s plotSpec) subtitle(who string) string {
	parts := []string{who}
	if s.direction != "" {
		parts = append(parts, directionName(s.direction)+" only")
	}
	parts = append(parts, describeRange(s.from, s.to))
	if s.sensor != "" {
		parts = append(parts, "sensor "+s.sensor)
	}
	return strings.Join(parts, " · ")
}

// describeRange says --from/--to as a reader of a paper would: whole days
// inclusive ("2008-04-01 – 2008-04-30", one day as itself), times with
// the exclusive end abtq takes ("2008-04-01 10:00 – 12:00 UTC").
func describeRange(from, to time.Time) string {
	const day = 24 * time.Hour
	whole := func(t time.Time) bool { return t.IsZero() || t.Equal(t.Truncate(day)) }
	if whole(from) && whole(to) {
		last := to.Add(-day).Format(time.DateOnly)
		switch {
		case from.IsZero() && to.IsZero():
			return "all dates"
		case to.IsZero():
			return "from " + from.Format(time.DateOnly)
		case from.IsZero():
			return "through " + last
		case to.Sub(from) == day:
			return from.Format(time.DateOnly)
		}
		return from.Format(time.DateOnly) + " – " + last
	}
	clock := func(t time.Time) string {
		if t.Second() != 0 || t.Nanosecond() != 0 {
			return t.Format("2006-01-02 15:04:05.999999999")
		}
		return t.Format("2006-01-02 15:04")
	}
	switch {
	case to.IsZero():
		return "from " + clock(from) + " UTC"
	case from.IsZero():
		return "before " + clock(to) + " UTC"
	case from.Truncate(day).Equal(to.Truncate(day)):
		return clock(from) + " – " + clock(to)[len("2006-01-02 "):] + " UTC"
	}
	return clock(from) + " – " + clock(to) + " UTC"
}

// directionName spells a direction out for a legend or a subtitle.
func directionName(d string) string {
	switch d {
	case "c2s":
		return "client → server"
	case "s2c":
		return "server → client"
	}
	return d
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

// text returns a row's column as text (a label: a server, a direction).
func (rs resultSet) text(row []any, col string) (string, error) {
	v, err := rs.value(row, col)
	if err != nil {
		return "", err
	}
	switch x := v.(type) {
	case nil:
		return "", nil
	case []byte:
		return string(x), nil
	}
	return fmt.Sprint(v), nil
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
