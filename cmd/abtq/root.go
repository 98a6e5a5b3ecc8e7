package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/abt-dev/abt/internal/cli"
	"github.com/abt-dev/abt/internal/query"
	"github.com/abt-dev/abt/queries"
)

// usageError marks a bad flag or argument (exit status 2).
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// globals are the flags every command takes.
type globals struct {
	archive  string
	from, to string
	sensor   string
	format   string
	output   string
	threads  int
	memory   string
	// args is the command line (without the program's name).
	args []string
	// rewrite, when set, rewrites each statement before it is checked and
	// run: a hook for tests (cmd/abtq/textlog_test.go runs the canned
	// queries on an archive seen through a view of its tables).
	rewrite func(stmt string) string
}

// filters are the per-query filter flags.
type filters struct {
	server     string
	port       int
	direction  string
	limit      int
	period     string
	by         string
	bucketSize float64
	buckets    int
	bucket     int
	minBytes   int64
	plot       string
	plotSize   string
	exact      bool
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runWith(ctx, &globals{}, args, stdin, stdout, stderr)
}

// runWith is run with g, whose flag fields the command line sets.
func runWith(ctx context.Context, g *globals, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	g.args = args
	root := &cobra.Command{
		Use:   "abtq [flags] <command>",
		Short: "Query an abt archive of a-b-t connection vectors with SQL",
		Long: strings.TrimSpace(`
abtq opens an archive written by adu2parquet in an embedded DuckDB and runs
canned analyses or ad-hoc SQL on it. The views are adus (one row per ADU, with
start_time, end_time and decided_time), connections (with absolute times),
runs (the run log, with collections and outages), response_times (one row per
response time measured: a request of a sequential connection, the server's
response time, the response), vectors (each connection's ADUs in order) and,
for ranges of whole UTC days, rollup_hist
(the daily rollups: histograms of ADU sizes, response times and RTTs, and
connection totals, per server). adu-sizes, response-times, response-time-cdf
and top-servers read the rollups for such ranges (quantiles are then the midpoints of 1/64-octave bins, within 0.8 %);
--exact reads every ADU row instead. See docs/schema.md and docs/queries.md.

--from/--to select the time range: only the files of those hours are opened,
and every view, in canned queries and ad-hoc SQL alike, holds only the rows
whose ts is in the range. Filters are bound parameters. The
archive is read-only: ad-hoc SQL is exactly one SELECT statement (see abtq
sql --help); DuckDB may read only the archive, spills to a private
temporary directory, and its configuration is locked. abtq writes nothing
but the --output (or --plot) file, which appears whole or not at all.

Output: an aligned table when standard output is a terminal, TSV otherwise;
--format {table|tsv|csv|json|parquet}; parquet needs --output FILE.
--plot FILE.{png|svg|pdf} draws a distribution or series instead of printing
it (adu-sizes, exchanges, response-time-cdf, response-times; anomalies draws
one server's training and flagged periods).

abtq anomalies finds the days or hours in which a server's response times
were unlike its own history (docs/anomalies.md); abtq export writes a range
as a data set to publish, anonymized if asked, with its metadata and
checksums (docs/publishing.md).`),
		Example: cli.Example(`
  # Response times of the busiest servers on one day
  $ abtq --archive /data/abt --from 2008-04-18 --to 2008-04-19 response-times

  # ADU sizes of one server, as CSV
  $ abtq --archive /data/abt --format csv adu-sizes --server 152.2.1.10 --port 443

  # Ad-hoc SQL
  $ abtq --archive /data/abt sql "SELECT direction, count(*) FROM adus GROUP BY ALL"

  # The collection log
  $ abtq --archive /data/abt runs`),
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{cli.FlagError(err)} })
	cli.SetVersion(root)
	pf := root.PersistentFlags()
	pf.StringVarP(&g.archive, "archive", "a", "archive", "archive `directory`")
	pf.StringVar(&g.from, "from", "", "start of the time range (RFC 3339 or YYYY-MM-DD, UTC; default: everything)")
	pf.StringVar(&g.to, "to", "", "end of the time range, exclusive")
	pf.StringVar(&g.sensor, "sensor", "", "only this sensor's data")
	pf.StringVar(&g.format, "format", "", "output: {table|tsv|csv|json|parquet} (default: table on a terminal, else tsv)")
	pf.StringVarP(&g.output, "output", "o", "", "write the result to this `file` instead of standard output")
	pf.IntVar(&g.threads, "threads", 0, "DuckDB threads (default: all CPUs)")
	pf.StringVar(&g.memory, "memory-limit", "", "DuckDB memory limit, e.g. 4GB")

	root.AddCommand(newSQLCmd(ctx, g, stdin, stdout), newDDLCmd(stdout), newAnomaliesCmd(ctx, g, stdout), newExportCmd(ctx, g),
		cli.VersionCmd("abtq"))
	for _, c := range canned {
		root.AddCommand(newCannedCmd(ctx, g, c, stdout))
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	failed, err := root.ExecuteC()
	if err == nil {
		return 0
	}
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i] // one line: DuckDB errors carry context lines
	}
	var ue *usageError
	switch {
	case errors.Is(err, query.ErrRefused):
		fmt.Fprintf(stderr, "abtq: %s\n", msg) // says what sql takes
		return 2
	case errors.As(err, &ue), strings.HasPrefix(msg, "unknown command"), strings.Contains(msg, "unknown flag"),
		strings.Contains(msg, "accepts "), strings.Contains(msg, "requires "):
		fmt.Fprintf(stderr, "abtq: %s\n%s\n", msg, usageHint(failed))
		return 2
	case errors.Is(err, context.Canceled) || ctx.Err() != nil:
		// DuckDB's error for an interrupted query is its own.
		fmt.Fprintln(stderr, interruptedLine(g, failed))
		return 130
	}
	fmt.Fprintf(stderr, "abtq: %s\n", msg)
	return 1
}

