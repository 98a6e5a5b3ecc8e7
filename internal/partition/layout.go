package partition

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Hour is an hour of UTC time, as microseconds since the Unix epoch of its
// first instant divided by the hour length (so consecutive hours are
// consecutive integers).
type Hour int64

const hourUs = int64(time.Hour / time.Microsecond)

// HourOf returns the hour containing t (microseconds since the epoch).
func HourOf(tUs int64) Hour {
	h := tUs / hourUs
	if tUs%hourUs < 0 {
		h--
	}
	return Hour(h)
}

// Start returns the hour's first instant in microseconds since the epoch.
func (h Hour) Start() int64 { return int64(h) * hourUs }

// End returns the first instant after the hour.
func (h Hour) End() int64 { return (int64(h) + 1) * hourUs }

// Time returns the hour's first instant.
func (h Hour) Time() time.Time { return time.UnixMicro(h.Start()).UTC() }

// String formats the hour as RFC 3339.
func (h Hour) String() string { return h.Time().Format(time.RFC3339) }

// Dir returns the directory of one table's hour for one sensor:
// hour=<H>, the hour without a leading zero (hour=7), which every engine
// reads as an integer; or, for an hour of 0 to 9 whose directory an
// archive written before has as hour=0<H> (hour=07), that one, so that an
// hour is always one directory (Relayout renames the old ones).
func Dir(root, table, sensor string, h Hour) string {
	t := h.Time()
	day := filepath.Join(root, table, "sensor="+sensor, "date="+t.Format("2006-01-02"))
	if t.Hour() < 10 {
		old := filepath.Join(day, fmt.Sprintf("hour=%02d", t.Hour()))
		if _, err := os.Stat(old); err == nil {
			return old
		}
	}
	return filepath.Join(day, "hour="+strconv.Itoa(t.Hour()))
}

// ParseDir recovers the table, sensor and hour from a directory made by Dir
// under root.
func ParseDir(root, dir string) (table, sensor string, h Hour, err error) {
	rel, err := filepath.Rel(root, dir)
	if err != nil {
		return "", "", 0, fmt.Errorf("partition dir %s: %w", dir, err)
	}
	p := strings.Split(filepath.ToSlash(rel), "/")
	if len(p) != 4 || !strings.HasPrefix(p[1], "sensor=") || !strings.HasPrefix(p[2], "date=") || !strings.HasPrefix(p[3], "hour=") {
		return "", "", 0, fmt.Errorf("partition dir %s: not <table>/sensor=/date=/hour=", dir)
	}
	day, err := time.Parse("2006-01-02", strings.TrimPrefix(p[2], "date="))
	if err != nil {
		return "", "", 0, fmt.Errorf("partition dir %s: %w", dir, err)
	}
	hh, err := strconv.Atoi(strings.TrimPrefix(p[3], "hour="))
	if err != nil || hh < 0 || hh > 23 {
		return "", "", 0, fmt.Errorf("partition dir %s: bad hour", dir)
	}
	return p[0], strings.TrimPrefix(p[1], "sensor="), HourOf(day.Add(time.Duration(hh) * time.Hour).UnixMicro()), nil
}

// DayDir is one sensor's day directory of a table.
type DayDir struct {
	Sensor string
	Date   time.Time // midnight UTC
	Path   string
}

// Days lists a table's sensor=/date= directories under root, of one sensor
// when sensor is not "", in path order; names that are not such
// directories are skipped. A table not yet created has none.
func Days(root, table, sensor string) ([]DayDir, error) {
	top := filepath.Join(root, table)
	sensors, err := os.ReadDir(top)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read archive: %w", err)
	}
	var out []DayDir
	for _, s := range sensors {
		name, ok := strings.CutPrefix(s.Name(), "sensor=")
		if !ok || !s.IsDir() || (sensor != "" && name != sensor) {
			continue
		}
		dates, err := os.ReadDir(filepath.Join(top, s.Name()))
		if err != nil {
			return nil, fmt.Errorf("read archive: %w", err)
		}
		for _, d := range dates {
			ds, ok := strings.CutPrefix(d.Name(), "date=")
			if !ok || !d.IsDir() {
				continue
			}
			day, err := time.Parse("2006-01-02", ds)
			if err != nil {
				continue
			}
			out = append(out, DayDir{Sensor: name, Date: day, Path: filepath.Join(top, s.Name(), d.Name())})
		}
	}
	return out, nil
}

// CompactRun is the run part of merged files' names
// (part-compact-c<µs>.parquet): their rows come from the runs their footer
// lists.
const CompactRun = "compact"

// PartName is the published name of a run's seq-th part in an hour.
func PartName(runID string, seq int) string {
	return fmt.Sprintf("part-%s-%04d.parquet", runID, seq)
}

// tmpName is the hidden name a part is written under before it is
// published: it starts with a dot and does not end in ".parquet".
func tmpName(final string) string {
	if _, f, ok := IsUncommitted(final); ok {
		final = f // the temporary name still names the run (recovery)
	}
	return "." + final + ".tmp"
}

