package archive

import (
	"fmt"
	"slices"
	"sort"
	"strconv"

	"github.com/abt-dev/abt/internal/partition"
	"github.com/abt-dev/abt/schema"
)

// WriteHour writes rows of table, in any order, into the archive at root
// as one file of the sensor's hour h, sorted as the archive sorts the
// table and with the footer compaction writes (the producer, the runs the
// rows come from): what an export writes (package export). rows is a
// []schema.ADU, []schema.Connection or []schema.Run, every row of hour h;
// it is sorted in place. It returns the file's path.
func WriteHour(root, table, sensor string, h partition.Hour, rows any, producer string) (string, error) {
	o := editOptions(root, table, sensor, h, producer)
	mo := partition.MergedOptions{Sorting: o.Sorting, Metadata: o.Metadata, RunIDsKey: o.RunIDsKey}
	switch r := rows.(type) {
	case []schema.ADU:
		return writeHour(root, table, sensor, h, r, mo, aduCmp, func(x *schema.ADU) string { return x.RunID })
	case []schema.Connection:
		return writeHour(root, table, sensor, h, r, mo, connCmp, func(x *schema.Connection) string { return x.RunID })
	case []schema.Run:
		return writeHour(root, table, sensor, h, r, mo, runCmp, func(x *schema.Run) string { return x.RunID })
	}
	return "", fmt.Errorf("write hour: rows of %T", rows)
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

func writeHour[T any](root, table, sensor string, h partition.Hour, rows []T, o partition.MergedOptions,
	cmp func(a, b *T) int, runOf func(*T) string) (string, error) {
	slices.SortFunc(rows, func(a, b T) int { return cmp(&a, &b) })
	runs := map[string]bool{}
	for i := range rows {
		runs[runOf(&rows[i])] = true
	}
	for r := range runs {
		o.RunIDs = append(o.RunIDs, r)
	}
	sort.Strings(o.RunIDs)
	o.Metadata[schema.MetaSchemaVersion] = strconv.Itoa(schema.Version)
	return partition.WriteMerged(root, table, sensor, h, rows, o)
}
