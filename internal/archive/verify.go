package archive

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/abt-dev/abt/internal/catalog"
	"github.com/abt-dev/abt/internal/duckbox"
	"github.com/abt-dev/abt/internal/partition"
	"github.com/abt-dev/abt/schema"
)

// Finding is one thing Verify found: a problem (the archive is not what
// adu2parquet left), or a note (a state that needs no repair, such as a
// run still in progress).
type Finding struct {
	Path    string // the file or run concerned
	What    string
	Problem bool
}

// VerifyReport is what Verify checked and found.
type VerifyReport struct {
	Files    int   // parts readers see, read whole
	Rows     int64 // their rows
	Runs     int   // runs in the runs table
	Findings []Finding
}

// Problems counts the findings that are problems.
func (r VerifyReport) Problems() int {
	n := 0
	for _, f := range r.Findings {
		if f.Problem {
			n++
		}
	}
	return n
}

// Verify checks an archive as fsck checks a file system, without changing
// it: every file under the tables must be a part adu2parquet wrote there
// (footer), readable to its last page, of a run that the runs table or a
// journal knows; every run's ADU and connection rows must add up to what
// its runs row says (a lost or added file shows as a difference); and
// nothing else may lie among the parts. Queries check footers of the files
// they read, but only this reads every page. sensor limits it to one
// sensor ("" for all).
func Verify(ctx context.Context, root, sensor string) (VerifyReport, error) {
	var rep VerifyReport
	abs, err := filepath.Abs(root)
	if err != nil {
		return rep, fmt.Errorf("verify %s: %w", root, err)
	}
	if st, err := os.Stat(abs); err != nil || !st.IsDir() {
		if err == nil {
			err = errors.New("not a directory")
		}
		return rep, fmt.Errorf("verify %s: %w", root, err)
	}
	problem := func(path, format string, args ...any) {
		rep.Findings = append(rep.Findings, Finding{Path: path, What: fmt.Sprintf(format, args...), Problem: true})
	}
	note := func(path, format string, args ...any) {
		rep.Findings = append(rep.Findings, Finding{Path: path, What: fmt.Sprintf(format, args...)})
	}
	js, err := readJournals(abs)
	if err != nil {
		return rep, err
	}
	journal := map[string]journalState{}
	for _, j := range js {
		journal[j.entry.RunID] = j
	}
	// Read in place, with writers that would retire files waiting; if one
	// is at work already, what it changes meanwhile may show up.
	if release, ok := partition.ReadInPlace(filepath.Join(abs, catalog.MetaDir)); ok {
		defer release()
	} else if _, err := os.Stat(filepath.Join(abs, catalog.MetaDir, "lock")); err == nil {
		note(abs, "a writer was retiring files when verify began: a finding about a file it moved is not a problem of the archive (run verify again)")
	}
	snap, err := catalog.Take(abs, catalog.Selection{Sensor: sensor})
	if err != nil {
		return rep, err
	}
	view := snap.State
	for _, r := range view.Replacements {
		note(r.Run, "replacement of run(s) %s committed; its files are renamed and the replaced rows removed by the next adu2parquet", strings.Join(r.Replaces, ", "))
	}

	// Every entry among the tables.
	seen := map[string]bool{}
	for _, files := range snap.Files {
		for _, f := range files {
			seen[f.Path] = true
		}
	}
	for _, table := range schema.Tables {
		top := filepath.Join(abs, table)
		err := filepath.WalkDir(top, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) && path == top {
					return fs.SkipDir
				}
				return err
			}
			rel, _ := filepath.Rel(abs, path)
			parts := strings.Split(filepath.ToSlash(rel), "/")
			if sensor != "" && len(parts) > 1 && parts[1] != "sensor="+sensor {
				if d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			name := d.Name()
			if d.IsDir() {
				return nil
			}
			if len(parts) == 4 && strings.HasPrefix(name, ".hour=") && strings.HasSuffix(name, ".lock") {
				return nil // an hour's lock
			}
			if seen[path] {
				return nil // checked below
			}
			if len(parts) != 5 {
				problem(path, "not a part: outside any <table>/sensor=/date=/hour= directory")
				return nil
			}
			if run, ok := partition.IsTemp(name); ok {
				if j, ok := journal[run]; ok && j.live {
					return nil
				}
				note(path, "temporary file of run %s, which is not running: the next adu2parquet removes it", run)
				return nil
			}
			if run, _, ok := partition.IsUncommitted(name); ok {
				switch j, ok := journal[run]; {
				case ok && j.live:
				case view.Hides(run):
					note(path, "uncommitted part of run %s, replaced: the next adu2parquet removes it", run)
				default:
					note(path, "uncommitted part of run %s, which did not commit: the next adu2parquet removes it", run)
				}
				return nil
			}
			if run, ok := partition.PartRun(name); ok {
				if view.Hides(run) {
					note(path, "part of run %s, replaced: the next adu2parquet removes it", run)
					return nil
				}
				problem(path, "a part's name but not listed (unexpected)")
				return nil
			}
			problem(path, "not a file adu2parquet writes")
			return nil
		})
		if err != nil && !errors.Is(err, fs.SkipDir) {
			return rep, fmt.Errorf("verify: %w", err)
		}
	}

	// The files readers see: footers, then every page, with rows by run.
	box, err := duckbox.Open(ctx, duckbox.Options{Dirs: []string{abs}, Threads: 1})
	if err != nil {
		return rep, err
	}
	defer box.Close()
	rows := map[string]map[string]int64{} // table → run → rows
	for _, t := range schema.Tables {
		rows[t] = map[string]int64{}
	}
	hidden := view.Hidden()
	var runRows []schema.Run
	for _, table := range schema.Tables {
		for _, f := range snap.Files[table] {
			if err := ctx.Err(); err != nil {
				return rep, err
			}
			file, err := os.Open(f.Path)
			if err != nil {
				problem(f.Path, "%v", err)
				continue
			}
			err = catalog.CheckFooter(file, f)
			_ = file.Close()
			if err != nil {
				problem(f.Path, "%s", strings.TrimPrefix(err.Error(), "corrupt or foreign file in the archive: "+f.Path+": "))
				continue
			}
			// Every column of every row is decoded (hash of the whole row).
			q := "SELECT run_id, count(*), bit_xor(hash(t)) FROM read_parquet(" + duckbox.Literal(f.Path) + ") t GROUP BY run_id"
			res, err := box.Conn.QueryContext(ctx, q)
			if err != nil {
				problem(f.Path, "unreadable: %s", firstLine(err.Error()))
				continue
			}
			var n int64
			for res.Next() {
				var run string
				var c int64
				var h any
				if err = res.Scan(&run, &c, &h); err != nil {
					break
				}
				n += c
				if !slices.Contains(hidden, run) {
					rows[table][run] += c
				}
			}
			err = errors.Join(err, res.Err(), res.Close())
			if err != nil {
				problem(f.Path, "unreadable: %s", firstLine(err.Error()))
				continue
			}
			rep.Files++
			rep.Rows += n
			if table == schema.TableRuns {
				rs, err := readRows[schema.Run](f.Path, schema.TableRuns)
				if err != nil {
					problem(f.Path, "unreadable: %v", err)
					continue
				}
				for _, r := range rs {
					if !slices.Contains(hidden, r.RunID) {
						runRows = append(runRows, r)
					}
				}
			}
		}
	}

	// Rows against the runs table.
	known := map[string]schema.Run{}
	for _, r := range runRows {
		known[r.RunID] = r
	}
	rep.Runs = len(known)
	ids := make([]string, 0, len(known))
	for id := range known {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		r := known[id]
		if got := rows[schema.TableADUs][id]; got != r.ADUs {
			problem("run "+id, "the runs table says %d ADUs, the adus files hold %d", r.ADUs, got)
		}
		if got := rows[schema.TableConnections][id]; got != r.Connections {
			problem("run "+id, "the runs table says %d connections, the connections files hold %d", r.Connections, got)
		}
		if r.Status != StatusComplete {
			note("run "+id, "status %s: archiving its inputs again replaces it", firstLine(r.Status))
		}
	}
	var orphans []string
	for _, table := range []string{schema.TableADUs, schema.TableConnections} {
		for run := range rows[table] {
			if _, ok := known[run]; ok || slices.Contains(orphans, run) {
				continue
			}
			orphans = append(orphans, run)
		}
	}
	sort.Strings(orphans)
	for _, run := range orphans {
		switch j, ok := journal[run]; {
		case ok && j.live:
			note("run "+run, "in progress")
		case ok:
			note("run "+run, "did not complete: its rows stay until its inputs are archived again")
		default:
			problem("run "+run, "rows of a run that neither the runs table nor a journal knows")
		}
	}
	return rep, nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
