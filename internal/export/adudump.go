package export

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"

	"github.com/abt-dev/abt/internal/adutext"
	"github.com/abt-dev/abt/internal/ingest"
	"github.com/abt-dev/abt/schema"
)

// AdudumpFile is the name of the adudump text of a data set.
const AdudumpFile = "adudump.txt.gz"

// textRecord is a record to print and where it goes in the text.
type textRecord struct {
	rec  ingest.Record
	conn int // the connection's place in the dialogs' order
	rank int // the record's place among its connection's
}

// records returns the records of a dialog as the engine emits them, as far
// as the archive's rows say (docs/publishing.md):
//   - SYN at the first SYN, when the handshake began with it;
//   - RTT at the SYN plus the RTT (the engine's is at the SYN-ACK, which
//     the last of several SYNs moves; the text carries the RTT, not its
//     line's time), with the RTT;
//   - SEQ when the connection was established;
//   - CONC when it was found concurrent, from the side that makes the text
//     reader give the ADU printed before it the think_to_peer the archive
//     holds (the only thing the reader takes from the line's direction);
//   - each ADU (INC when not complete) at its decided time, with its size,
//     concurrency and think time;
//   - END at the connection's end, from the side of its last ADU.
func (d *dialog) records(conn int) []textRecord {
	c := &d.c
	var out []textRecord
	client, err1 := netip.ParseAddr(c.ClientIP)
	server, err2 := netip.ParseAddr(c.ServerIP)
	if err1 != nil || err2 != nil {
		return nil // an address withheld: nothing the text could print
	}
	base := ingest.Record{ConnID: uint64(c.ConnID), Client: netip.AddrPortFrom(client, uint16(c.ClientPort)),
		Server: netip.AddrPortFrom(server, uint16(c.ServerPort)), Label: labelOf(c.Label), ThinkNs: -1, AckRTTNs: -1}
	add := func(kind ingest.Kind, us int64, dir ingest.Dir, set func(*ingest.Record)) {
		r := base
		r.Kind, r.TsNs, r.Dir = kind, us*1000, dir
		if set != nil {
			set(&r)
		}
		out = append(out, textRecord{rec: r, conn: conn, rank: len(out)})
	}
	if c.Handshake == ingest.HandshakeSYN.String() && c.SynUs != nil {
		add(ingest.KindSYN, c.Ts+*c.SynUs, ingest.DirC2S, nil)
		if c.RTTUs != nil {
			add(ingest.KindRTT, c.Ts+*c.SynUs+*c.RTTUs, ingest.DirS2C, func(r *ingest.Record) { r.RTTNs = *c.RTTUs * 1000 })
		}
	}
	if c.EstablishedUs != nil {
		add(ingest.KindSEQ, c.Ts+*c.EstablishedUs, ingest.DirC2S, nil)
	}
	type aduAt struct {
		us int64
		a  *schema.ADU
	}
	adus := make([]aduAt, len(d.adus))
	for i := range d.adus {
		a := &d.adus[i]
		at := a.Ts + a.DecidedLagUs
		if a.DurationUs != nil {
			at += *a.DurationUs
		}
		if a.ThinkUs != nil {
			at += *a.ThinkUs
		}
		adus[i] = aduAt{at, a}
	}
	slices.SortStableFunc(adus, func(x, y aduAt) int { return cmp.Compare(x.us, y.us) })
	concAt, concDone := int64(0), c.ConcurrentUs == nil
	if !concDone {
		concAt = c.Ts + *c.ConcurrentUs
	}
	var last *schema.ADU // the ADU printed last
	conc := func() {
		dir := ingest.DirC2S
		if last != nil {
			dir = dirOf(last)
			if !last.ThinkToPeer {
				dir = other(dir)
			}
		}
		add(ingest.KindCONC, concAt, dir, nil)
		concDone = true
	}
	for _, x := range adus {
		if !concDone && concAt <= x.us {
			conc()
		}
		a := x.a
		kind := ingest.KindADU
		if !a.Complete {
			kind = ingest.KindINC
		}
		add(kind, x.us, dirOf(a), func(r *ingest.Record) {
			r.Size, r.Concurrent, r.Ordinal = uint64(a.Size), a.Concurrent, uint32(a.Ordinal)
			if a.ThinkUs != nil && kind == ingest.KindADU {
				r.ThinkNs = *a.ThinkUs * 1000
			}
		})
		last = a
	}
	if !concDone {
		conc()
	}
	endDir := ingest.DirC2S
	if last != nil {
		endDir = dirOf(last)
	}
	add(ingest.KindEND, c.Ts+c.EndUs, endDir, nil)
	return out
}

func dirOf(a *schema.ADU) ingest.Dir {
	if c2s(a) {
		return ingest.DirC2S
	}
	return ingest.DirS2C
}

func other(d ingest.Dir) ingest.Dir {
	if d == ingest.DirC2S {
		return ingest.DirS2C
	}
	return ingest.DirC2S
}

// labelOf is the label a connections row names.
func labelOf(s string) ingest.Label {
	for l := ingest.LabelUnknown; l <= ingest.LabelExternal; l++ {
		if l.String() == s {
			return l
		}
	}
	return ingest.LabelUnknown
}

// writeAdudump writes the dialogs' records as adudump text, in time order
// (a connection's records in their own order at equal times), to the data
// set's AdudumpFile, and returns the lines and the file's size.
func writeAdudump(dir string, dialogs []*dialog) (lines, size int64, err error) {
	var recs []textRecord
	for i, d := range dialogs {
		recs = append(recs, d.records(i)...)
	}
	slices.SortFunc(recs, func(a, b textRecord) int {
		return cmp.Or(cmp.Compare(a.rec.TsNs, b.rec.TsNs), cmp.Compare(a.conn, b.conn), cmp.Compare(a.rank, b.rank))
	})
	out, err := createGz(dir, AdudumpFile)
	if err != nil {
		return 0, 0, err
	}
	w := adutext.NewWriter(out)
	for i := range recs {
		if err = w.Record(&recs[i].rec); err != nil {
			break
		}
	}
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		out.abort()
		return 0, 0, fmt.Errorf("export: %s: %w", AdudumpFile, err)
	}
	size, err = out.close()
	return int64(len(recs)), size, err
}
