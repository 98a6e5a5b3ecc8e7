package archive

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"github.com/parquet-go/parquet-go"

	"github.com/abt-dev/abt/internal/partition"
	"github.com/abt-dev/abt/schema"
)

// compactTable runs partition.CompactHour with the table's row type.
func compactTable(table string, o partition.CompactOptions, dropRun string) (partition.CompactResult, error) {
	switch table {
	case schema.TableADUs:
		return partition.CompactHour(o, aduCmp, keepFn[schema.ADU](dropRun, func(r *schema.ADU) string { return r.RunID }),
			func(r *schema.ADU) string { return r.RunID })
	case schema.TableConnections:
		return partition.CompactHour(o, connCmp, keepFn[schema.Connection](dropRun, func(r *schema.Connection) string { return r.RunID }),
			func(r *schema.Connection) string { return r.RunID })
	case schema.TableRuns:
		return partition.CompactHour(o, runCmp, keepFn[schema.Run](dropRun, func(r *schema.Run) string { return r.RunID }),
			func(r *schema.Run) string { return r.RunID })
	}
	return partition.CompactResult{}, fmt.Errorf("unknown table %q", table)
}

func keepFn[T any](dropRun string, runOf func(*T) string) func(*T) bool {
	if dropRun == "" {
		return nil
	}
	return func(r *T) bool { return runOf(r) != dropRun }
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

func compactOptions(root, table, sensor string, h partition.Hour, producer string) partition.CompactOptions {
	return partition.CompactOptions{
		Root: root, Table: table, Sensor: sensor, Hour: h, Sorting: sortingOf(table),
		StageDir:  filepath.Join(root, metaDir, "compact"),
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

// deleteRun removes every row of a run from the archive: its own parts are
// removed, and compacted files holding some of its rows are rewritten
// without them. The runs table goes last, so the run stays listed until its
// data is gone.
func deleteRun(root string, parts []part, runID string) error {
	order := []string{schema.TableADUs, schema.TableConnections, schema.TableRuns}
	for _, table := range order {
		rewrite := map[[2]string]part{} // (sensor, hour dir) of compacted files to rewrite
		for _, p := range parts {
			if p.table != table {
				continue
			}
			if p.run == runID {
				if err := os.Remove(p.path); err != nil && !errors.Is(err, os.ErrNotExist) {
					return fmt.Errorf("delete %s: %w", p.path, err)
				}
				if err := partition.SyncDir(filepath.Dir(p.path)); err != nil {
					return err
				}
				continue
			}
			if p.run != compactRun {
				continue
			}
			runs, err := partRuns(p)
			if err != nil {
				return err
			}
			for _, r := range runs {
				if r == runID {
					rewrite[[2]string{p.sensor, filepath.Dir(p.path)}] = p
				}
			}
		}
		keys := make([][2]string, 0, len(rewrite))
		for k := range rewrite {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return keys[i][1] < keys[j][1] })
		for _, k := range keys {
			p := rewrite[k]
			res, err := compactTable(table, compactOptions(root, table, p.sensor, p.hour, "abt"), runID)
			if err != nil {
				return err
			}
			if res.Skipped != "" {
				return fmt.Errorf("delete run %s from %s: hour busy (%s); try again", runID, filepath.Dir(p.path), res.Skipped)
			}
		}
	}
	return nil
}

// CompactResult says what Compact did to one hour.
type CompactResult struct {
	Table, Sensor string
	Hour          partition.Hour
	partition.CompactResult
}

// Compact merges the parts of each hour of the archive (optionally only
// hours in [fromUs, toUs) and one sensor) into one file per hour, skipping
// hours a running ingest is writing into.
func Compact(root, sensor string, fromUs, toUs int64, producer string) ([]CompactResult, error) {
	parts, _, err := scan(root)
	if err != nil {
		return nil, err
	}
	type key struct {
		table, sensor string
		hour          partition.Hour
	}
	count := map[key]int{}
	var keys []key
	for _, p := range parts {
		if (sensor != "" && p.sensor != sensor) || p.hour.End() <= fromUs || p.hour.Start() >= toUs {
			continue
		}
		k := key{p.table, p.sensor, p.hour}
		if count[k] == 0 {
			keys = append(keys, k)
		}
		count[k]++
	}
	var out []CompactResult
	for _, k := range keys {
		if count[k] < 2 {
			continue
		}
		res, err := compactTable(k.table, compactOptions(root, k.table, k.sensor, k.hour, producer), "")
		out = append(out, CompactResult{Table: k.table, Sensor: k.sensor, Hour: k.hour, CompactResult: res})
		if err != nil {
			return out, err
		}
	}
	return out, nil
}
