package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/abt-dev/abt/internal/adutext"
	"github.com/abt-dev/abt/internal/archive"
	"github.com/abt-dev/abt/internal/capture/live"
	"github.com/abt-dev/abt/internal/cli"
	"github.com/abt-dev/abt/internal/decode"
	"github.com/abt-dev/abt/internal/ingest"
	"github.com/abt-dev/abt/schema"
)

// recordCounters lists the records emitted, by kind.
func recordCounters(st *ingest.Stats) []schema.Counter {
	var out []schema.Counter
	for k := ingest.KindSYN; k <= ingest.KindPART; k++ {
		if n := st.Records[k]; n > 0 {
			out = append(out, schema.Counter{Name: k.String(), Value: int64(n)})
		}
	}
	return out
}

// setAsideCounters lists every packet, segment, connection or line set
// aside, by reason (nonzero ones only). The names are stable: they are
// stored in the runs table.
func setAsideCounters(dec *decode.Stats, st *ingest.Stats, logs *adutext.ReaderStats, ls *live.Stats) []schema.Counter {
	var out []schema.Counter
	add := func(name string, n uint64) {
		if n > 0 {
			out = append(out, schema.Counter{Name: name, Value: int64(n)})
		}
	}
	add("packets_dropped_kernel", ls.Drops)
	add("packets_dropped_interface", ls.IfaceDrops)
	add("packets_other_interface", ls.Foreign)
	for _, c := range dec.Nonzero() {
		switch c.Name {
		case "ok", "packets", "segments":
			continue
		}
		add("packets_"+c.Name, c.Value)
	}
	add("conns_without_handshake", st.SkippedNoSYN)
	add("conns_filtered_inbound_only", st.SkippedFilter)
	add("segments_untracked", st.SegsUntracked)
	add("segments_after_end", st.SegsAfterEnd)
	add("conns_evicted", st.Evicted)
	add("conns_evicted_half_open", st.EvictedHalfOpen)
	add("untracked_entries_evicted", st.EvictedSkipped)
	add("closed_keys_evicted", st.EvictedClosed)
	add("held_released_early", st.HeldEarly)
	add("sequence_anomalies", st.SeqAnomalies)
	add("rst_ignored", st.RSTIgnored)
	add("boundaries_ambiguous", st.Ambiguous)
	add("held_refolds", st.Refolds)
	add("held_pieces_merged", st.MergedPieces)
	add("segments_time_backwards", st.TimeBackwards)
	add("segments_time_outliers", st.TimeOutliers)
	add("records_restamped", st.RecordsRestamped)
	add("records_written_early", st.WrittenEarly)
	add("log_lines_malformed", uint64(logs.Malformed))
	add("log_lines_time_backwards", uint64(logs.TimeBackwards))
	add("log_inc_untimed", uint64(logs.UntimedINC))
	add("log_ends_synthesized", uint64(logs.EndsSynthesized))
	add("log_think_peer_guessed", uint64(logs.PeerGuessed))
	add("log_held_released_early", uint64(logs.QueueReleased))
	add("log_conns_evicted", uint64(logs.Evicted))
	return out
}

// describe explains the set-aside counter names in the summary.
var describe = map[string]string{
	"conns_without_handshake":     "connections without a handshake (skipped)",
	"conns_filtered_inbound_only": "connections filtered by --inbound-only",
	"segments_untracked":          "segments of untracked connections",
	"segments_after_end":          "segments after their connection ended",
	"conns_evicted":               "connections shed (table full: --max-conns or --memory-budget)",
	"conns_evicted_half_open":     "  of which half-open",
	"untracked_entries_evicted":   "untracked entries shed (table full)",
	"closed_keys_evicted":         "closed connections' keys shed before their linger (table full)",
	"held_released_early":         "held ADUs released before --hold passed (--memory-budget)",
	"sequence_anomalies":          "sequence-number anomalies (resynchronised)",
	"rst_ignored":                 "implausible RSTs ignored",
	"boundaries_ambiguous":        "boundaries decided on incomplete evidence",
	"held_refolds":                "concurrent re-reads of held ADUs",
	"held_pieces_merged":          "sequential pieces re-joined",
	"segments_time_backwards":     "segments older than the latest (input not time-ordered)",
	"segments_time_outliers":      "segments with unusable or outlying times (clamped)",
	"records_restamped":           "records decided before one already written, written at its time",
	"records_written_early":       "records written before an older one another worker held (--memory-budget, --workers)",
	"log_lines_malformed":         "malformed log lines skipped",
	"log_lines_time_backwards":    "log lines older than the latest",
	"log_inc_untimed":             "INC lines without a time (X.X)",
	"log_ends_synthesized":        "END records the log did not contain",
	"log_think_peer_guessed":      "ADUs whose next line did not say if the other side ended their think time (taken as it did)",
	"log_held_released_early":     "  of which released before their connection's next line (--memory-budget)",
	"log_conns_evicted":           "  of which connections shed (table full: --max-conns)",
}

