package archive

import (
	"fmt"
	"slices"
	"sort"

	"github.com/abt-dev/abt/internal/partition"
	"github.com/abt-dev/abt/schema"
)

// WriteHour writes rows of table, in any order, into the archive at root
// as one file of the sensor's hour h, sorted as the archive sorts the
// table (SortRows) and with the footer compaction writes (the producer,
// the runs the rows come from): what an export writes (package export).
// rows is a []schema.ADU, []schema.Connection or []schema.Run, every row of
// hour h; it is sorted in place. It returns the file's path.
func WriteHour(root, table, sensor string, h partition.Hour, rows any, producer string) (string, error) {
	if err := SortRows(rows); err != nil {
		return "", err
	}
	o := editOptions(root, table, sensor, h, producer)
	mo := partition.MergedOptions{Sorting: o.Sorting, Metadata: o.Metadata, RunIDsKey: o.RunIDsKey}
	switch r := rows.(type) {
	case []schema.ADU:
		return writeHour(root, table, sensor, h, r, mo, func(x *schema.ADU) string { return x.RunID })
	case []schema.Connection:
		return writeHour(root, table, sensor, h, r, mo, func(x *schema.Connection) string { return x.RunID })
	default:
		return writeHour(root, table, sensor, h, rows.([]schema.Run), mo, func(x *schema.Run) string { return x.RunID })
	}
}

// SortRows sorts rows (a []schema.ADU, []schema.Connection or []schema.Run)
// in place, as the archive orders the table in a file.
func SortRows(rows any) error {
	switch r := rows.(type) {
	case []schema.ADU:
		slices.SortFunc(r, func(a, b schema.ADU) int { return aduCmp(&a, &b) })
	case []schema.Connection:
		slices.SortFunc(r, func(a, b schema.Connection) int { return connCmp(&a, &b) })
	case []schema.Run:
		slices.SortFunc(r, func(a, b schema.Run) int { return runCmp(&a, &b) })
	default:
		return fmt.Errorf("sort rows: rows of %T", rows)
	}
	return nil
}

// writeHour writes sorted rows, listing the runs they come from.
func writeHour[T any](root, table, sensor string, h partition.Hour, rows []T, o partition.MergedOptions,
	runOf func(*T) string) (string, error) {
	runs := map[string]bool{}
	for i := range rows {
		runs[runOf(&rows[i])] = true
	}
	for r := range runs {
		o.RunIDs = append(o.RunIDs, r)
	}
	sort.Strings(o.RunIDs)
	return partition.WriteMerged(root, table, sensor, h, rows, o)
}
