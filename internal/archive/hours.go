package archive

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/abt-dev/abt/schema"
)

// A live run's figures by hour (schema.LinkHour) go to its row in the runs
// table when it ends. So that a run killed after months keeps them, each
// hour is also appended, as a JSON line and synced, to the hour log beside
// the run's journal, <run>.hours, from which the next recovery writes the
// crashed run's row (see crashedLink). The log goes with the journal.

// hourLogPath is the hour log of the run whose journal is at journal.
func hourLogPath(journal string) string { return strings.TrimSuffix(journal, ".json") + ".hours" }

// AddHour records an hour of a live run: appended to its hour log (synced)
// and, when the run ends, to its row in the runs table. Hours are given in
// order, each once.
func (a *Archive) AddHour(h schema.LinkHour) error {
	if a.journal == nil {
		return errors.New("archive: AddHour after the run ended")
	}
	path := hourLogPath(a.journal.path)
	if a.hourLog == nil {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("open hour log: %w", err)
		}
		a.hourLog = f
	}
	b, _ := json.Marshal(h)
	if _, err := a.hourLog.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write hour log %s: %w", path, err)
	}
	if err := a.hourLog.Sync(); err != nil {
		return fmt.Errorf("sync hour log %s: %w", path, err)
	}
	a.hours = append(a.hours, h)
	return nil
}

// closeHourLog closes the run's hour log, if it has one.
func (a *Archive) closeHourLog() {
	if a.hourLog != nil {
		_ = a.hourLog.Close() // synced at each line
		a.hourLog = nil
	}
}

// readHourLog reads the hour log of the run whose journal is at journal:
// nil when there is none. A last line cut short by the crash is left out.
func readHourLog(journal string) ([]schema.LinkHour, error) {
	b, err := os.ReadFile(hourLogPath(journal))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read hour log: %w", err)
	}
	var out []schema.LinkHour
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var h schema.LinkHour
		if json.Unmarshal(sc.Bytes(), &h) != nil {
			break // the line being written when the run was killed
		}
		out = append(out, h)
	}
	return out, nil
}

// removeJournal removes a journal and its run's hour log (the log first:
// a journal is never left without the log it had).
func removeJournal(journal string) error {
	if err := os.Remove(hourLogPath(journal)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove hour log: %w", err)
	}
	return os.Remove(journal)
}
