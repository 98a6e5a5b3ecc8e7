package adutext

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/ingest"
)

// TestReaderThinkToPeer covers how the next line of a connection decides
// whether an ADU's think time ended at the other side's data.
func TestReaderThinkToPeer(t *testing.T) {
	// Server 1.2.3.4.80 printed first; '<' is client to server.
	const (
		syn  = "SYN: 1.000000 1.2.3.4.80 < 5.6.7.8.5000\n"
		seq  = "SEQ: 1.000100 1.2.3.4.80 < 5.6.7.8.5000\n"
		open = syn + seq
	)
	// peer is an ADU's ThinkToPeer, or "-" for an ADU without think time.
	type adu struct {
		ord  uint32
		dir  ingest.Dir
		peer string
	}
	const c2s, s2c = ingest.DirC2S, ingest.DirS2C
	tests := []struct {
		name    string
		text    string
		opts    ReaderOptions
		want    []adu
		guessed int64
	}{
		{name: "a request split by the quiet time, then the response",
			text: open + "ADU: 2.000000 1.2.3.4.80 < 5.6.7.8.5000 100 SEQ 0.800000\n" +
				"ADU: 2.100000 1.2.3.4.80 < 5.6.7.8.5000 50 SEQ 0.050000\n" +
				"ADU: 2.200000 1.2.3.4.80 > 5.6.7.8.5000 900 SEQ\n" +
				"END: 2.300000 1.2.3.4.80 > 5.6.7.8.5000\n",
			want: []adu{{0, c2s, "false"}, {1, c2s, "true"}, {2, s2c, "-"}}},
		{name: "a long response time and a long client think time end at the other side",
			text: open + "ADU: 3.000000 1.2.3.4.80 < 5.6.7.8.5000 100 SEQ 1.500000\n" +
				"ADU: 9.000000 1.2.3.4.80 > 5.6.7.8.5000 900 SEQ 5.000000\n" +
				"ADU: 9.200000 1.2.3.4.80 < 5.6.7.8.5000 100 SEQ 0.100000\n" +
				"ADU: 9.300000 1.2.3.4.80 > 5.6.7.8.5000 900 SEQ\n" +
				"END: 9.400000 1.2.3.4.80 > 5.6.7.8.5000\n",
			want: []adu{{0, c2s, "true"}, {1, s2c, "true"}, {2, c2s, "true"}, {3, s2c, "-"}}},
		{name: "a server split by the quiet time",
			text: open + "ADU: 2.000000 1.2.3.4.80 < 5.6.7.8.5000 100 SEQ 0.010000\n" +
				"ADU: 3.000000 1.2.3.4.80 > 5.6.7.8.5000 900 SEQ 0.900000\n" +
				"INC: X.X 1.2.3.4.80 > 5.6.7.8.5000 10 SEQ\n",
			want: []adu{{0, c2s, "true"}, {1, s2c, "false"}, {2, s2c, "-"}}},
		{name: "the next ADU is an INC line of the other side",
			text: open + "ADU: 2.000000 1.2.3.4.80 < 5.6.7.8.5000 100 SEQ 0.600000\n" +
				"INC: X.X 1.2.3.4.80 > 5.6.7.8.5000 10 SEQ\n",
			want: []adu{{0, c2s, "true"}, {1, s2c, "-"}}},
		{name: "CONC found by the waiting ADU's side: its think time ended at the other side",
			text: open + "ADU: 2.000000 1.2.3.4.80 < 5.6.7.8.5000 100 SEQ 0.700000\n" +
				"CONC: 2.100000 1.2.3.4.80 < 5.6.7.8.5000\n" +
				"ADU: 3.000000 1.2.3.4.80 < 5.6.7.8.5000 10 CONC 0.800000\n" +
				"END: 3.100000 1.2.3.4.80 > 5.6.7.8.5000\n",
			want: []adu{{0, c2s, "true"}, {1, c2s, "false"}}},
		{name: "CONC found by the other side: a quiet-time split",
			text: open + "ADU: 2.000000 1.2.3.4.80 < 5.6.7.8.5000 100 SEQ 0.700000\n" +
				"CONC: 2.100000 1.2.3.4.80 > 5.6.7.8.5000\n" +
				"ADU: 3.000000 1.2.3.4.80 > 5.6.7.8.5000 10 CONC 0.800000\n" +
				"END: 3.100000 1.2.3.4.80 > 5.6.7.8.5000\n",
			want: []adu{{0, c2s, "false"}, {1, s2c, "false"}}},
		{name: "an undirected CNC line decides nothing: guessed",
			text: open + "ADU: 2.000000 1.2.3.4.80 < 5.6.7.8.5000 100 SEQ 0.700000\n" +
				"CNC: 2.100000 1.2.3.4.80 x0 5.6.7.8.5000\n" +
				"END: 3.100000 1.2.3.4.80 x0 5.6.7.8.5000\n",
			want: []adu{{0, c2s, "true"}}, guessed: 1},
		{name: "no next ADU before the END: guessed",
			text: open + "ADU: 2.000000 1.2.3.4.80 < 5.6.7.8.5000 100 SEQ 0.700000\n" +
				"END: 3.100000 1.2.3.4.80 > 5.6.7.8.5000\n",
			want: []adu{{0, c2s, "true"}}, guessed: 1},
		{name: "no next ADU before the end of the log: guessed",
			text: open + "ADU: 2.000000 1.2.3.4.80 < 5.6.7.8.5000 100 SEQ 0.700000\n",
			want: []adu{{0, c2s, "true"}}, guessed: 1},
		{name: "a SYN reusing the key ends the connection: guessed",
			text: open + "ADU: 2.000000 1.2.3.4.80 < 5.6.7.8.5000 100 SEQ 0.700000\n" + strings.Replace(syn, "1.000000", "4.000000", 1),
			want: []adu{{0, c2s, "true"}}, guessed: 1},
		{name: "a shorter quiet time: a short gap may be a split too",
			opts: ReaderOptions{QuietTime: 200 * time.Millisecond},
			text: open + "ADU: 2.000000 1.2.3.4.80 < 5.6.7.8.5000 100 SEQ 0.300000\n" +
				"ADU: 2.100000 1.2.3.4.80 < 5.6.7.8.5000 50 SEQ 0.199999\n" +
				"ADU: 2.200000 1.2.3.4.80 > 5.6.7.8.5000 900 SEQ\n",
			want: []adu{{0, c2s, "false"}, {1, c2s, "true"}, {2, s2c, "-"}}},
		{name: "a gap of just the quiet time may be a split (printed times are truncated)",
			text: open + "ADU: 2.000000 1.2.3.4.80 < 5.6.7.8.5000 100 SEQ 0.500000\n" +
				"ADU: 2.500000 1.2.3.4.80 < 5.6.7.8.5000 100 SEQ 0.499999\n" +
				"ADU: 2.600000 1.2.3.4.80 > 5.6.7.8.5000 900 SEQ\n",
			want: []adu{{0, c2s, "false"}, {1, c2s, "true"}, {2, s2c, "-"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recs, st, err := readAll(t, "t.adu", tc.text, tc.opts)
			require.NoError(t, err)
			checkRecords(t, recs, st)
			var got []adu
			for _, r := range recs {
				if r.Kind != ingest.KindADU && r.Kind != ingest.KindINC {
					continue
				}
				a := adu{r.Ordinal, r.Dir, fmt.Sprint(r.ThinkToPeer)}
				if r.ThinkNs < 0 {
					require.False(t, r.ThinkToPeer)
					a.peer = "-"
				}
				got = append(got, a)
			}
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.guessed, st.PeerGuessed)
			require.Zero(t, st.QueueReleased)
		})
	}
}