// printSummary writes the run's figures and every nonzero "set aside"
// counter to w (standard error). outErr is how writing the output ended:
// when the archive could not be written to the end, sum is what was
// published before the error.
func printSummary(w io.Writer, st *runState, sum archive.Summary, elapsed time.Duration, outErr error) {
	es := st.eng.Stats()
	var bytes int64
	for _, in := range st.inputs {
		bytes += in.Bytes
	}
	secs := elapsed.Seconds()
	if st.logs {
		fmt.Fprintf(w, "adu2parquet: %d input(s), %d log lines, %.1f MB read, %.2f s (%.0f lines/s)\n",
			len(st.inputs), st.logSet.Lines, float64(bytes)/1e6, secs, float64(st.logSet.Lines)/max(secs, 1e-9))
		fmt.Fprintf(w, "  connections: %d, records: %d\n", st.logSet.Conns, st.logRecs)
	} else {
		d := &st.dec.Stats
		fmt.Fprintf(w, "adu2parquet: %d input(s), %d packets (%d TCP segments), %.1f MB captured, %.2f s (%.0f packets/s)\n",
			len(st.inputs), d.Packets, d.Segments, float64(bytes)/1e6, secs, float64(d.Packets)/max(secs, 1e-9))
		fmt.Fprintf(w, "  connections: %d tracked (%d began at the SYN-ACK, %d partial), peak table %d\n",
			es.Conns, es.ConnsSynAck, es.ConnsPartial, es.PeakConns)
		if st.eo.MemoryBudget > 0 {
			fmt.Fprintf(w, "  engine memory: peak %.1f MiB of the %.1f MiB budget\n",
				float64(es.PeakMemory)/(1<<20), float64(st.eo.MemoryBudget)/(1<<20))
		} else {
			fmt.Fprintf(w, "  engine memory: peak %.1f MiB (no budget)\n", float64(es.PeakMemory)/(1<<20))
		}
		var recs []string
		for _, c := range recordCounters(&es) {
			recs = append(recs, fmt.Sprintf("%s %d", c.Name, c.Value))
		}
		fmt.Fprintf(w, "  records: %s\n", strings.Join(recs, ", "))
	}
	if st.stopped {
		fmt.Fprintf(w, "  live capture on %s stopped by a signal\n", strings.Join(st.o.ifaces, ", "))
	}
	if st.sink.arch != nil {
		perADU := 0.0
		if sum.ADUs > 0 {
			perADU = float64(sum.Bytes) / float64(sum.ADUs)
		}
		switch {
		case errors.Is(outErr, archive.ErrNotCommitted):
			fmt.Fprintf(w, "  archive: %s, sensor %s, run %s interrupted before it committed: nothing archived\n",
				st.o.out, st.sink.arch.Sensor(), st.sink.arch.RunID())
		case outErr != nil && !errors.Is(outErr, context.Canceled):
			fmt.Fprintf(w, "  archive: %s, sensor %s, run %s failed; published before the error: %d ADUs, %d connections, %d files, %.1f MB\n",
				st.o.out, st.sink.arch.Sensor(), st.sink.arch.RunID(), sum.ADUs, sum.Conns, sum.Files, float64(sum.Bytes)/1e6)
		default:
			fmt.Fprintf(w, "  archive: %s, sensor %s, run %s: %d ADUs, %d connections, %d files, %.1f MB written (%.1f bytes per ADU)\n",
				st.o.out, st.sink.arch.Sensor(), st.sink.arch.RunID(), sum.ADUs, sum.Conns, sum.Files, float64(sum.Bytes)/1e6, perADU)
		}
	}
	if sum.ShedADUs+sum.ShedConns > 0 {
		fmt.Fprintf(w, "  shed while the archive's disk was below --disk-floor: %d ADUs, %d connections\n", sum.ShedADUs, sum.ShedConns)
	}
	var skipped []string
	for _, c := range setAsideCounters(&st.dec.Stats, &es, &st.logSet, &st.liveStats) {
		if name, ok := strings.CutPrefix(c.Name, "packets_"); ok {
			skipped = append(skipped, fmt.Sprintf("%s %d", name, c.Value))
			continue
		}
		fmt.Fprintf(w, "  %s: %d\n", describe[c.Name], c.Value)
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
func (st *runState) interrupted(sum archive.Summary, feedErr, finErr, outErr error) error {
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
	arch := st.sink.arch
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
func (st *runState) logSummary(sum archive.Summary, elapsed time.Duration, outErr error) {
	es := st.eng.Stats()
	attrs := []any{"seconds", elapsed.Seconds(), "packets", st.dec.Stats.Packets, "tcp_segments", st.dec.Stats.Segments,
		"connections_tracked", es.Conns, "peak_table", es.PeakConns}
	for _, c := range recordCounters(&es) {
		attrs = append(attrs, "records_"+c.Name, c.Value)
	}
	if st.o.ifaces != nil {
		attrs = append(attrs, "interfaces", strings.Join(st.o.ifaces, ","), "drops", st.liveStats.Drops, "stopped_by_signal", st.stopped)
	}
	if st.sink.arch != nil {
		attrs = append(attrs, "archive", st.o.out, "sensor", st.sink.arch.Sensor(), "run_id", st.sink.arch.RunID(),
			"adus", sum.ADUs, "connections", sum.Conns, "files", sum.Files, "bytes_written", sum.Bytes)
		if sum.ShedADUs+sum.ShedConns > 0 {
			attrs = append(attrs, "adus_shed_disk_floor", sum.ShedADUs, "conns_shed_disk_floor", sum.ShedConns)
		}
	}
	for _, c := range setAsideCounters(&st.dec.Stats, &es, &st.logSet, &st.liveStats) {
		attrs = append(attrs, c.Name, c.Value)
	}
	level, msg := slog.LevelInfo, "run ended"
	if outErr != nil {
		level, msg = slog.LevelError, "run ended: "+outErr.Error()
	}
	st.msg.say(level, msg, attrs...)
}
