package archive

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/abt-dev/abt/internal/catalog"
	"github.com/abt-dev/abt/internal/failpoint"
	"github.com/abt-dev/abt/internal/partition"
	"github.com/abt-dev/abt/schema"
)

// state is what recovery found in the archive.
type state struct {
	view      catalog.State
	parts     []part
	completed map[string]schema.Run // runs with a row in the runs table, as readers see it
	crashed   map[string]journalEntry
	live      map[string]journalEntry
	journals  map[string]string // journal path of each crashed run
}

// recoverArchive brings the archive to a clean state; the caller holds the
// archive lock. It finishes the replacements that committed (publishing the
// replacing runs' parts, removing the replaced runs' rows), discards the
// runs that were to commit at their end but died first, removes the
// temporary files of runs that are not running, and reads the run log.
func recoverArchive(root string, logf func(string, ...any), rec recorder) (*state, error) {
	// Readers read in place only once the retire locks exist.
	if err := partition.MakeRetireLocks(filepath.Join(root, catalog.MetaDir)); err != nil {
		return nil, err
	}
	catalog.RemoveStateTemps(root)
	js, err := readJournals(root)
	if err != nil {
		return nil, err
	}
	view, err := catalog.ReadState(root)
	if err != nil {
		return nil, err
	}
	if view, err = finishReplacements(root, view, logf); err != nil {
		return nil, err
	}
	st := &state{view: view, completed: map[string]schema.Run{}, crashed: map[string]journalEntry{},
		live: map[string]journalEntry{}, journals: map[string]string{}}
	for _, j := range js {
		if j.live {
			st.live[j.entry.RunID] = j.entry
		}
	}
	parts, temps, err := scan(root)
	if err != nil {
		return nil, err
	}
	for _, t := range temps {
		if _, live := st.live[t.run]; live {
			continue
		}
		if err := os.Remove(t.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("remove leftover %s: %w", t.path, err)
		}
		logf("removed leftover %s", t.path)
	}
	spills, _ := filepath.Glob(filepath.Join(spillDir(root), ".spill-*"))
	for _, s := range spills {
		run := strings.TrimPrefix(filepath.Base(s), ".spill-")
		if i := strings.LastIndexByte(run, '-'); i > 0 {
			run = run[:i]
		}
		if _, live := st.live[run]; !live {
			_ = os.Remove(s)
		}
	}
	removeStaleStages(filepath.Join(root, catalog.MetaDir, "compact"), logf)
	if st.completed, err = readCompleted(root, view); err != nil {
		return nil, err
	}
	for _, j := range js {
		if j.live {
			continue
		}
		id := j.entry.RunID
		if _, done := st.completed[id]; done {
			// Died after its row was published (and, if it was to commit,
			// after it committed): it is complete. (Or it completed since
			// its journal was read, and removed the journal itself.)
			if err := removeJournal(j.path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("remove journal %s: %w", j.path, err)
			}
			continue
		}
		if view.Hides(id) {
			// Replaced: the state says its rows are gone for readers, and
			// finishReplacements removes them.
			if err := removeJournal(j.path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("remove journal %s: %w", j.path, err)
			}
			continue
		}
		if j.entry.Uncommitted && !view.Shown(id) {
			// Never seen by any reader: forget it.
			if err := discardRun(root, parts, id, j.path); err != nil {
				return nil, err
			}
			logf("run %s did not commit: discarded (the runs it was to replace are unchanged)", id)
			continue
		}
		if j.entry.link() {
			if err := rec.crashedLink(root, j.entry, j.path, parts); err != nil {
				return nil, err
			}
			logf("run %s, of a link, did not complete: recorded as crashed, with the hours it published", id)
			continue
		}
		st.crashed[id] = j.entry
		st.journals[id] = j.path
		logf("run %s did not complete (its published files remain; archiving its inputs again replaces them)", id)
	}
	if st.parts, _, err = scan(root); err != nil {
		return nil, err
	}
	return st, nil
}

// readCompleted reads the runs table as a reader sees it under view.
func readCompleted(root string, view catalog.State) (map[string]schema.Run, error) {
	files, err := catalog.List(root, view, catalog.Selection{Tables: []string{schema.TableRuns}})
	if err != nil {
		return nil, err
	}
	out := map[string]schema.Run{}
	hidden := view.Hidden()
	for _, f := range files[schema.TableRuns] {
		rows, err := readRows[schema.Run](f.Path, schema.TableRuns)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			if !slices.Contains(hidden, r.RunID) {
				out[r.RunID] = r
			}
		}
	}
	return out, nil
}

// discardRun removes the uncommitted parts of a run that died before it
// committed, then its journal.
func discardRun(root string, parts []part, runID, journal string) error {
	for _, p := range parts {
		if p.uncommitted && p.run == runID {
			if err := os.Remove(p.path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("discard %s: %w", p.path, err)
			}
		}
	}
	if err := removeJournal(journal); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove journal %s: %w", journal, err)
	}
	return nil
}