// cannedQuery is a canned analysis and the filter flags it takes.
type cannedQuery struct {
	name                           string
	server, port, direction, limit bool
	period, buckets, bucket        bool
	// rollup: the query has a variant <name>.rollup over the daily rollups,
	// used for whole-day ranges (and daily periods) unless --exact.
	rollup bool
}

var canned = []cannedQuery{
	{name: "adu-sizes", server: true, port: true, direction: true, rollup: true},
	{name: "exchanges", server: true, port: true},
	{name: "response-times", server: true, port: true, limit: true, rollup: true},
	{name: "response-time-cdf", server: true, port: true, period: true, rollup: true},
	{name: "top-servers", server: true, port: true, limit: true, rollup: true},
	{name: "conn-buckets", server: true, port: true, buckets: true},
	{name: "conn-list", server: true, port: true, buckets: true, bucket: true, limit: true},
	{name: "syn-attempts", server: true, port: true},
	{name: "runs"},
	{name: "collections"},
	{name: "loss"},
}

func newCannedCmd(ctx context.Context, g *globals, c cannedQuery, stdout io.Writer) *cobra.Command {
	f := &filters{}
	cmd := &cobra.Command{
		Use:  c.name + " [flags]",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			args, err := g.params(cmd, f)
			if err != nil {
				return err
			}
			useRollup := c.rollup && !f.exact && f.period != "hour"
			pick := func(db *query.DB) (string, error) {
				if useRollup && db.Has("rollup_hist") {
					noteRollups(db, cmd.ErrOrStderr())
					return queries.Get(c.name + ".rollup")
				}
				return queries.Get(c.name)
			}
			if f.plot != "" || f.plotSize != "" {
				return g.runPlot(ctx, c.name, pick, useRollup, args, f.plot, f.plotSize, cmd.ErrOrStderr())
			}
			return g.runQuery(ctx, pick, useRollup, args, stdout, runPlain)
		},
	}
	setCannedHelp(cmd, c.name)
	fl := cmd.Flags()
	if c.rollup {
		fl.BoolVar(&f.exact, "exact", false, "compute from the ADU rows, not the daily rollups (exact quantiles; slower)")
	}
	if _, ok := plotters[c.name]; ok {
		fl.StringVar(&f.plot, "plot", "", "draw the result into this `file` {.png|.svg|.pdf} instead of printing it")
		fl.StringVar(&f.plotSize, "plot-size", "", "--plot's `size`: {column|text|slide} or WxH in inches (6.5x4), cm or mm (16x10cm), then @DPI for PNG (default text: 6.5x4 in at 300 dpi)")
	}
	if c.server {
		fl.StringVar(&f.server, "server", "", "only this server address")
	}
	if c.port {
		fl.IntVar(&f.port, "port", 0, "only this server port")
	}
	if c.direction {
		fl.StringVar(&f.direction, "direction", "", "only this direction: {c2s|s2c}")
	}
	if c.limit {
		fl.IntVar(&f.limit, "limit", 20, "rows to show")
	}
	if c.period {
		fl.StringVar(&f.period, "period", "day", "distribution per {day|hour}")
	}
	if c.buckets {
		fl.StringVar(&f.by, "by", "duration", "bucket by {duration|bytes_in|bytes_out|throughput} (seconds, bytes, bits/s)")
		fl.Float64Var(&f.bucketSize, "bucket-size", 1, "bucket width, in the unit of --by")
		fl.IntVar(&f.buckets, "buckets", 10, "number of buckets; the last one takes everything above")
		fl.Int64Var(&f.minBytes, "min-bytes", 0, "only connections that carried at least this many bytes (both ways)")
	}
	if c.bucket {
		fl.IntVar(&f.bucket, "bucket", 0, "the bucket to list (from 0)")
	}
	return cmd
}

