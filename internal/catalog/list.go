package catalog

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/abt-dev/abt/internal/partition"
	"github.com/abt-dev/abt/schema"
)

// Selection chooses the hours of the archive to list.
type Selection struct {
	// Tables to list; nil means every table (schema.Tables).
	Tables []string
	// Sensor, when set, selects one sensor.
	Sensor string
	// From and To bound the hours, [From, To) in UTC; zero is unbounded.
	From, To time.Time
}

// File is a part a reader sees.
type File struct {
	// Path is where the file is now.
	Path string
	// Name is its published name (part-<run>-<seq>.parquet), also for an
	// uncommitted part of a committed run, which will be renamed to it.
	Name   string
	Table  string
	Sensor string
	Hour   partition.Hour
	// Run is the run in its name (or "compact" for a merged file).
	Run string
	// Size is the file's size, once Pin has opened it (0 before).
	Size int64
}

// Rel returns the file's canonical path relative to the archive:
// <table>/sensor=<s>/date=<d>/hour=<hh>/<name>, the hour in two digits
// whichever way its directory is named (hour=7, or hour=07 in an archive
// not yet migrated: partition.Dir), so that pins, the order of files and
// the rollups' fingerprints do not change when adu2parquet migrate renames
// a directory. Path is where the file is.
func (f File) Rel() string {
	t := f.Hour.Time()
	return filepath.Join(f.Table, "sensor="+f.Sensor, "date="+t.Format("2006-01-02"), fmt.Sprintf("hour=%02d", t.Hour()), f.Name)
}

// List returns, per table, the parts of the selected hours that a reader
// sees under state st, in path order (see the package comment).
func List(root string, st State, sel Selection) (map[string][]File, error) {
	tables := sel.Tables
	if tables == nil {
		tables = schema.Tables
	}
	out := map[string][]File{}
	for _, table := range tables {
		days, err := partition.Days(root, table, sel.Sensor)
		if err != nil {
			return nil, err
		}
		var files []File
		for _, d := range days {
			if !overlaps(d.Date, d.Date.Add(24*time.Hour), sel) {
				continue
			}
			hours, err := os.ReadDir(d.Path)
			if errors.Is(err, fs.ErrNotExist) {
				continue // removed since it was listed: no rows there
			}
			if err != nil {
				return nil, fmt.Errorf("read archive: %w", err)
			}
			for _, h := range hours {
				if !h.IsDir() || !strings.HasPrefix(h.Name(), "hour=") {
					continue
				}
				dir := filepath.Join(d.Path, h.Name())
				_, _, hr, err := partition.ParseDir(root, dir)
				if err != nil || !overlaps(hr.Time(), hr.Time().Add(time.Hour), sel) {
					continue
				}
				got, err := listHour(dir, st)
				if err != nil {
					return nil, err
				}
				for _, f := range got {
					f.Table, f.Sensor, f.Hour = table, d.Sensor, hr
					files = append(files, f)
				}
			}
		}
		slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Rel(), b.Rel()) })
		out[table] = files
	}
	return out, nil
}

// listHour lists the parts of one hour directory a reader sees.
func listHour(dir string, st State) ([]File, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read archive: %w", err)
	}
	var out []File
	for _, e := range ents {
		name := e.Name()
		if run, ok := partition.PartRun(name); ok {
			if !st.Hides(run) {
				out = append(out, File{Path: filepath.Join(dir, name), Name: name, Run: run})
			}
			continue
		}
		if run, final, ok := partition.IsUncommitted(name); ok && st.Shown(run) && !st.Hides(run) {
			out = append(out, File{Path: filepath.Join(dir, name), Name: final, Run: run})
		}
	}
	return out, nil
}

func overlaps(start, end time.Time, sel Selection) bool {
	if !sel.From.IsZero() && !end.After(sel.From) {
		return false
	}
	if !sel.To.IsZero() && !start.Before(sel.To) {
		return false
	}
	return true
}

// Snapshot is a consistent list of the files a reader sees.
type Snapshot struct {
	// State is the state the list follows.
	State State
	// Files are the visible parts, per table.
	Files map[string][]File
}

// Hidden returns the runs whose rows a reader must leave out of merged
// files (State.Hidden).
func (s *Snapshot) Hidden() []string { return s.State.Hidden() }

// maxTakeAttempts bounds how often Take lists again because the state
// changed while it listed; each change is a commit or the end of one, so
// this is never reached in practice.
const maxTakeAttempts = 100

// Take lists the selected files under one state: it reads the state,
// lists, and reads the state again, and lists again if it changed in
// between.
func Take(root string, sel Selection) (*Snapshot, error) {
	for range maxTakeAttempts {
		st, err := ReadState(root)
		if err != nil {
			return nil, err
		}
		files, err := List(root, st, sel)
		if err != nil {
			return nil, err
		}
		again, err := ReadState(root)
		if err != nil {
			return nil, err
		}
		if again.Generation == st.Generation {
			return &Snapshot{State: st, Files: files}, nil
		}
	}
	return nil, fmt.Errorf("archive %s: its state changed %d times while it was being listed", root, maxTakeAttempts)
}
