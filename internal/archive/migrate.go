package archive

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/abt-dev/abt/internal/catalog"
	"github.com/abt-dev/abt/internal/partition"
	"github.com/abt-dev/abt/schema"
)

// LayoutPlan is what Relayout finds to do: the hour directories named the
// old way (hour=07; partition.OldHourDirs), and the parts written with the
// older encodings (partition.LegacyEncodings) and their bytes, which
// Compact with reencode rewrites.
type LayoutPlan struct {
	OldHours    []string
	LegacyParts int
	LegacyBytes int64
}

// Relayout renames the archive's hour directories named the old way
// (hour=07) to today's (hour=7), so that every engine reads hour as an
// integer (partition.Dir), and returns what it found (with dryRun, only
// that). It holds the archive lock throughout, after recovering the archive
// as a run does, and refuses while a run is writing (one that has an old
// directory's name in hand would recreate it); it waits for readers reading
// in place (later ones pin, and pinned files are unaffected by renames).
func Relayout(root string, dryRun bool, producer string, logf func(string, ...any)) (LayoutPlan, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	var plan LayoutPlan
	lock, err := catalog.Lock(root)
	if err != nil {
		return plan, err
	}
	defer lock.Unlock()
	st, err := recoverArchive(root, logf, recorder{producer: producer, now: time.Now})
	if err != nil {
		return plan, err
	}
	for id := range st.live {
		return plan, fmt.Errorf("run %s is writing into the archive: stop it before migrating", id)
	}
	if plan.OldHours, err = partition.OldHourDirs(root, schema.Tables); err != nil {
		return plan, err
	}
	for _, p := range st.parts {
		legacy, err := partition.LegacyEncodings(p.path)
		if err != nil {
			return plan, err
		}
		if legacy {
			plan.LegacyParts++
			if fi, err := os.Stat(p.path); err == nil {
				plan.LegacyBytes += fi.Size()
			}
		}
	}
	if dryRun || len(plan.OldHours) == 0 {
		return plan, nil
	}
	retire, err := partition.LockRetire(filepath.Join(root, catalog.MetaDir))
	if err != nil {
		return plan, err
	}
	defer retire.Unlock()
	for _, d := range plan.OldHours {
		if err := partition.Relayout(d); err != nil {
			return plan, err
		}
	}
	logf("renamed %d hour directories (hour=0H to hour=H)", len(plan.OldHours))
	return plan, nil
}
