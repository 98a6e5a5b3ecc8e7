package pipeline

import (
	"github.com/abt-dev/abt/internal/adutext"
	"github.com/abt-dev/abt/internal/capture/live"
	"github.com/abt-dev/abt/internal/decode"
	"github.com/abt-dev/abt/internal/ingest"
	"github.com/abt-dev/abt/schema"
)

// Records lists the records the engine emitted, by kind (nonzero ones
// only).
func (r *Run) Records() []schema.Counter {
	es := r.eng.Stats()
	return recordCounters(&es)
}

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

// SetAside lists every packet, segment, connection or line the run set
// aside, by reason (nonzero ones only). The names are stable: they are
// stored in the runs table; Describe says what each counts.
func (r *Run) SetAside() []schema.Counter {
	es := r.eng.Stats()
	return setAsideCounters(&r.dec.Stats, &es, &r.logSet, &r.linkStats)
}

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

// Describe explains the set-aside counters' names (SetAside) in a run's
// summary; the packets_ ones are listed by name.
var Describe = map[string]string{
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
