package main

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/abt-dev/abt/internal/anomaly"
	"github.com/abt-dev/abt/internal/cli"
	"github.com/abt-dev/abt/internal/query"
	"github.com/abt-dev/abt/queries"
)

// anomalyFlags are the flags of abtq anomalies.
type anomalyFlags struct {
	server     string
	port       int
	period     string
	all, exact bool
	window     int
	minTrain   int
	minSamples int64
	variance   float64
	threshold  float64
	saveModels string
	models     string
	since      string
	plot       string
	plotSize   string
}

// anomalyColumns are the columns abtq anomalies prints, and their types.
var anomalyColumns = []struct{ name, typ string }{
	{"period", "TIMESTAMP"}, {"server_ip", "VARCHAR"}, {"server_port", "INTEGER"},
	{"response_times", "BIGINT"}, {"score", "DOUBLE"}, {"flagged", "BOOLEAN"},
	{"median_ms", "DOUBLE"}, {"usual_median_ms", "DOUBLE"}, {"p99_ms", "DOUBLE"}, {"usual_p99_ms", "DOUBLE"},
	{"training", "INTEGER"}, {"components", "INTEGER"},
}

func newAnomaliesCmd(ctx context.Context, g *globals, stdout io.Writer) *cobra.Command {
	f := anomalyFlags{period: "day"}
	cmd := &cobra.Command{
		Use:   "anomalies [flags]",
		Short: "Days or hours when a server answered unlike its own history",
		Long: strings.TrimSpace(`
For each server (address and port), the response times of each period (a
day, or an hour) are summarised as a 40-bin quantile function: the sorted
sample cut into 40 shares of 2.5 %, each the mean of its log response times.
A period is compared with the server's own periods of the training window
before it (--window, default the previous 4 weeks; periods already flagged
are left out): principal component analysis of the training periods gives
the directions in which the server normally varies (the fewest components
that explain --variance of its variance) and by how much, and the period's
distance from the training mean is measured along them in their standard
deviations and outside them in the variation the training left there. The
score is that distance over the training periods' own median distance: about
1 for an ordinary period. A period scoring above --threshold is flagged.

Only periods with at least --min-samples response times are scored or
train, and only with at least --min-train training periods. The periods
reported are those in --from/--to; the archive is read from twice --window
periods before --from, for their training (the periods of the window are
scored too, so that flagged ones stay out of it). Days are read from the daily
rollups (each response time as its 1/64-octave bin's midpoint, within
0.8 %) unless --exact; hours from the ADU rows.

One row per flagged period (--all: per scored period), in time order and,
within a period, highest score first: the period, the server, the number of
response times, the score, the period's median and 99th percentile response
times and the training periods' usual ones (the median over them), the
number of training periods and of components. A summary goes to standard
error.

--save-models FILE also writes each server's model as trained on the
latest --window periods of the range (flagged ones left out), as JSON;
--models FILE scores the periods from --since (default: where the models'
training ended) against those models instead, without reading the history
again, and prints one line per alert (a flagged period), for cron or a
monitoring system. See docs/anomalies.md.`),
		Example: cli.Example(`
  # Which servers had anomalous days this week?
  $ abtq --archive /data/abt --from 2008-04-14 --to 2008-04-21 anomalies

  # Every day of one server, scored
  $ abtq --archive /data/abt anomalies --server 152.2.1.10 --port 80 --all

  # Train every server's hourly model on four weeks, once a day...
  $ abtq --archive /data/abt --from 2008-03-21 --to 2008-04-18 anomalies --period hour --save-models models.json

  # ...and, every hour from cron, score the hours since: one line per alert
  $ abtq --archive /data/abt anomalies --models models.json --since 2008-04-18T13:00`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.runAnomalies(ctx, cmd, f, stdout)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.server, "server", "", "only this server address")
	fl.IntVar(&f.port, "port", 0, "only this server port")
	fl.StringVar(&f.period, "period", f.period, "a period is a {day|hour}")
	fl.BoolVar(&f.all, "all", false, "print every scored period, not only the flagged ones")
	fl.BoolVar(&f.exact, "exact", false, "days: read the ADU rows, not the daily rollups")
	fl.IntVar(&f.window, "window", 0, fmt.Sprintf("training window, in periods (default %d days: %d days or %d hours)",
		anomaly.DefaultWindowDays, anomaly.DefaultWindowDays, 24*anomaly.DefaultWindowDays))
	fl.IntVar(&f.minTrain, "min-train", 0, fmt.Sprintf("least training periods to score a period (default %d days' worth)", anomaly.DefaultMinTrainDays))
	fl.Int64Var(&f.minSamples, "min-samples", anomaly.DefaultMinSamples, "least response times of a period that is scored or trains")
	fl.Float64Var(&f.variance, "variance", anomaly.DefaultVariance, "share of the training variance the retained components explain")
	fl.Float64Var(&f.threshold, "threshold", anomaly.DefaultThreshold, "flag periods scoring above this")
	fl.StringVar(&f.saveModels, "save-models", "", "also write each server's model, trained through the range's end, to this JSON `file`")
	fl.StringVar(&f.models, "models", "", "score new periods against the models in this `file` (from --save-models) and print one line per alert")
	fl.StringVar(&f.plot, "plot", "", "draw one server's training and flagged periods (the paper's Fig. 6) into this `file` {.png|.svg|.pdf} instead of printing them")
	fl.StringVar(&f.plotSize, "plot-size", "", "--plot's `size`, as for the other plots (abtq response-time-cdf --help)")
	fl.StringVar(&f.since, "since", "", "with --models: the first period to score (RFC 3339 or YYYY-MM-DD, UTC; default: where the models' training ended)")
	return cmd
}

// anomalyOptions checks the flags and returns the detector's options for
// the reported range r.
func (f *anomalyFlags) options(cmd *cobra.Command, r query.Range) (anomaly.Options, error) {
	var o anomaly.Options
	switch f.period {
	case "day":
		o = anomaly.DayOptions()
	case "hour":
		o = anomaly.HourOptions()
		if f.exact {
			return o, &usageError{errors.New("--exact is for days: hours are always read from the ADU rows")}
		}
	default:
		return o, &usageError{fmt.Errorf("--period %q: must be day or hour", f.period)}
	}
	if cmd.Flags().Changed("window") {
		o.Window = f.window
	}
	if cmd.Flags().Changed("min-train") {
		o.MinTrain = f.minTrain
	}
	o.MinSamples, o.Variance, o.Threshold = f.minSamples, f.variance, f.threshold
	switch {
	case o.Window < 2:
		return o, &usageError{errors.New("--window must be at least 2 periods")}
	case o.MinTrain < 2 || o.MinTrain > o.Window:
		return o, &usageError{fmt.Errorf("--min-train must be between 2 and --window (%d)", o.Window)}
	case o.MinSamples < 1:
		return o, &usageError{errors.New("--min-samples must be at least 1")}
	case !(o.Variance > 0 && o.Variance <= 1):
		return o, &usageError{errors.New("--variance must be in (0, 1]")}
	case !(o.Threshold > 0):
		return o, &usageError{errors.New("--threshold must be positive")}
	}
	o.From, o.To = r.From, r.To
	return o, nil
}

// runAnomalies reads the response-time histograms of the range and the
// training window before it, scores the periods and prints them; or, with
// --models, scores the periods since the models' training against them.
func (g *globals) runAnomalies(ctx context.Context, cmd *cobra.Command, f anomalyFlags, stdout io.Writer) (err error) {
	r, err := g.timeRange()
	if err != nil {
		return err
	}
	var saved *anomaly.Saved
	switch {
	case f.models != "" && f.saveModels != "":
		return &usageError{errors.New("give --models or --save-models, not both")}
	case f.since != "" && f.models == "":
		return &usageError{errors.New("--since is for --models")}
	case f.models != "" && g.from != "":
		return &usageError{errors.New("with --models the periods scored begin at --since, not --from")}
	case f.models != "":
		if saved, err = readModels(f.models); err != nil {
			return err
		}
		if cmd.Flags().Changed("period") && f.period != saved.Period {
			return &usageError{fmt.Errorf("--period %s: the models in %s are of %ss", f.period, f.models, saved.Period)}
		}
		f.period = saved.Period
		if !cmd.Flags().Changed("min-samples") {
			f.minSamples = saved.MinSamples
		}
		if !cmd.Flags().Changed("threshold") {
			f.threshold = saved.Threshold
		}
		if r.From, err = sinceTime(f.since, saved); err != nil {
			return err
		}
		if !r.To.IsZero() && !r.To.After(r.From) {
			return &usageError{errors.New("--to must be after --since")}
		}
	}
	o, err := f.options(cmd, r)
	if err != nil {
		return err
	}
	var sz plotSize
	if f.plot != "" || f.plotSize != "" {
		switch {
		case f.plot == "":
			return &usageError{errors.New("--plot-size needs --plot FILE")}
		case !cmd.Flags().Changed("server") || !cmd.Flags().Changed("port"):
			return &usageError{errors.New("--plot draws one server: give --server and --port")}
		case saved != nil || f.saveModels != "":
			return &usageError{errors.New("--plot cannot be combined with --models or --save-models")}
		case g.output != "" || g.format != "":
			return &usageError{errors.New("--plot cannot be combined with --format or --output")}
		}
		if sz, err = checkPlotFile(f.plot, f.plotSize); err != nil {
			return err
		}
		o.Keep = true
	}
	format, err := g.outputFormat(stdout)
	if err != nil {
		return err
	}
	if format == "parquet" {
		return &usageError{errors.New("anomalies prints table, tsv, csv or json")}
	}
	read := r
	if !r.From.IsZero() {
		o.From = r.From.Truncate(o.Period)
		if !o.From.Equal(r.From) {
			o.From = o.From.Add(o.Period) // the periods that begin in the range
		}
		read.From = o.From
		if saved == nil {
			// The first one's training, and the training of those periods,
			// which are scored to keep the flagged ones out of it.
			read.From = o.From.Add(-2 * time.Duration(o.Window) * o.Period)
		}
	}
	rollups := f.period == "day" && !f.exact
	db, err := query.Open(ctx, g.archive, read, query.Options{Threads: g.threads, MemoryLimit: g.memory, Rollups: rollups})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	name := "anomalies"
	if rollups && db.Has("rollup_hist") {
		noteRollups(db, cmd.ErrOrStderr())
		name += ".rollup"
	}
	stmt, err := queries.Get(name)
	if err != nil {
		return err
	}
	var srv, port any
	if cmd.Flags().Changed("server") {
		srv = f.server
	}
	if cmd.Flags().Changed("port") {
		port = f.port
	}
	args := usedParams(stmt, []any{sql.Named("server", srv), sql.Named("port", port), sql.Named("period", f.period),
		sql.Named("min_samples", o.MinSamples)})
	rows, err := db.Query(ctx, stmt, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	sc := newScorer(o, saved, f.saveModels != "")
	if err := sc.read(rows, cmp.Or(g.threads, runtime.GOMAXPROCS(0))); err != nil {
		return err
	}
	slices.SortStableFunc(sc.results, func(a, b anomaly.Result) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return cmp.Compare(b.Score, a.Score)
	})
	st := sc.stats
	fmt.Fprintf(cmd.ErrOrStderr(), "abtq: anomalies: servers %d; %ss scored %d, flagged %d; not scored: %d with fewer than %d response times, %d without a model of %d %ss of training\n",
		sc.servers, f.period, st.Scored, st.Flagged, st.Sparse, o.MinSamples, st.Untrained, o.MinTrain, f.period)
	if f.plot != "" {
		spec := newPlotSpec(sz, r, []any{sql.Named("server", srv), sql.Named("port", port), sql.Named("period", f.period)})
		fig, err := plotAnomalies(sc.results, serverKey(f.server, int32(f.port)), spec)
		if err != nil {
			return err
		}
		if err := savePlot(fig, sz, f.plot); err != nil {
			return err
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "abtq: anomalies: plotted %d %ss of %s to %s\n", len(sc.results), f.period,
			serverKey(f.server, int32(f.port)), f.plot)
		return nil
	}
	if f.saveModels != "" {
		if err := writeModels(f.saveModels, f.period, o, sc.trained); err != nil {
			return err
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "abtq: anomalies: server models written to %s: %d\n", f.saveModels, len(sc.trained))
	}
	if saved != nil && g.format == "" {
		return g.writeOutput(stdout, func(w io.Writer) error { return writeAlerts(w, sc.results) })
	}
	return g.writeOutput(stdout, func(w io.Writer) error { return writeAnomalies(w, format, sc.results, f.all) })
}

// sinceTime is --since, or where the models' training ended (the earliest
// of the servers').
func sinceTime(since string, saved *anomaly.Saved) (time.Time, error) {
	if since != "" {
		t, err := parseTime(since)
		if err != nil {
			return t, &usageError{fmt.Errorf("--since %q: not an RFC 3339 time or YYYY-MM-DD date", since)}
		}
		return t, nil
	}
	var t time.Time
	for _, s := range saved.Servers {
		if t.IsZero() || s.Through.Before(t) {
			t = s.Through
		}
	}
	if t.IsZero() {
		return t, errors.New("anomalies: the models file has no server: give --since")
	}
	return t, nil
}

// scorer scores the servers' periods as histogram rows arrive, one server
// at a time.
type scorer struct {
	o       anomaly.Options
	saved   map[string]*anomaly.Trained // by server:port; nil: train from the rows
	train   bool                        // also keep each server's latest model
	results []anomaly.Result
	trained []anomaly.Trained
	stats   anomaly.Stats
	servers int
}

func newScorer(o anomaly.Options, saved *anomaly.Saved, train bool) *scorer {
	sc := &scorer{o: o, train: train}
	if saved != nil {
		sc.saved = map[string]*anomaly.Trained{}
		for i := range saved.Servers {
			t := &saved.Servers[i]
			sc.saved[serverKey(t.Server, t.Port)] = t
		}
	}
	return sc
}

func serverKey(ip string, port int32) string { return net.JoinHostPort(ip, strconv.Itoa(int(port))) }

// read reads histogram rows (server_ip, server_port, period, bin, n, in
// that order; a NULL bin is a period too sparse to score, n its count)
// and scores each server's periods, the servers on workers goroutines
// (fitting a model per period is most of a scan's time).
func (sc *scorer) read(rows *sql.Rows, workers int) (err error) {
	jobs := make(chan anomaly.Series, workers)
	var (
		wg sync.WaitGroup
		mu sync.Mutex
	)
	for range workers {
		wg.Go(func() {
			for s := range jobs {
				out := sc.score(s)
				mu.Lock()
				sc.results = append(sc.results, out.results...)
				sc.stats.Add(out.stats)
				if out.trained != nil {
					sc.trained = append(sc.trained, *out.trained)
				}
				mu.Unlock()
			}
		})
	}
	defer func() {
		close(jobs)
		wg.Wait()
		slices.SortFunc(sc.trained, func(a, b anomaly.Trained) int {
			return cmp.Or(strings.Compare(a.Server, b.Server), cmp.Compare(a.Port, b.Port))
		})
	}()
	send := func(s anomaly.Series) {
		if len(s.Periods) > 0 {
			sc.servers++
			jobs <- s
		}
	}
	var cur anomaly.Series
	for rows.Next() {
		var (
			ip     string
			port   int32
			period time.Time
			bin    sql.NullInt64
			n      int64
		)
		if err := rows.Scan(&ip, &port, &period, &bin, &n); err != nil {
			return err
		}
		if ip != cur.Server || port != cur.Port {
			send(cur)
			cur = anomaly.Series{Server: ip, Port: port}
		}
		period = period.UTC()
		if !bin.Valid { // a sparse period: its count alone
			cur.Periods = append(cur.Periods, anomaly.Period{Start: period, Sparse: n})
			continue
		}
		if k := len(cur.Periods); k == 0 || !cur.Periods[k-1].Start.Equal(period) {
			cur.Periods = append(cur.Periods, anomaly.Period{Start: period})
		}
		p := &cur.Periods[len(cur.Periods)-1]
		p.Hist = append(p.Hist, anomaly.Bin{Bin: bin.Int64, N: n})
	}
	if err := rows.Err(); err != nil {
		return err
	}
	send(cur)
	return nil
}

// scored is what scoring one server gave.
type scored struct {
	results []anomaly.Result
	stats   anomaly.Stats
	trained *anomaly.Trained
}

// score scores one server's periods.
func (sc *scorer) score(s anomaly.Series) scored {
	var out scored
	if sc.saved == nil && !sc.train {
		out.results, out.stats = anomaly.Detect(s, sc.o)
		return out
	}
	if sc.saved == nil {
		var t anomaly.Trained
		var ok bool
		out.results, out.stats, t, ok = anomaly.DetectAndTrain(s, sc.o)
		if ok {
			out.trained = &t
		}
		return out
	}
	t := sc.saved[serverKey(s.Server, s.Port)]
	for _, p := range s.Periods {
		if p.Start.Before(sc.o.From) || !sc.o.To.IsZero() && !p.Start.Before(sc.o.To) {
			continue
		}
		if t == nil {
			if p.Count() >= sc.o.MinSamples {
				out.stats.Untrained++
			} else {
				out.stats.Sparse++
			}
			continue
		}
		r, sparse := t.Score(p, sc.o.MinSamples, sc.o.Threshold)
		switch {
		case sparse:
			out.stats.Sparse++
		default:
			out.stats.Scored++
			if r.Flagged {
				out.stats.Flagged++
			}
			out.results = append(out.results, r)
		}
	}
	return out
}

// readModels reads a --models file.
func readModels(path string) (*anomaly.Saved, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("anomalies: %w", err)
	}
	defer f.Close()
	return anomaly.ReadSaved(f, path)
}

