package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/abt-dev/abt/internal/cli"
	"github.com/abt-dev/abt/internal/rollup"
)

// rollupOptions are the parsed command line of the rollup command.
type rollupOptions struct {
	maintFlags
	force bool
}

func newRollupCmd(runF func(*rollupOptions) error) *cobra.Command {
	o := &rollupOptions{}
	cmd := newMaintCmd("rollup", "Build the daily rollups that abtq's distribution queries read", `
rollup brings the archive's daily rollups up to date: for each sensor and
day, histograms of ADU sizes per direction, of server response times and of
connection RTTs, and connection totals, per server and port and over all
servers, in bins of 1/64 octave (exact below 128). abtq's adu-sizes,
response-times, response-time-cdf and top-servers read them for whole-day
ranges instead of every row.

A rollup records which part files it was built from; a day whose parts have
changed since (late parts, compaction, a replaced run) is rebuilt, a current
one is left alone (--force rebuilds it). adu2parquet already updates the
days each run and each compaction touched, so this command is for archives
written before rollups existed or with --rollup=false. It is safe to run
while ingest goes on: a rollup made while a day is still being written is
simply rebuilt later.`, `
  # Bring every rollup of the archive up to date
  $ adu2parquet rollup --out /data/abt

  # Rebuild one sensor's April
  $ adu2parquet rollup --out /data/abt --sensor campus-edge --from 2008-04-01 --to 2008-05-01 --force`,
		&o.maintFlags, "days", func() error { return runF(o) })
	cmd.Flags().BoolVar(&o.force, "force", false, "rebuild rollups that are current too")
	return cmd
}

// rollupMain runs the rollup command.
func rollupMain(ctx context.Context, o *rollupOptions, stderr io.Writer) error {
	from, to, err := o.timeRange()
	if err != nil {
		return err
	}
	if err := checkArchive(o.out); err != nil {
		return err
	}
	uo := rollup.UpdateOptions{Sensor: o.sensor, From: from, To: to, Force: o.force}
	err = updateRollups(ctx, o.out, uo, o.quiet, stderr)
	if errors.Is(err, context.Canceled) {
		return &cli.Interrupted{Err: err, Kept: "the rollups built before it are kept; running 'adu2parquet rollup' again builds the rest"}
	}
	return err
}

// refreshRollups updates rollups after a run or a compaction. The rows are
// safely archived by then and rollups only speed queries up, so a failure
// is a warning: abtq reads the rows of days without a current rollup.
func refreshRollups(ctx context.Context, root string, uo rollup.UpdateOptions, quiet bool, stderr io.Writer) error {
	err := updateRollups(ctx, root, uo, quiet, stderr)
	if err == nil || errors.Is(err, context.Canceled) {
		return err
	}
	fmt.Fprintf(stderr, "adu2parquet: warning: %v (queries read the rows of those days; 'adu2parquet rollup' retries)\n", err)
	return nil
}

// updateRollups updates the selected days' rollups and reports what it did.
func updateRollups(ctx context.Context, root string, uo rollup.UpdateOptions, quiet bool, stderr io.Writer) error {
	start := time.Now()
	b, err := rollup.NewBuilder(ctx, root, 0)
	if err != nil {
		return err
	}
	st, err := b.Update(ctx, uo)
	err = joinDistinct(err, b.Close())
	if !quiet {
		fmt.Fprintf(stderr, "adu2parquet: rollups of %d day(s): %d built, %d current, %d removed, %d failed, in %.1fs\n",
			st.Days, st.Built, st.Current, st.Removed, st.Failed, time.Since(start).Seconds())
	}
	if err != nil {
		return fmt.Errorf("update rollups: %w", err)
	}
	return nil
}
