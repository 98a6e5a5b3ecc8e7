package archive_test

import (
	"fmt"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/archive"
	"github.com/abt-dev/abt/internal/ingest"
	"github.com/abt-dev/abt/schema"
)

// TestRecoverCrashedRun leaves a run that did not complete (published
// parts, a journal, and the temporary and spill files a killed process
// leaves) and archives the same input again without Replace: the crashed
// run is replaced, so the archive holds the new run's rows only, and
// nothing of the crashed run (parts, temporary files, spill files,
// journal) remains.
func TestRecoverCrashedRun(t *testing.T) {
	tests := []struct {
		name    string
		capture string
		grace   time.Duration
	}{
		{name: "many hours published", capture: "mercury_emix.pcap", grace: time.Millisecond},
		{name: "one hour open", capture: "trex_Oracle.pcap"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "archive")
			path := filepath.Join(pcapDir, tc.capture)
			crashed, err := openRun(t, root, "crashed", path, tc.grace, false)
			require.NoError(t, err)
			feedCapture(t, crashed, path, ingest.DefaultOptions())
			crashed.Abort() // what a crash leaves: the journal, unlocked

			// What a killed process leaves besides.
			hours, err := filepath.Glob(filepath.Join(root, schema.TableADUs, "sensor="+testSensor, "date=*", "hour=*"))
			require.NoError(t, err)
			require.NotEmpty(t, hours)
			tmp := filepath.Join(hours[0], ".part-crashed-0099.parquet.tmp")
			spill := filepath.Join(root, "_abt", "spill", ".spill-crashed-123456")
			for _, f := range []string{tmp, spill} {
				require.NoError(t, os.WriteFile(f, []byte("half a file"), 0o644))
			}

			var notes []string
			a, err := archive.Open(archive.Options{
				Root: root, Sensor: testSensor, RunID: testRun, Grace: tc.grace, Producer: "roundtrip-test",
				Logf: func(format string, args ...any) { notes = append(notes, format) },
			}, []archive.Input{{Name: tc.capture, Fingerprint: "fp-" + tc.capture}})
			require.NoError(t, err, "a crashed run's input is archived again without Replace")
			run := feedCapture(t, a, path, ingest.DefaultOptions())
			_, err = a.Close(run.info)
			require.NoError(t, err)
			require.Contains(t, notes, "replaced run %s")

			for _, f := range []string{tmp, spill} {
				require.NoFileExists(t, f)
			}
			journals, err := os.ReadDir(filepath.Join(root, "_abt", "runs"))
			require.NoError(t, err)
			require.Empty(t, journals, "journals left after the crashed run was replaced")

			// Only the new run's parts remain, and they hold its records.
			rb := readArchive(t, root)
			var nADU, nConn int
			for _, r := range run.recs {
				switch r.Kind {
				case ingest.KindADU, ingest.KindINC:
					nADU++
				case ingest.KindEND:
					nConn++
				}
			}
			require.Len(t, rb.adus, nADU)
			require.Len(t, rb.conns, nConn)
			require.Len(t, rb.runs, 1)
		})
	}
}

// TestOpenRefuses checks the inputs Open refuses: one a running run is
// archiving, and one a completed run archived (unless Replace).
func TestOpenRefuses(t *testing.T) {
	root := filepath.Join(t.TempDir(), "archive")
	path := filepath.Join(pcapDir, "trex_Oracle.pcap")

	live, err := openRun(t, root, "live", path, 0, false)
	require.NoError(t, err)
	_, err = openRun(t, root, "second", path, 0, true)
	require.ErrorContains(t, err, "still running")
	live.Abort()

	archiveCapture(t, root, path, ingest.DefaultOptions(), 0)
	_, err = openRun(t, root, "again", path, 0, false)
	require.ErrorIs(t, err, archive.ErrAlreadyArchived)
	require.ErrorContains(t, err, "--replace")

	other, err := openRun(t, root, "other", filepath.Join(pcapDir, "zeek_smtp.pcap"), 0, false)
	require.NoError(t, err, "another input is accepted")
	other.Abort()
}