// finishReplacements completes the committed replacements of view: in every
// hour that has an uncommitted part of a replacing run or rows of a
// replaced run, it renames the former and removes the latter (EditHour).
// When every hour is done, the replacements leave the state; an hour that a
// writer holds is left for the next recovery, and the state keeps them
// meanwhile (readers see the right rows either way). The caller holds the
// archive lock.
func finishReplacements(root string, view catalog.State, logf func(string, ...any)) (catalog.State, error) {
	if len(view.Replacements) == 0 {
		return view, nil
	}
	show, hide := map[string]bool{}, map[string]bool{}
	for _, r := range view.Replacements {
		show[r.Run] = true
		for _, o := range r.Replaces {
			hide[o] = true
		}
	}
	parts, _, err := scan(root)
	if err != nil {
		return view, err
	}
	type hourKey struct {
		table, sensor string
		hour          partition.Hour
	}
	var hours []hourKey
	seen := map[hourKey]bool{}
	for _, p := range parts {
		touch := p.uncommitted && show[p.run] || !p.uncommitted && hide[p.run]
		if !touch && !p.uncommitted && p.run == partition.CompactRun {
			runs, err := partRuns(p)
			if err != nil {
				return view, err
			}
			touch = slices.ContainsFunc(runs, func(r string) bool { return hide[r] })
		}
		k := hourKey{p.table, p.sensor, p.hour}
		if touch && !seen[k] {
			seen[k] = true
			hours = append(hours, k)
		}
	}
	busy := 0
	if len(hours) > 0 {
		lock, err := partition.LockRetire(filepath.Join(root, catalog.MetaDir))
		if err != nil {
			return view, err
		}
		defer lock.Unlock()
	}
	for _, k := range hours {
		o := editOptions(root, k.table, k.sensor, k.hour, "abt")
		o.Show, o.Hide = show, hide
		res, err := editTable(k.table, o)
		if err != nil {
			return view, fmt.Errorf("finish replacing runs: %w", err)
		}
		if res.Skipped != "" {
			busy++
		}
		failpoint.Inject("replace-after-hour")
	}
	if busy > 0 {
		logf("%d hour(s) of replaced runs are in use by a writer; the next run finishes them", busy)
		return view, nil
	}
	for _, r := range view.Replacements {
		for _, o := range r.Replaces {
			// A replaced run that had crashed leaves its journal.
			j := filepath.Join(journalDir(root), o+".json")
			if !isLocked(j) {
				if err := removeJournal(j); err != nil && !errors.Is(err, os.ErrNotExist) {
					return view, fmt.Errorf("remove journal %s: %w", j, err)
				}
			}
			logf("replaced run %s", o)
		}
	}
	view.Replacements = nil
	return catalog.WriteState(root, view)
}

// emptyFingerprint is the fingerprint of an input without a byte. Such an
// input holds nothing, so archiving it again counts nothing twice: it is
// never taken for an input archived before (the hourly logs of quiet hours
// are empty, and all alike), nor needed to replace a run that had it.
var emptyFingerprint = new(StreamFingerprint).Sum()

// checkInputs finds the earlier runs that archived the inputs. A run that
// did not complete (crashed, interrupted, failed) is replaced silently; a
// completed one only with replace, and only when this run has all its
// inputs. An input a running run is archiving is refused.
func (st *state) checkInputs(inputs []Input, replace bool, logf func(string, ...any)) ([]string, error) {
	mine := map[string]bool{}
	for _, in := range inputs {
		if in.Fingerprint != "" && in.Fingerprint != emptyFingerprint {
			mine[in.Fingerprint] = true
		}
	}
	var out []string
	for id, e := range st.live {
		for _, in := range e.Inputs {
			if mine[in.Fingerprint] {
				return nil, fmt.Errorf("input %s is being archived by run %s, still running", in.Name, id)
			}
		}
	}
	for id, e := range st.crashed {
		for _, in := range e.Inputs {
			if mine[in.Fingerprint] {
				logf("input %s was being archived by run %s, which did not complete: replacing it", in.Name, id)
				out = append(out, id)
				break
			}
		}
	}
	for id, r := range st.completed {
		var hit []string
		all := true
		for _, in := range r.Inputs {
			switch {
			case mine[in.Fingerprint]:
				hit = append(hit, in.Name)
			case in.Fingerprint != emptyFingerprint:
				all = false
			}
		}
		if len(hit) == 0 {
			continue
		}
		if r.Status != StatusComplete {
			why := r.Status
			if strings.HasPrefix(why, "failed") {
				why = "failed"
			}
			logf("input %s was archived by run %s, which was %s: replacing it", strings.Join(hit, ", "), id, why)
		} else if !replace {
			return nil, fmt.Errorf("%w: %s by run %s (%s); use --replace to archive it again",
				ErrAlreadyArchived, strings.Join(hit, ", "), id, time.UnixMicro(r.Started).UTC().Format(time.RFC3339))
		}
		if !all {
			return nil, fmt.Errorf("run %s also archived inputs not given now; give all of its inputs to replace it", id)
		}
		out = append(out, id)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// The runs table's status of a run that read all its inputs, and of one a
// signal stopped (a run whose input was malformed is "failed: <why>").
const (
	StatusComplete    = "complete"
	StatusInterrupted = "interrupted"
	// StatusCrashed is a run of a link (Input.Link) that was killed or lost
	// its power: the next run opening the archive writes its row, from the
	// hours it published (its last, open hour is lost).
	StatusCrashed = "crashed"
)

// removeStaleStages removes the staging directories of hour edits that are
// no longer running (their lock is free).
func removeStaleStages(dir string, logf func(string, ...any)) {
	locks, _ := filepath.Glob(filepath.Join(dir, "stage-*.lock"))
	for _, l := range locks {
		if isLocked(l) {
			continue
		}
		stage := strings.TrimSuffix(l, ".lock")
		_ = os.RemoveAll(stage)
		_ = os.Remove(l)
		logf("removed leftover compaction %s", stage)
	}
}
