package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/abt-dev/abt/internal/archive"
	"github.com/abt-dev/abt/internal/cli"
	"github.com/abt-dev/abt/internal/rollup"
)

// compactMain merges each hour's part files into one.
func compactMain(ctx context.Context, o *compactOptions, stdout, stderr io.Writer) error {
	fromT, toT, err := o.timeRange()
	if err != nil {
		return err
	}
	if err := checkArchive(o.out); err != nil {
		return err
	}
	uo := rollup.UpdateOptions{Sensor: o.sensor, From: fromT, To: toT}
	from, to := int64(math.MinInt64), int64(math.MaxInt64)
	if !fromT.IsZero() {
		from = fromT.UnixMicro()
	}
	if !toT.IsZero() {
		to = toT.UnixMicro()
	}
	logf := func(format string, args ...any) {
		if !o.quiet {
			fmt.Fprintf(stderr, "adu2parquet: "+format+"\n", args...)
		}
	}
	res, err := archive.Compact(o.out, o.sensor, from, to, o.reencode, cli.Producer("adu2parquet"), logf)
	if !o.quiet {
		var merged, reencoded, skipped int
		for _, r := range res {
			if r.Skipped != "" {
				skipped++
				fmt.Fprintf(stderr, "adu2parquet: %s %s %s: skipped (%s)\n", r.Table, r.Sensor, r.Hour, r.Skipped)
				continue
			}
			if r.Reencoded {
				reencoded++
				fmt.Fprintf(stderr, "adu2parquet: %s %s %s: rewritten with today's encodings, %d rows\n", r.Table, r.Sensor, r.Hour, r.Rows)
				continue
			}
			merged++
			fmt.Fprintf(stderr, "adu2parquet: %s %s %s: %d parts -> 1 file, %d rows\n", r.Table, r.Sensor, r.Hour, r.Parts, r.Rows)
		}
		if err == nil {
			fmt.Fprintf(stderr, "adu2parquet: compacted %d hour(s), rewrote %d, skipped %d\n", merged, reencoded, skipped)
		}
	}
	if err == nil && o.rollup {
		// Compaction renamed the days' parts: their rollups are rebuilt.
		err = refreshRollups(ctx, o.out, uo, o.quiet, stderr)
		if errors.Is(err, context.Canceled) {
			// archive.Compact itself runs to its end.
			return &cli.Interrupted{Err: err, Kept: "the hours are compacted, but their days' rollups were not all updated ('adu2parquet rollup' updates them)"}
		}
	}
	return err
}