// TestEmptyInputsNotRefused: an input without a byte (the log of a quiet
// hour) is never taken for one archived before, whatever its name, and a
// run that had one is replaced without it.
func TestEmptyInputsNotRefused(t *testing.T) {
	root := filepath.Join(t.TempDir(), "archive")
	dir := t.TempDir()
	empty := func(name string) archive.Input {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, nil, 0o644))
		fp, err := archive.Fingerprint(p)
		require.NoError(t, err)
		return archive.Input{Name: name, Fingerprint: fp}
	}
	var given []archive.Input
	open := func(run string, replace bool, ins ...archive.Input) (*archive.Archive, error) {
		given = ins
		return archive.Open(archive.Options{Root: root, Sensor: testSensor, RunID: run, Producer: "test", Replace: replace}, ins)
	}
	closeRun := func(a *archive.Archive) {
		info := archive.RunInfo{Status: archive.StatusComplete, FirstPacket: ingest.NoTime, LastPacket: ingest.NoTime}
		for _, in := range given {
			info.Inputs = append(info.Inputs, schema.Input{Name: in.Name, Fingerprint: in.Fingerprint, Format: "adudump"})
		}
		_, err := a.Close(info)
		require.NoError(t, err)
	}
	a, err := open("r1", false, empty("00.adu"))
	require.NoError(t, err)
	closeRun(a)
	a, err = open("r2", false, empty("01.adu"))
	require.NoError(t, err, "another empty log")
	closeRun(a)

	// A capture archived with an empty log beside it: the capture alone is
	// refused, and with --replace replaces that run.
	capture := archive.Input{Name: "c.pcap", Fingerprint: "fp-c"}
	a, err = open("r3", false, capture, empty("02.adu"))
	require.NoError(t, err)
	closeRun(a)
	_, err = open("r4", false, capture)
	require.ErrorIs(t, err, archive.ErrAlreadyArchived)
	a, err = open("r4", true, capture)
	require.NoError(t, err, "the empty log is not needed to replace r3")
	closeRun(a)
}

