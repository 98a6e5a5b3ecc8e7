package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/abt-dev/abt/internal/archive"
	"github.com/abt-dev/abt/internal/cli"
	"github.com/abt-dev/abt/internal/pipeline"
)

// printSummary writes the run's figures and every nonzero "set aside"
// counter to w (standard error). outErr is how writing the output ended:
// when the archive could not be written to the end, sum is what was
// published before the error.
func printSummary(w io.Writer, o *options, run *pipeline.Run, sum archive.Summary, elapsed time.Duration, outErr error) {
	es := run.Engine()
	dec := run.Decoded()
	logSet, logRecs := run.LogStats()
	var bytes int64
	for _, in := range run.Inputs() {
		bytes += in.Bytes
	}
	secs := elapsed.Seconds()
	if run.Logs() {
		fmt.Fprintf(w, "adu2parquet: %d input(s), %d log lines, %.1f MB read, %.2f s (%.0f lines/s)\n",
			len(run.Inputs()), logSet.Lines, float64(bytes)/1e6, secs, float64(logSet.Lines)/max(secs, 1e-9))
		fmt.Fprintf(w, "  connections: %d, records: %d\n", logSet.Conns, logRecs)
	} else {
		d := &dec
		fmt.Fprintf(w, "adu2parquet: %d input(s), %d packets (%d TCP segments), %.1f MB captured, %.2f s (%.0f packets/s)\n",
			len(run.Inputs()), d.Packets, d.Segments, float64(bytes)/1e6, secs, float64(d.Packets)/max(secs, 1e-9))
		fmt.Fprintf(w, "  connections: %d tracked (%d began at the SYN-ACK, %d partial), peak table %d\n",
			es.Conns, es.ConnsSynAck, es.ConnsPartial, es.PeakConns)
		if budget := int64(o.memoryBudget); budget > 0 {
			fmt.Fprintf(w, "  engine memory: peak %.1f MiB of the %.1f MiB budget\n",
				float64(es.PeakMemory)/(1<<20), float64(budget)/(1<<20))
		} else {
			fmt.Fprintf(w, "  engine memory: peak %.1f MiB (no budget)\n", float64(es.PeakMemory)/(1<<20))
		}
		var recs []string
		for _, c := range run.Records() {
			recs = append(recs, fmt.Sprintf("%s %d", c.Name, c.Value))
		}
		fmt.Fprintf(w, "  records: %s\n", strings.Join(recs, ", "))
	}
	if run.Stopped() {
		fmt.Fprintf(w, "  live capture on %s stopped by a signal\n", strings.Join(o.ifaces, ", "))
	}
	if arch := run.Archive(); arch != nil {
		perADU := 0.0
		if sum.ADUs > 0 {
			perADU = float64(sum.Bytes) / float64(sum.ADUs)
		}
		switch {
		case errors.Is(outErr, archive.ErrNotCommitted):
			fmt.Fprintf(w, "  archive: %s, sensor %s, run %s interrupted before it committed: nothing archived\n",
				o.out, arch.Sensor(), arch.RunID())
		case outErr != nil && !errors.Is(outErr, context.Canceled):
			fmt.Fprintf(w, "  archive: %s, sensor %s, run %s failed; published before the error: %d ADUs, %d connections, %d files, %.1f MB\n",
				o.out, arch.Sensor(), arch.RunID(), sum.ADUs, sum.Conns, sum.Files, float64(sum.Bytes)/1e6)
		default:
			fmt.Fprintf(w, "  archive: %s, sensor %s, run %s: %d ADUs, %d connections, %d files, %.1f MB written (%.1f bytes per ADU)\n",
				o.out, arch.Sensor(), arch.RunID(), sum.ADUs, sum.Conns, sum.Files, float64(sum.Bytes)/1e6, perADU)
		}
	}
	if sum.ShedADUs+sum.ShedConns > 0 {
		fmt.Fprintf(w, "  shed while the archive's disk was below --disk-floor: %d ADUs, %d connections\n", sum.ShedADUs, sum.ShedConns)
	}
	var skipped []string
	for _, c := range run.SetAside() {
		if name, ok := strings.CutPrefix(c.Name, "packets_"); ok {
			skipped = append(skipped, fmt.Sprintf("%s %d", name, c.Value))
			continue
		}
		fmt.Fprintf(w, "  %s: %d\n", pipeline.Describe[c.Name], c.Value)
	}
	if len(skipped) > 0 {
		fmt.Fprintf(w, "  packets skipped: %s\n", strings.Join(skipped, ", "))
	}
}