// sqlRefusedHint follows the error of a statement the sandbox refuses.
const sqlRefusedHint = "abtq sql runs exactly one SELECT statement (SELECT, WITH, VALUES, FROM, DESCRIBE, SUMMARIZE, SHOW), EXPLAIN through --explain or --analyze"

func newSQLCmd(ctx context.Context, g *globals, stdin io.Reader, stdout io.Writer) *cobra.Command {
	var (
		file             string
		explain, analyze bool
	)
	cmd := &cobra.Command{
		Use:   "sql [<query>]",
		Short: "Run one ad-hoc SQL SELECT statement on the archive",
		Long: strings.TrimSpace(`
Run one SQL query on the archive's views: the argument, the contents of
--file, or standard input. The query is exactly one SELECT statement:
DuckDB's parser decides, before any of it runs, that the text is one
statement and a SELECT (WITH ... SELECT, VALUES, FROM ..., DESCRIBE,
SUMMARIZE and SHOW are SELECTs; a trailing ';' and comments are fine), and
that its table functions only read or generate rows (not enable_profiling,
enable_logging or checkpoint, which change DuckDB's settings, nor query or
json_execute_serialized_sql, which run SQL from a string). Anything else is
refused with exit status 2 and nothing run: several statements, COPY,
ATTACH, CREATE, SET, PRAGMA, CALL, INSTALL, LOAD, EXPORT. A PIVOT needs an
IN list (ON col IN (...)): without one DuckDB runs it as several
statements. A query given as argument that starts with a comment goes after
--.

EXPLAIN is a flag, not a statement, because EXPLAIN ANALYZE runs the
statement it explains, whatever it is: --explain prints the plan of the
checked query, --analyze runs it and prints the plan with each operator's
rows and time.`),
		Example: cli.Example(`
  # ADUs and bytes per direction
  $ abtq --archive /data/abt sql "SELECT direction, count(*), sum(size) FROM adus GROUP BY ALL"

  # A query kept in a file, written as Parquet
  $ abtq --archive /data/abt --format parquet --output big.parquet sql --file big-servers.sql

  # Where the time goes
  $ abtq --archive /data/abt sql --analyze "SELECT server_ip, count(*) FROM response_times GROUP BY ALL"`),
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var stmt string
			switch {
			case len(args) == 1 && file != "":
				return &usageError{errors.New("give the query as an argument or with --file, not both")}
			case explain && analyze:
				return &usageError{errors.New("give --explain or --analyze, not both")}
			case len(args) == 1:
				stmt = args[0]
			case file != "":
				b, err := os.ReadFile(file)
				if err != nil {
					return fmt.Errorf("read query: %w", err)
				}
				stmt = string(b)
			default:
				b, err := io.ReadAll(stdin)
				if err != nil {
					return fmt.Errorf("read query: %w", err)
				}
				stmt = string(b)
			}
			if strings.TrimSpace(stmt) == "" {
				return &usageError{errors.New("no query")}
			}
			how := runPlain
			switch {
			case explain:
				how = runExplain
			case analyze:
				how = runAnalyze
			}
			err := g.runQuery(ctx, func(*query.DB) (string, error) { return stmt, nil }, true, nil, stdout, how)
			if errors.Is(err, query.ErrRefused) {
				return fmt.Errorf("%w: %s", err, sqlRefusedHint)
			}
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&file, "file", "f", "", "read the query from this `file`")
	fl.BoolVar(&explain, "explain", false, "print the query's plan instead of running it")
	fl.BoolVar(&analyze, "analyze", false, "run the query and print its plan with each operator's rows and time (EXPLAIN ANALYZE)")
	return cmd
}