// writeModels writes the --save-models file, whole or not at all.
func writeModels(path, period string, o anomaly.Options, trained []anomaly.Trained) error {
	out, err := query.CreateOutput(path)
	if err != nil {
		return err
	}
	s := &anomaly.Saved{Version: anomaly.SavedVersion, Created: time.Now().UTC().Truncate(time.Second), Period: period,
		Window: o.Window, MinSamples: o.MinSamples, Variance: o.Variance, Threshold: o.Threshold, Servers: trained}
	if s.Servers == nil {
		s.Servers = []anomaly.Trained{}
	}
	if err := anomaly.WriteSaved(out, s); err != nil {
		return errors.Join(fmt.Errorf("write models: %w", err), out.Discard())
	}
	return errors.Join(out.Publish(), out.Discard())
}

// writeAlerts prints one line per flagged period.
func writeAlerts(w io.Writer, results []anomaly.Result) error {
	for _, r := range results {
		if !r.Flagged {
			continue
		}
		if _, err := fmt.Fprintf(w, "%s %s score %.2f: median %s ms (usual %s), p99 %s ms (usual %s), %d response times\n",
			r.Start.Format(time.RFC3339), serverKey(r.Server, r.Port), r.Score, msText(r.Median), msText(r.UsualMedian),
			msText(r.P99), msText(r.UsualP99), r.N); err != nil {
			return err
		}
	}
	return nil
}