// TestRecoverCrashedLink kills a run of a link (Input.Link) after it has
// published hours, and opens the archive again, as a sensor restarting
// does: the killed run is recorded in the runs table as crashed with what
// it published (its rows, files, bytes and the span of its packets) and the
// hours it had recorded (AddHour; not the one it was writing when killed),
// its journal and hour log go, its rows stay once, and the new run is not
// refused; the new run's row has its own hours.
func TestRecoverCrashedLink(t *testing.T) {
	root := filepath.Join(t.TempDir(), "archive")
	path := filepath.Join(pcapDir, "mercury_emix.pcap")
	link := []archive.Input{{Name: "live:a1", Link: true}}
	killed, err := archive.Open(archive.Options{Root: root, Sensor: testSensor, RunID: "killed", Grace: time.Millisecond,
		Producer: "roundtrip-test"}, link)
	require.NoError(t, err)
	feedCapture(t, killed, path, ingest.DefaultOptions())
	hours := []schema.LinkHour{{Hour: 3600e6, Packets: 1000, Drops: 7, InterfaceDrops: 1}, {Hour: 7200e6, Packets: 20}}
	for _, h := range hours {
		require.NoError(t, killed.AddHour(h))
	}
	killed.Abort() // what SIGKILL leaves: the published hours, the journal and the hour log
	require.FileExists(t, filepath.Join(root, "_abt", "runs", "killed.json"))
	hourLog := filepath.Join(root, "_abt", "runs", "killed.hours")
	f, err := os.OpenFile(hourLog, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"Hour":10800000000,"Pack`) // the line being written when killed
	require.NoError(t, err)
	require.NoError(t, f.Close())
	before := readParts(t, root)
	require.NotEmpty(t, before.adus)
	require.Empty(t, before.runs)
	var lo, hiStart, hi int64 = math.MaxInt64, math.MinInt64, math.MinInt64
	for _, r := range before.adus {
		lo, hiStart, hi = min(lo, r.Ts), max(hiStart, r.Ts), max(hi, r.Ts+deref(r.DurationUs))
	}
	for _, c := range before.conns {
		lo, hi = min(lo, c.Ts), max(hi, c.Ts+c.LastUs)
	}

	var notes []string
	next, err := archive.Open(archive.Options{Root: root, Sensor: testSensor, RunID: "next", Producer: "roundtrip-test",
		Logf: func(format string, args ...any) { notes = append(notes, format) }}, link)
	require.NoError(t, err, "a link is never refused")
	require.Contains(t, notes, "run %s, of a link, did not complete: recorded as crashed, with the hours it published")
	require.NoError(t, next.AddHour(schema.LinkHour{Hour: 14400e6, Packets: 5, Drops: 2}))
	_, err = next.Close(archive.RunInfo{Status: archive.StatusComplete, FirstPacket: ingest.NoTime, LastPacket: ingest.NoTime})
	require.NoError(t, err)

	after := readParts(t, root)
	require.Equal(t, len(before.adus), len(after.adus), "the killed run's rows, once")
	require.Equal(t, len(before.conns), len(after.conns))
	require.Len(t, after.runs, 2)
	var crashed, completed schema.Run
	for _, r := range after.runs {
		switch r.RunID {
		case "killed":
			crashed = r
		case "next":
			completed = r
		}
	}
	require.Equal(t, hours, crashed.Hours, "the hours of its hour log, without the one cut short")
	require.Equal(t, []schema.LinkHour{{Hour: 14400e6, Packets: 5, Drops: 2}}, completed.Hours)
	require.Equal(t, archive.StatusCrashed, crashed.Status)
	require.Equal(t, int64(len(before.adus)), crashed.ADUs)
	require.Equal(t, int64(len(before.conns)), crashed.Connections)
	require.Equal(t, before.files, crashed.FilesWritten)
	require.Equal(t, before.bytes, crashed.BytesWritten)
	require.Equal(t, []schema.Input{{Name: "live:a1", Format: "live"}}, crashed.Inputs)
	require.NotNil(t, crashed.FirstPacket)
	require.Equal(t, lo, *crashed.FirstPacket, "its first packet")
	require.NotNil(t, crashed.LastPacket)
	require.GreaterOrEqual(t, *crashed.LastPacket, hiStart, "its last packet: at least its last ADU's start")
	require.LessOrEqual(t, *crashed.LastPacket, hi)
	journals, err := os.ReadDir(filepath.Join(root, "_abt", "runs"))
	require.NoError(t, err)
	require.Empty(t, journals)
}

// parts is every row of an archive's parts, whoever wrote them, and the
// adus and connections parts' count and bytes.
type parts struct {
	adus         []schema.ADU
	conns        []schema.Connection
	runs         []schema.Run
	files, bytes int64
}

func readParts(t *testing.T, root string) parts {
	t.Helper()
	var p parts
	glob := func(table string) []string {
		m, err := filepath.Glob(filepath.Join(root, table, "sensor=*", "date=*", "hour=*", "part-*.parquet"))
		require.NoError(t, err)
		if table != schema.TableRuns {
			for _, f := range m {
				st, err := os.Stat(f)
				require.NoError(t, err)
				p.files++
				p.bytes += st.Size()
			}
		}
		return m
	}
	for _, f := range glob(schema.TableADUs) {
		rows, err := parquet.ReadFile[schema.ADU](f)
		require.NoError(t, err)
		p.adus = append(p.adus, rows...)
	}
	for _, f := range glob(schema.TableConnections) {
		rows, err := parquet.ReadFile[schema.Connection](f)
		require.NoError(t, err)
		p.conns = append(p.conns, rows...)
	}
	for _, f := range glob(schema.TableRuns) {
		rows, err := parquet.ReadFile[schema.Run](f)
		require.NoError(t, err)
		p.runs = append(p.runs, rows...)
	}
	return p
}

// TestPause: while paused, rows of hours the run has not opened are shed
// and counted; rows of hours it has opened are written; after it resumes,
// new hours open again.
func TestPause(t *testing.T) {
	root := filepath.Join(t.TempDir(), "archive")
	a, err := archive.Open(archive.Options{Root: root, Sensor: testSensor, RunID: testRun, Producer: "roundtrip-test"},
		[]archive.Input{{Name: "live:a1", Link: true}})
	require.NoError(t, err)
	base := time.Date(2024, 3, 2, 10, 0, 0, 0, time.UTC).UnixNano()
	adu := func(hour int, conn uint64) *ingest.Record {
		return &ingest.Record{Kind: ingest.KindADU, TsNs: base + int64(hour)*int64(time.Hour), ConnID: conn,
			Client: netip.MustParseAddrPort("198.51.100.7:40000"), Server: netip.MustParseAddrPort("192.0.2.1:80"),
			Dir: ingest.DirC2S, Size: 100, ThinkNs: -1, AckRTTNs: -1, FirstNs: base + int64(hour)*int64(time.Hour),
			LastNs: base + int64(hour)*int64(time.Hour)}
	}
	require.NoError(t, a.Record(adu(0, 1))) // hour 0 opens
	a.Pause(true)
	require.NoError(t, a.Record(adu(0, 2))) // an opened hour: written
	require.NoError(t, a.Record(adu(1, 3))) // a new hour: shed
	require.NoError(t, a.Record(adu(1, 4)))
	a.Pause(false)
	require.NoError(t, a.Record(adu(2, 5))) // resumed: hour 2 opens
	sum, err := a.Close(archive.RunInfo{Status: archive.StatusComplete, FirstPacket: ingest.NoTime, LastPacket: ingest.NoTime})
	require.NoError(t, err)
	require.Equal(t, int64(3), sum.ADUs)
	require.Equal(t, int64(2), sum.ShedADUs)
	p := readParts(t, root)
	var conns []int64
	for _, r := range p.adus {
		conns = append(conns, r.ConnID)
	}
	require.ElementsMatch(t, []int64{1, 2, 5}, conns)
	require.Len(t, p.runs, 1)
	require.Contains(t, p.runs[0].SetAside, schema.Counter{Name: "adus_shed_disk_floor", Value: 2})
}

// TestConcurrentRuns runs many short runs of different sensors side by side
// in one archive, as several collectors sharing it do. Each run's opening
// recovers the archive while the others finish: a run's journal may
// disappear between being listed and being read or checked (its run
// completed), and that must be taken as what it is, not as an error or a
// crash. Every run must complete, and the runs table must hold one row each.
func TestConcurrentRuns(t *testing.T) {
	root := filepath.Join(t.TempDir(), "archive")
	const sensors, runs = 4, 25
	errs := make(chan error, sensors)
	for s := range sensors {
		go func() {
			errs <- func() error {
				for r := range runs {
					id := fmt.Sprintf("s%d-r%03d", s, r)
					a, err := archive.Open(archive.Options{Root: root, Sensor: fmt.Sprintf("sensor%d", s), RunID: id,
						Producer: "concurrent-test"}, []archive.Input{{Name: id, Fingerprint: "fp-" + id}})
					if err != nil {
						return err
					}
					if _, err := a.Close(archive.RunInfo{Status: archive.StatusComplete,
						FirstPacket: ingest.NoTime, LastPacket: ingest.NoTime}); err != nil {
						return err
					}
				}
				return nil
			}()
		}()
	}
	for range sensors {
		require.NoError(t, <-errs)
	}
	journals, err := os.ReadDir(filepath.Join(root, "_abt", "runs"))
	require.NoError(t, err)
	require.Empty(t, journals)
	files, err := filepath.Glob(filepath.Join(root, schema.TableRuns, "*", "*", "*", "*.parquet"))
	require.NoError(t, err)
	ids := map[string]int{}
	for _, f := range files {
		rows, err := parquet.ReadFile[schema.Run](f)
		require.NoError(t, err)
		for _, r := range rows {
			ids[r.RunID]++
			require.Equal(t, archive.StatusComplete, r.Status, r.RunID)
		}
	}
	require.Len(t, ids, sensors*runs)
	for id, n := range ids {
		require.Equal(t, 1, n, id)
	}
}