// timeRange parses --from/--to.
func (g *globals) timeRange() (query.Range, error) {
	r := query.Range{Sensor: g.sensor}
	for _, x := range []struct {
		flag, v string
		dst     *time.Time
	}{{"from", g.from, &r.From}, {"to", g.to, &r.To}} {
		if x.v == "" {
			continue
		}
		t, err := parseTime(x.v)
		if err != nil {
			return r, &usageError{fmt.Errorf("--%s %q: not an RFC 3339 time or YYYY-MM-DD date", x.flag, x.v)}
		}
		*x.dst = t
	}
	if !r.From.IsZero() && !r.To.IsZero() && !r.To.After(r.From) {
		return r, &usageError{errors.New("--to must be after --from")}
	}
	return r, nil
}

func parseTime(s string) (time.Time, error) {
	var err error
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		var t time.Time
		if t, err = time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, err
}

// params checks the time range and binds the filters; an unset filter is
// NULL.
func (g *globals) params(cmd *cobra.Command, f *filters) ([]any, error) {
	// The range is the views' (query.Range), not a parameter: the files
	// opened and the rows kept are the same for canned and ad-hoc SQL.
	if _, err := g.timeRange(); err != nil {
		return nil, err
	}
	opt := func(name string, v any) any {
		if fl := cmd.Flags().Lookup(name); fl != nil && fl.Changed {
			return v
		}
		switch name {
		case "limit", "bucket-size", "buckets", "bucket", "by", "period":
			if cmd.Flags().Lookup(name) != nil {
				return v // defaults apply
			}
		}
		return nil
	}
	if f.direction != "" && f.direction != "c2s" && f.direction != "s2c" {
		return nil, &usageError{fmt.Errorf("--direction %q: must be c2s or s2c", f.direction)}
	}
	if f.period != "" && f.period != "day" && f.period != "hour" {
		return nil, &usageError{fmt.Errorf("--period %q: must be day or hour", f.period)}
	}
	switch f.by {
	case "", "duration", "bytes_in", "bytes_out", "throughput":
	default:
		return nil, &usageError{fmt.Errorf("--by %q: must be duration, bytes_in, bytes_out or throughput", f.by)}
	}
	if cmd.Flags().Lookup("buckets") != nil && (f.buckets < 1 || f.bucketSize <= 0) {
		return nil, &usageError{errors.New("--buckets must be at least 1 and --bucket-size positive")}
	}
	return []any{
		sql.Named("server", opt("server", f.server)), sql.Named("port", opt("port", f.port)),
		sql.Named("direction", opt("direction", f.direction)), sql.Named("limit", opt("limit", f.limit)),
		sql.Named("period", opt("period", f.period)), sql.Named("by", opt("by", f.by)),
		sql.Named("bucket_size", opt("bucket-size", f.bucketSize)), sql.Named("buckets", opt("buckets", f.buckets)),
		sql.Named("bucket", opt("bucket", f.bucket)), sql.Named("min_bytes", opt("min-bytes", f.minBytes)),
	}, nil
}