// msText prints µs as ms, to the µs.
func msText(us float64) string { return strconv.FormatFloat(math.Round(us)/1000, 'f', -1, 64) }

// writeAnomalies prints the results (only the flagged ones unless all).
func writeAnomalies(w io.Writer, format string, results []anomaly.Result, all bool) error {
	cols := make([]string, len(anomalyColumns))
	types := make([]*colType, len(anomalyColumns))
	for i, c := range anomalyColumns {
		t, err := parseType(c.typ)
		if err != nil {
			return err
		}
		cols[i], types[i] = c.name, t
	}
	out := newRowWriter(w, format, cols, types)
	ms := func(us float64) float64 { return math.Round(us) / 1000 }
	for _, r := range results {
		if !r.Flagged && !all {
			continue
		}
		score := math.Round(r.Score*100) / 100
		if err := out.row([]any{r.Start, r.Server, r.Port, r.N, score, r.Flagged, ms(r.Median), ms(r.UsualMedian),
			ms(r.P99), ms(r.UsualP99), int32(r.Training), int32(r.Components)}); err != nil {
			return err
		}
	}
	return out.close()
}

// outputFormat is --format, or its default: an aligned table on a
// terminal, TSV otherwise.
func (g *globals) outputFormat(stdout io.Writer) (string, error) {
	format := g.format
	if format == "" {
		format = "tsv"
		if f, ok := stdout.(*os.File); ok && g.output == "" && term.IsTerminal(int(f.Fd())) {
			format = "table"
		}
	}
	switch format {
	case "table", "tsv", "csv", "json":
	case "parquet":
		if g.output == "" {
			return "", &usageError{errors.New("--format parquet needs --output FILE")}
		}
	default:
		return "", &usageError{fmt.Errorf("--format %q: must be table, tsv, csv, json or parquet", format)}
	}
	return format, nil
}
