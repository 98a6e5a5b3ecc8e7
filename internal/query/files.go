// Package query opens an abt archive in an embedded DuckDB, read-only and
// sandboxed, with a view for each table (and derived views) over exactly
// the files a time range needs, and runs SQL on it with bound parameters.
package query

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/abt-dev/abt/internal/partition"
)

// Range selects the archive's hours: [From, To) in UTC; a zero From or To
// is unbounded. Sensor, when set, selects one monitor.
type Range struct {
	From, To time.Time
	Sensor   string
}

// Files lists the published part files of one table whose hour overlaps
// the range, in path order. It reads directory names only: a query over one
// day of a year-long archive lists (and DuckDB opens) one day's files.
func Files(archive, table string, r Range) ([]string, error) {
	days, err := partition.Days(archive, table, r.Sensor)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, d := range days {
		if !overlaps(d.Date, d.Date.Add(24*time.Hour), r) {
			continue
		}
		hours, err := os.ReadDir(d.Path)
		if err != nil {
			return nil, fmt.Errorf("read archive: %w", err)
		}
		for _, h := range hours {
			if !h.IsDir() || !strings.HasPrefix(h.Name(), "hour=") {
				continue
			}
			dir := filepath.Join(d.Path, h.Name())
			_, _, hr, err := partition.ParseDir(archive, dir)
			if err != nil || !overlaps(hr.Time(), hr.Time().Add(time.Hour), r) {
				continue
			}
			parts, err := os.ReadDir(dir)
			if err != nil {
				return nil, fmt.Errorf("read archive: %w", err)
			}
			for _, p := range parts {
				if _, ok := partition.PartRun(p.Name()); ok {
					out = append(out, filepath.Join(dir, p.Name()))
				}
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

func overlaps(start, end time.Time, r Range) bool {
	if !r.From.IsZero() && !end.After(r.From) {
		return false
	}
	if !r.To.IsZero() && !start.Before(r.To) {
		return false
	}
	return true
}