// TestReaderWaitKeepsLineOrder checks that records read after a waiting
// ADU wait with it, and that the queue's budget releases it early, counted.
func TestReaderWaitKeepsLineOrder(t *testing.T) {
	var b strings.Builder
	b.WriteString("SYN: 1.000000 1.2.3.4.80 < 5.6.7.8.5000\n")
	// A request followed by a 0.9 s gap: it waits for the connection's next
	// ADU, which comes after 200 other connections' lines.
	b.WriteString("ADU: 2.000000 1.2.3.4.80 < 5.6.7.8.5000 100 SEQ 0.900000\n")
	for i := range 200 {
		fmt.Fprintf(&b, "SYN: 2.%06d 1.2.3.4.80 < 9.9.9.9.%d\n", i+1, 10000+i)
	}
	b.WriteString("ADU: 3.000000 1.2.3.4.80 < 5.6.7.8.5000 100 SEQ 0.001000\n")
	text := b.String()

	recs, st, err := readAll(t, "t.adu", text, ReaderOptions{})
	require.NoError(t, err)
	checkRecords(t, recs, st)
	require.Equal(t, ingest.KindADU, recs[1].Kind)
	require.False(t, recs[1].ThinkToPeer, "a quiet-time split: the next ADU is the client's")
	require.Zero(t, st.PeerGuessed)

	// A budget of about 50 records: the request is released early with the
	// guess; the output is still in line order.
	budget := 50 * queuedCost(&queued{})
	recs, st, err = readAll(t, "t.adu", text, ReaderOptions{QueueBudget: budget})
	require.NoError(t, err)
	checkRecords(t, recs, st)
	require.True(t, recs[1].ThinkToPeer, "guessed")
	require.Equal(t, int64(1), st.QueueReleased)
	require.Equal(t, int64(1), st.PeerGuessed)

	// No bound.
	recs, st, err = readAll(t, "t.adu", text, ReaderOptions{QueueBudget: -1})
	require.NoError(t, err)
	require.False(t, recs[1].ThinkToPeer)
	require.Zero(t, st.QueueReleased)
}

