package main

import (
	"context"
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
	"github.com/abt-dev/abt/internal/partition"
	"github.com/abt-dev/abt/internal/rollup"
)

// usageError marks a bad flag or argument (exit status 2).
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg := defaultConfig()
	var (
		start     string
		rollups   bool
		anomalies []string
	)
	cmd := &cobra.Command{
		Use:   "abtgen --out <dir> [flags]",
		Short: "Write a large synthetic archive for query benchmarks",
		Long: strings.TrimSpace(`
abtgen writes an archive of synthetic a-b-t connection vectors drawn from
distributions, without packets: --days of hours from --start with a diurnal
pattern (more connections by day, fewer at weekends), --servers servers with
Zipf-like popularity and each its own response-time scale, sequential
connections of 1 to 10 exchanges (and a few concurrent
ones), lognormal request sizes, lognormal-with-Pareto-tail response sizes,
lognormal think and response times. It stops after exactly --adus ADUs.

Rows go through the archive writer adu2parquet uses (one run, sensor
--sensor, run id abtgen-s<seed>), in time order, so the files are what
adu2parquet writes. The same seed and flags give the same rows. --csv
writes the same ADU rows as gzip'd CSV (the columns of the adus view) for
comparisons with a CSV route. Progress and rate go to standard error.

--anomaly injects a server performance anomaly with a known answer, for
testing anomaly detection (abtq anomalies); it may be given several times.
Its value is comma-separated key=value pairs:
  server=  the server: IP:PORT of a generated server, or #N, the N-th
           busiest (#0 is the most popular); required
  from=    the window's start, UTC: YYYY-MM-DD or YYYY-MM-DDTHH:MM
           (default: --start)
  for=     the window's length, a Go duration such as 72h or 90m; the
           window lies within --days (default: to the end, the rows
           generated after the last day included)
and at least one effect, each with a factor F of at most 1000:
  scale=F    the server's response times multiplied by F (F > 0)
  spread=F   the lognormal spread (sigma) of its response times multiplied
             by F, with the same median (F > 0)
  load=F     its Zipf weight multiplied by F (F >= 1) for the connections
             that start in the window: with the same total rate, its
             connections grow F/(1+(F-1)p) times (p its share), about F
             times for a server with a small share; same response times
  weekend=F  its response times multiplied by F on Saturdays and Sundays
             (UTC) in the window: weekly seasonality, not an anomaly
A response-time effect holds for the requests whose response would start
in the window; it changes no concurrent connection. Effects that hold at
once multiply. The anomalies, normalised, are part of the run's input name
and fingerprint; without --anomaly, rows, name and fingerprint are those
of the model alone.`),
		Example: cli.Example(`
  # A month, 100 M ADUs, 5000 servers
  $ abtgen --out /data/bench --adus 100000000 --servers 5000 --days 30 --seed 1

  # A small archive and the same rows as CSV
  $ abtgen --out /tmp/a --adus 10000 --csv /tmp/a.csv.gz

  # Two weeks in which the busiest server is 15 times slower for 3 days
  $ abtgen --out /tmp/slow --adus 200000 --servers 50 --days 14 --anomaly server=#0,from=2008-04-08,for=72h,scale=15`),
		Args:          cobra.NoArgs,
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.out == "" {
				return &usageError{errors.New("--out is required")}
			}
			if cfg.adus < 1 || cfg.servers < 1 || cfg.days < 1 {
				return &usageError{errors.New("--adus, --servers and --days must be at least 1")}
			}
			if cfg.servers > 1<<24 {
				return &usageError{errors.New("--servers must be at most 16777216")}
			}
			t, err := time.Parse("2006-01-02", start)
			if err != nil {
				return &usageError{fmt.Errorf("--start %q: not a YYYY-MM-DD date", start)}
			}
			cfg.start = t.UTC()
			if cfg.concurrent < 0 || cfg.concurrent > 1 {
				return &usageError{errors.New("--concurrent must be between 0 and 1")}
			}
			for _, spec := range anomalies {
				a, err := parseAnomaly(spec, cfg.start, cfg.days, cfg.servers)
				if err != nil {
					return &usageError{err}
				}
				cfg.anomalies = append(cfg.anomalies, a)
			}
			sum, err := generate(ctx, cfg, stderr)
			if errors.Is(err, context.Canceled) {
				// The run keeps its id (abtgen-s<seed>): the same seed cannot
				// archive into the same directory again.
				kept := fmt.Sprintf("the hours published before it stay in %s as an unfinished run "+
					"(remove %[1]s before running abtgen again with --seed %d)", cfg.out, cfg.seed)
				if cfg.csv != "" {
					kept += "; " + cfg.csv + " not written"
				}
				return &cli.Interrupted{Kept: kept, Err: err}
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(stderr, "abtgen: %d ADUs, %d connections, %d files, %.1f MB in %s (%.0f ADUs/s)\n",
				sum.adus, sum.conns, sum.files, float64(sum.bytes)/1e6, sum.elapsed.Round(time.Millisecond),
				float64(sum.adus)/sum.elapsed.Seconds())
			if !rollups {
				return nil
			}
			// As adu2parquet does after a run: the daily rollups.
			began := time.Now()
			var st rollup.UpdateStats
			b, err := rollup.NewBuilder(ctx, cfg.out, 0)
			if err == nil {
				st, err = b.Update(ctx, rollup.UpdateOptions{Sensor: cfg.sensor})
				err = errors.Join(err, b.Close())
			}
			if errors.Is(err, context.Canceled) {
				return &cli.Interrupted{Err: err,
					Kept: "the archive is written complete, but its rollups were not all built ('adu2parquet rollup' builds them)"}
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(stderr, "abtgen: rollups of %d days in %s\n", st.Built, time.Since(began).Round(time.Millisecond))
			return nil
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{cli.FlagError(err)} })
	cli.SetVersion(cmd)
	f := cmd.Flags()
	f.StringVar(&cfg.out, "out", "", "archive `directory` to write (created if needed)")
	f.Int64Var(&cfg.adus, "adus", cfg.adus, "ADUs to write")
	f.IntVar(&cfg.servers, "servers", cfg.servers, "number of servers")
	f.IntVar(&cfg.days, "days", cfg.days, "days of data")
	f.StringVar(&start, "start", "2008-04-01", "first day (UTC, YYYY-MM-DD)")
	f.Uint64Var(&cfg.seed, "seed", cfg.seed, "random seed: the same seed and flags give the same rows")
	f.Float64Var(&cfg.concurrent, "concurrent", cfg.concurrent, "share of concurrent connections")
	f.StringVar(&cfg.sensor, "sensor", cfg.sensor, "sensor name")
	f.StringVar(&cfg.csv, "csv", "", "also write the ADU rows to this gzip'd CSV `file`")
	f.Int64Var(&cfg.rowGroupRows, "row-group-rows", partition.DefaultRowGroupRows, "Parquet row group size in rows (for measurements)")
	f.BoolVar(&rollups, "rollup", true, "build the daily rollups, as adu2parquet does")
	// StringArray, not StringSlice: a spec holds commas.
	f.StringArrayVar(&anomalies, "anomaly", nil,
		"inject a server performance anomaly (repeatable; see above): `spec` is "+
			"server={IP:PORT | #N}[,from=<time>][,for=<duration>],{scale | spread | load | weekend}=<F>...")
	f.BoolVarP(&cfg.quiet, "quiet", "q", false, "no progress lines")
	cmd.SetArgs(args)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	err := cmd.Execute()
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "abtgen: %s\n", err)
	var ue *usageError
	switch {
	case errors.As(err, &ue), strings.Contains(err.Error(), "unknown flag"), strings.Contains(err.Error(), "unknown command"),
		strings.Contains(err.Error(), "accepts "):
		fmt.Fprintln(stderr, "Run 'abtgen --help' for usage.")
		return 2
	case errors.Is(err, context.Canceled):
		return 130
	}
	return 1
}
