package archive

import (
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/abt-dev/abt/internal/catalog"
	"github.com/abt-dev/abt/internal/partition"
	"github.com/abt-dev/abt/schema"
)

// editTable runs partition.EditHour with the table's row type.
func editTable(table string, o partition.EditOptions) (partition.EditResult, error) {
	switch table {
	case schema.TableADUs:
		return partition.EditHour(o, aduCmp, func(r *schema.ADU) string { return r.RunID })
	case schema.TableConnections:
		return partition.EditHour(o, connCmp, func(r *schema.Connection) string { return r.RunID })
	case schema.TableRuns:
		return partition.EditHour(o, runCmp, func(r *schema.Run) string { return r.RunID })
	}
	return partition.EditResult{}, fmt.Errorf("unknown table %q", table)
}

func sortingOf(table string) []parquet.SortingColumn {
	switch table {
	case schema.TableADUs:
		return aduSorting
	case schema.TableConnections:
		return connSorting
	}
	return runSorting
}

func editOptions(root, table, sensor string, h partition.Hour, producer string) partition.EditOptions {
	return partition.EditOptions{
		Root: root, Table: table, Sensor: sensor, Hour: h, Sorting: sortingOf(table),
		StageDir:  filepath.Join(root, catalog.MetaDir, "compact"),
		RunIDsKey: schema.MetaRunIDs,
		Metadata: map[string]string{
			schema.MetaSchemaVersion: strconv.Itoa(schema.Version),
			schema.MetaTable:         table,
			schema.MetaProducer:      producer,
			schema.MetaSensor:        sensor,
		},
		Expect: map[string]string{
			schema.MetaSchemaVersion: strconv.Itoa(schema.Version),
			schema.MetaTable:         table,
		},
	}
}

// CompactResult says what Compact did to one hour.
type CompactResult struct {
	Table, Sensor string
	Hour          partition.Hour
	// Reencoded: the hour had one part, rewritten because its encodings
	// were legacy (partition.LegacyEncodings).
	Reencoded bool
	partition.EditResult
}

// Compact merges the parts of each hour of the archive (optionally only
// hours in [fromUs, toUs) and one sensor) into one file per hour, skipping
// hours a running ingest is writing into. It first recovers the archive
// (under the archive lock, as a run does): leftovers of killed runs and
// compactions are removed and committed replacements finished. Readers are
// never disturbed: each hour is swapped in one rename, and a reader that
// pinned the old files (catalog.Pin) keeps reading them. With reencode, an
// hour of one part is rewritten too when that part has legacy encodings
// (version 2 pages, DELTA encodings: partition.LegacyEncodings), so that
// older readers read the whole archive.
func Compact(root, sensor string, fromUs, toUs int64, reencode bool, producer string, logf func(string, ...any)) ([]CompactResult, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	lock, err := catalog.Lock(root)
	if err != nil {
		return nil, err
	}
	st, err := recoverArchive(root, logf, recorder{producer: producer, now: time.Now})
	lock.Unlock()
	if err != nil {
		return nil, err
	}
	show, hide := map[string]bool{}, map[string]bool{}
	for _, r := range st.view.Replacements {
		show[r.Run] = true
		for _, o := range r.Replaces {
			hide[o] = true
		}
	}
	type key struct {
		table, sensor string
		hour          partition.Hour
	}
	count := map[key]int{}
	only := map[key]string{} // an hour's part, when it has one
	var keys []key
	for _, p := range st.parts {
		if (sensor != "" && p.sensor != sensor) || p.hour.End() <= fromUs || p.hour.Start() >= toUs {
			continue
		}
		if p.uncommitted && !show[p.run] {
			continue
		}
		k := key{p.table, p.sensor, p.hour}
		if count[k] == 0 {
			keys = append(keys, k)
		}
		count[k]++
		only[k] = p.path
	}
	var out []CompactResult
	var retire *partition.RetireLock
	defer func() { retire.Unlock() }() // the lock taken below, if any
	for _, k := range keys {
		reencoded := false
		if count[k] < 2 {
			if !reencode {
				continue
			}
			legacy, err := partition.LegacyEncodings(only[k])
			if err != nil {
				return out, err
			}
			if !legacy {
				continue
			}
			reencoded = true
		}
		if retire == nil {
			// Readers reading in place finish first; later ones pin.
			if retire, err = partition.LockRetire(filepath.Join(root, catalog.MetaDir)); err != nil {
				return out, err
			}
		}
		o := editOptions(root, k.table, k.sensor, k.hour, producer)
		o.Merge, o.Show, o.Hide = true, show, hide
		if reencoded {
			o.MinParts = 1
		}
		res, err := editTable(k.table, o)
		out = append(out, CompactResult{Table: k.table, Sensor: k.sensor, Hour: k.hour, Reencoded: reencoded, EditResult: res})
		if err != nil {
			return out, err
		}
	}
	return out, nil
}
