package export

import (
	"bufio"
	"cmp"
	"fmt"
	"slices"

	"github.com/abt-dev/abt/internal/ingest"
	"github.com/abt-dev/abt/schema"
)

// TmixFile is the name of the tmix connection vectors of a data set.
const TmixFile = "connections.tmix.gz"

// tmixWindow is the receive window written for both sides (the w line):
// the archive does not record windows, and tmix needs one.
const tmixWindow = 65535

// dialog is a connection and its ADUs in the range, as exported (times
// truncated, addresses anonymized): what a tmix vector and the adudump text
// are written from.
type dialog struct {
	key  connKey
	c    schema.Connection
	adus []schema.ADU
}

// c2s reports whether an ADU is the client's.
func c2s(a *schema.ADU) bool { return a.Direction == ingest.DirC2S.String() }

// thinkOr0 is an ADU's think time, 0 when unknown.
func thinkOr0(a *schema.ADU) int64 {
	if a.ThinkUs == nil {
		return 0
	}
	return *a.ThinkUs
}

// tmixLine is one I or A line.
type tmixLine struct {
	initiator                 bool
	sendWait, recvWait, bytes int64
}

// vector returns the lines of a connection's vector (tmix v2: the ns-2 and
// ns-3 tmix readers' format), FIN lines included:
//   - sequential (S): ADUs in order; an ADU after the other side's waits
//     for it (recv_wait: the previous ADU's think time), one after its own
//     side's waits after sending it (send_wait);
//   - concurrent (C): each side's ADUs in order, each waiting after that
//     side's previous send (its think time);
//   - a side that sent a FIN closes after its last ADU (0 bytes), waiting
//     that ADU's think time when known.
//
// The client is the initiator.
func (t *dialog) vector() []tmixLine {
	var out []tmixLine
	think := func(a schema.ADU) int64 { return max(thinkOr0(&a), 0) }
	if t.c.Concurrent {
		for _, side := range []bool{true, false} {
			var prev *schema.ADU
			for i := range t.adus {
				a := t.adus[i]
				if c2s(&a) != side {
					continue
				}
				l := tmixLine{initiator: side, bytes: a.Size}
				if prev != nil {
					l.sendWait = think(*prev)
				}
				out = append(out, l)
				prev = &t.adus[i]
			}
			if fin := side && t.c.C2SFIN || !side && t.c.S2CFIN; fin {
				l := tmixLine{initiator: side}
				if prev != nil {
					l.sendWait = think(*prev)
				}
				out = append(out, l)
			}
		}
		return out
	}
	for i, a := range t.adus {
		l := tmixLine{initiator: c2s(&a), bytes: a.Size}
		if i > 0 {
			p := t.adus[i-1]
			if c2s(&p) == c2s(&a) {
				l.sendWait = think(p)
			} else {
				l.recvWait = think(p)
			}
		}
		out = append(out, l)
	}
	if len(t.adus) == 0 {
		return out
	}
	last := t.adus[len(t.adus)-1]
	lc := c2s(&last)
	lastFIN := lc && t.c.C2SFIN || !lc && t.c.S2CFIN
	otherFIN := lc && t.c.S2CFIN || !lc && t.c.C2SFIN
	switch {
	case lastFIN:
		out = append(out, tmixLine{initiator: lc, sendWait: think(last)})
	case otherFIN:
		out = append(out, tmixLine{initiator: !lc, recvWait: think(last)})
	}
	return out
}

// lossRate is a direction's share of data packets retransmitted, tmix's
// loss rate for it.
func lossRate(rexmt, data int64) float64 {
	if data <= 0 {
		return 0
	}
	return min(float64(rexmt)/float64(data), 1)
}

// writeTmix writes the vectors of the connections (in order: sortDialogs),
// to the data set's TmixFile; start is the trace's start (the range's, or
// the first connection's first packet), µs.
func writeTmix(dir string, conns []*dialog, start int64) (vectors, size int64, err error) {
	out, err := createGz(dir, TmixFile)
	if err != nil {
		return 0, 0, err
	}
	w := bufio.NewWriter(out)
	fmt.Fprintf(w, "# tmix connection vectors (v2: S/C records) written by abt's export; the initiator is the client.\n")
	for _, t := range conns {
		lines := t.vector()
		if len(t.adus) == 0 {
			continue
		}
		vectors++
		at := t.c.Ts
		if t.c.SynUs != nil {
			at += *t.c.SynUs
		}
		if t.c.Concurrent {
			var ni, na int
			for _, l := range lines {
				if l.initiator {
					ni++
				} else {
					na++
				}
			}
			fmt.Fprintf(w, "C %d %d %d %d %d\n", at-start, ni, na, vectors, t.key.conn)
		} else {
			fmt.Fprintf(w, "S %d %d %d %d\n", at-start, max(t.c.Exchanges, 1), vectors, t.key.conn)
		}
		var rtt int64
		if t.c.RTTUs != nil {
			rtt = *t.c.RTTUs
			if t.c.AckRTTUs != nil {
				rtt += *t.c.AckRTTUs
			}
		}
		fmt.Fprintf(w, "w %d %d\nr %d\nl %.6f %.6f\n", tmixWindow, tmixWindow, rtt,
			lossRate(t.c.C2SRexmtPkts, t.c.C2SDataPkts), lossRate(t.c.S2CRexmtPkts, t.c.S2CDataPkts))
		for _, l := range lines {
			side := "A"
			if l.initiator {
				side = "I"
			}
			fmt.Fprintf(w, "%s %d %d %d\n", side, l.sendWait, l.recvWait, l.bytes)
		}
	}
	if err := w.Flush(); err != nil {
		out.abort()
		return 0, 0, fmt.Errorf("export: %s: %w", TmixFile, err)
	}
	size, err = out.close()
	return vectors, size, err
}

// sortDialogs orders the connections by their first packets, and each
// one's ADUs by ordinal.
func sortDialogs(conns []*dialog) {
	slices.SortFunc(conns, func(a, b *dialog) int {
		return cmp.Or(cmp.Compare(a.c.Ts, b.c.Ts), cmp.Compare(a.key.sensor, b.key.sensor),
			cmp.Compare(a.key.run, b.key.run), cmp.Compare(a.key.conn, b.key.conn))
	})
	for _, d := range conns {
		slices.SortFunc(d.adus, func(a, b schema.ADU) int { return cmp.Compare(a.Ordinal, b.Ordinal) })
	}
}