// noteRollups says on stderr when some days of the range had no current
// rollup (their rows were computed from the ADU rows).
func noteRollups(db *query.DB, stderr io.Writer) {
	if st := db.Rollups(); st.Current < st.Days {
		fmt.Fprintf(stderr, "abtq: %d of %d days have no current rollup and were computed from the ADU rows (adu2parquet rollup updates them)\n",
			st.Days-st.Current, st.Days)
	}
}

// runHow is what runQuery does with the query.
type runHow uint8

const (
	runPlain   runHow = iota // run it, print its result
	runExplain               // print its plan (EXPLAIN)
	runAnalyze               // run it, print its plan with rows and times (EXPLAIN ANALYZE)
)

func (h runHow) String() string {
	switch h {
	case runExplain:
		return "explain"
	case runAnalyze:
		return "analyze"
	}
	return "run"
}

// runQuery opens the archive for the range and writes the result of the
// query pick chooses (or its plan, as how says); rollups asks for the view
// rollup_hist. A result for --output is written beside it under a
// temporary name and renamed into place only when complete.
func (g *globals) runQuery(ctx context.Context, pick func(*query.DB) (string, error), rollups bool, args []any, stdout io.Writer, how runHow) (err error) {
	r, err := g.timeRange()
	if err != nil {
		return err
	}
	format, err := g.outputFormat(stdout)
	if err != nil {
		return err
	}
	if format == "parquet" && how != runPlain {
		return &usageError{fmt.Errorf("--%s prints a plan: give --format table, tsv, csv or json", how)}
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
	if g.rewrite != nil {
		stmt = g.rewrite(stmt)
	}
	usedArgs := usedParams(stmt, args)
	if format == "parquet" {
		return db.Copy(ctx, stmt, g.output, usedArgs...)
	}
	var rows *sql.Rows
	if how == runPlain {
		rows, err = db.Query(ctx, stmt, usedArgs...)
	} else {
		rows, err = db.Explain(ctx, stmt, how == runAnalyze, usedArgs...)
	}
	if err != nil {
		return err
	}
	defer rows.Close()
	write := func(w io.Writer) error {
		if how != runPlain && (format == "table" || format == "tsv") {
			return writePlan(w, rows)
		}
		return writeRows(w, format, rows)
	}
	return g.writeOutput(stdout, write)
}

// writeOutput writes a result with write to --output, beside it under a
// temporary name renamed into place only when complete, or to stdout.
func (g *globals) writeOutput(stdout io.Writer, write func(io.Writer) error) error {
	if g.output == "" {
		return write(stdout)
	}
	out, err := query.CreateOutput(g.output)
	if err != nil {
		return err
	}
	if err := write(out); err != nil {
		return errors.Join(err, out.Discard())
	}
	return errors.Join(out.Publish(), out.Discard())
}

// usedParams keeps the named parameters the statement mentions (DuckDB
// rejects unused ones).
func usedParams(stmt string, args []any) []any {
	var out []any
	for _, a := range args {
		if n, ok := a.(sql.NamedArg); ok && mentions(stmt, n.Name) {
			out = append(out, a)
		}
	}
	return out
}

// mentions reports whether stmt uses the parameter $name (not merely a
// longer name that starts with it).
func mentions(stmt, name string) bool {
	for i := 0; ; {
		j := strings.Index(stmt[i:], "$"+name)
		if j < 0 {
			return false
		}
		end := i + j + 1 + len(name)
		if end == len(stmt) || !(stmt[end] == '_' || stmt[end] >= 'a' && stmt[end] <= 'z' || stmt[end] >= '0' && stmt[end] <= '9') {
			return true
		}
		i = end
	}
}