// TestReaderWaitAtFault checks that a malformed line releases the waiting
// ADUs (guessed) before the error.
func TestReaderWaitAtFault(t *testing.T) {
	text := "SYN: 1.000000 1.2.3.4.80 < 5.6.7.8.5000\n" +
		"ADU: 2.000000 1.2.3.4.80 < 5.6.7.8.5000 100 SEQ 0.900000\n" +
		"SYN: 2.500000 1.2.3.4.80 < 9.9.9.9.5000\n" +
		"BAD: line\n"
	recs, st, err := readAll(t, "t.adu", text, ReaderOptions{})
	var le *LineError
	require.ErrorAs(t, err, &le)
	require.Equal(t, int64(4), le.Line)
	require.Len(t, recs, 3)
	require.True(t, recs[1].ThinkToPeer)
	require.Equal(t, ingest.KindSYN, recs[2].Kind)
	require.Equal(t, int64(1), st.PeerGuessed)
}

// TestReaderQueueWraps reads a long log in which a few ADUs wait at a time
// while others pass, so that the queue's ring goes round many times.
func TestReaderQueueWraps(t *testing.T) {
	var b strings.Builder
	const n = 12288
	for i := range n {
		// Each connection: a request with a long gap, then its response
		// some lines later: at most a few ADUs wait at a time.
		fmt.Fprintf(&b, "ADU: %d.000000 1.2.3.4.80 < 9.9.%d.%d.5000 100 SEQ 0.900000\n", 10+i, i/250, i%250)
		if i >= 3 {
			j := i - 3
			fmt.Fprintf(&b, "ADU: %d.500000 1.2.3.4.80 > 9.9.%d.%d.5000 100 SEQ\n", 10+i, j/250, j%250)
		}
	}
	recs, st, err := readAll(t, "t.adu", b.String(), ReaderOptions{})
	require.NoError(t, err)
	checkRecords(t, recs, st)
	peers := 0
	for _, r := range recs {
		if r.Kind == ingest.KindADU && r.Dir == ingest.DirC2S && r.ThinkToPeer {
			peers++
		}
	}
	require.Equal(t, n, peers)
	require.Equal(t, int64(3), st.PeerGuessed, "the last three requests have no response")
}
