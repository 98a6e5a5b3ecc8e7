package archive

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestJournalsOfRunsThatComplete lists journals while their runs complete:
// one run removes its journal and unlocks it after the directory was
// listed, another is still running, a third crashed earlier. Only the
// running and the crashed runs' journals are returned, as live and not
// live, and the completed one is no error.
func TestJournalsOfRunsThatComplete(t *testing.T) {
	root := t.TempDir()
	done, err := createJournal(root, &journalEntry{RunID: "done", Sensor: "s"})
	require.NoError(t, err)
	running, err := createJournal(root, &journalEntry{RunID: "running", Sensor: "s"})
	require.NoError(t, err)
	defer running.release()
	crashed, err := createJournal(root, &journalEntry{RunID: "crashed", Sensor: "s"})
	require.NoError(t, err)
	require.NoError(t, crashed.release())

	journalsListed = func() { require.NoError(t, done.finish()) }
	defer func() { journalsListed = func() {} }()
	js, err := readJournals(root)
	require.NoError(t, err)
	got := map[string]bool{}
	for _, j := range js {
		got[j.entry.RunID] = j.live
	}
	require.Equal(t, map[string]bool{"running": true, "crashed": false}, got)

	live, gone := lockState(filepath.Join(journalDir(root), "done.json"))
	require.Equal(t, [2]bool{false, true}, [2]bool{live, gone})
}
