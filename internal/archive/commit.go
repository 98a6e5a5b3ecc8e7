package archive

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/abt-dev/abt/internal/catalog"
	"github.com/abt-dev/abt/internal/failpoint"
	"github.com/abt-dev/abt/schema"
)

// commit makes a run that commits at its end visible, all at once: under
// the archive lock it checks the inputs whose fingerprint it learnt only
// by reading them (standard input), then writes the archive's state with
// the run as a replacement of the runs it replaces. That one rename is the
// instant every reader switches from the old runs to this one. It then
// renames the run's parts to their final names and removes the replaced
// runs' rows, hour by hour (finishReplacements); a crash in between is
// finished by the next run's recovery. read are the inputs as read (with
// their fingerprints).
func (a *Archive) commit(read []schema.Input) error {
	lock, err := catalog.Lock(a.opts.Root)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	replaces := a.replaces
	var late []Input
	for i, in := range a.inputs {
		if in.Fingerprint != "" {
			continue
		}
		if i >= len(read) || read[i].Name != in.Name || read[i].Fingerprint == "" {
			// Not read to its end (interrupted): it cannot be recognised
			// later, so archiving part of it would leave rows that a later
			// run of the same input could neither refuse nor replace.
			return errors.Join(fmt.Errorf("%s was not read to its end: nothing archived from it (an input read once is identified only at its end)", in.Name),
				a.discard())
		}
		late = append(late, Input{Name: in.Name, Fingerprint: read[i].Fingerprint})
	}
	if len(late) > 0 {
		st, err := readState(a.opts.Root, a.opts.RunID)
		if err != nil {
			return err
		}
		more, err := st.checkInputs(late, a.opts.Replace, a.opts.Logf)
		if err != nil {
			return errors.Join(err, a.discard())
		}
		replaces = append(replaces, more...)
		slices.Sort(replaces)
		replaces = slices.Compact(replaces)
	}
	failpoint.Inject("commit-before-state")
	view, err := catalog.ReadState(a.opts.Root)
	if err != nil {
		return err
	}
	view.Replacements = append(view.Replacements, catalog.Replacement{
		Run: a.opts.RunID, Replaces: replaces, Committed: a.opts.Now().UTC().Format(time.RFC3339Nano)})
	if view, err = catalog.WriteState(a.opts.Root, view); err != nil {
		return err
	}
	failpoint.Inject("commit-after-state")
	_, err = finishReplacements(a.opts.Root, view, a.opts.Logf)
	return err
}

// readState reads what checkInputs needs without changing the archive:
// the journals of other runs and the runs table as readers see it. The
// caller holds the archive lock.
func readState(root, self string) (*state, error) {
	js, err := readJournals(root)
	if err != nil {
		return nil, err
	}
	view, err := catalog.ReadState(root)
	if err != nil {
		return nil, err
	}
	st := &state{view: view, crashed: map[string]journalEntry{}, live: map[string]journalEntry{}, journals: map[string]string{}}
	for _, j := range js {
		switch {
		case j.entry.RunID == self:
		case j.live:
			st.live[j.entry.RunID] = j.entry
		case !j.entry.Uncommitted:
			st.crashed[j.entry.RunID] = j.entry
			st.journals[j.entry.RunID] = j.path
		}
	}
	if st.completed, err = readCompleted(root, view); err != nil {
		return nil, err
	}
	for id := range st.completed {
		delete(st.crashed, id)
	}
	return st, nil
}

// discard forgets a run that will not commit: nobody ever saw its parts.
// The caller holds the archive lock.
func (a *Archive) discard() error {
	parts, _, err := scan(a.opts.Root)
	if err == nil && a.journal != nil {
		err = discardRun(a.opts.Root, parts, a.opts.RunID, a.journal.path)
	}
	return err
}

// dropUncommitted discards the run under the archive lock.
func (a *Archive) dropUncommitted() error {
	lock, err := catalog.Lock(a.opts.Root)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	return a.discard()
}
