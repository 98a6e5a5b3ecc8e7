package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/spf13/cobra"

	"github.com/abt-dev/abt/internal/archive"
	"github.com/abt-dev/abt/internal/cli"
	"github.com/abt-dev/abt/internal/rollup"
)

// migrateOptions are the parsed command line of the migrate command.
type migrateOptions struct {
	out    string
	dryRun bool
	rollup bool
	quiet  bool
}

func newMigrateCmd(runF func(*migrateOptions) error) *cobra.Command {
	o := &migrateOptions{}
	cmd := &cobra.Command{
		Use:   "migrate --out <dir> [flags]",
		Short: "Bring an archive written by an earlier version to today's layout",
		Long: strings.TrimSpace(`
migrate brings an archive written by an earlier adu2parquet to today's
layout and encodings, in place:

  - hour directories are renamed from hour=00 ... hour=09 to hour=0 ...
    hour=9, so that every engine (DuckDB, Polars, Spark) reads hour as an
    integer without being told; hours 10 to 23 are named the same either way;
  - parts written with Parquet version 2 pages or DELTA encodings, which
    older readers refuse, are rewritten (compact --reencode), and hours of
    several parts merged.

Each directory is renamed under its hour's lock and each hour rewritten in
one rename, while readers go on (they read what they had opened, or pin).
No run may be writing meanwhile: migrate refuses while one is (stop the
sensor first). --dry-run says what would change and changes nothing.
Until an archive is migrated, adu2parquet keeps writing into its existing
hour=0H directories, so an hour is always one directory.`),
		Example: cli.Example(`
  # What would change
  $ adu2parquet migrate --out /data/abt --dry-run

  # Migrate, with the sensor stopped
  $ adu2parquet migrate --out /data/abt`),
		Args:          cobra.NoArgs,
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(*cobra.Command, []string) error {
			if err := checkArchive(o.out); err != nil {
				return err
			}
			return runF(o)
		},
	}
	cmd.SetFlagErrorFunc(flagError)
	f := cmd.Flags()
	f.StringVarP(&o.out, "out", "o", "archive", "archive `directory`")
	f.BoolVar(&o.dryRun, "dry-run", false, "say what would change, change nothing")
	f.BoolVar(&o.rollup, "rollup", true, "update the daily rollups of the days rewritten")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "no messages on standard error")
	return cmd
}

// migrateMain renames the old hour directories, then rewrites the parts in
// older encodings.
func migrateMain(ctx context.Context, o *migrateOptions, stdout, stderr io.Writer) error {
	say := func(format string, args ...any) {
		if !o.quiet {
			fmt.Fprintf(stderr, "adu2parquet: "+format+"\n", args...)
		}
	}
	producer := cli.Producer("adu2parquet")
	plan, err := archive.Relayout(o.out, o.dryRun, producer, say)
	if err != nil {
		return err
	}
	if o.dryRun {
		fmt.Fprintf(stdout, "hour directories to rename (hour=0H to hour=H): %d\n", len(plan.OldHours))
		for _, d := range plan.OldHours {
			fmt.Fprintf(stdout, "  %s\n", d)
		}
		fmt.Fprintf(stdout, "parts to rewrite (version 2 pages or DELTA encodings): %d, %d bytes\n", plan.LegacyParts, plan.LegacyBytes)
		return nil
	}
	res, err := archive.Compact(o.out, "", math.MinInt64, math.MaxInt64, true, producer, say)
	rewritten := 0
	for _, r := range res {
		if r.Skipped == "" {
			rewritten++
		}
	}
	say("migrated: %d hour directories renamed, %d hours rewritten", len(plan.OldHours), rewritten)
	if err == nil && o.rollup && rewritten > 0 {
		err = refreshRollups(ctx, o.out, rollup.UpdateOptions{}, o.quiet, stderr)
		if errors.Is(err, context.Canceled) {
			return &cli.Interrupted{Err: err, Kept: "the archive is migrated, but its days' rollups were not all updated ('adu2parquet rollup' updates them)"}
		}
	}
	return err
}
