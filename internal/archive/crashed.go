package archive

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/abt-dev/abt/internal/partition"
	"github.com/abt-dev/abt/schema"
)

// recorder writes, during recovery, the runs rows of crashed runs of links:
// whoever recovers the archive (a run opening it, a compaction) names
// itself as their producer.
type recorder struct {
	producer string
	now      func() time.Time
}

// link reports whether the run read a network link (Input.Link).
func (e *journalEntry) link() bool {
	for _, in := range e.Inputs {
		if in.Link {
			return true
		}
	}
	return false
}

// crashedLink records run e, of a link, which was killed: a link cannot be
// read again, so no run will replace it, and the hours it published stay.
// Its row says what it published: its first and last packet (from the
// rows of its first and last published hour), its rows, files and bytes;
// its end is the last of its files' times (or its journal's). Then its
// journal goes: the run is recorded. Killed between the two, the next
// recovery finds the row and removes the journal.
func (rec recorder) crashedLink(root string, e journalEntry, journal string, parts []part) error {
	row := schema.Run{RunID: e.RunID, Sensor: e.Sensor, Producer: rec.producer, SchemaVersion: schema.Version,
		Status: StatusCrashed}
	if t, err := time.Parse(time.RFC3339Nano, e.Started); err == nil {
		row.Started = t.UnixMicro()
	}
	for _, in := range e.Inputs {
		row.Inputs = append(row.Inputs, schema.Input{Name: in.Name, Fingerprint: in.Fingerprint, Format: "live"})
	}
	hours, err := readHourLog(journal)
	if err != nil {
		return fmt.Errorf("record crashed run %s: %w", e.RunID, err)
	}
	row.Hours = hours
	finished := time.Time{}
	if st, err := os.Stat(journal); err == nil {
		finished = st.ModTime()
	}
	var first, last []part // parts of the first and last hour published
	for _, p := range parts {
		if p.run != e.RunID || p.uncommitted || (p.table != schema.TableADUs && p.table != schema.TableConnections) {
			continue
		}
		f, err := os.Open(p.path)
		if err != nil {
			return fmt.Errorf("record crashed run %s: %w", e.RunID, err)
		}
		ft, ferr := partition.ReadFooter(f, p.path)
		st, serr := f.Stat()
		f.Close()
		if err := errors.Join(ferr, serr); err != nil {
			return fmt.Errorf("record crashed run %s: %w", e.RunID, err)
		}
		row.FilesWritten++
		row.BytesWritten += st.Size()
		if st.ModTime().After(finished) {
			finished = st.ModTime()
		}
		if p.table == schema.TableADUs {
			row.ADUs += ft.Rows
		} else {
			row.Connections += ft.Rows
		}
		switch {
		case len(first) == 0 || p.hour < first[0].hour:
			first = []part{p}
		case p.hour == first[0].hour:
			first = append(first, p)
		}
		switch {
		case len(last) == 0 || p.hour > last[0].hour:
			last = []part{p}
		case p.hour == last[0].hour:
			last = append(last, p)
		}
	}
	if len(first) > 0 {
		lo, _, err := packetSpan(first)
		if err != nil {
			return fmt.Errorf("record crashed run %s: %w", e.RunID, err)
		}
		_, hi, err := packetSpan(last)
		if err != nil {
			return fmt.Errorf("record crashed run %s: %w", e.RunID, err)
		}
		row.FirstPacket, row.LastPacket = &lo, &hi
	}
	if finished.IsZero() {
		finished = rec.now()
	}
	row.Finished = finished.UnixMicro()
	row.Ts = row.Started
	if row.FirstPacket != nil {
		row.Ts = *row.FirstPacket
	}
	a := &Archive{opts: Options{Root: root, Sensor: e.Sensor, RunID: e.RunID, Producer: rec.producer}}
	if err := a.opts.defaults(); err != nil {
		return err
	}
	if _, err := writeRunRow(a.partOptions(schema.TableRuns, runSorting), row); err != nil {
		return fmt.Errorf("record crashed run %s: %w", e.RunID, err)
	}
	if err := removeJournal(journal); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove journal %s: %w", journal, err)
	}
	return nil
}

// packetSpan is the first and last packet time (µs) of the rows of parts:
// ADUs' starts and ends, connections' first and last packets.
func packetSpan(parts []part) (lo, hi int64, err error) {
	lo, hi = int64(^uint64(0)>>1), -lo-1
	see := func(t int64) { lo, hi = min(lo, t), max(hi, t) }
	for _, p := range parts {
		if p.table == schema.TableADUs {
			rows, err := readRows[schema.ADU](p.path, p.table)
			if err != nil {
				return 0, 0, err
			}
			for i := range rows {
				see(rows[i].Ts)
				if d := rows[i].DurationUs; d != nil {
					see(rows[i].Ts + *d)
				}
			}
			continue
		}
		rows, err := readRows[schema.Connection](p.path, p.table)
		if err != nil {
			return 0, 0, err
		}
		for i := range rows {
			see(rows[i].Ts)
			see(rows[i].Ts + rows[i].LastUs) // after ts
		}
	}
	return lo, hi, nil
}