// interrupted is the error of a run stopped by a signal, while it read
// (feedErr) or while it updated the rollups after the archive was closed
// (outErr): what was published and how the run is recorded. An error
// besides the interruption (a disk full, say) comes first, and then the
// summary is what says what was kept.
func interrupted(run *pipeline.Run, sum archive.Summary, feedErr, finErr, outErr error) error {
	var other []error
	for _, err := range []error{feedErr, finErr, outErr} {
		for _, e := range unjoin(err) {
			if !errors.Is(e, context.Canceled) && !errors.Is(e, archive.ErrNotCommitted) {
				other = append(other, e)
			}
		}
	}
	ie := &cli.Interrupted{Err: context.Canceled}
	if errors.Is(outErr, archive.ErrNotCommitted) {
		ie.Err = errors.Join(context.Canceled, archive.ErrNotCommitted)
	}
	if len(other) > 0 {
		return errors.Join(joinDistinct(other...), ie)
	}
	arch := run.Archive()
	switch {
	case arch == nil:
		ie.Kept = "the records of what was read before it are written"
	case errors.Is(outErr, archive.ErrNotCommitted):
		// A replacement, or a run reading standard input, commits only
		// when it completes (archive.Archive.Close).
		ie.Kept = fmt.Sprintf("run %s was not committed (a replacement or a run reading standard input commits only when it completes): "+
			"nothing archived, the archive is as it was", arch.RunID())
	case !errors.Is(feedErr, context.Canceled):
		ie.Kept = fmt.Sprintf("run %s is archived complete, but its days' rollups were not all updated ('adu2parquet rollup' updates them)", arch.RunID())
	default:
		ie.Kept = fmt.Sprintf("run %s published %d ADUs and %d connections (%d files) and is recorded as interrupted; "+
			"archiving the same inputs again replaces it", arch.RunID(), sum.ADUs, sum.Conns, sum.Files)
	}
	return ie
}

// unjoin lists the errors joined in err (err itself when it is not a join).
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	return []error{err}
}

// logSummary is printSummary as one log record (--log-format text or json):
// the run's figures as attributes.
func logSummary(msg *messages, o *options, run *pipeline.Run, sum archive.Summary, elapsed time.Duration, outErr error) {
	es := run.Engine()
	dec := run.Decoded()
	attrs := []any{"seconds", elapsed.Seconds(), "packets", dec.Packets, "tcp_segments", dec.Segments,
		"connections_tracked", es.Conns, "peak_table", es.PeakConns}
	for _, c := range run.Records() {
		attrs = append(attrs, "records_"+c.Name, c.Value)
	}
	if o.ifaces != nil {
		attrs = append(attrs, "interfaces", strings.Join(o.ifaces, ","), "drops", run.LinkStats().Drops, "stopped_by_signal", run.Stopped())
	}
	if arch := run.Archive(); arch != nil {
		attrs = append(attrs, "archive", o.out, "sensor", arch.Sensor(), "run_id", arch.RunID(),
			"adus", sum.ADUs, "connections", sum.Conns, "files", sum.Files, "bytes_written", sum.Bytes)
		if sum.ShedADUs+sum.ShedConns > 0 {
			attrs = append(attrs, "adus_shed_disk_floor", sum.ShedADUs, "conns_shed_disk_floor", sum.ShedConns)
		}
	}
	for _, c := range run.SetAside() {
		attrs = append(attrs, c.Name, c.Value)
	}
	level, sentence := slog.LevelInfo, "run ended"
	if outErr != nil {
		level, sentence = slog.LevelError, "run ended: "+outErr.Error()
	}
	msg.say(level, sentence, attrs...)
}
