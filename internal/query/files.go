// Package query opens an abt archive in an embedded DuckDB, read-only and
// sandboxed, with a view for each table (and derived views) over exactly
// the files a time range needs, and runs SQL on it with bound parameters.
package query

import (
	"errors"
	"fmt"
	"io/fs"
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
	top := filepath.Join(archive, table)
	sensors, err := os.ReadDir(top)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read archive: %w", err)
	}
	var out []string
	for _, s := range sensors {
		name, ok := strings.CutPrefix(s.Name(), "sensor=")
		if !ok || !s.IsDir() || (r.Sensor != "" && name != r.Sensor) {
			continue
		}
		days, err := os.ReadDir(filepath.Join(top, s.Name()))
		if err != nil {
			return nil, fmt.Errorf("read archive: %w", err)
		}
		for _, d := range days {
			ds, ok := strings.CutPrefix(d.Name(), "date=")
			if !ok || !d.IsDir() {
				continue
			}
			day, err := time.Parse("2006-01-02", ds)
			if err != nil {
				continue
			}
			if !overlaps(day, day.Add(24*time.Hour), r) {
				continue
			}
			hours, err := os.ReadDir(filepath.Join(top, s.Name(), d.Name()))
			if err != nil {
				return nil, fmt.Errorf("read archive: %w", err)
			}
			for _, h := range hours {
				if !h.IsDir() || !strings.HasPrefix(h.Name(), "hour=") {
					continue
				}
				dir := filepath.Join(top, s.Name(), d.Name(), h.Name())
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
