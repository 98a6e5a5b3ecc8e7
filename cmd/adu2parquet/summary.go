package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/abt-dev/abt/internal/capture"
	"github.com/abt-dev/abt/internal/decode"
	"github.com/abt-dev/abt/internal/ingest"
)

// printSummary writes the run's figures and every nonzero "set aside"
// counter to w (standard error).
func printSummary(w io.Writer, inputs []string, caps []capture.Stats, dec *decode.Stats, eng *ingest.Engine, elapsed time.Duration) {
	st := eng.Stats()
	var bytes int64
	for _, c := range caps {
		bytes += c.Bytes
	}
	secs := elapsed.Seconds()
	fmt.Fprintf(w, "adu2parquet: %d input(s), %d packets (%d TCP segments), %.1f MB captured, %.2f s (%.0f packets/s)\n",
		len(inputs), dec.Packets, dec.Segments, float64(bytes)/1e6, secs, float64(dec.Packets)/max(secs, 1e-9))
	fmt.Fprintf(w, "  connections: %d tracked (%d began at the SYN-ACK, %d partial), peak table %d\n",
		st.Conns, st.ConnsSynAck, st.ConnsPartial, st.PeakConns)
	var recs []string
	for k := ingest.KindSYN; k <= ingest.KindPART; k++ {
		if n := st.Records[k]; n > 0 {
			recs = append(recs, fmt.Sprintf("%s %d", k, n))
		}
	}
	fmt.Fprintf(w, "  records: %s\n", strings.Join(recs, ", "))
	if c := dec.Nonzero(); len(c) > 0 {
		var parts []string
		for _, x := range c {
			if x.Name == "ok" || x.Name == "packets" || x.Name == "segments" {
				continue
			}
			parts = append(parts, fmt.Sprintf("%s %d", x.Name, x.Value))
		}
		if len(parts) > 0 {
			fmt.Fprintf(w, "  packets skipped: %s\n", strings.Join(parts, ", "))
		}
	}
	aside := []struct {
		name string
		n    uint64
	}{
		{"connections without a handshake (skipped)", st.SkippedNoSYN},
		{"connections filtered by --inbound-only", st.SkippedFilter},
		{"segments of untracked connections", st.SegsUntracked},
		{"segments after their connection ended", st.SegsAfterEnd},
		{"connections shed at the table cap", st.Evicted},
		{"  of which half-open", st.EvictedHalfOpen},
		{"untracked entries shed at the table cap", st.EvictedSkipped},
		{"sequence-number anomalies (resynchronised)", st.SeqAnomalies},
		{"implausible RSTs ignored", st.RSTIgnored},
		{"boundaries decided on incomplete evidence", st.Ambiguous},
		{"concurrent re-reads of held ADUs", st.Refolds},
		{"sequential pieces re-joined", st.MergedPieces},
		{"segments older than the latest (input not time-ordered)", st.TimeBackwards},
	}
	for _, a := range aside {
		if a.n > 0 {
			fmt.Fprintf(w, "  %s: %d\n", a.name, a.n)
		}
	}
	for i, c := range caps {
		if c.SnapLenExceeded > 0 || c.OrigLenRaised > 0 || c.TsClamped > 0 {
			fmt.Fprintf(w, "  %s: caplen over snaplen %d, caplen over wire length %d, timestamps clamped %d\n",
				inputs[i], c.SnapLenExceeded, c.OrigLenRaised, c.TsClamped)
		}
	}
}
