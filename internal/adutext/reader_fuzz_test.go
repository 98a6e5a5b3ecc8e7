package adutext

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/ingest"
)

// maxFuzzInput bounds the work per fuzz case.
const maxFuzzInput = 64 << 10

// FuzzReader reads arbitrary text, checking that the Reader does not panic
// and that its output keeps the promises of the Reader doc.
func FuzzReader(f *testing.F) {
	seeds, err := filepath.Glob("testdata/*.adu")
	require.NoError(f, err)
	golden, err := filepath.Glob(filepath.Join(goldenDir, "*.adu"))
	require.NoError(f, err)
	for _, p := range append(seeds, golden...) {
		b, err := os.ReadFile(p)
		require.NoError(f, err)
		if len(b) > maxFuzzInput/4 {
			b = b[:bytes.LastIndexByte(b[:maxFuzzInput/4], '\n')+1]
		}
		f.Add(b)
	}
	for _, s := range []string{
		"SYN: 1.000000 1.2.3.4.80 < 5.6.7.8.5000\nSYN: 1.000000 1.2.3.4.80 < 5.6.7.8.5000\n",
		"INC: X.X 1.2.3.4.80 < 5.6.7.8.5000 3 CONC 1.2\nSEQ: -1.000000 1.2.3.4.80 x 5.6.7.8.5000\n",
		"ADU: 1.000000 ::ffff:1.2.3.4.80 > fe80::1%eth0.1.5000 +18446744073709551615 SEQ 3999999999.999999 -1.-1\n",
		"SYN: 1.000000 1.2.3.4.80 < 1.2.3.4.80\nADU: 2.000000 1.2.3.4.80 > 1.2.3.4.80 1 SEQ\n",
		"END: 1.000000 1.2.3.4.80 x0 5.6.7.8.5000\r\n# c\n\nFOO\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzInput {
			return
		}
		opts := ReaderOptions{SkipMalformed: true, MaxLineBytes: 512}
		all, st, err := readAll(t, "fuzz", string(data), opts)
		require.NoError(t, err)
		checkRecords(t, all, st)

		// Stopping at the first malformed line returns a prefix of the same
		// records.
		opts.SkipMalformed = false
		some, _, err := readAll(t, "fuzz", string(data), opts)
		if err != nil {
			var le *LineError
			require.True(t, errors.As(err, &le), "%v", err)
			require.Positive(t, le.Line)
			require.LessOrEqual(t, len(some), len(all))
			requirePrefixUpToGuesses(t, all[:len(some)], some)
		} else {
			require.Equal(t, all, some)
			require.Zero(t, st.Malformed)
		}
	})
}

// requirePrefixUpToGuesses checks that the records read up to a fault
// (some) are those read past it (want), but for the think_to_peer of the
// ADUs that were waiting for their connection's next line when the fault
// came: nothing decided them, so they were taken as ended by the other side
// (ReaderStats.PeerGuessed). Such an ADU is its connection's last ADU,
// INC or CONC record before the fault.
func requirePrefixUpToGuesses(t *testing.T, want, some []ingest.Record) {
	t.Helper()
	for i := range some {
		if assert.ObjectsAreEqual(want[i], some[i]) {
			continue
		}
		g, w := some[i], want[i]
		require.Equal(t, ingest.KindADU, g.Kind, "record %d differs: %+v, want %+v", i, g, w)
		require.True(t, g.ThinkToPeer, "record %d: a guess is ended by the other side", i)
		w.ThinkToPeer = true
		require.Equal(t, w, g, "record %d differs in more than think_to_peer", i)
		for _, later := range some[i+1:] {
			if later.ConnID == g.ConnID {
				require.NotContains(t, []ingest.Kind{ingest.KindADU, ingest.KindINC, ingest.KindCONC}, later.Kind,
					"record %d was guessed although its connection's next line was read", i)
			}
		}
	}
}

// checkRecords checks the invariants of a complete record stream.
func checkRecords(t *testing.T, recs []ingest.Record, st ReaderStats) {
	t.Helper()
	type connState struct {
		client, server string
		ended          bool
		ordinal        uint32
		adus           [3]uint32 // by Dir
		bytes          [3]uint64
	}
	conns := map[uint64]*connState{}
	var maxID uint64
	require.Equal(t, st.Records, int64(len(recs)))
	for i, r := range recs {
		if i > 0 && st.TimeBackwards == 0 {
			require.GreaterOrEqual(t, r.TsNs, recs[i-1].TsNs, "record %d out of order", i)
		}
		c := conns[r.ConnID]
		if c == nil {
			require.Equal(t, maxID+1, r.ConnID, "ConnIDs count up in order of appearance")
			maxID = r.ConnID
			c = &connState{client: r.Client.String(), server: r.Server.String()}
			conns[r.ConnID] = c
		}
		require.False(t, c.ended, "record %d after the END of its connection", i)
		require.Equal(t, c.client, r.Client.String())
		require.Equal(t, c.server, r.Server.String())
		switch r.Kind {
		case ingest.KindADU, ingest.KindINC:
			require.NotEqual(t, ingest.DirNone, r.Dir)
			require.Equal(t, c.ordinal, r.Ordinal)
			c.ordinal++
			c.adus[r.Dir]++
			c.bytes[r.Dir] = satAdd(c.bytes[r.Dir], r.Size)
			require.Equal(t, ingest.NoTime, r.FirstNs)
			if r.ThinkNs >= 0 {
				require.Equal(t, ingest.KindADU, r.Kind)
				require.Equal(t, r.TsNs-r.ThinkNs, r.LastNs)
			} else {
				require.Equal(t, int64(-1), r.ThinkNs)
				require.Equal(t, ingest.NoTime, r.LastNs)
			}
		case ingest.KindEND:
			c.ended = true
			require.NotNil(t, r.Conn)
			require.NotEqual(t, ingest.EndNone, r.Reason)
			require.Equal(t, r.Reason, r.Conn.End)
			require.Equal(t, r.TsNs, r.Conn.EndNs)
			require.Equal(t, c.adus[ingest.DirC2S], r.Conn.C2S.ADUs)
			require.Equal(t, c.adus[ingest.DirS2C], r.Conn.S2C.ADUs)
			require.Equal(t, c.bytes[ingest.DirC2S], r.Conn.C2S.UniqueBytes)
			require.Equal(t, c.bytes[ingest.DirS2C], r.Conn.S2C.UniqueBytes)
		case ingest.KindSYN, ingest.KindRTT, ingest.KindSEQ, ingest.KindCONC, ingest.KindPART:
			require.Nil(t, r.Conn)
		default:
			t.Fatalf("record %d: kind %v", i, r.Kind)
		}
	}
	require.Equal(t, st.Conns, int64(len(conns)))
	for id, c := range conns {
		require.True(t, c.ended, "connection %d has no END", id)
	}
}
