package export

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/adutext"
	"github.com/abt-dev/abt/internal/ingest"
	"github.com/abt-dev/abt/schema"
)

// TestAdudumpCONC: a sequential ADU whose think time is long enough to be
// a quiet-time split waits, in the text reader, for its connection's next
// line; when that is the CONC line, its direction decides the ADU's
// think_to_peer. The exported CONC line makes the reader give the ADU the
// think_to_peer the archive holds, both ways. (No bundled capture has such
// a line; worked out by hand.)
func TestAdudumpCONC(t *testing.T) {
	p := func(v int64) *int64 { return &v }
	for _, peer := range []bool{true, false} {
		t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
		d := &dialog{
			key: connKey{"s", "r", 1},
			c: schema.Connection{Ts: t0, ServerIP: "192.0.2.1", ServerPort: 80, ClientIP: "198.51.100.7", ClientPort: 40000,
				RunID: "r", ConnID: 1, SynUs: p(0), RTTUs: p(1000), EstablishedUs: p(2000), ConcurrentUs: p(900_000),
				EndUs: 2_000_000, Handshake: "syn", Concurrent: true, EndReason: "fin"},
			adus: []schema.ADU{
				// A request, decided 3,000 + 100 + 800,000 µs in: its think
				// time (800 ms) is above the quiet time (500 ms).
				{Ts: t0 + 3000, ServerIP: "192.0.2.1", ServerPort: 80, ClientIP: "198.51.100.7", ClientPort: 40000, RunID: "r", ConnID: 1,
					Ordinal: 0, Direction: "c2s", Size: 300, DurationUs: p(100), ThinkUs: p(800_000), Complete: true, ThinkToPeer: peer},
				// Concurrent ADUs after the CONC line.
				{Ts: t0 + 803_100, ServerIP: "192.0.2.1", ServerPort: 80, ClientIP: "198.51.100.7", ClientPort: 40000, RunID: "r", ConnID: 1,
					Ordinal: 1, Direction: "s2c", Size: 5000, DurationUs: p(300_000), ThinkUs: p(10), Concurrent: true, Complete: true},
				{Ts: t0 + 850_000, ServerIP: "192.0.2.1", ServerPort: 80, ClientIP: "198.51.100.7", ClientPort: 40000, RunID: "r", ConnID: 1,
					Ordinal: 2, Direction: "c2s", Size: 70, DurationUs: p(1000), ThinkUs: p(200_000), Concurrent: true, Complete: true},
			},
		}
		dir := t.TempDir()
		_, _, err := writeAdudump(dir, []*dialog{d})
		require.NoError(t, err)
		f, err := os.Open(filepath.Join(dir, AdudumpFile))
		require.NoError(t, err)
		gz, err := gzip.NewReader(f)
		require.NoError(t, err)
		text, err := io.ReadAll(gz)
		require.NoError(t, err)
		f.Close()
		require.Contains(t, string(text), "CONC: ")
		r := adutext.NewReader("x", bytes.NewReader(text), adutext.ReaderOptions{})
		var got *ingest.Record
		for {
			var rec ingest.Record
			err := r.Next(&rec)
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
			if rec.Kind == ingest.KindADU && rec.Size == 300 {
				got = &rec
			}
		}
		require.NotNil(t, got, "%s", text)
		require.Equal(t, peer, got.ThinkToPeer, "think_to_peer %t through:\n%s", peer, text)
		require.Zero(t, r.Stats().PeerGuessed)
	}
}