// SpillPattern is the os.CreateTemp pattern of a run's sort spill files.
func SpillPattern(runID string) string { return ".spill-" + runID + "-*" }

// removeSpill removes a run's spill files from dir.
func removeSpill(dir, runID string) {
	matches, _ := filepath.Glob(filepath.Join(dir, ".spill-"+runID+"-*"))
	for _, m := range matches {
		_ = os.Remove(m)
	}
}

// UncommittedName is the name under which a run that commits at its end
// (one that replaces earlier runs) publishes a part: it starts with a dot
// (Hive, Spark and Trino skip such files) and does not end in ".parquet"
// (no "*.parquet" glob matches it), so that only a reader that knows the
// run has committed reads it. Committing renames it to final.
func UncommittedName(final string) string { return "." + final + uncommittedSuffix }

const uncommittedSuffix = ".uncommitted"

var (
	// tmpRE matches every temporary file this package creates, and only
	// those: recovery removes nothing else.
	tmpRE = regexp.MustCompile(`^\.part-([A-Za-z0-9_.-]+)-(\d{4}|c\d+)\.parquet\.tmp$`)
	// partRE matches published part names and captures the run id.
	partRE = regexp.MustCompile(`^part-([A-Za-z0-9_.-]+)-(\d{4}|c\d+)\.parquet$`)
	// uncommittedRE matches the names of uncommitted parts (see
	// UncommittedName).
	uncommittedRE = regexp.MustCompile(`^\.(part-([A-Za-z0-9_.-]+)-(\d{4}|c\d+)\.parquet)\.uncommitted$`)
)

// IsUncommitted reports whether a file name is an uncommitted part's, and
// returns its run and the name it will have once its run commits.
func IsUncommitted(name string) (runID, final string, ok bool) {
	m := uncommittedRE.FindStringSubmatch(name)
	if m == nil {
		return "", "", false
	}
	return m[2], m[1], true
}

// IsTemp reports whether a file name is one of this package's temporary
// files, and names the run that wrote it ("" for compaction).
func IsTemp(name string) (runID string, ok bool) {
	m := tmpRE.FindStringSubmatch(name)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// PartRun returns the run id in a published part's name.
func PartRun(name string) (runID string, ok bool) {
	m := partRE.FindStringSubmatch(name)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// ValidSensor reports whether s can name a sensor: it becomes a directory
// name and a Hive partition value.
func ValidSensor(s string) error {
	if s == "" || len(s) > 64 {
		return fmt.Errorf("sensor %q: must be 1 to 64 characters", s)
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("sensor %q: only letters, digits, '-', '_' and '.' are allowed", s)
		}
	}
	if s[0] == '.' {
		return fmt.Errorf("sensor %q: must not start with '.'", s)
	}
	return nil
}

// OldHourDirs lists the hour directories under root's tables named the way
// archives were written before (hour=00 to hour=09; see Dir).
func OldHourDirs(root string, tables []string) ([]string, error) {
	var out []string
	for _, table := range tables {
		days, err := Days(root, table, "")
		if err != nil {
			return nil, err
		}
		for _, d := range days {
			ents, err := os.ReadDir(d.Path)
			if err != nil {
				return nil, fmt.Errorf("read archive: %w", err)
			}
			for _, e := range ents {
				if e.IsDir() && len(e.Name()) == len("hour=07") && strings.HasPrefix(e.Name(), "hour=0") {
					out = append(out, filepath.Join(d.Path, e.Name()))
				}
			}
		}
	}
	return out, nil
}

// Relayout renames an hour directory named the old way (hour=07, see
// OldHourDirs) to the name Dir gives (hour=7), under the hour's lock held
// exclusively: no writer is publishing into it and no compaction is
// editing it meanwhile. The caller holds the archive lock, makes sure no
// run is writing (a run that has the old name in hand would recreate it),
// and holds the RetireLock (readers reading in place have finished; later
// ones pin). A directory of the new name that exists already is an error:
// the hour would then be in two directories, which a person must merge.
func Relayout(oldDir string) error {
	name := filepath.Base(oldDir)
	if len(name) != len("hour=07") || !strings.HasPrefix(name, "hour=0") {
		return fmt.Errorf("relayout %s: not an old hour directory", oldDir)
	}
	newDir := filepath.Join(filepath.Dir(oldDir), "hour="+name[len("hour=0"):])
	lock, err := lockHour(oldDir, true, true)
	if err != nil {
		return fmt.Errorf("relayout %s: %w", oldDir, err)
	}
	defer lock.unlock()
	if _, err := os.Stat(newDir); err == nil {
		return fmt.Errorf("relayout %s: %s exists too: the hour is in two directories (merge them by hand)", oldDir, newDir)
	}
	if err := os.Rename(oldDir, newDir); err != nil {
		return fmt.Errorf("relayout %s: %w", oldDir, err)
	}
	if err := SyncDir(filepath.Dir(newDir)); err != nil {
		return err
	}
	// The old lock file: held until now, of no use from now on.
	_ = os.Remove(lockPath(oldDir))
	return nil
}
